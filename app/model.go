// Package app is Glimpse's application layer, the one house of both front
// ends (the command line in glimpse/cli and the desktop app in glimpse/ui):
// it opens a model by name or folder, asks it and records the exchange in
// the history with one record schema, captions files and folders (resuming
// where a run stopped), probes the machine, and words the errors a person
// can meet as typed errors. The front ends only present what it does.
package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"

	"glimpse/downloads"
	"glimpse/generate"
	"glimpse/history"
	"glimpse/model"
	"glimpse/pipeline"
)

// Description says what an open model runs (the pipeline's description).
type Description = pipeline.Description

// Result is what Ask returns: the answers, warnings and timings.
type Result = pipeline.Result

// Answer is one generated answer of a Result.
type Answer = pipeline.Answer

// Timings measure one Ask.
type Timings = pipeline.Timings

// LoadProgress reports how far loading the weights has come.
type LoadProgress = model.LoadProgress

// WeightSource says whether the weights were read from the converted copy
// or converted while loading (LoadProgress.Source).
type WeightSource = model.WeightSource

// OpenOptions configure Open.
type OpenOptions struct {
	// Backend is "gl", "cpu", or "auto" / "" (gl when it can start).
	Backend string
	// Precision is the weight precision: "fp32", "fp16", "q8" (8-bit
	// blocks), "q4" (llama.cpp's Q4_K_M mix, its sensitive tensors at 8
	// bits), or "auto" / "": the best that fits the device's memory with
	// one request (fp32, fp16, q8, q4 on the CPU; fp16, q8, q4 on the GPU;
	// PrecisionNote says which and why), an ErrOutOfMemory error when none
	// does; docs/precision.md. Another name is ErrBadSetting.
	Precision string
	// Progress, if set, receives loading progress from the loading goroutine.
	Progress func(LoadProgress)
	// Fallback, if set, is told why an "auto" backend runs on the CPU.
	Fallback func(reason error)
}

// Model is an open model, ready to answer. Ask may be called from one
// goroutine at a time.
type Model struct {
	p *pipeline.Pipeline
}

// Resolve turns what a person named as the model into its folder: a folder
// as it is, else the name of a model installed with the model manager
// (`glimpse models pull`, the app's Models view).
func Resolve(ctx context.Context, name string) (string, error) {
	if name == "" {
		return "", &Error{Kind: ErrNoModel,
			Msg: "no model given: name a model folder or a model installed with the model manager"}
	}
	if st, err := os.Stat(name); err == nil {
		if !st.IsDir() {
			return "", &Error{Kind: ErrModelNotFound, Msg: name + " is a file; give the model's folder"}
		}
		return name, nil
	}
	dir, err := downloads.LocalPath(ctx, name)
	if err != nil {
		return "", &Error{Kind: ErrModelNotFound, Err: err,
			Msg: fmt.Sprintf("%s is neither a folder nor an installed model: %v", name, err)}
	}
	return dir, nil
}

// Open resolves name (see Resolve), starts the compute backend and loads
// the weights. Cancelling ctx stops loading within one tensor, with an
// ErrCancelled error. The model refuses requests that cannot fit in the
// memory left (see requestBudget) with ErrOutOfMemory errors.
func Open(ctx context.Context, name string, opt OpenOptions) (*Model, error) {
	dir, err := Resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	// An installed model is known by the name it was pulled as; its
	// folder's base name would be a commit hash.
	label := name
	if dir == name {
		label = ""
	}
	m := &Model{}
	b := &budget{m: m}
	p, err := pipeline.Open(ctx, dir, pipeline.Options{Name: label, Backend: opt.Backend, Precision: opt.Precision,
		Progress: opt.Progress, Fallback: opt.Fallback, Available: b.available, StoreDir: ConvertedDir(),
		Memory: autoMemory})
	if err != nil {
		return nil, classify(err)
	}
	m.p = p
	return m, nil
}

// Describe says what the model runs.
func (m *Model) Describe() Description { return m.p.Describe() }

// Close frees the model's memory and its backend.
func (m *Model) Close() { m.p.Close() }

// Ask answers prompts[i] about images[i] with cfg's generation settings
// (the model fills in its own tokens); stream, when set, receives the text
// as it is generated and beam-search progress. Cancelling ctx stops within
// one step with an ErrCancelled error; the result so far (timings,
// warnings) comes with errors.
func (m *Model) Ask(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config, stream func(generate.Event)) (*Result, error) {
	res, err := m.p.Ask(ctx, images, prompts, cfg, stream)
	return res, classify(err)
}

// AskFunc answers prompts about images: an open Model's Ask without
// streaming, or a front end's queue in front of one. It blocks until done
// and returns an error matching ErrCancelled or context.Canceled when
// stopped.
type AskFunc func(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config) (*Result, error)

// AskFunc returns m.Ask without streaming, for captioning.
func (m *Model) AskFunc() AskFunc {
	return func(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config) (*Result, error) {
		return m.Ask(ctx, images, prompts, cfg, nil)
	}
}

// cancelled reports whether err says the work was stopped.
func cancelled(err error) bool {
	return errors.Is(err, ErrCancelled) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// ConvertedDir is the folder of the converted copies of models' weights
// (checkpoint/store): Glimpse's cache folder's "converted", since a copy
// can always be made again from the model. Without a cache folder it is
// "", and every load converts.
func ConvertedDir() string {
	dir, err := history.CacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "converted")
}
