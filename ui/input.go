package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"glimpse/app"
)

// Every custom widget speaks to screen readers (fyne.Accessible).
var (
	_ fyne.Accessible = (*appEntry)(nil)
	_ fyne.Accessible = (*questionEntry)(nil)
	_ fyne.Accessible = (*imageSlot)(nil)
	_ fyne.Accessible = (*messageView)(nil)
	_ fyne.Accessible = (*convItem)(nil)
	_ fyne.Accessible = (*iconButton)(nil)
)

// appEntry is an Entry that passes the app's shortcuts on (a focused Entry
// otherwise swallows them) and turns a pasted file path into an image.
type appEntry struct {
	widget.Entry
	app         *App
	label       string            // what a screen reader announces
	onPastePath func(string) bool // a pasted path; true when taken
	onKey       func(fyne.KeyName) bool
}

func newAppEntry(a *App, label string, multiLine bool) *appEntry {
	e := &appEntry{app: a, label: label}
	e.MultiLine = multiLine
	if multiLine {
		e.Wrapping = fyne.TextWrapWord
	} else {
		e.Wrapping = fyne.TextWrapOff
	}
	e.ExtendBaseWidget(e)
	return e
}

// TypedShortcut runs the app's shortcuts and takes pasted paths.
func (e *appEntry) TypedShortcut(s fyne.Shortcut) {
	if p, ok := s.(*fyne.ShortcutPaste); ok && e.onPastePath != nil && p.Clipboard != nil {
		if path := pastedPath(p.Clipboard.Content()); path != "" && e.onPastePath(path) {
			return
		}
	}
	if e.app != nil && e.app.runShortcut(s) {
		return
	}
	e.Entry.TypedShortcut(s)
}

// TypedKey lets the owner handle keys first (Escape, F1, Enter).
func (e *appEntry) TypedKey(k *fyne.KeyEvent) {
	if e.onKey != nil && e.onKey(k.Name) {
		return
	}
	if e.app != nil && e.app.runKey(k.Name) {
		return
	}
	e.Entry.TypedKey(k)
}

// AccessibilityLabel names the box, and what is typed in it.
func (e *appEntry) AccessibilityLabel() string {
	if e.Text == "" {
		return e.label
	}
	return e.label + ": " + e.Text
}

// AccessibilityRole is text.
func (e *appEntry) AccessibilityRole() fyne.AccessibleRole { return fyne.AccessibleRoleText }

// questionEntry is the question box: Enter sends, Shift+Enter starts a new
// line (the reverse of Fyne's multi-line Entry, as in chat apps).
type questionEntry struct {
	appEntry
	shift  bool
	onSend func()
}

func newQuestionEntry(a *App, onSend func()) *questionEntry {
	q := &questionEntry{onSend: onSend}
	q.app, q.label = a, "Question"
	q.MultiLine = true
	q.Wrapping = fyne.TextWrapWord
	q.SetPlaceHolder("Ask about the image… (Enter sends, Shift+Enter for a new line)")
	q.ExtendBaseWidget(q)
	return q
}

// KeyDown tracks Shift, which desktop drivers report before the key it
// modifies.
func (q *questionEntry) KeyDown(k *fyne.KeyEvent) {
	if k.Name == desktop.KeyShiftLeft || k.Name == desktop.KeyShiftRight {
		q.shift = true
	}
	q.Entry.KeyDown(k)
}

// KeyUp tracks Shift.
func (q *questionEntry) KeyUp(k *fyne.KeyEvent) {
	if k.Name == desktop.KeyShiftLeft || k.Name == desktop.KeyShiftRight {
		q.shift = false
	}
	q.Entry.KeyUp(k)
}

// TypedKey sends on Enter; with Shift held the Entry inserts a newline
// (its OnSubmitted is nil, so it never submits itself).
func (q *questionEntry) TypedKey(k *fyne.KeyEvent) {
	if (k.Name == fyne.KeyReturn || k.Name == fyne.KeyEnter) && !q.shift {
		if q.onSend != nil {
			q.onSend()
		}
		return
	}
	q.appEntry.TypedKey(k)
}

// TypedShortcut sends on Ctrl+Enter too.
func (q *questionEntry) TypedShortcut(s fyne.Shortcut) {
	if cs, ok := s.(*desktop.CustomShortcut); ok && (cs.KeyName == fyne.KeyReturn || cs.KeyName == fyne.KeyEnter) {
		if q.onSend != nil {
			q.onSend()
		}
		return
	}
	q.appEntry.TypedShortcut(s)
}

