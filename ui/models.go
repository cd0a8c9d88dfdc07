package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"glimpse/app"
	"glimpse/downloads"
)

// modelCard is one model in the manager: what it is, whether it is
// installed, its download's progress, and its actions.
type modelCard struct {
	v       *modelsView
	name    string          // catalogue name or ORG/NAME
	cat     downloads.Model // zero for models outside the catalogue
	inst    *downloads.Installed
	title   *widget.Label
	about   *widget.Label
	state   *widget.Label
	bar     *widget.ProgressBar
	detail  *widget.Label
	pullB   *widget.Button
	pauseB  *widget.Button
	cancelB *widget.Button
	verifyB *widget.Button
	removeB *widget.Button
	useB    *widget.Button
	ctl     *downloads.Control
	cancel  context.CancelFunc // of the running pull or verify
	box     *fyne.Container
}

// modelsView is the model manager: the catalogue, the installed models, and
// downloads with progress, pause, resume, cancel, verify and delete.
type modelsView struct {
	a         *App
	mgr       *downloads.Manager
	recLabel  *widget.Label
	errLabel  *widget.Label
	active    *widget.Label
	precision *widget.Select
	other     *appEntry
	cards     map[string]*modelCard
	list      *fyne.Container
	box       fyne.CanvasObject
}

func newModelsView(a *App) *modelsView {
	v := &modelsView{a: a, cards: map[string]*modelCard{}}
	v.mgr = downloads.New(a.settings.Download())
	v.recLabel = widget.NewLabel("")
	v.recLabel.Wrapping = fyne.TextWrapWord
	v.recLabel.Hide()
	v.errLabel = widget.NewLabel("")
	v.errLabel.Importance = widget.DangerImportance
	v.errLabel.Wrapping = fyne.TextWrapWord
	v.errLabel.Hide()
	v.active = widget.NewLabel("")
	v.active.Wrapping = fyne.TextWrapWord
	v.precision = widget.NewSelect(Precisions, func(p string) {
		if p != "" && p != a.settings.Precision {
			s := a.settings
			s.Precision = p
			a.setSettings(s)
			v.showActive()
		}
	})
	v.precision.SetSelected(a.settings.Precision)
	v.other = newAppEntry(a, "Other model, as ORG/NAME", false)
	v.other.SetPlaceHolder("Other model on the Hub: ORG/NAME[@REVISION]")
	v.other.OnSubmitted = func(string) { v.pullOther() }
	otherB := widget.NewButtonWithIcon("Download", theme.DownloadIcon(), v.pullOther)
	folderB := widget.NewButtonWithIcon("Use a model folder…", theme.FolderOpenIcon(), v.chooseFolder)
	v.list = container.NewVBox()
	for _, m := range downloads.Catalogue() {
		v.addCard(m.Name, m)
	}
	recB := widget.NewButtonWithIcon("Recommend a model for this machine", theme.QuestionIcon(), v.recommend)
	head := container.NewVBox(
		container.NewBorder(nil, nil, widget.NewLabelWithStyle("Models", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), recB),
		v.recLabel, v.errLabel,
		container.NewBorder(nil, nil, nil, container.NewHBox(widget.NewLabel("Precision"), v.precision), v.active),
	)
	foot := container.NewVBox(widget.NewSeparator(), container.NewBorder(nil, nil, nil, container.NewHBox(otherB, folderB), v.other))
	v.box = column(head, container.NewVScroll(v.list), foot)
	v.showActive()
	v.reload()
	return v
}

func (v *modelsView) object() fyne.CanvasObject { return v.box }

// stop cancels running downloads (the app is closing; progress is kept).
func (v *modelsView) stop() {
	for _, c := range v.cards {
		if c.cancel != nil {
			c.cancel()
		}
	}
}

// setConfig replaces the manager when the token or endpoint change.
func (v *modelsView) setConfig(cfg downloads.Config) { v.mgr = downloads.New(cfg) }

func (v *modelsView) showError(msg string) { v.errLabel.SetText(msg); v.errLabel.Show() }
func (v *modelsView) clearError()          { v.errLabel.Hide() }

