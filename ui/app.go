// Package ui is Glimpse's desktop app: a chat about images with a history
// sidebar, a model manager and settings, built with Fyne.
//
// The model runs on a worker goroutine that owns it (see worker); every
// change to the window goes through App.do (fyne.Do in the app), so loading
// and generating never block typing, scrolling or resizing.
package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"glimpse/app"
	"glimpse/history"
)

// AppID is the application ID Fyne keys the preferences by (FyneApp.toml).
const AppID = "app.glimpse.Glimpse"

// Options are what the command line passes to the app.
type Options struct {
	// Model, when set, replaces the active model of the settings for this
	// run (GLIMPSE_MODEL): an installed model's name or a model folder.
	Model string
	// Backend, when set, replaces the settings' backend (GLIMPSE_BACKEND).
	Backend string
	// Version is shown in the help dialog.
	Version string
}

// OptionsFromEnv reads GLIMPSE_MODEL and GLIMPSE_BACKEND, which scripts, the
// GUI tests and people trying a model folder use.
func OptionsFromEnv(version string) Options {
	return Options{Model: os.Getenv("GLIMPSE_MODEL"), Backend: os.Getenv("GLIMPSE_BACKEND"), Version: version}
}

// view is one tab of the main window. The tabs are data: adding a view is
// adding a line to App.views.
type view struct {
	name  string
	icon  fyne.Resource
	build func(a *App) fyne.CanvasObject
}

// views lists the main window's tabs in order. A view whose content
// implements dropTarget takes the files dropped while it shows, and one that
// implements focusStarter chooses its first focus.
func (a *App) views() []view {
	return []view{
		{"Chat", theme.MailComposeIcon(), newChatTab},
		{"Caption", theme.VisibilityIcon(), func(a *App) fyne.CanvasObject { return newCaptionView(a.captionEnv()) }},
		{"Models", theme.DownloadIcon(), newModelsTab},
		{"Settings", theme.SettingsIcon(), newSettingsTab},
	}
}

// dropTarget is a view that takes dropped files itself while its tab is
// showing (the captioning view will be one); otherwise drops go to the chat.
type dropTarget interface {
	dropPaths(paths []string)
}

// App is the running desktop app.
type App struct {
	fyne fyne.App
	win  fyne.Window
	opt  Options
	do   func(func())

	settings Settings
	store    *history.Store
	worker   *worker

	tabs     *container.AppTabs
	tabViews []fyne.CanvasObject
	chat     *chatView
	sidebar  *sidebar
	models   *modelsView
	setView  *settingsView
	status   *statusBar

	shortcuts []shortcut
	native    bool // native file dialogs may be tried (the real app, not tests)
}

// Run opens the main window and returns the exit code when it closes.
func Run(opt Options) int {
	if err := checkDisplay(); err != nil {
		// GLFW would panic; say what is wrong and what works instead.
		fmt.Fprintf(os.Stderr, "glimpse: %v\n", err)
		return 1
	}
	fa := fyneapp.NewWithID(AppID)
	a, err := New(fa, opt)
	if err != nil {
		// Started from a desktop menu, nobody reads stderr: say it in a window.
		fmt.Fprintf(os.Stderr, "glimpse: %v\n", err)
		msg := widget.NewLabel("Glimpse cannot start: " + err.Error() + "\n\nCheck that the data folder exists and " +
			"is writable, or set GLIMPSE_HOME to another folder.")
		msg.Wrapping = fyne.TextWrapWord
		w := fa.NewWindow("Glimpse")
		w.SetContent(container.NewBorder(nil, widget.NewButton("Quit", fa.Quit), nil, nil, msg))
		w.Resize(fyne.NewSize(560, 220))
		w.ShowAndRun()
		return 1
	}
	a.native = true
	defer a.Close()
	a.win.ShowAndRun()
	return 0
}

// checkDisplay reports an error where the app has no screen to open on: on
// Linux and the BSDs, neither an X nor a Wayland display.
func checkDisplay() error {
	switch runtime.GOOS {
	case "windows", "darwin", "android", "ios", "js":
		return nil
	}
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return fmt.Errorf("no display to open the app on (neither DISPLAY nor WAYLAND_DISPLAY is set); " +
			"the command line works without one: run 'glimpse help'")
	}
	return nil
}

// New builds the app in fa (the real app, or Fyne's test app): it reads the
// settings, opens the history and lays out the main window without showing it.
func New(fa fyne.App, opt Options) (*App, error) { return newApp(fa, opt, fyne.Do) }

// newApp is New with the function that hands work to the UI goroutine; tests
// pass a queue they drain themselves, so that every widget change happens on
// the test's goroutine.
func newApp(fa fyne.App, opt Options, do func(func())) (*App, error) {
	a := &App{fyne: fa, opt: opt, do: do}
	a.settings = LoadSettings(fa.Preferences())
	store, folderErr, err := app.OpenHistory(a.settings.DataFolder)
	if err != nil {
		return nil, err
	}
	a.store = store
	a.worker = newWorker(func(f func()) { a.do(f) })
	fa.Settings().SetTheme(newTheme(a.settings.Theme, a.settings.TextScale))

	a.win = fa.NewWindow("Glimpse")
	a.win.Resize(fyne.NewSize(1100, 720))
	a.status = newStatusBar(a)
	a.tabs = container.NewAppTabs()
	for _, v := range a.views() {
		content := v.build(a)
		a.tabViews = append(a.tabViews, content)
		a.tabs.Append(container.NewTabItemWithIcon(v.name, v.icon, content))
	}
	a.tabs.OnSelected = func(*container.TabItem) { a.focusCurrent() }
	a.win.SetContent(container.NewBorder(nil, a.status.object(), nil, nil, a.tabs))
	a.win.SetOnDropped(a.onDropped)
	a.addShortcuts()
	a.win.SetMainMenu(a.mainMenu())
	a.status.start()
	if folderErr != nil {
		a.chat.showError("The data folder from Settings cannot be used (" + folderErr.Error() +
			"); this session keeps its history in " + store.Dir() + ". Choose another folder in Settings.")
	}
	if a.engineChoice().Model == "" {
		// First run: nothing to answer with yet; show the model manager with
		// a recommendation for this machine.
		a.showTab("Models")
		a.models.recommend()
	} else {
		a.preload()
	}
	return a, nil
}

