package app

import (
	"context"
	"errors"
	"image"
	"path/filepath"
	"strings"
	"testing"
)

// TestRequestBudget: the CPU gets the system's available memory, a GPU its
// memory less the weights on it, and an unknown size checks nothing.
func TestRequestBudget(t *testing.T) {
	const gib = int64(1) << 30
	tests := []struct {
		name     string
		d        Description
		ram, gpu int64
		want     int64
	}{
		{"cpu", Description{Backend: "cpu", WeightBytes: 30 * gib}, 12 * gib, 24 * gib, 12 * gib},
		{"cpu, unknown memory", Description{Backend: "cpu"}, 0, 0, 0},
		{"gpu fp16: the weights as loaded, not the checkpoint's float32 bytes", Description{Backend: "gl", Precision: "fp16", WeightBytes: 30 * gib, DeviceBytes: 15 * gib}, 64 * gib, 24 * gib, 9 * gib},
		{"gpu fp32", Description{Backend: "gl", Precision: "fp32", WeightBytes: 4 * gib, DeviceBytes: 4 * gib}, 64 * gib, 24 * gib, 20 * gib},
		{"gpu q4: the mix's bytes", Description{Backend: "gl", Precision: "q4", WeightBytes: 32 * gib, DeviceBytes: 5 * gib}, 64 * gib, 24 * gib, 19 * gib},
		{"gpu of unknown size", Description{Backend: "gl", Precision: "fp16", WeightBytes: 4 * gib, DeviceBytes: 2 * gib}, 64 * gib, 0, 0},
		{"gpu smaller than the weights it holds", Description{Backend: "gl", Precision: "fp16", WeightBytes: 60 * gib, DeviceBytes: 30 * gib}, 64 * gib, 24 * gib, 0},
		{"software OpenGL uses the system's memory", Description{Backend: "gl", Software: true, Precision: "fp16", WeightBytes: 4 * gib, DeviceBytes: 2 * gib}, 5 * gib, 0, 5 * gib},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := requestBudget(tc.d, tc.ram, tc.gpu); got != tc.want {
				t.Errorf("requestBudget = %d MiB, want %d MiB", got>>20, tc.want>>20)
			}
		})
	}
}

// TestAskRefusesWhatCannotFit makes the machine small: a request that
// needs more than the memory available is refused before it starts, as an
// ErrOutOfMemory error giving both sizes; with enough memory, or none
// known, the same request is answered.
func TestAskRefusesWhatCannotFit(t *testing.T) {
	m := tinyModel(t)
	img, err := LoadImage(filepath.Join(fixtures, "images", "shapes.png"))
	if err != nil {
		t.Fatal(err)
	}
	saved := memAvailable
	t.Cleanup(func() { memAvailable = saved })
	tests := []struct {
		name  string
		avail int64
		want  string // in the error; "" for an answer
	}{
		{"one MiB", 1 << 20, "beyond the model's weights, and 1 MiB is available"},
		{"a few KiB", 3000, "and 3 KiB is available"},
		{"plenty", 64 << 30, ""},
		{"unknown", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			memAvailable = func() int64 { return tc.avail }
			tiny.mu.Lock()
			defer tiny.mu.Unlock()
			res, err := m.Ask(context.Background(), []image.Image{img.Image, img.Image}, []string{"What is it?", "What is it?"}, greedy(), nil)
			if tc.want == "" {
				if err != nil || len(res.Answers) != 2 {
					t.Fatalf("Ask with %d bytes available: %v", tc.avail, err)
				}
				return
			}
			if !errors.Is(err, ErrOutOfMemory) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an ErrOutOfMemory error containing %q", err, tc.want)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, "this request needs about ") || strings.Contains(msg, "\n") {
				t.Errorf("message %q: want one line that starts with the size needed", msg)
			}
		})
	}
}
