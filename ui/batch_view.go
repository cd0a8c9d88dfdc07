package ui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"glimpse/app"
)

// batchFormats are the output choices as the view words them, in order.
var batchFormats = []struct{ format, label string }{
	{app.BatchSidecars, "photo.jpg.txt beside each image"},
	{app.BatchCSV, "captions.csv"},
	{app.BatchJSON, "captions.json"},
}

// batchImagesPerAsk is how many images go to the model together.
const batchImagesPerAsk = 4

// batchView is the folder part of caption mode: choose a folder, caption
// all its images with a progress bar, stop and resume.
type batchView struct {
	v *captionView

	folder      string
	folderLabel *widget.Label
	chooseBtn   *widget.Button
	startBtn    *widget.Button
	stopBtn     *widget.Button
	recursive   *widget.Check
	redo        *widget.Check
	format      *widget.RadioGroup
	bar         *widget.ProgressBar
	progress    *widget.Label
	report      *widget.Label
	box         fyne.CanvasObject

	cancel  context.CancelFunc // of the running batch; nil when none
	run     int
	pending sync.WaitGroup // the batch goroutine, for tests to wait on

	// onDone, when set (tests), is called on the UI goroutine when a batch
	// ends.
	onDone func(*app.BatchReport, error)
}

func newBatchView(v *captionView) *batchView {
	b := &batchView{v: v}
	prefs := fyne.CurrentApp().Preferences()
	b.folderLabel = widget.NewLabel("No folder chosen.")
	b.folderLabel.Truncation = fyne.TextTruncateEllipsis
	b.chooseBtn = widget.NewButtonWithIcon("Choose folder… (F)", theme.FolderIcon(), b.chooseFolder)
	b.startBtn = widget.NewButtonWithIcon("Caption the folder", theme.MediaPlayIcon(), b.start)
	b.stopBtn = widget.NewButtonWithIcon("Stop the batch", theme.MediaStopIcon(), b.stop)
	b.recursive = widget.NewCheck("Include sub-folders", func(on bool) {
		fyne.CurrentApp().Preferences().SetBool(prefBatchRecursive, on)
	})
	b.recursive.SetChecked(prefs.Bool(prefBatchRecursive))
	b.redo = widget.NewCheck("Caption again images captioned before", nil)
	labels := make([]string, len(batchFormats))
	for i, f := range batchFormats {
		labels[i] = f.label
	}
	b.format = widget.NewRadioGroup(labels, func(label string) {
		fyne.CurrentApp().Preferences().SetString(prefBatchFormat, b.formatName())
	})
	b.format.Required = true
	b.setFormat(prefs.StringWithFallback(prefBatchFormat, app.BatchSidecars))
	b.bar = widget.NewProgressBar()
	b.progress = widget.NewLabel("")
	b.report = widget.NewLabel("")
	b.report.Wrapping = fyne.TextWrapWord
	b.sync()

	b.format.Horizontal = true
	title := widget.NewLabelWithStyle("Caption a whole folder", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	// The report can run to many lines (a note per image left alone): it
	// scrolls in a few lines' height, so the caption above keeps the room.
	report := container.NewVScroll(b.report)
	report.SetMinSize(fyne.NewSize(0, 3*theme.TextSize()+2*theme.InnerPadding()))
	b.box = container.NewVBox(
		widget.NewSeparator(),
		container.NewBorder(nil, nil, title, nil, b.folderLabel),
		container.NewHBox(b.chooseBtn, b.recursive, b.redo),
		container.NewHBox(widget.NewLabel("Write:"), b.format),
		container.NewBorder(nil, nil, container.NewHBox(b.startBtn, b.stopBtn), nil, b.bar),
		b.progress,
		report,
	)
	return b
}

func (b *batchView) object() fyne.CanvasObject { return b.box }

// formatName is the chosen output format.
func (b *batchView) formatName() string {
	for _, f := range batchFormats {
		if f.label == b.format.Selected {
			return f.format
		}
	}
	return app.BatchSidecars
}

// setFormat chooses an output format by name.
func (b *batchView) setFormat(name string) {
	for _, f := range batchFormats {
		if f.format == name {
			b.format.SetSelected(f.label)
			return
		}
	}
	b.format.SetSelected(batchFormats[0].label)
}

// chooseFolder asks for the folder to caption.
func (b *batchView) chooseFolder() {
	done := func(path string, err error) {
		if err != nil {
			b.v.showError(err)
			return
		}
		if path != "" {
			b.setFolder(path)
		}
	}
	if b.v.env.OpenFolder != nil {
		b.v.env.OpenFolder(done)
		return
	}
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil || u == nil {
			done("", err)
			return
		}
		done(u.Path(), nil)
	}, b.v.env.Window)
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// setFolder chooses the folder and moves the focus to the start button.
func (b *batchView) setFolder(path string) {
	b.folder = path
	b.folderLabel.SetText(path)
	b.report.SetText("")
	b.sync()
	if c := b.v.env.Window.Canvas(); c != nil {
		c.Focus(b.startBtn)
	}
}

