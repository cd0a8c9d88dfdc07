package ui

import (
	"context"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"glimpse/app"
	"glimpse/serve"
)

// servePanel is the Settings section "Other programs": a switch that
// starts and stops the server of `glimpse serve` on this machine (loopback
// only, no key), for the active model, and says where it listens. It is
// off at every start: letting programs in is a choice made each session.
type servePanel struct {
	a      *App
	on     *widget.Check
	record *widget.Check
	status *widget.Label
	box    fyne.CanvasObject
	// listen is where the server listens; tests use a free port.
	listen string
	srv    *serve.Server
}

func newServePanel(a *App) *servePanel {
	p := &servePanel{a: a, listen: serve.DefaultAddr}
	p.on = widget.NewCheck("Let other programs use Glimpse", func(on bool) {
		if on {
			p.start()
		} else {
			p.stop()
		}
	})
	p.record = widget.NewCheck("Save their questions and answers in the history", nil)
	p.status = widget.NewLabel("")
	p.status.Wrapping = fyne.TextWrapWord
	p.status.Selectable = true // the address can be copied
	form := widget.NewForm(widget.NewFormItem("", p.on), widget.NewFormItem("", p.record), widget.NewFormItem("", p.status))
	form.Items[0].HintText = "programs on this computer that speak the OpenAI or Ollama API ask the active model; it loads its own copy when the first question comes"
	form.Items[1].HintText = "off: what other programs ask is not kept"
	p.box = form
	p.showOff()
	return p
}

func (p *servePanel) object() fyne.CanvasObject { return p.box }

// start serves the active model with the engine settings the chat uses.
func (p *servePanel) start() {
	if p.srv != nil {
		return
	}
	choice := p.a.engineChoice()
	if choice.Model == "" {
		p.fail("Choose a model in Models first; other programs are answered with the active model.")
		return
	}
	opt := serve.Options{
		Model:   choice.Model,
		Open:    app.OpenOptions{Backend: choice.Backend, Precision: choice.Precision},
		Version: p.a.opt.Version,
	}
	if p.record.Checked {
		opt.History = p.a.store
	}
	s, err := serve.New(opt)
	if err == nil {
		err = s.Start(p.listen)
	}
	if err != nil {
		p.fail("Other programs cannot use Glimpse: " + err.Error())
		return
	}
	p.srv = s
	p.record.Disable()
	url := s.URL()
	p.status.SetText("Programs can use " + displayName(choice.Model) + " at " + url +
		" (OpenAI clients: base URL " + url + "/v1; Ollama clients: host " + url + ").")
}

// stop stops the server; the model it loaded is freed once a question it
// is answering has stopped.
func (p *servePanel) stop() {
	s := p.srv
	if s == nil {
		return
	}
	p.srv = nil
	p.status.SetText("Stopping…")
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		p.a.do(func() {
			if p.srv == nil {
				p.showOff()
			}
		})
	}()
}

// fail says why the server is not running and turns the switch off.
func (p *servePanel) fail(msg string) {
	p.on.SetChecked(false)
	p.status.SetText(msg)
}

func (p *servePanel) showOff() {
	p.record.Enable()
	p.status.SetText("Off: no other program can use Glimpse.")
}
