package ui

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"glimpse/app"
	"glimpse/generate"
	"glimpse/history"
)

func itoa(n int) string { return strconv.Itoa(n) }

// messageView is one message of the chat: who said it, its text, the images
// it is about, and a copy button.
type messageView struct {
	widget.BaseWidget
	app   *App
	role  history.Role
	text  *widget.Label
	thumb *canvas.Image
	image string // the image's file name, for screen readers
	copy  *iconButton
}

func newMessageView(a *App, role history.Role, text string, thumb image.Image, thumbPath, imageName string) *messageView {
	m := &messageView{app: a, role: role, image: imageName}
	m.text = widget.NewLabel(text)
	m.text.Wrapping = fyne.TextWrapWord
	m.text.Selectable = true
	if role == history.RoleUser {
		m.text.TextStyle.Bold = true
	}
	switch {
	case thumb != nil:
		m.thumb = canvas.NewImageFromImage(thumb)
	case thumbPath != "":
		m.thumb = canvas.NewImageFromFile(thumbPath)
	}
	if m.thumb != nil {
		m.thumb.FillMode = canvas.ImageFillContain
		m.thumb.SetMinSize(fyne.NewSize(160, 120))
	}
	what := "Copy the question"
	if role == history.RoleAssistant {
		what = "Copy the answer"
	}
	m.copy = newIconButton(what, theme.ContentCopyIcon(), func() {
		a.fyne.Clipboard().SetContent(m.text.Text)
		a.status.flash("Copied to the clipboard")
	})
	m.ExtendBaseWidget(m)
	return m
}

func (m *messageView) CreateRenderer() fyne.WidgetRenderer {
	who := widget.NewLabelWithStyle("You", fyne.TextAlignLeading, fyne.TextStyle{Italic: true})
	if m.role == history.RoleAssistant {
		who.SetText("Glimpse")
	}
	head := container.NewBorder(nil, nil, who, m.copy)
	body := fyne.CanvasObject(m.text)
	if m.thumb != nil {
		body = container.NewBorder(nil, nil, container.NewVBox(m.thumb), nil, m.text)
	}
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	bg.CornerRadius = theme.InputRadiusSize()
	if m.role == history.RoleUser {
		bg.FillColor = theme.Color(theme.ColorNameHover)
	}
	return widget.NewSimpleRenderer(container.NewStack(bg, container.NewPadded(container.NewBorder(head, nil, nil, nil, body))))
}

// Text is the message's text.
func (m *messageView) Text() string { return m.text.Text }

func (m *messageView) setText(s string) { m.text.SetText(s) }

// AccessibilityLabel reads the message the way a person would say it.
func (m *messageView) AccessibilityLabel() string {
	if m.role == history.RoleAssistant {
		return "Glimpse answered: " + m.text.Text
	}
	if m.image != "" {
		return "You asked about " + m.image + ": " + m.text.Text
	}
	return "You asked: " + m.text.Text
}

// AccessibilityRole is text.
func (m *messageView) AccessibilityRole() fyne.AccessibleRole { return fyne.AccessibleRoleText }

// chatView is the chat panel: the messages of the open conversation and the
// input area under them.
type chatView struct {
	a      *App
	convID int64 // the open conversation; 0 until the first answer is saved

	msgs     *fyne.Container
	scroll   *container.Scroll
	errLabel *widget.Label
	thinking *widget.ProgressBar
	question *questionEntry
	slot     *imageSlot
	sendBtn  *widget.Button
	stopBtn  *widget.Button
	openBtn  *widget.Button
	newBtn   *widget.Button
	pending  *messageView       // the answer being generated
	cancel   context.CancelFunc // stops the pending answer
	shown    int                // counts what the panel showed: New chat and opening a conversation add one
	box      fyne.CanvasObject
}