// start captions the chosen folder on a goroutine.
func (b *batchView) start() {
	if b.cancel != nil {
		return
	}
	if b.folder == "" {
		b.chooseFolder()
		return
	}
	opt := app.BatchOptions{
		Folder: b.folder, Recursive: b.recursive.Checked, Format: b.formatName(), Redo: b.redo.Checked,
		BatchSize: batchImagesPerAsk, Prompt: app.CaptionPrompt, Config: app.CaptionSettings(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.run++
	run := b.run
	b.bar.SetValue(0)
	b.progress.SetText("Looking for images in " + filepath.Base(b.folder) + "…")
	b.report.SetText("")
	b.sync()
	b.pending.Add(1)
	go func() {
		defer b.pending.Done()
		rep, err := app.CaptionFolder(ctx, opt, b.v.env.Ask, func(p app.BatchProgress) {
			b.v.env.Do(func() {
				if run == b.run {
					b.showProgress(p)
				}
			})
		})
		b.v.env.Do(func() {
			cancel()
			if run == b.run {
				b.cancel = nil
				b.finish(opt, rep, err)
			}
		})
	}()
}

// stop stops the batch; what was captioned is kept, and the next start
// resumes.
func (b *batchView) stop() {
	if b.cancel != nil {
		b.cancel()
	}
}

// showProgress updates the bar and its words.
func (b *batchView) showProgress(p app.BatchProgress) {
	if p.Total > 0 {
		b.bar.SetValue(float64(p.Done) / float64(p.Total))
	}
	b.progress.SetText(batchProgressText(p))
}

// batchProgressText words a batch's progress: "12 of 40 images · about 2 min left".
func batchProgressText(p app.BatchProgress) string {
	parts := []string{fmt.Sprintf("%d of %d images", p.Done, p.Total)}
	if p.Resumed > 0 {
		parts = append(parts, fmt.Sprintf("%d captioned before", p.Resumed))
	}
	if p.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d could not be read", p.Failed))
	}
	if p.ETA > 0 && p.Done < p.Total {
		parts = append(parts, "about "+batchTimeLeft(p.ETA)+" left")
	}
	if p.Current != "" {
		parts = append(parts, "now "+p.Current)
	}
	return strings.Join(parts, " · ")
}

// batchTimeLeft words a time left the way people say it.
func batchTimeLeft(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return "a few seconds"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(5*time.Second)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	}
	h := int(d / time.Hour)
	return fmt.Sprintf("%d h %d min", h, int((d-time.Duration(h)*time.Hour).Round(time.Minute)/time.Minute))
}

// finish shows what a batch did.
func (b *batchView) finish(opt app.BatchOptions, rep *app.BatchReport, err error) {
	b.sync()
	b.v.syncButtons()
	if rep != nil {
		b.showProgress(rep.BatchProgress)
	}
	b.report.Importance = widget.MediumImportance
	if err != nil && !errors.Is(err, context.Canceled) {
		b.report.Importance = widget.DangerImportance
	}
	b.report.SetText(batchReportText(opt, rep, err))
	if b.onDone != nil {
		b.onDone(rep, err)
	}
}

// batchReportText words a batch's report for the window.
func batchReportText(opt app.BatchOptions, rep *app.BatchReport, err error) string {
	if rep == nil {
		return err.Error()
	}
	var lines []string
	switch {
	case errors.Is(err, context.Canceled):
		lines = append(lines, fmt.Sprintf("Stopped after %d of %d images. Start again to go on from there.", rep.Done, rep.Total))
	case err != nil:
		lines = append(lines, "The batch stopped: "+err.Error())
	default:
		lines = append(lines, fmt.Sprintf("Done: %d images captioned now, %d before.", rep.Captioned, rep.Resumed))
	}
	if rep.Output != "" {
		lines = append(lines, "The captions are in "+rep.Output+".")
	} else if rep.Captioned+rep.Resumed > 0 {
		lines = append(lines, "Each caption is in a text file beside its image (IMAGE.EXT.txt).")
	}
	const most = 10
	for i, f := range rep.Failures {
		if i == most {
			lines = append(lines, fmt.Sprintf("… and %d more images could not be captioned.", len(rep.Failures)-most))
			break
		}
		lines = append(lines, f.String())
	}
	for i, n := range rep.Notes {
		if i == most {
			lines = append(lines, fmt.Sprintf("… and %d more notes.", len(rep.Notes)-most))
			break
		}
		lines = append(lines, n)
	}
	return strings.Join(lines, "\n")
}

// sync enables what can be done now.
func (b *batchView) sync() {
	running := b.cancel != nil
	set := func(w fyne.Disableable, on bool) {
		if on {
			w.Enable()
		} else {
			w.Disable()
		}
	}
	set(b.startBtn, !running)
	set(b.stopBtn, running)
	set(b.chooseBtn, !running)
	set(b.recursive, !running)
	set(b.redo, !running)
	set(b.format, !running)
	if b.v.batch != nil {
		b.v.syncButtons()
	}
}
