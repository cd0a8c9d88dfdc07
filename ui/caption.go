package ui

import (
	"context"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"sync"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"golang.org/x/image/draw"

	"glimpse/app"
)

// Preference keys of caption mode.
const (
	prefSpeakAuto      = "caption.speakAuto"
	prefBatchFormat    = "caption.batchFormat"
	prefBatchRecursive = "caption.batchRecursive"
)

// CaptionEnv is what caption mode needs from the app.
type CaptionEnv struct {
	// Window is the app's window, for dialogs and the keyboard focus.
	Window fyne.Window
	// Ask answers prompts about images with the app's model, loading it
	// first if need be. Caption mode calls it from its own goroutines (never
	// the UI goroutine); it blocks until done, must not run at the same time
	// as the app's other uses of the model, and returns soon after ctx is
	// cancelled, with ctx's error.
	Ask app.AskFunc
	// OpenImage and OpenFolder, when set, show the app's file dialogs
	// (native ones where there are) and call done on the UI goroutine with
	// the chosen path, or "" when cancelled. Unset, Fyne's dialogs are used.
	OpenImage  func(done func(path string, err error))
	OpenFolder func(done func(path string, err error))
	// Do hands a function to the UI goroutine; unset, fyne.Do. (The app's
	// tests queue UI work and run it on the test's goroutine.)
	Do func(func())
}

// captionShortcut is a key of caption mode, listed in the help dialog.
type captionShortcut struct {
	Keys string
	What string
}

// captionShortcuts lists caption mode's keys for the app's help dialog. The
// letter keys act while the caption (or the view) has the keyboard focus,
// so they never take letters from a text box.
var captionShortcuts = []captionShortcut{
	{"Drop an image", "Caption it (in the Caption tab)"},
	{"O", "Open an image to caption"},
	{"C or Ctrl+C", "Copy the caption"},
	{"R", "Read the caption aloud"},
	{"S", "Stop reading aloud"},
	{"A", "Read every new caption aloud (on or off)"},
	{"F", "Choose a folder to caption (batch)"},
	{"Esc", "Stop captioning and reading aloud"},
}

// captionKeys is the dispatch table of the letter keys above.
func (v *captionView) captionKeys() map[rune]func() {
	return map[rune]func(){
		'o': v.openImage,
		'c': v.copyCaption,
		'r': v.speakCaption,
		's': v.speech.Stop,
		'a': func() { v.autoSpeak.SetChecked(!v.autoSpeak.Checked) },
		'f': v.batch.chooseFolder,
	}
}

// captionView is the caption mode: each image dropped on it or opened gets a
// short caption at once, for alt text, shown large, ready to copy with one
// key and to be read aloud; below, a whole folder can be captioned.
type captionView struct {
	widget.BaseWidget
	env    CaptionEnv
	speech *speaker

	picture   *captionImage
	caption   *captionText
	status    *widget.Label
	copyBtn   *widget.Button
	speakBtn  *widget.Button
	stopBtn   *widget.Button
	autoSpeak *widget.Check
	batch     *batchView
	content   fyne.CanvasObject

	// Owned by the UI goroutine.
	queue   []string           // files waiting to be captioned
	cancel  context.CancelFunc // of the caption being made
	running int                // generation counter: results of stopped runs are dropped
	path    string             // the image shown
	text    string             // its caption, "" while none

	// pending counts the caption goroutines, so tests can wait for them.
	pending sync.WaitGroup
	// onCaptioned, when set (tests), is called on the UI goroutine after
	// each image is captioned or fails.
	onCaptioned func(path, caption string, err error)
}

