package ui

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"glimpse/app"
	"glimpse/downloads"
)

// statusBar shows, along the bottom of the window, the loaded model (name,
// precision, backend and device), a loading progress bar, memory use with
// the weights' precision, size and source, and notices: short ones, which
// go after a few seconds, and a warning about the loaded weights (a
// converted copy that was damaged and rebuilt, say), which stays until the
// next load.
type statusBar struct {
	a       *App
	desc    app.Description // what is loaded; zero before the first answer
	engine  *widget.Label
	bar     *widget.ProgressBar
	memory  *widget.Label
	notice  *widget.Label
	box     fyne.CanvasObject
	stopped chan struct{}
	flashN  int
	warning string // the loaded weights' warning, shown until the next load
}

func newStatusBar(a *App) *statusBar {
	s := &statusBar{a: a, engine: widget.NewLabel(""), bar: widget.NewProgressBar(), memory: widget.NewLabel(""),
		notice: widget.NewLabel("")}
	s.bar.Hide()
	s.notice.Truncation = fyne.TextTruncateEllipsis
	s.box = container.NewBorder(nil, nil, s.engine, s.memory, container.NewStack(s.bar, s.notice))
	s.refresh()
	return s
}

func (s *statusBar) object() fyne.CanvasObject { return s.box }

// start updates the memory figure every two seconds until stop.
func (s *statusBar) start() {
	stopped := make(chan struct{})
	s.stopped = stopped
	s.updateMemory()
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopped:
				return
			case <-t.C:
				s.a.do(s.updateMemory)
			}
		}
	}()
}

func (s *statusBar) stop() {
	if s.stopped != nil {
		close(s.stopped)
		s.stopped = nil
	}
}

// updateMemory shows the process's resident memory and the model's weights.
func (s *statusBar) updateMemory() {
	s.memory.SetText("Memory " + downloads.FormatBytes(processMemory()) + weightsText(s.desc))
}

// weightsText describes the loaded weights for the memory figure, e.g.
// " · weights q8 8.9 GB, loaded from the converted copy"; "" before a model
// is loaded.
func weightsText(d app.Description) string {
	// The weights as loaded, not the checkpoint's float32 bytes: in q4 the
	// former is a seventh of the latter.
	if d.DeviceBytes <= 0 {
		return ""
	}
	text := " · weights " + d.Precision + " " + downloads.FormatBytes(d.DeviceBytes)
	if d.Weights != "" {
		text += ", " + d.Weights
	}
	return text
}

// refresh shows the engine: the loaded model, or the one that will load.
func (s *statusBar) refresh() {
	if s.desc.Name != "" {
		s.engine.SetText(engineText(s.desc))
		return
	}
	c := s.a.engineChoice()
	if c.Model == "" {
		s.engine.SetText("No model: open Models (Ctrl+M)")
		return
	}
	s.engine.SetText(fmt.Sprintf("%s (loads with the first question; %s, %s)", displayName(c.Model), c.Backend, c.Precision))
}

// engineText says what runs, e.g. "instructblip-vicuna-7b · fp16 · GPU: NVIDIA H100".
func engineText(d app.Description) string {
	where := "CPU"
	if d.Backend == "gl" && !d.Software {
		where = "GPU"
	}
	if d.Device != "" {
		where += ": " + d.Device
	}
	if d.Software {
		where += " (OpenGL in software)"
	}
	if d.NoGPU != "" {
		// macOS (OpenGL 4.1) and machines without a GL 4.3 driver: say why
		// answers take CPU time rather than leave people guessing.
		where += " (no GPU compute: " + d.NoGPU + ")"
	}
	return fmt.Sprintf("%s · %s · %s", d.Name, d.Precision, where)
}

// displayName shortens a model folder to its name.
func displayName(m string) string {
	m = strings.TrimRight(m, `/\`)
	if i := strings.LastIndexAny(m, `/\`); i >= 0 && !strings.Contains(m[:i], "models--") {
		return m[i+1:]
	}
	return m
}

// loading shows the loading progress bar.
func (s *statusBar) loading(p app.LoadProgress) {
	s.notice.Hide()
	s.bar.Show()
	s.bar.SetValue(float64(p.Bytes) / float64(max(p.TotalBytes, 1)))
	s.engine.SetText("Loading " + displayName(s.a.engineChoice().Model) + "…")
}

// loaded shows what the worker has loaded, with the weights' warning if
// they have one, else why the automatic precision chose what it did.
func (s *statusBar) loaded(d app.Description) {
	s.desc = d
	s.bar.Hide()
	s.notice.Show()
	s.refresh()
	s.updateMemory()
	// What was said about the model loaded before goes; a flash still
	// showing must not clear what is said now.
	s.warning = ""
	s.flashN++
	s.notice.SetText("")
	switch {
	case d.WeightsWarning != "":
		s.warning = "⚠ " + d.WeightsWarning
		s.notice.SetText(s.warning)
	case d.Auto != nil:
		s.flash(app.PrecisionNote(d))
	}
}

// loadDone hides the bar after a load that failed or was stopped.
func (s *statusBar) loadDone() {
	s.bar.Hide()
	s.notice.Show()
	s.refresh()
}

// flash shows a notice for a few seconds.
func (s *statusBar) flash(msg string) {
	s.flashN++
	n := s.flashN
	s.notice.SetText(msg)
	time.AfterFunc(6*time.Second, func() {
		s.a.do(func() {
			if s.flashN == n {
				s.notice.SetText(s.warning) // the weights' warning, if any, comes back
			}
		})
	})
}

// processMemory is the process's resident set size where the system tells it
// (/proc/self/statm on Linux), else the memory the Go runtime holds.
func processMemory() int64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return pages * int64(os.Getpagesize())
			}
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.Sys)
}