func newChatView(a *App) *chatView {
	c := &chatView{a: a}
	c.msgs = container.NewVBox()
	c.scroll = container.NewVScroll(c.msgs)
	c.errLabel = widget.NewLabel("")
	c.errLabel.Importance = widget.DangerImportance
	c.errLabel.Wrapping = fyne.TextWrapWord
	c.errLabel.Hide()
	c.thinking = widget.NewProgressBar()
	c.thinking.Hide()
	c.question = newQuestionEntry(a, c.send)
	c.question.onPastePath = func(p string) bool { c.pickPath(p); return true }
	c.question.onKey = func(k fyne.KeyName) bool {
		if k == fyne.KeyEscape && c.pending != nil {
			c.stop()
			return true
		}
		return false
	}
	c.question.SetMinRowsVisible(3)
	c.slot = newImageSlot(a, c.openImage, c.pickPath)
	c.sendBtn = widget.NewButtonWithIcon("Send", theme.MailSendIcon(), c.send)
	c.sendBtn.Importance = widget.HighImportance
	c.stopBtn = widget.NewButtonWithIcon("Stop", theme.MediaStopIcon(), c.stop)
	c.stopBtn.Disable()
	c.openBtn = widget.NewButtonWithIcon("Open image…", theme.FolderOpenIcon(), c.openImage)
	c.newBtn = widget.NewButtonWithIcon("New chat", theme.ContentAddIcon(), c.newChat)
	buttons := container.NewHBox(c.openBtn, c.newBtn, layout.NewSpacer(), c.stopBtn, c.sendBtn)
	input := container.NewVBox(c.thinking, c.errLabel, container.NewGridWithColumns(2, c.slot, c.question), buttons)
	c.box = container.NewBorder(nil, input, nil, nil, c.scroll)
	return c
}

func (c *chatView) object() fyne.CanvasObject { return c.box }

// showError shows a message for the user above the input area.
func (c *chatView) showError(msg string) {
	c.errLabel.SetText(msg)
	c.errLabel.Show()
}

func (c *chatView) clearError() { c.errLabel.Hide(); c.errLabel.SetText("") }

// dropPaths takes dropped files: the first readable image goes in the slot.
func (c *chatView) dropPaths(paths []string) {
	var errs []string
	for _, p := range paths {
		img, err := app.LoadImage(p)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		c.setImage(img)
		if len(paths) > 1 {
			c.a.status.flash(fmt.Sprintf("Using %s; the chat takes one image per question", img.Name))
		}
		return
	}
	c.showError(strings.Join(errs, "\n"))
}

// pickPath loads a chosen or pasted path into the slot.
func (c *chatView) pickPath(path string) {
	img, err := app.LoadImage(path)
	if err != nil {
		c.showError(err.Error())
		return
	}
	c.setImage(img)
}

func (c *chatView) setImage(img *app.Image) {
	c.clearError()
	c.slot.set(img)
	c.a.win.Canvas().Focus(c.question)
}

// openImage shows the native file dialog (or Fyne's) for an image.
func (c *chatView) openImage() {
	openImageDialog(c.a, func(path string, err error) {
		if err != nil {
			c.showError(err.Error())
			return
		}
		if path != "" {
			c.pickPath(path)
		}
	})
}

// newChat starts an empty conversation.
func (c *chatView) newChat() {
	c.stop()
	c.pending, c.cancel = nil, nil
	c.setBusy(false)
	c.shown++
	c.convID = 0
	c.msgs.RemoveAll()
	c.slot.set(nil)
	c.question.SetText("")
	c.clearError()
	c.a.sidebar.selectID(0)
	c.a.win.Canvas().Focus(c.question)
}

// stop cancels the answer being generated, or the load it waits for.
func (c *chatView) stop() {
	if c.cancel != nil {
		c.cancel()
	}
}

func (c *chatView) addMessage(m *messageView) {
	c.msgs.Add(m)
	c.scroll.ScrollToBottom()
}

// send asks the question in the box about the image in the slot.
func (c *chatView) send() {
	q := strings.TrimSpace(c.question.Text)
	switch {
	case q == "":
		c.showError("Type a question first.")
		return
	case c.slot.img == nil:
		c.showError("Choose an image first: drop one on the window, press Ctrl+O, or paste its path.")
		return
	case c.pending != nil:
		c.showError("Glimpse is still answering; press Esc or Stop to stop it.")
		return
	}
	if err := c.a.settings.Validate(); err != nil {
		c.showError("The generation settings need fixing (Ctrl+,): " + err.Error())
		return
	}
	c.clearError()
	img := c.slot.img
	c.addMessage(newMessageView(c.a, history.RoleUser, q, img.Image, "", img.Name))
	answer := newMessageView(c.a, history.RoleAssistant, "…", nil, "", "")
	c.addMessage(answer)
	c.pending = answer
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.question.SetText("")
	c.setBusy(true)

	conv, shown := c.convID, c.shown
	cfg := c.a.settings.Generation()
	streamed := ""
	var answered app.Description // the model that answers, for the history
	c.a.worker.Ask(AskRequest{
		Context:   ctx,
		Engine:    c.a.engineChoice(),
		Images:    []image.Image{img.Image},
		Prompts:   []string{q},
		Config:    cfg,
		OnLoading: c.a.status.loading,
		OnLoaded: func(d app.Description) {
			answered = d
			c.a.status.loaded(d)
		},
		OnEvent: func(e generate.Event) {
			switch {
			case e.Index < 0:
				c.thinking.Show()
				c.thinking.SetValue(float64(e.Step) / float64(max(e.MaxSteps, 1)))
			case e.Index == 0 && cfg.NumBeams > 1 && e.Final:
				answer.setText(e.Text)
			case e.Index == 0 && cfg.NumBeams == 1:
				streamed += e.Text
				answer.setText(streamed)
				c.scroll.ScrollToBottom()
			}
		},
		OnDone: func(res *app.Result, err error) {
			cancel()
			c.a.status.loadDone()
			if c.pending == answer { // else New chat has already let it go
				c.pending, c.cancel = nil, nil
				c.setBusy(false)
			}
			switch {
			case errors.Is(err, context.Canceled):
				answer.setText(strings.TrimSpace(streamed+" …") + "\n(stopped)")
				return
			case err != nil:
				answer.setText("No answer: " + err.Error())
				c.showError(friendlyAskError(err))
				return
			case res == nil || len(res.Answers) == 0:
				answer.setText("No answer came back.")
				return
			}
			answer.setText(res.Answers[0].Text)
			for _, w := range res.Warnings {
				c.a.status.flash(w)
			}
			id := c.save(conv, app.Exchange{Prompt: q, Image: img, Config: cfg, Model: answered, Result: res})
			// The exchange is saved where it was asked; the panel follows
			// only if it still shows that chat.
			if c.shown == shown && id != 0 {
				c.convID = id
				c.a.sidebar.selectID(id)
			}
		},
	})
}

