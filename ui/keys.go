package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// shortcut is one keyboard shortcut of the app, listed in the help dialog.
type shortcut struct {
	keys string // as the help dialog shows them
	what string
	sc   *desktop.CustomShortcut // nil for plain keys (F1, Esc) handled by runKey
	run  func()
}

// mod is Ctrl, or Cmd on macOS.
const mod = fyne.KeyModifierShortcutDefault

// addShortcuts registers the app's shortcuts on the window. Focused entries
// pass the ones they don't use on through runShortcut.
func (a *App) addShortcuts() {
	c := func(k fyne.KeyName, m fyne.KeyModifier) *desktop.CustomShortcut {
		return &desktop.CustomShortcut{KeyName: k, Modifier: m}
	}
	a.shortcuts = []shortcut{
		{"Ctrl+O", "Open an image", c(fyne.KeyO, mod), func() { a.showTab("Chat"); a.chat.openImage() }},
		{"Ctrl+N", "New chat", c(fyne.KeyN, mod), func() { a.showTab("Chat"); a.chat.newChat() }},
		{"Ctrl+F", "Search the history", c(fyne.KeyF, mod), func() { a.showTab("Chat"); a.win.Canvas().Focus(a.sidebar.search) }},
		{"Enter or Ctrl+Enter", "Send the question", c(fyne.KeyReturn, mod), func() { a.chat.send() }},
		{"Shift+Enter", "New line in the question", nil, nil},
		{"Esc", "Stop the answer (or clear the search)", nil, func() { a.chat.stop() }},
		{"Ctrl+Shift+C", "Copy the last answer", c(fyne.KeyC, mod|fyne.KeyModifierShift), a.copyLastAnswer},
		{"F2", "Rename the selected conversation", nil, func() { a.sidebar.withSelected(a.sidebar.rename) }},
		{"Ctrl+E", "Export the selected conversation", c(fyne.KeyE, mod), func() { a.sidebar.withSelected(a.sidebar.export) }},
		{"Ctrl+L", "Go to the question box", c(fyne.KeyL, mod), func() { a.showTab("Chat"); a.win.Canvas().Focus(a.chat.question) }},
		{"Ctrl+M", "Models", c(fyne.KeyM, mod), func() { a.showTab("Models") }},
		{"Ctrl+,", "Settings", c(fyne.KeyComma, mod), func() { a.showTab("Settings") }},
		{"Ctrl+1 … Ctrl+9", "Go to a tab", nil, nil},
		{"Tab, Shift+Tab", "Move between controls", nil, nil},
		{"Up, Down, Space", "Move in a list and select", nil, nil},
		{"F1", "This help", nil, a.showHelp},
		{"Ctrl+Q", "Quit", c(fyne.KeyQ, mod), func() { a.fyne.Quit() }},
	}
	cv := a.win.Canvas()
	for _, s := range a.shortcuts {
		if s.sc != nil {
			run := s.run
			cv.AddShortcut(s.sc, func(fyne.Shortcut) { run() })
		}
	}
	for i := 1; i <= 9; i++ {
		i := i
		cv.AddShortcut(c(fyne.KeyName(string(rune('0'+i))), mod), func(fyne.Shortcut) {
			if i <= len(a.tabs.Items) {
				a.tabs.SelectIndex(i - 1)
			}
		})
	}
	cv.SetOnTypedKey(func(k *fyne.KeyEvent) { a.runKey(k.Name) })
}

// runShortcut runs the app's shortcut s, reporting whether it was one.
func (a *App) runShortcut(s fyne.Shortcut) bool {
	cs, ok := s.(*desktop.CustomShortcut)
	if !ok {
		return false
	}
	for _, sc := range a.shortcuts {
		if sc.sc != nil && sc.sc.ShortcutName() == cs.ShortcutName() {
			sc.run()
			return true
		}
	}
	if cs.Modifier == mod && len(cs.KeyName) == 1 && cs.KeyName[0] >= '1' && cs.KeyName[0] <= '9' {
		if i := int(cs.KeyName[0] - '1'); i < len(a.tabs.Items) {
			a.tabs.SelectIndex(i)
		}
		return true
	}
	return false
}

// runKey handles the plain keys that act anywhere: F1 and Esc.
func (a *App) runKey(k fyne.KeyName) bool {
	switch k {
	case fyne.KeyF1:
		a.showHelp()
		return true
	case fyne.KeyF2:
		a.sidebar.withSelected(a.sidebar.rename)
		return true
	case fyne.KeyEscape:
		if a.chat.pending != nil {
			a.chat.stop()
			return true
		}
		if s, ok := a.currentContent().(stopper); ok {
			s.stop()
			return true
		}
	}
	return false
}

// copyLastAnswer puts the newest answer on the clipboard.
func (a *App) copyLastAnswer() {
	ms := a.chat.messages()
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].role == "assistant" {
			a.fyne.Clipboard().SetContent(ms[i].Text())
			a.status.flash("Copied the answer")
			return
		}
	}
}

// helpText lists the shortcuts, one a line.
func (a *App) helpText() string {
	var b strings.Builder
	for _, s := range a.shortcuts {
		b.WriteString(s.keys + "\t" + s.what + "\n")
	}
	b.WriteString("Caption tab\n")
	for _, s := range captionShortcuts {
		b.WriteString(s.Keys + "\t" + s.What + "\n")
	}
	return b.String()
}

// showHelp lists the shortcuts in a dialog.
func (a *App) showHelp() {
	grid := container.NewGridWithColumns(2)
	for _, s := range a.shortcuts {
		grid.Add(widget.NewLabelWithStyle(s.keys, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
		grid.Add(widget.NewLabel(s.what))
	}
	grid.Add(widget.NewLabelWithStyle("Caption tab", fyne.TextAlignLeading, fyne.TextStyle{Bold: true, Italic: true}))
	grid.Add(widget.NewLabel(""))
	for _, s := range captionShortcuts {
		grid.Add(widget.NewLabelWithStyle(s.Keys, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
		grid.Add(widget.NewLabel(s.What))
	}
	intro := widget.NewLabel("Drop an image anywhere on the window, or paste its path into the question box. " +
		"On macOS, use Cmd instead of Ctrl.")
	intro.Wrapping = fyne.TextWrapWord
	title := "Keyboard shortcuts"
	if a.opt.Version != "" {
		title = "Glimpse " + a.opt.Version + ": keyboard shortcuts"
	}
	body := container.NewVScroll(container.NewVBox(intro, grid))
	body.SetMinSize(fyne.NewSize(540, 420))
	d := dialog.NewCustom(title, "Close", body, a.win)
	d.Show()
}

// mainMenu gives the menu bar (and macOS's global menu) the same actions.
func (a *App) mainMenu() *fyne.MainMenu {
	item := func(label string, run func()) *fyne.MenuItem { return fyne.NewMenuItem(label, run) }
	return fyne.NewMainMenu(
		fyne.NewMenu("File",
			item("Open image…", func() { a.showTab("Chat"); a.chat.openImage() }),
			item("New chat", func() { a.showTab("Chat"); a.chat.newChat() }),
		),
		fyne.NewMenu("View",
			item("Chat", func() { a.showTab("Chat") }),
			item("Caption", func() { a.showTab("Caption") }),
			item("Models", func() { a.showTab("Models") }),
			item("Settings", func() { a.showTab("Settings") }),
		),
		fyne.NewMenu("Help", item("Keyboard shortcuts", a.showHelp)),
	)
}
