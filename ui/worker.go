package ui

import (
	"context"
	"image"
	"sync"

	"glimpse/app"
	"glimpse/generate"
)

// engine is what the worker needs of a loaded model; *app.Model is one.
type engine interface {
	Describe() app.Description
	Ask(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config, stream func(generate.Event)) (*app.Result, error)
	Close()
}

// openModel loads a model through the application layer, as the command
// line does.
func openModel(ctx context.Context, name string, opt app.OpenOptions) (engine, error) {
	m, err := app.Open(ctx, name, opt)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// EngineChoice names a model and how to run it; the worker reloads when it
// changes.
type EngineChoice struct {
	Model     string // installed model name or folder
	Backend   string // auto, gl or cpu
	Precision string // one of Precisions
}

// AskRequest is one question for the worker. Every callback runs on the UI
// goroutine (through fyne.Do), so it may touch widgets.
type AskRequest struct {
	// Context, when set, cancels this request alone: before it starts (it
	// is then skipped) or while it runs. Stop cancels whatever runs.
	Context context.Context
	Engine  EngineChoice
	Images  []image.Image
	Prompts []string
	Config  generate.Config
	// OnLoading reports loading progress when the model has to be loaded
	// first; OnLoaded says what was loaded.
	OnLoading func(app.LoadProgress)
	OnLoaded  func(app.Description)
	// OnEvent receives generate's events: streamed text or beam progress.
	OnEvent func(generate.Event)
	// OnDone gets the result, or the error (context.Canceled when stopped).
	OnDone func(*app.Result, error)
}

// worker owns the loaded model on its own goroutine, so loading and
// generating never block the window. Jobs run one at a time, in order;
// Stop cancels the one running.
type worker struct {
	do   func(func()) // hands a function to the UI goroutine
	open func(ctx context.Context, name string, opt app.OpenOptions) (engine, error)
	wake chan struct{} // signals the loop that jobs were queued or Close was called

	mu     sync.Mutex
	queue  []AskRequest       // waiting jobs, in order
	cancel context.CancelFunc // of the running job; nil when idle
	busy   bool
	closed bool
	done   chan struct{}

	// Owned by the worker goroutine.
	eng    engine
	choice EngineChoice
}

func newWorker(do func(func())) *worker {
	w := &worker{do: do, open: openModel, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go w.loop()
	return w
}

// Ask queues a question. It returns at once. A request without prompts
// only loads the model, so that the first question need not wait for it.
func (w *worker) Ask(r AskRequest) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.queue = append(w.queue, r)
	w.mu.Unlock()
	w.signal()
}

// signal wakes the loop without ever blocking (one pending wake is enough).
func (w *worker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// next takes the first queued job; ok is false once the worker is closed.
func (w *worker) next() (r AskRequest, ok bool) {
	for {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return r, false
		}
		if len(w.queue) > 0 {
			r = w.queue[0]
			w.queue = w.queue[1:]
			w.mu.Unlock()
			return r, true
		}
		w.mu.Unlock()
		<-w.wake
	}
}

// Stop cancels the running job (loading or generating); it reports
// context.Canceled to its OnDone.
func (w *worker) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel != nil {
		w.cancel()
	}
}

// Busy says whether a job is running.
func (w *worker) Busy() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.busy
}

// Close stops the running job, waits for the worker to end and frees the
// model. Queued jobs end with context.Canceled.
func (w *worker) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	dropped := w.queue
	w.queue = nil
	if w.cancel != nil {
		w.cancel()
	}
	w.mu.Unlock()
	w.signal()
	<-w.done
	// Jobs that never started end as cancelled, so nobody waits for them.
	for _, r := range dropped {
		if r.OnDone != nil {
			done := r.OnDone
			w.do(func() { done(nil, context.Canceled) })
		}
	}
}

func (w *worker) loop() {
	defer close(w.done)
	defer func() {
		if w.eng != nil {
			w.eng.Close()
		}
	}()
	for {
		r, ok := w.next()
		if !ok {
			return
		}
		parent := r.Context
		if parent == nil {
			parent = context.Background()
		}
		ctx, cancel := context.WithCancel(parent)
		w.mu.Lock()
		w.cancel, w.busy = cancel, true
		w.mu.Unlock()
		res, err := w.run(ctx, r)
		w.mu.Lock()
		w.cancel, w.busy = nil, false
		w.mu.Unlock()
		cancel()
		if r.OnDone != nil {
			w.do(func() { r.OnDone(res, err) })
		}
	}
}

// run loads the requested model if another (or none) is loaded, then asks.
func (w *worker) run(ctx context.Context, r AskRequest) (*app.Result, error) {
	if err := ctx.Err(); err != nil { // cancelled while queued
		return nil, err
	}
	if w.eng == nil || w.choice != r.Engine {
		if w.eng != nil {
			w.eng.Close()
			w.eng = nil
		}
		opt := app.OpenOptions{Backend: r.Engine.Backend, Precision: r.Engine.Precision}
		if r.OnLoading != nil {
			opt.Progress = func(p app.LoadProgress) { w.do(func() { r.OnLoading(p) }) }
		}
		eng, err := w.open(ctx, r.Engine.Model, opt)
		if err != nil {
			return nil, err
		}
		w.eng, w.choice = eng, r.Engine
	}
	if r.OnLoaded != nil {
		d := w.eng.Describe()
		w.do(func() { r.OnLoaded(d) })
	}
	if len(r.Prompts) == 0 { // a load ahead of the first question
		return nil, nil
	}
	var stream func(generate.Event)
	if r.OnEvent != nil {
		stream = func(e generate.Event) { w.do(func() { r.OnEvent(e) }) }
	}
	return w.eng.Ask(ctx, r.Images, r.Prompts, r.Config, stream)
}