// friendlyAskError words a failed question for the window: the error's own
// words, and what to do about it in this app, chosen by the error's kind.
func friendlyAskError(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, app.ErrNoModel):
		return "No model is chosen: open Models (Ctrl+M), download one and make it active."
	case errors.Is(err, app.ErrModelNotFound):
		return "The active model is not installed: " + msg + ". Open Models (Ctrl+M) to download it or choose another."
	case errors.Is(err, app.ErrModelIncomplete):
		return "The active model is incomplete: " + msg + ". Open Models (Ctrl+M) to verify or download it again, or choose another."
	case errors.Is(err, app.ErrOutOfMemory):
		return msg + ". Try a smaller precision (fp16, q8 or q4) or a smaller model in Models (Ctrl+M), or the CPU backend in Settings."
	case errors.Is(err, app.ErrBackendUnavailable):
		return msg + ". Choose the cpu (or auto) backend in Settings (Ctrl+,), or update the graphics driver."
	case errors.Is(err, app.ErrBadSetting):
		return msg + ". Fix it in Settings (Ctrl+,)."
	}
	return "Glimpse could not answer: " + msg
}

// save records an answered question in the history: in conversation id, or
// a new one when id is 0 (the first answer of a chat). It returns the
// conversation's id, 0 when saving failed.
func (c *chatView) save(id int64, ex app.Exchange) int64 {
	id, err := app.Record(context.Background(), c.a.store, id, ex)
	if err != nil {
		c.showError("The answer could not be saved to the history: " + err.Error())
		return 0
	}
	c.a.sidebar.refresh()
	return id
}

// setBusy switches the buttons between asking and answering.
func (c *chatView) setBusy(busy bool) {
	if busy {
		c.sendBtn.Disable()
		c.stopBtn.Enable()
		c.thinking.SetValue(0)
	} else {
		c.sendBtn.Enable()
		c.stopBtn.Disable()
		c.thinking.Hide()
	}
}

// load shows conversation id from the history, and puts its last image in
// the slot so that follow-up questions are about it.
func (c *chatView) load(id int64) {
	conv, err := c.a.store.Get(context.Background(), id)
	if err != nil {
		c.showError("Cannot open that conversation: " + err.Error())
		return
	}
	c.clearError()
	c.shown++
	c.convID = id
	c.msgs.RemoveAll()
	var last *history.Attachment
	for _, m := range conv.Messages {
		thumb, name := "", ""
		if len(m.Attachments) > 0 {
			at := m.Attachments[0]
			thumb, name, last = at.ThumbPath, at.Name, &m.Attachments[0]
		}
		c.msgs.Add(newMessageView(c.a, m.Role, m.Text, nil, thumb, name))
	}
	c.scroll.ScrollToBottom()
	if last != nil {
		if img, err := app.LoadImage(last.Path); err == nil {
			img.Name = last.Name
			c.slot.set(img)
		}
	}
}

// messages returns the texts shown, oldest first (tests and screen readers).
func (c *chatView) messages() []*messageView {
	var out []*messageView
	for _, o := range c.msgs.Objects {
		if m, ok := o.(*messageView); ok {
			out = append(out, m)
		}
	}
	return out
}
