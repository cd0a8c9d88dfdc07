package downloads

import (
	"context"
	"errors"
	"sync"
	"time"
)

// FileState is where one file of a pull stands.
type FileState string

// The states a file goes through. Failed files carry their error in
// FileProgress.Err.
const (
	Queued      FileState = "queued"
	Checking    FileState = "checking"    // hashing a copy already in the cache
	Downloading FileState = "downloading" // fetching bytes
	Verifying   FileState = "verifying"   // hashing the downloaded bytes
	Done        FileState = "done"        // verified and in the snapshot
	Failed      FileState = "failed"
)

// FileProgress is the state of one file.
type FileProgress struct {
	Path  string    `json:"path"`
	Size  int64     `json:"size"`
	Bytes int64     `json:"bytes"` // bytes on disk so far
	State FileState `json:"state"`
	Err   string    `json:"error,omitempty"`
}

// Progress is one report on a pull, for progress bars.
type Progress struct {
	// Model is the ref being pulled (ORG/NAME@REVISION).
	Model string `json:"model"`
	// Bytes and Total count the model's files: on disk so far, and in all.
	Bytes int64 `json:"bytes"`
	Total int64 `json:"total"`
	// Speed is the download rate over the last few seconds, in bytes/s.
	Speed float64 `json:"speed"`
	// ETA is the time left at Speed; 0 when unknown.
	ETA time.Duration `json:"eta"`
	// Paused says the pull waits for Control.Resume.
	Paused bool `json:"paused"`
	// Files lists every needed file.
	Files []FileProgress `json:"files"`
}

// tracker gathers byte counts and file states and reports them at most
// every 100 ms, and at once on state changes.
type tracker struct {
	mu       sync.Mutex
	model    string
	files    []FileProgress
	index    map[string]int
	fn       func(Progress)
	samples  []sample
	lastEmit time.Time
	paused   bool
	emitMu   sync.Mutex
}

type sample struct {
	t     time.Time
	bytes int64 // downloaded bytes so far (not those found on disk)
}

func newTracker(model string, files []fileEntry, fn func(Progress)) *tracker {
	t := &tracker{model: model, index: map[string]int{}, fn: fn}
	for i, f := range files {
		t.files = append(t.files, FileProgress{Path: f.Path, Size: f.Size, State: Queued})
		t.index[f.Path] = i
	}
	t.samples = []sample{{t: time.Now()}}
	return t
}

// add counts n bytes of a file; downloaded says they came over the network
// (bytes found on disk count toward the total but not the speed).
func (t *tracker) add(path string, n int64, downloaded bool) {
	t.mu.Lock()
	t.files[t.index[path]].Bytes += n
	if downloaded {
		// One sample per 50 ms is plenty for a 5 s window.
		now, last := time.Now(), &t.samples[len(t.samples)-1]
		if len(t.samples) > 1 && now.Sub(last.t) < 50*time.Millisecond {
			last.bytes += n
		} else {
			t.samples = append(t.samples, sample{t: now, bytes: last.bytes + n})
		}
	}
	t.mu.Unlock()
	t.emit(false)
}

// reset forgets a file's bytes, before a download that reports the bytes
// it finds on disk again, or after bad bytes were deleted.
func (t *tracker) reset(path string) {
	t.mu.Lock()
	t.files[t.index[path]].Bytes = 0
	t.mu.Unlock()
}

func (t *tracker) set(path string, s FileState, err error) {
	t.mu.Lock()
	fp := &t.files[t.index[path]]
	fp.State = s
	if err != nil {
		fp.Err = err.Error()
	}
	if s == Done {
		fp.Bytes = fp.Size
	}
	t.mu.Unlock()
	t.emit(true)
}

func (t *tracker) setPaused(p bool) {
	t.mu.Lock()
	t.paused = p
	t.mu.Unlock()
	t.emit(true)
}

func (t *tracker) snapshot() Progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := Progress{Model: t.model, Paused: t.paused, Files: append([]FileProgress(nil), t.files...)}
	for _, f := range t.files {
		p.Bytes += f.Bytes
		p.Total += f.Size
	}
	// Speed over the last 5 seconds of samples.
	now := time.Now()
	cut := 0
	for cut < len(t.samples)-1 && now.Sub(t.samples[cut].t) > 5*time.Second {
		cut++
	}
	t.samples = t.samples[cut:]
	first, last := t.samples[0], t.samples[len(t.samples)-1]
	if dt := now.Sub(first.t).Seconds(); dt > 0.2 && !t.paused {
		p.Speed = float64(last.bytes-first.bytes) / dt
	}
	if p.Speed > 0 {
		p.ETA = time.Duration(float64(p.Total-p.Bytes) / p.Speed * float64(time.Second))
	}
	return p
}

func (t *tracker) emit(force bool) {
	if t.fn == nil {
		return
	}
	t.mu.Lock()
	if !force && time.Since(t.lastEmit) < 100*time.Millisecond {
		t.mu.Unlock()
		return
	}
	t.lastEmit = time.Now()
	t.mu.Unlock()
	// Reports go out one at a time, as PullOptions promises.
	t.emitMu.Lock()
	defer t.emitMu.Unlock()
	t.fn(t.snapshot())
}

// errPaused cancels the running requests of a paused pull.
var errPaused = errors.New("paused")

// Control pauses and resumes a pull from another goroutine (the GUI's
// buttons). Cancel a pull through its context. The zero value is not
// usable; make one with NewControl.
type Control struct {
	mu      sync.Mutex
	paused  bool
	resume  chan struct{}
	cancels map[*context.CancelCauseFunc]bool
}

// NewControl returns a Control in the running state.
func NewControl() *Control {
	return &Control{resume: make(chan struct{}), cancels: map[*context.CancelCauseFunc]bool{}}
}

// Pause stops the transfers at once, keeping every byte fetched so far; the
// pull waits until Resume.
func (c *Control) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused {
		return
	}
	c.paused = true
	for cancel := range c.cancels {
		(*cancel)(errPaused)
	}
}

// Resume continues a paused pull where it stopped.
func (c *Control) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.paused {
		return
	}
	c.paused = false
	close(c.resume)
	c.resume = make(chan struct{})
}

// Paused says whether the pull is paused.
func (c *Control) Paused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

// run calls fn with a context that Pause cancels, and after a pause waits
// for Resume and calls it again. fn must pick up where it stopped.
func (c *Control) run(ctx context.Context, t *tracker, fn func(context.Context) error) error {
	if c == nil {
		return fn(ctx)
	}
	for {
		c.mu.Lock()
		if c.paused {
			wait := c.resume
			c.mu.Unlock()
			t.setPaused(true)
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-wait:
			}
			t.setPaused(false)
			continue
		}
		rctx, cancel := context.WithCancelCause(ctx)
		c.cancels[&cancel] = true
		c.mu.Unlock()
		err := fn(rctx)
		paused := errors.Is(context.Cause(rctx), errPaused)
		c.mu.Lock()
		delete(c.cancels, &cancel)
		c.mu.Unlock()
		cancel(nil)
		if err == nil || !paused || ctx.Err() != nil {
			return err
		}
	}
}
