package ui

import (
	"context"
	"errors"
	"image"
	"path/filepath"
	"testing"
	"time"

	"glimpse/app"
	"glimpse/generate"
	"glimpse/input/imageproc"
)

// TestWorkerQueue queues many questions at once on the tiny model: Ask never
// blocks, jobs run in order, a job cancelled while queued is skipped, and
// Close ends the queued rest as cancelled.
func TestWorkerQueue(t *testing.T) {
	img, _, err := imageproc.DecodeFile(filepath.Join(fixtures, "images", "shapes.png"))
	if err != nil {
		t.Fatal(err)
	}
	q := make(uiQueue, 100000)
	w := newWorker(q.do)
	cfg := app.SeedSettings()
	cfg.NumBeams, cfg.MaxNewTokens = 1, 2
	choice := EngineChoice{Model: tinyVicuna, Backend: "cpu", Precision: "auto"}

	const n = 40 // more than any fixed-size queue would hold
	var order []int
	errs := make([]error, n)
	events := make([]int, n)
	skipped, cancelSkipped := context.WithCancel(context.Background())
	for i := 0; i < n; i++ {
		r := AskRequest{Engine: choice, Images: []image.Image{img}, Prompts: []string{"What is it?"}, Config: cfg,
			OnEvent: func(generate.Event) { events[i]++ },
			OnDone: func(res *app.Result, err error) {
				order = append(order, i)
				errs[i] = err
				if err == nil && (res == nil || len(res.Answers) != 1) {
					t.Errorf("job %d: result %+v", i, res)
				}
			}}
		if i == 3 {
			r.Context = skipped
		}
		w.Ask(r)
	}
	cancelSkipped()
	pump(t, q, 2*time.Minute, "the first ten answers", func() bool { return len(order) >= 10 })
	w.Close()
	for len(q) > 0 {
		(<-q)()
	}
	if len(order) != n {
		t.Fatalf("%d of %d jobs reported back", len(order), n)
	}
	for k, i := range order {
		if i != k {
			t.Fatalf("jobs ended in the order %v", order)
		}
	}
	if !errors.Is(errs[3], context.Canceled) || events[3] != 0 {
		t.Errorf("job cancelled while queued: %v, %d events", errs[3], events[3])
	}
	cancelled := 0
	for i, err := range errs {
		switch {
		case errors.Is(err, context.Canceled):
			cancelled++
		case err != nil:
			t.Errorf("job %d: %v", i, err)
		case events[i] == 0:
			t.Errorf("job %d answered without streaming", i)
		}
	}
	if cancelled < 2 || cancelled == n {
		t.Errorf("%d jobs cancelled; want the skipped one and those Close dropped", cancelled)
	}
	w.Ask(AskRequest{OnDone: func(*app.Result, error) { t.Error("a job ran after Close") }})
}