func (v *modelsView) showActive() {
	c := v.a.engineChoice()
	if c.Model == "" {
		v.active.SetText("Active model: none yet. Download one below and press “Use”.")
	} else {
		v.active.SetText("Active model: " + displayName(c.Model))
	}
	v.precision.SetSelected(v.a.settings.Precision)
}

// recommend detects the GPU and memory and suggests a model.
func (v *modelsView) recommend() {
	v.recLabel.SetText("Checking this machine's GPU and memory to recommend a model…")
	v.recLabel.Show()
	go func() {
		r := app.Recommend(downloads.Catalogue(), app.Probe())
		v.a.do(func() { v.showRecommendation(r) })
	}()
}

func (v *modelsView) showRecommendation(r app.Recommendation) {
	v.recLabel.SetText(fmt.Sprintf("Recommended for this machine: %s in %s. %s", r.Model.Name, r.Precision, r.Why))
	v.recLabel.Importance = widget.HighImportance
	v.recLabel.Show()
	if c, ok := v.cards[r.Model.Name]; ok {
		c.title.SetText(c.name + "  ★ recommended")
	}
}

func (v *modelsView) addCard(name string, m downloads.Model) *modelCard {
	c := &modelCard{v: v, name: name, cat: m}
	c.title = widget.NewLabelWithStyle(name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	c.about = widget.NewLabel(aboutModel(m))
	c.about.Wrapping = fyne.TextWrapWord
	c.state = widget.NewLabel("")
	c.bar = widget.NewProgressBar()
	c.bar.Hide()
	c.detail = widget.NewLabel("")
	c.detail.Hide()
	c.pullB = widget.NewButtonWithIcon("Download", theme.DownloadIcon(), c.pull)
	c.pauseB = widget.NewButtonWithIcon("Pause", theme.MediaPauseIcon(), c.togglePause)
	c.cancelB = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), c.stop)
	c.verifyB = widget.NewButtonWithIcon("Verify", theme.ConfirmIcon(), c.verify)
	c.removeB = widget.NewButtonWithIcon("Delete", theme.DeleteIcon(), c.remove)
	c.useB = widget.NewButtonWithIcon("Use", theme.MediaPlayIcon(), c.use)
	c.useB.Importance = widget.HighImportance
	buttons := container.NewHBox(c.pullB, c.pauseB, c.cancelB, c.verifyB, c.removeB, c.useB)
	c.box = container.NewVBox(c.title, c.about, c.state, buttons, c.bar, c.detail, widget.NewSeparator())
	v.cards[name] = c
	v.list.Add(c.box)
	c.update()
	return c
}

// aboutModel describes a catalogue model: what it is for, download size and
// memory per precision (the weights as loaded and one request: what the
// automatic precision compares with the memory free).
func aboutModel(m downloads.Model) string {
	if m.Name == "" {
		return "A model from the Hub outside the catalogue."
	}
	var need []string
	for _, r := range m.Requirements {
		need = append(need, fmt.Sprintf("%s %s", r.Precision, downloads.FormatBytes(r.GPU)))
	}
	return fmt.Sprintf("%s\nDownload %s · memory needed: %s · %.1f B parameters · %s",
		m.Description, downloads.FormatBytes(m.Download), strings.Join(need, ", "), float64(m.Params)/1e9, m.License)
}

// reload reads what is installed, off the UI goroutine.
func (v *modelsView) reload() {
	mgr := v.mgr
	go func() {
		inst, err := mgr.Installed()
		v.a.do(func() {
			if err != nil {
				v.showError("Cannot read the model cache " + mgr.CacheDir() + ": " + err.Error())
				return
			}
			seen := map[string]bool{}
			for i := range inst {
				c, ok := v.cards[inst[i].Name]
				if !ok {
					c = v.addCard(inst[i].Name, downloads.Model{})
				}
				c.inst = &inst[i]
				seen[inst[i].Name] = true
			}
			for name, c := range v.cards {
				if !seen[name] {
					c.inst = nil
				}
				c.update()
			}
		})
	}()
}