// newCaptionView is the caption mode: drop or open an image and its caption
// appears, large, ready to copy (C) or read aloud (R); a folder can be
// captioned as a batch. The returned object takes dropped files
// (dropPaths) and says where the keyboard focus starts (focusStart).
func newCaptionView(env CaptionEnv) fyne.CanvasObject {
	if env.Do == nil {
		env.Do = fyne.Do
	}
	v := &captionView{env: env, speech: newSpeaker()}
	v.ExtendBaseWidget(v)
	prefs := fyne.CurrentApp().Preferences()

	v.picture = newCaptionImage()
	v.caption = newCaptionText(v)
	v.status = widget.NewLabel("Drop an image here, or press Open image, to get a caption for its alt text.")
	v.status.Wrapping = fyne.TextWrapWord
	open := widget.NewButtonWithIcon("Open image… (O)", theme.FolderOpenIcon(), v.openImage)
	v.copyBtn = widget.NewButtonWithIcon("Copy (C)", theme.ContentCopyIcon(), v.copyCaption)
	v.speakBtn = widget.NewButtonWithIcon("Read aloud (R)", theme.VolumeUpIcon(), v.speakCaption)
	v.stopBtn = widget.NewButtonWithIcon("Stop (Esc)", theme.MediaStopIcon(), v.stop)
	v.autoSpeak = widget.NewCheck("Read each new caption aloud (A)", func(on bool) {
		fyne.CurrentApp().Preferences().SetBool(prefSpeakAuto, on)
	})
	v.autoSpeak.SetChecked(prefs.Bool(prefSpeakAuto))
	v.batch = newBatchView(v)
	v.syncButtons()

	buttons := container.NewHBox(open, v.copyBtn, v.speakBtn, v.stopBtn, v.autoSpeak)
	// Plain containers from top to bottom: Fyne's screen-reader bridges walk
	// containers, not the insides of other widgets.
	top := container.NewBorder(nil, container.NewVBox(buttons, v.status), nil, nil,
		container.NewGridWithColumns(2, v.picture, v.caption))
	v.content = container.NewBorder(nil, v.batch.object(), nil, nil, top)
	return v
}

// CreateRenderer implements fyne.Widget.
func (v *captionView) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(v.content)
}

// AccessibilityLabel says what the view shows: the caption of the image, so
// a screen reader that stops at the view still reads what matters.
func (v *captionView) AccessibilityLabel() string {
	if v.text != "" {
		return "Caption of " + filepath.Base(v.path) + ": " + v.text
	}
	return "Caption mode. " + v.status.Text
}

// AccessibilityRole implements fyne.Accessible.
func (v *captionView) AccessibilityRole() fyne.AccessibleRole { return fyne.AccessibleRoleText }

// focusStart puts the keyboard focus on the caption, where the letter keys
// work.
func (v *captionView) focusStart() {
	if c := v.env.Window.Canvas(); c != nil {
		c.Focus(v.caption)
	}
}

// dropPaths takes files dropped on the window while caption mode shows:
// images are captioned one after another; a folder is chosen for the batch.
func (v *captionView) dropPaths(paths []string) {
	var files []string
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			v.batch.setFolder(p)
			continue
		}
		files = append(files, p)
	}
	if len(files) > 0 {
		v.captionFiles(files)
	}
}

// openImage asks for an image file and captions it.
func (v *captionView) openImage() {
	done := func(path string, err error) {
		if err != nil {
			v.showError(err)
			return
		}
		if path != "" {
			v.captionFiles([]string{path})
		}
	}
	if v.env.OpenImage != nil {
		v.env.OpenImage(done)
		return
	}
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			done("", err)
			return
		}
		r.Close()
		done(r.URI().Path(), nil)
	}, v.env.Window)
	d.SetFilter(storage.NewExtensionFileFilter(app.ImageExtensions()))
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// captionFiles stops what is being captioned and captions files in turn.
func (v *captionView) captionFiles(files []string) {
	v.stopCaption()
	v.queue = append([]string(nil), files...)
	v.next()
}

// next starts captioning the first file of the queue.
func (v *captionView) next() {
	if len(v.queue) == 0 {
		return
	}
	path := v.queue[0]
	v.queue = v.queue[1:]
	v.speech.Stop() // a new caption starts: the old one is no longer wanted aloud
	v.path, v.text = path, ""
	v.running++
	run := v.running
	ctx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	v.picture.set(nil, "")
	v.caption.setText("")
	v.setStatus("Captioning "+filepath.Base(path)+"…", false)
	v.syncButtons()
	v.pending.Add(1)
	go func() {
		defer v.pending.Done()
		var caption string
		var preview image.Image
		img, err := app.LoadImage(path)
		if err == nil {
			// The image shows while its caption is made.
			preview = previewImage(img.Image, 1024)
			v.env.Do(func() {
				if run == v.running {
					v.picture.set(preview, "")
				}
			})
			var captions []string
			var errs []error
			captions, errs, err = app.Caption(ctx, v.env.Ask, []image.Image{img.Image}, app.CaptionPrompt, app.CaptionSettings())
			if err == nil {
				caption, err = captions[0], errs[0]
			}
		}
		v.env.Do(func() {
			if run != v.running {
				return // stopped or replaced
			}
			cancel()
			v.cancel = nil
			v.finish(path, caption, preview, err)
		})
	}()
}