// preload loads the active model on the worker now, so that the first
// question does not wait for it and the status bar says what runs. A
// question asked meanwhile queues behind it.
func (a *App) preload() {
	choice := a.engineChoice()
	if choice.Model == "" {
		return
	}
	a.worker.Ask(AskRequest{
		Engine:    choice,
		OnLoading: a.status.loading,
		OnLoaded:  a.status.loaded,
		OnDone: func(_ *app.Result, err error) {
			a.status.loadDone()
			if err != nil && !errors.Is(err, context.Canceled) {
				a.chat.showError("The model " + displayName(choice.Model) + " could not be loaded. " + friendlyAskError(err))
			}
		},
	})
}

// Window is the main window.
func (a *App) Window() fyne.Window { return a.win }

// Close stops the worker, frees the model and closes the history.
func (a *App) Close() {
	a.status.stop()
	a.models.stop()
	a.worker.Close()
	a.store.Close()
}

// engineChoice is the model the chat uses: the command line's, else the
// settings'.
func (a *App) engineChoice() EngineChoice {
	c := EngineChoice{Model: a.settings.Model, Backend: a.settings.Backend, Precision: a.settings.Precision}
	if a.opt.Model != "" {
		c.Model = a.opt.Model
	}
	if a.opt.Backend != "" {
		c.Backend = a.opt.Backend
	}
	return c
}

// setSettings applies and stores new settings.
func (a *App) setSettings(s Settings) {
	old, oldEngine := a.settings, a.engineChoice()
	a.settings = s
	s.Save(a.fyne.Preferences())
	if old.Theme != s.Theme || old.TextScale != s.TextScale {
		a.fyne.Settings().SetTheme(newTheme(s.Theme, s.TextScale))
	}
	if a.engineChoice() != oldEngine {
		// Another model, backend or precision: load it now.
		a.status.desc = app.Description{}
		a.preload()
	}
	a.status.refresh()
}

// showTab switches to the named tab.
func (a *App) showTab(name string) {
	for i, it := range a.tabs.Items {
		if it.Text == name {
			a.tabs.SelectIndex(i)
			return
		}
	}
}

// currentTab is the name of the tab showing.
func (a *App) currentTab() string {
	if it := a.tabs.Selected(); it != nil {
		return it.Text
	}
	return ""
}

// currentContent is the content of the tab showing, or nil.
func (a *App) currentContent() fyne.CanvasObject {
	if i := a.tabs.SelectedIndex(); i >= 0 && i < len(a.tabViews) {
		return a.tabViews[i]
	}
	return nil
}

// stopper is a view with work that Esc stops (caption mode's captions and
// batches).
type stopper interface {
	stop()
}

// focusStarter is a view that says where the keyboard focus starts in it.
type focusStarter interface {
	focusStart()
}

// focusCurrent puts the keyboard focus where the current tab starts: the
// question box in the chat, the view's own choice in views that make one.
func (a *App) focusCurrent() {
	if a.currentTab() == "Chat" {
		a.win.Canvas().Focus(a.chat.question)
		return
	}
	if f, ok := a.currentContent().(focusStarter); ok {
		f.focusStart()
	}
}

// onDropped takes files dropped anywhere on the window: to the current tab if
// it takes drops, else to the chat's image slot.
func (a *App) onDropped(_ fyne.Position, uris []fyne.URI) {
	var paths []string
	for _, u := range uris {
		if u.Scheme() == "file" {
			paths = append(paths, u.Path())
		}
	}
	if len(paths) == 0 {
		a.chat.showError("Only files can be dropped here: drop an image file (PNG, JPEG, GIF, WebP, BMP or TIFF).")
		return
	}
	if i := a.tabs.SelectedIndex(); i >= 0 {
		if t, ok := a.tabViews[i].(dropTarget); ok {
			t.dropPaths(paths)
			return
		}
	}
	a.showTab("Chat")
	a.chat.dropPaths(paths)
}

// column lays out top, center and bottom like container.NewBorder, but
// keeps them in that order in the tree, which is the order Tab moves the
// focus in (NewBorder puts the center first).
func column(top, center, bottom fyne.CanvasObject) *fyne.Container {
	var objs []fyne.CanvasObject
	for _, o := range []fyne.CanvasObject{top, center, bottom} {
		if o != nil {
			objs = append(objs, o)
		}
	}
	return container.New(layout.NewBorderLayout(top, bottom, nil, nil), objs...)
}

// newChatTab is the chat tab: the history sidebar beside the chat.
func newChatTab(a *App) fyne.CanvasObject {
	a.chat = newChatView(a)
	a.sidebar = newSidebar(a)
	split := container.NewHSplit(a.sidebar.object(), a.chat.object())
	split.Offset = 0.26
	return split
}

func newModelsTab(a *App) fyne.CanvasObject {
	a.models = newModelsView(a)
	return a.models.object()
}

func newSettingsTab(a *App) fyne.CanvasObject {
	a.setView = newSettingsView(a)
	return a.setView.object()
}
