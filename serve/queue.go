package serve

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"glimpse/app"
	"glimpse/downloads"
)

// engine holds the one resident model and the queue in front of it. A
// request first takes a slot (there are 1 + queue of them: the one running
// and those waiting) or is refused with a 429 at once; then it waits for
// its turn, in order of arrival, and runs alone.
type engine struct {
	slots chan struct{} // one per admitted request, running or waiting
	turn  chan struct{} // held by the request that runs
	open  func(ctx context.Context, name string) (*app.Model, error)
	// defaultName is the model loaded first, and again when a request
	// names none while no model is resident.
	defaultName string
	allowSwitch bool

	// Owned by the request holding turn.
	m    *app.Model
	name string // what m was opened as

	// mu guards what requests read without their turn.
	mu   sync.Mutex
	desc *app.Description // of m, nil when none is resident
	avg  time.Duration    // moving average of a request's time with the model
}

func newEngine(queue int, defaultName string, allowSwitch bool, open func(context.Context, string) (*app.Model, error)) *engine {
	return &engine{slots: make(chan struct{}, 1+queue), turn: make(chan struct{}, 1), open: open,
		defaultName: defaultName, allowSwitch: allowSwitch}
}

// acquire admits a request and waits for its turn. It fails at once with a
// 429 when the queue is full, and with ctx's error when the client leaves
// while waiting. release must be called when the request is done with the
// model.
func (e *engine) acquire(ctx context.Context) (release func(), waited time.Duration, err error) {
	select {
	case e.slots <- struct{}{}:
	default:
		return nil, 0, e.busy()
	}
	start := time.Now()
	select {
	case e.turn <- struct{}{}:
	case <-ctx.Done():
		<-e.slots
		return nil, time.Since(start), ctx.Err()
	}
	ran := time.Now()
	return func() {
		e.mu.Lock()
		// A moving average of the last few requests, for Retry-After.
		d := time.Since(ran)
		if e.avg == 0 {
			e.avg = d
		} else {
			e.avg = (3*e.avg + d) / 4
		}
		e.mu.Unlock()
		<-e.turn
		<-e.slots
	}, ran.Sub(start), nil
}

// busy is the 429 for a full queue. Retry-After estimates when a slot
// frees: the queue's length times the recent time per request, at least a
// second.
func (e *engine) busy() *apiError {
	e.mu.Lock()
	avg := e.avg
	e.mu.Unlock()
	n := cap(e.slots)
	wait := int(math.Ceil(avg.Seconds() * float64(n)))
	wait = min(max(wait, 1), 600)
	return &apiError{status: http.StatusTooManyRequests, typ: typeRateLimit, code: "queue_full", retryAfter: wait,
		msg: fmt.Sprintf("Glimpse is busy: %d questions are already running or waiting; try again in %d s", n, wait)}
}

// model returns the model a request names ("" for the resident one),
// loading it when it is not resident: the default model after a failed
// switch, or another when switching is allowed. Only one model is resident:
// the old one is closed before the new one loads, so the two never share
// the memory. loaded reports that this call loaded the model. The caller
// holds its turn.
func (e *engine) model(ctx context.Context, name string) (m *app.Model, loaded bool, err error) {
	target := name
	if target == "" {
		if e.m != nil {
			return e.m, false, nil
		}
		target = e.defaultName
	}
	if e.m != nil && sameModel(target, e.name, e.description()) {
		return e.m, false, nil
	}
	switch {
	case sameModel(target, e.defaultName, nil):
		// The default model by another of its names: open it as the
		// server was told to.
		target = e.defaultName
	case !e.allowSwitch:
		return nil, false, e.notServed(target)
	}
	e.unload()
	m, err = e.open(ctx, target)
	if err != nil {
		return nil, false, err
	}
	d := m.Describe()
	e.m, e.name = m, target
	e.mu.Lock()
	e.desc = &d
	e.mu.Unlock()
	return m, true, nil
}

// notServed is the error for a request naming another model on a server
// that may not switch.
func (e *engine) notServed(name string) *apiError {
	served := e.defaultName
	if d := e.description(); d != nil {
		served = d.Name
	}
	return &apiError{status: http.StatusNotFound, typ: typeNotFound, param: "model", code: "model_not_found",
		msg: fmt.Sprintf("this server answers with %s, not %s: name that model (or none), or start the server with --allow-model-switch to load others", served, name)}
}

// unload closes the resident model. The caller holds its turn, or the
// server is shutting down and no request runs.
func (e *engine) unload() {
	if e.m == nil {
		return
	}
	e.m.Close()
	e.m, e.name = nil, ""
	e.mu.Lock()
	e.desc = nil
	e.mu.Unlock()
}

// description says what the resident model runs; nil when none is.
func (e *engine) description() *app.Description {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.desc
}

// sameModel reports whether a request's model name names the model opened
// as opened and described by d (nil when not loaded): by what it was
// opened as, its catalogue name or repository, or its folder's name.
// Ollama's clients add ":latest" to names without a tag.
func sameModel(req, opened string, d *app.Description) bool {
	req = strings.TrimSuffix(req, ":latest")
	names := []string{opened}
	if opened != "" {
		names = append(names, filepath.Base(filepath.Clean(opened)))
	}
	if d != nil {
		names = append(names, d.Name, filepath.Base(filepath.Clean(d.Dir)))
	}
	for _, n := range names {
		if n != "" && (strings.EqualFold(req, n) || filepath.Clean(req) == filepath.Clean(n)) {
			return true
		}
	}
	if a, ok := downloads.Lookup(req); ok {
		for _, n := range names {
			if b, ok := downloads.Lookup(n); ok && a.Repo == b.Repo {
				return true
			}
		}
	}
	return false
}