// imageSlot shows the image the next question is about. It takes the focus:
// Enter or Space opens the file dialog, Delete clears it, Ctrl+V pastes a path.
type imageSlot struct {
	widget.BaseWidget
	app     *App
	img     *app.Image
	focused bool

	thumb  *canvas.Image
	text   *widget.Label
	border *canvas.Rectangle

	onOpen  func()
	onPaste func(path string)
}

func newImageSlot(a *App, onOpen func(), onPaste func(string)) *imageSlot {
	s := &imageSlot{app: a, onOpen: onOpen, onPaste: onPaste}
	s.thumb = canvas.NewImageFromImage(nil)
	s.thumb.FillMode = canvas.ImageFillContain
	s.thumb.SetMinSize(fyne.NewSize(96, 72))
	s.text = widget.NewLabel("No image: drop one on the window, press Ctrl+O, or paste its path")
	s.text.Wrapping = fyne.TextWrapWord
	s.border = canvas.NewRectangle(nil)
	s.border.StrokeWidth = 2
	s.border.CornerRadius = theme.InputRadiusSize()
	s.ExtendBaseWidget(s)
	return s
}

// set shows img (nil clears the slot).
func (s *imageSlot) set(img *app.Image) {
	s.img = img
	if img == nil {
		s.thumb.Image = nil
		s.text.SetText("No image: drop one on the window, press Ctrl+O, or paste its path")
	} else {
		s.thumb.Image = img.Image
		b := img.Image.Bounds()
		s.text.SetText(img.Name + "\n" + sizeText(b.Dx(), b.Dy()))
	}
	s.thumb.Refresh()
	s.Refresh()
}

func sizeText(w, h int) string { return itoa(w) + " × " + itoa(h) + " pixels" }

func (s *imageSlot) CreateRenderer() fyne.WidgetRenderer {
	s.refreshBorder()
	content := container.NewBorder(nil, nil, container.NewPadded(s.thumb), nil, s.text)
	return widget.NewSimpleRenderer(container.NewStack(s.border, container.NewPadded(content)))
}

func (s *imageSlot) Refresh() {
	s.refreshBorder()
	s.BaseWidget.Refresh()
}

func (s *imageSlot) refreshBorder() {
	if s.focused {
		s.border.StrokeColor = theme.Color(theme.ColorNameFocus)
	} else {
		s.border.StrokeColor = theme.Color(theme.ColorNameInputBorder)
	}
	s.border.Refresh()
}

// Tapped opens the file dialog.
func (s *imageSlot) Tapped(*fyne.PointEvent) {
	if s.onOpen != nil {
		s.onOpen()
	}
}

func (s *imageSlot) FocusGained()   { s.focused = true; s.Refresh() }
func (s *imageSlot) FocusLost()     { s.focused = false; s.Refresh() }
func (s *imageSlot) TypedRune(rune) {}

// TypedKey: Enter/Space open, Delete/Backspace clear.
func (s *imageSlot) TypedKey(k *fyne.KeyEvent) {
	switch k.Name {
	case fyne.KeyReturn, fyne.KeyEnter, fyne.KeySpace:
		if s.onOpen != nil {
			s.onOpen()
		}
	case fyne.KeyDelete, fyne.KeyBackspace:
		s.set(nil)
	default:
		if s.app != nil {
			s.app.runKey(k.Name)
		}
	}
}

// TypedShortcut takes a pasted path and passes the app's shortcuts on.
func (s *imageSlot) TypedShortcut(sc fyne.Shortcut) {
	if p, ok := sc.(*fyne.ShortcutPaste); ok && p.Clipboard != nil {
		if path := pastedPath(p.Clipboard.Content()); path != "" && s.onPaste != nil {
			s.onPaste(path)
		} else if s.app != nil {
			s.app.chat.showError("The clipboard holds no path to an image file.")
		}
		return
	}
	if s.app != nil {
		s.app.runShortcut(sc)
	}
}

// AccessibilityLabel says which image is chosen.
func (s *imageSlot) AccessibilityLabel() string {
	if s.img == nil {
		return "Image: none chosen. Press Enter to open one."
	}
	return "Image: " + s.img.Name + ". Press Enter to choose another, Delete to remove it."
}

// AccessibilityRole is a button: activating it opens a file.
func (s *imageSlot) AccessibilityRole() fyne.AccessibleRole { return fyne.AccessibleRoleButton }

// iconButton is a button that shows only an icon but tells screen readers
// what it does (a plain Button would announce the icon's file name).
type iconButton struct {
	widget.Button
	label string
}

func newIconButton(label string, icon fyne.Resource, tapped func()) *iconButton {
	b := &iconButton{label: label}
	b.Icon, b.OnTapped = icon, tapped
	b.ExtendBaseWidget(b)
	return b
}

// AccessibilityLabel says what the button does.
func (b *iconButton) AccessibilityLabel() string { return b.label }