// update sets the card's state line and which buttons apply.
func (c *modelCard) update() {
	busy := c.cancel != nil
	active := c.v.a.engineChoice().Model == c.name
	switch {
	case busy:
	case c.inst == nil:
		c.state.SetText("Not installed")
	case c.inst.Complete:
		s := "Installed (" + downloads.FormatBytes(c.inst.Bytes) + ")"
		if !c.inst.Verified {
			s += ", not verified yet"
		}
		if active {
			s += " · active"
		}
		c.state.SetText(s)
	default:
		c.state.SetText(fmt.Sprintf("Partly downloaded: %s of %s; press Download to resume",
			downloads.FormatBytes(c.inst.Bytes), downloads.FormatBytes(c.inst.Total)))
	}
	enable(c.pullB, !busy && (c.inst == nil || !c.inst.Complete))
	enable(c.pauseB, busy && c.ctl != nil)
	enable(c.cancelB, busy)
	enable(c.verifyB, !busy && c.inst != nil)
	enable(c.removeB, !busy && c.inst != nil)
	enable(c.useB, !busy && c.inst != nil && c.inst.Complete && !active)
	if c.inst != nil && !c.inst.Complete && !busy {
		c.pullB.SetText("Resume")
	} else {
		c.pullB.SetText("Download")
	}
}

func enable(b *widget.Button, on bool) {
	if on {
		b.Enable()
	} else {
		b.Disable()
	}
}

// pull downloads (or resumes) the model with a progress bar.
func (c *modelCard) pull() {
	v := c.v
	v.clearError()
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.ctl = cancel, downloads.NewControl()
	c.pauseB.SetText("Pause")
	c.state.SetText("Starting the download…")
	c.bar.SetValue(0)
	c.bar.Show()
	c.update()
	mgr, ctl := v.mgr, c.ctl
	go func() {
		var last time.Time
		_, err := mgr.Pull(ctx, c.name, downloads.PullOptions{Control: ctl, OnProgress: func(p downloads.Progress) {
			// Progress comes many times a second; the window needs a few.
			if now := time.Now(); now.Sub(last) >= 100*time.Millisecond || p.Bytes == p.Total {
				last = now
				v.a.do(func() { c.progress(p) })
			}
		}})
		v.a.do(func() { c.pulled(err) })
	}()
}

// progress shows one progress report.
func (c *modelCard) progress(p downloads.Progress) {
	if c.cancel == nil {
		return
	}
	c.bar.SetValue(float64(p.Bytes) / float64(max(p.Total, 1)))
	c.setDetail(progressText(p))
	if p.Paused {
		c.state.SetText("Paused")
	} else {
		c.state.SetText("Downloading")
	}
}

// progressText is "1.2 GB of 16 GB · 35 MB/s · 6 min left".
func progressText(p downloads.Progress) string {
	s := downloads.FormatBytes(p.Bytes) + " of " + downloads.FormatBytes(p.Total)
	if p.Paused {
		return s + " · paused"
	}
	if p.Speed > 0 {
		s += " · " + downloads.FormatBytes(int64(p.Speed)) + "/s"
	}
	if p.ETA > 0 {
		s += " · " + etaText(p.ETA) + " left"
	}
	return s
}

func etaText(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()+0.5))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()+0.5))
	}
	return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
}

// pulled ends a download.
func (c *modelCard) pulled(err error) {
	c.cancel, c.ctl = nil, nil
	c.bar.Hide()
	c.update() // the buttons now; the installed state follows from reload
	switch {
	case err == nil:
		c.setDetail("Downloaded and verified.")
		if c.v.a.engineChoice().Model == "" {
			c.use()
		}
	case errors.Is(err, context.Canceled):
		c.setDetail("Cancelled; what was fetched is kept, and Resume continues from there.")
	default:
		c.setDetail("")
		c.v.showError(downloadAdvice(c.name, err))
	}
	c.v.reload()
}