// finish shows a caption (or why there is none) and goes on to the next file.
func (v *captionView) finish(path, caption string, preview image.Image, err error) {
	name := filepath.Base(path)
	switch {
	case errors.Is(err, context.Canceled):
		v.setStatus("Stopped.", false)
	case err != nil:
		v.picture.set(preview, "")
		v.setStatus(err.Error(), true)
	case caption == "":
		v.picture.set(preview, "")
		v.setStatus("The model gave no caption for "+name+".", true)
	default:
		v.text = caption
		v.picture.set(preview, caption)
		v.caption.setText(caption)
		v.setStatus(name+": C copies the caption, R reads it aloud.", false)
		if v.autoSpeak.Checked {
			v.speakCaption()
		}
		if c := v.env.Window.Canvas(); c != nil && v.Visible() {
			if _, typing := c.Focused().(*widget.Entry); !typing {
				c.Focus(v.caption)
			}
		}
	}
	v.syncButtons()
	v.Refresh()
	if v.onCaptioned != nil {
		v.onCaptioned(path, v.text, err)
	}
	if !errors.Is(err, context.Canceled) {
		v.next()
	}
}

// previewImage is img at most limit pixels on its longer side, as RGBA, so
// the window never holds or redraws a camera-sized image.
func previewImage(img image.Image, limit int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return img
	}
	if w > limit || h > limit {
		if w >= h {
			w, h = limit, max(1, h*limit/b.Dx())
		} else {
			w, h = max(1, w*limit/b.Dy()), limit
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}

// stop stops captioning (and the queue) and reading aloud.
func (v *captionView) stop() {
	v.stopCaption()
	v.speech.Stop()
	v.batch.stop()
}

// stopCaption stops the caption being made.
func (v *captionView) stopCaption() {
	v.queue = nil
	if v.cancel != nil {
		v.cancel()
		v.cancel = nil
		v.running++
		v.setStatus("Stopped.", false)
	}
	v.syncButtons()
}

// copyCaption puts the caption on the clipboard.
func (v *captionView) copyCaption() {
	if v.text == "" {
		return
	}
	fyne.CurrentApp().Clipboard().SetContent(v.text)
	v.setStatus("Copied the caption of "+filepath.Base(v.path)+".", false)
}

// speakCaption reads the caption aloud.
func (v *captionView) speakCaption() {
	if v.text == "" {
		return
	}
	err := v.speech.Speak(v.text, func(err error) {
		v.env.Do(func() {
			if err != nil {
				v.setStatus(err.Error(), true)
			}
			v.syncButtons()
		})
	})
	if err != nil {
		v.setStatus(err.Error(), true)
	}
	v.syncButtons()
}

// showError shows err in the status line.
func (v *captionView) showError(err error) { v.setStatus(err.Error(), true) }

func (v *captionView) setStatus(text string, isErr bool) {
	v.status.Importance = widget.MediumImportance
	if isErr {
		v.status.Importance = widget.DangerImportance
	}
	v.status.SetText(text)
}

// syncButtons enables what can be done now.
func (v *captionView) syncButtons() {
	enable := func(b *widget.Button, on bool) {
		if on {
			b.Enable()
		} else {
			b.Disable()
		}
	}
	enable(v.copyBtn, v.text != "")
	enable(v.speakBtn, v.text != "")
	enable(v.stopBtn, v.cancel != nil || v.batch.cancel != nil || v.speech.Speaking())
}

// captionText shows the caption in large type. It takes the keyboard focus
// (with a visible focus ring), where the letter keys of captionShortcuts
// act, and a screen reader reads the caption itself.
type captionText struct {
	widget.BaseWidget
	view    *captionView
	label   *widget.Label
	ring    *canvas.Rectangle
	focused bool
}

func newCaptionText(v *captionView) *captionText {
	t := &captionText{view: v}
	t.label = widget.NewLabel("")
	t.label.Wrapping = fyne.TextWrapWord
	t.label.SizeName = theme.SizeNameHeadingText
	t.ring = canvas.NewRectangle(color.Transparent)
	t.ring.StrokeWidth = 2
	t.ring.CornerRadius = theme.InputRadiusSize()
	t.ExtendBaseWidget(t)
	return t
}

func (t *captionText) setText(s string) {
	t.label.SetText(s)
	t.Refresh()
}

// Text is the caption shown.
func (t *captionText) Text() string { return t.label.Text }

// CreateRenderer implements fyne.Widget.
func (t *captionText) CreateRenderer() fyne.WidgetRenderer {
	return &captionTextRenderer{t: t, objects: []fyne.CanvasObject{t.ring, t.label}}
}

// AccessibilityLabel is the caption, or what the view is doing.
func (t *captionText) AccessibilityLabel() string {
	if t.label.Text != "" {
		return t.label.Text
	}
	return t.view.status.Text
}

// AccessibilityRole implements fyne.Accessible.
func (t *captionText) AccessibilityRole() fyne.AccessibleRole { return fyne.AccessibleRoleText }

// Tapped focuses the caption.
func (t *captionText) Tapped(*fyne.PointEvent) {
	if c := fyne.CurrentApp().Driver().CanvasForObject(t); c != nil {
		c.Focus(t)
	}
}

// FocusGained implements fyne.Focusable.
func (t *captionText) FocusGained() { t.focused = true; t.Refresh() }

// FocusLost implements fyne.Focusable.
func (t *captionText) FocusLost() { t.focused = false; t.Refresh() }

// TypedRune runs the letter keys of captionShortcuts.
func (t *captionText) TypedRune(r rune) {
	if f, ok := t.view.captionKeys()[unicode.ToLower(r)]; ok {
		f()
	}
}

// TypedKey stops on Esc and passes other keys (F1 …) to the window.
func (t *captionText) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape {
		t.view.stop()
		return
	}
	if c := t.view.env.Window.Canvas(); c != nil && c.OnTypedKey() != nil {
		c.OnTypedKey()(k)
	}
}

