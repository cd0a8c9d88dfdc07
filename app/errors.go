package app

import (
	"context"
	"errors"
	"strings"

	"glimpse/checkpoint/config"
	"glimpse/compute"
	"glimpse/generate"
	"glimpse/model"
	"glimpse/pipeline"
)

// The kinds of error a person using Glimpse can meet. Every error the
// package returns for them is an *Error (or an *ImageError) whose Is reports
// its kind, so front ends choose what to say and do with errors.Is, never by
// reading the message.
var (
	// ErrNoModel: no model was named.
	ErrNoModel = errors.New("no model given")
	// ErrModelNotFound: the name is neither a model folder nor an
	// installed model.
	ErrModelNotFound = errors.New("model not found")
	// ErrModelIncomplete: the folder lacks files a model needs, or they do
	// not match its config.json.
	ErrModelIncomplete = errors.New("model folder incomplete")
	// ErrUnreadableImage: an image file is missing, unreadable or not an
	// image Glimpse can decode.
	ErrUnreadableImage = errors.New("unreadable image")
	// ErrNoImages: a folder to caption holds no images.
	ErrNoImages = errors.New("no images")
	// ErrBackendUnavailable: the compute backend asked for cannot start
	// here (no OpenGL 4.3, say).
	ErrBackendUnavailable = errors.New("compute backend unavailable")
	// ErrBadSetting: a backend, precision or generation setting is unknown
	// or out of range.
	ErrBadSetting = errors.New("bad setting")
	// ErrCancelled: the work was stopped. Such errors also match the
	// context's own error (context.Canceled).
	ErrCancelled = errors.New("cancelled")
	// ErrOutOfMemory: the model, or a request to it, does not fit in the
	// memory of the device.
	ErrOutOfMemory = errors.New("out of memory")
)

// Error is an error worded for the person using Glimpse.
type Error struct {
	Kind error  // one of the Err… kinds above
	Msg  string // what went wrong, in words for a person
	Err  error  // the cause, if any
}

// Error returns the message for the user.
func (e *Error) Error() string { return e.Msg }

// Is reports whether target is e's kind, so that errors.Is(err, ErrNoModel)
// works through any wrapping.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// classify gives err the kind it is, keeping its message: the layers below
// app mark their errors with their own sentinels, and this is the one place
// that maps them to what a front end can act on. Errors that are already
// classified, and those of no known kind, are returned as they are.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	var ie *ImageError
	if errors.As(err, &e) || errors.As(err, &ie) {
		return err
	}
	msg := err.Error()
	kind := func(k error) error { return &Error{Kind: k, Msg: msg, Err: err} }
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: ErrCancelled, Msg: "stopped", Err: err}
	case errors.Is(err, pipeline.ErrBadOption):
		// "unknown option: backend "tpu" (use gl, cpu or auto)": the
		// parenthesis already says what is wrong and what to use.
		return &Error{Kind: ErrBadSetting, Msg: strings.Replace(msg, pipeline.ErrBadOption.Error()+": ", "", 1), Err: err}
	case errors.Is(err, generate.ErrConfig):
		return kind(ErrBadSetting)
	case errors.Is(err, pipeline.ErrNoMemory), errors.Is(err, pipeline.ErrNoFit):
		return kind(ErrOutOfMemory)
	case errors.Is(err, compute.ErrUnavailable):
		return kind(ErrBackendUnavailable)
	case errors.Is(err, config.ErrMissing), errors.Is(err, model.ErrIncomplete):
		return kind(ErrModelIncomplete)
	case outOfMemory(msg):
		return kind(ErrOutOfMemory)
	}
	return err
}

// outOfMemory recognises the GL engine's "out of GPU memory" upload error.
// The compute package has no sentinel for it (its GL_OUT_OF_MEMORY while
// running operations panics instead), so this is the one place that reads
// a message; once compute wraps a sentinel, errors.Is replaces it.
func outOfMemory(msg string) bool {
	msg = strings.ToLower(msg)
	return strings.Contains(msg, "out of gpu memory") || strings.Contains(msg, "out of memory")
}