// downloadAdvice words a download error with what to do about it.
func downloadAdvice(name string, err error) string {
	var nospace *downloads.NoSpaceError
	msg := err.Error()
	switch {
	case errors.As(err, &nospace):
		return "The disk is full: " + msg + ". Free some space (or delete another model here), then press Resume."
	case strings.Contains(msg, "401") || strings.Contains(msg, "403") || strings.Contains(strings.ToLower(msg), "token"):
		return "The Hub refused " + name + ": " + msg + ". If the model is gated or private, accept its terms on the Hub and set your Hugging Face token in Settings."
	case strings.Contains(msg, "404") || strings.Contains(strings.ToLower(msg), "not found"):
		return name + " was not found on the Hub: " + msg + ". Check the name (ORG/NAME) and the endpoint in Settings."
	}
	return "Downloading " + name + " failed: " + msg + ". Check the network connection and press Resume; finished parts are kept."
}

func (c *modelCard) togglePause() {
	if c.ctl == nil {
		return
	}
	if c.ctl.Paused() {
		c.ctl.Resume()
		c.pauseB.SetText("Pause")
		c.pauseB.SetIcon(theme.MediaPauseIcon())
		c.state.SetText("Downloading")
	} else {
		c.ctl.Pause()
		c.pauseB.SetText("Resume")
		c.pauseB.SetIcon(theme.MediaPlayIcon())
		c.state.SetText("Paused")
	}
}

func (c *modelCard) stop() {
	if c.cancel != nil {
		c.cancel()
	}
}

// verify hashes every file again.
func (c *modelCard) verify() {
	v := c.v
	v.clearError()
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.state.SetText("Verifying…")
	c.update()
	mgr := v.mgr
	go func() {
		n := 0
		_, err := mgr.Verify(ctx, c.name, func(r downloads.FileResult) {
			n++
			k := n
			v.a.do(func() { c.setDetail(fmt.Sprintf("Checked %d files (%s)", k, r.Path)) })
		})
		v.a.do(func() {
			c.cancel = nil
			c.update()
			if err != nil {
				c.setDetail("")
				v.showError("Verifying " + c.name + " found a problem: " + err.Error() + ". The damaged files were removed: press Resume to fetch them again.")
			} else {
				c.setDetail("Every file verified.")
			}
			v.reload()
		})
	}()
}

func (c *modelCard) remove() {
	dialog.ShowConfirm("Delete model", "Delete "+c.name+" from the disk? Downloading it again takes a while.", func(ok bool) {
		if ok {
			c.doRemove()
		}
	}, c.v.a.win)
}

func (c *modelCard) doRemove() {
	if err := c.v.mgr.Remove(c.name); err != nil {
		c.v.showError("Cannot delete " + c.name + ": " + err.Error())
		return
	}
	if c.v.a.settings.Model == c.name {
		s := c.v.a.settings
		s.Model = ""
		c.v.a.setSettings(s)
		c.v.showActive()
	}
	c.setDetail("")
	c.v.reload()
}

// use makes this the active model.
func (c *modelCard) use() { c.v.setActive(c.name) }

func (v *modelsView) setActive(name string) {
	s := v.a.settings
	s.Model = name
	v.a.opt.Model = "" // the choice made here wins over the command line's
	v.a.setSettings(s)
	v.showActive()
	for _, c := range v.cards {
		c.update()
	}
	v.a.status.flash("Active model: " + displayName(name))
}

func (v *modelsView) pullOther() {
	name := strings.TrimSpace(v.other.Text)
	if name == "" {
		v.showError("Type a model as ORG/NAME, e.g. Salesforce/instructblip-flan-t5-xl.")
		return
	}
	ref, err := downloads.ParseName(name)
	if err != nil {
		v.showError(err.Error())
		return
	}
	key := name
	if m, ok := downloads.Lookup(ref.Repo); ok {
		key = m.Name
	}
	c, ok := v.cards[key]
	if !ok {
		c = v.addCard(key, downloads.Model{})
	}
	v.other.SetText("")
	c.pull()
}

func (v *modelsView) chooseFolder() {
	openFolderDialog(v.a, func(path string, err error) {
		if err != nil {
			v.showError(err.Error())
			return
		}
		if path != "" {
			v.setActive(path)
		}
	})
}

// setDetail shows a line under the progress bar; empty hides it.
func (c *modelCard) setDetail(s string) {
	c.detail.SetText(s)
	if s == "" {
		c.detail.Hide()
	} else {
		c.detail.Show()
	}
}
