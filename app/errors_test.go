package app

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"glimpse/checkpoint/config"
	"glimpse/compute"
	"glimpse/generate"
	"glimpse/model"
	"glimpse/pipeline"
)

// TestClassify maps the errors of the layers below to the kinds front ends
// act on, keeping (or, for bad options and stops, rewording) the message.
func TestClassify(t *testing.T) {
	plain := errors.New("the model cannot take this image")
	tests := []struct {
		name string
		err  error
		kind error // nil: left as it is
		msg  string
	}{
		{"cancelled", context.Canceled, ErrCancelled, "stopped"},
		{"deadline", fmt.Errorf("loading: %w", context.DeadlineExceeded), ErrCancelled, "stopped"},
		{"bad backend", fmt.Errorf("%w: backend %q (use gl, cpu or auto)", pipeline.ErrBadOption, "tpu"), ErrBadSetting, `backend "tpu" (use gl, cpu or auto)`},
		{"bad generation setting", fmt.Errorf("%w: top_p must be in (0, 1]", generate.ErrConfig), ErrBadSetting, "invalid generation settings: top_p must be in (0, 1]"},
		{"no GPU", fmt.Errorf("the GPU (OpenGL 4.3) backend cannot start: %w: no EGL", compute.ErrUnavailable), ErrBackendUnavailable,
			"the GPU (OpenGL 4.3) backend cannot start: compute backend unavailable: no EGL"},
		{"folder lacks files", fmt.Errorf("%w: /m lacks the weights", config.ErrMissing), ErrModelIncomplete, "model folder is incomplete: /m lacks the weights"},
		{"checkpoint mismatch", fmt.Errorf("%w: vision_model.x has shape [2]", model.ErrIncomplete), ErrModelIncomplete,
			"the model folder is incomplete or does not match its config.json: vision_model.x has shape [2]"},
		{"GPU memory", errors.New("upload f16[4096 4096]: out of GPU memory"), ErrOutOfMemory, "upload f16[4096 4096]: out of GPU memory"},
		{"other", plain, nil, plain.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(tc.err)
			if got.Error() != tc.msg {
				t.Errorf("message %q, want %q", got, tc.msg)
			}
			if tc.kind == nil {
				if got != tc.err {
					t.Errorf("classify(%v) = %v (%T), want it unchanged", tc.err, got, got)
				}
				return
			}
			if !errors.Is(got, tc.kind) || !errors.Is(got, tc.err) {
				t.Errorf("classify(%v) = %v: want a %v error wrapping the cause", tc.err, got, tc.kind)
			}
			if again := classify(got); again != got {
				t.Errorf("classifying twice changed %v to %v", got, again)
			}
		})
	}
	if classify(nil) != nil {
		t.Error("classify(nil) is not nil")
	}
}