// TypedShortcut copies on Ctrl+C and passes the other shortcuts on to the
// window, so the app's own keep working while the caption has the focus.
func (t *captionText) TypedShortcut(s fyne.Shortcut) {
	if _, ok := s.(*fyne.ShortcutCopy); ok {
		t.view.copyCaption()
		return
	}
	if sc, ok := t.view.env.Window.Canvas().(fyne.Shortcutable); ok {
		sc.TypedShortcut(s)
	}
}

type captionTextRenderer struct {
	t       *captionText
	objects []fyne.CanvasObject
}

func (r *captionTextRenderer) Layout(size fyne.Size) {
	r.t.ring.Resize(size)
	p := theme.InnerPadding() / 2
	r.t.label.Move(fyne.NewPos(p, p))
	r.t.label.Resize(size.SubtractWidthHeight(2*p, 2*p))
}

func (r *captionTextRenderer) MinSize() fyne.Size {
	p := theme.InnerPadding()
	return r.t.label.MinSize().AddWidthHeight(p, p).Max(fyne.NewSize(200, 120))
}

func (r *captionTextRenderer) Refresh() {
	r.t.ring.FillColor = theme.Color(theme.ColorNameInputBackground)
	r.t.ring.StrokeColor = color.Transparent
	if r.t.focused {
		r.t.ring.StrokeColor = theme.Color(theme.ColorNameFocus)
	}
	r.t.ring.Refresh()
	r.t.label.Refresh()
}

func (r *captionTextRenderer) Objects() []fyne.CanvasObject { return r.objects }
func (r *captionTextRenderer) Destroy()                     {}

// captionImage shows the image being captioned. For a screen reader it is
// its caption, as alt text is for an image on the web.
type captionImage struct {
	widget.BaseWidget
	img     *canvas.Image
	caption string
}

func newCaptionImage() *captionImage {
	c := &captionImage{img: canvas.NewImageFromImage(nil)}
	c.img.FillMode = canvas.ImageFillContain
	c.img.ScaleMode = canvas.ImageScaleSmooth
	c.img.SetMinSize(fyne.NewSize(240, 180))
	c.ExtendBaseWidget(c)
	return c
}

// set shows img (nil for none) with its caption.
func (c *captionImage) set(img image.Image, caption string) {
	c.img.Image = img
	c.caption = caption
	c.img.Refresh()
}

// CreateRenderer implements fyne.Widget.
func (c *captionImage) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(c.img) }

// AccessibilityLabel is the image's caption.
func (c *captionImage) AccessibilityLabel() string {
	if c.caption != "" {
		return "Image: " + c.caption
	}
	if c.img.Image != nil {
		return "Image, not captioned yet"
	}
	return "No image yet"
}

// AccessibilityRole implements fyne.Accessible: an image is read as its text.
func (c *captionImage) AccessibilityRole() fyne.AccessibleRole { return fyne.AccessibleRoleText }

// Caption mode's own widgets speak to screen readers, and the caption takes
// the keyboard.
var (
	_ fyne.Accessible   = (*captionView)(nil)
	_ fyne.Accessible   = (*captionText)(nil)
	_ fyne.Accessible   = (*captionImage)(nil)
	_ fyne.Focusable    = (*captionText)(nil)
	_ fyne.Shortcutable = (*captionText)(nil)
	_ fyne.Tappable     = (*captionText)(nil)
)
