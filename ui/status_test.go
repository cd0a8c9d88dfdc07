package ui

import (
	"strings"
	"testing"

	"glimpse/app"
	"glimpse/downloads"
	"glimpse/pipeline"
)

// TestStatusBarWeights loads descriptions into the status bar and checks
// that it shows the weights' precision, size and source beside the memory,
// keeps a warning about them in the notice, and otherwise says why the
// automatic precision chose what it did.
func TestStatusBarWeights(t *testing.T) {
	gpu := pipeline.DeviceMemory{Bytes: 11_200_000_000, Where: "free on the GPU"}
	tests := []struct {
		name    string
		d       app.Description
		weights string // the memory figure's end
		notice  string
	}{
		{"warning", app.Description{Name: "m", Backend: "cpu", Precision: "q4", DeviceBytes: 5_820_000_000,
			Weights: "converting (once)", WeightsWarning: "the converted copy was damaged; converting again"},
			" · weights q4 5.8 GB, converting (once)", "⚠ the converted copy was damaged; converting again"},
		{"auto", app.Description{Name: "m", Backend: "gl", Precision: "q8", DeviceBytes: 8_910_000_000,
			Weights: "loaded from the converted copy",
			Auto:    &app.AutoChoice{Memory: gpu, Need: 14_360_000_000, Better: "fp16", BetterNeed: 15_100_000_000}},
			" · weights q8 8.9 GB, loaded from the converted copy", "precision q8 (auto): fp16 needs 15.1 GB, 11.2 GB free on the GPU"},
		{"named", app.Description{Name: "m", Backend: "cpu", Precision: "fp16", DeviceBytes: 15_830_000_000, Weights: "converting"},
			" · weights fp16 15.8 GB, converting", ""},
	}
	a, _ := testApp(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.status.loaded(tc.d)
			if m := a.status.memory.Text; !strings.HasPrefix(m, "Memory ") || !strings.HasSuffix(m, tc.weights) {
				t.Errorf("memory figure %q, want it to end %q", m, tc.weights)
			}
			if n := a.status.notice.Text; n != tc.notice {
				t.Errorf("notice %q, want %q", n, tc.notice)
			}
		})
	}
	// A notice flashed over the warning gives it back when it goes.
	a.status.loaded(tests[0].d)
	a.status.flash("Copied")
	if a.status.notice.Text != "Copied" || a.status.warning != tests[0].notice {
		t.Errorf("flash over a warning: notice %q, warning kept %q", a.status.notice.Text, a.status.warning)
	}
}

// TestAboutModelMemory checks that a catalogue card gives the catalogue's
// memory for every precision, in --precision's names.
func TestAboutModelMemory(t *testing.T) {
	m := downloads.Model{Name: "x", Description: "About.", Download: 16_090_000_000, Params: 4_020_000_000, License: "MIT",
		Requirements: []downloads.Requirement{{Precision: downloads.FP32, GPU: 18_410_000_000}, {Precision: downloads.FP16, GPU: 10_370_000_000},
			{Precision: downloads.Q8, GPU: 6_860_000_000}, {Precision: downloads.Q4, GPU: 5_770_000_000}}}
	want := "memory needed: fp32 18.4 GB, fp16 10.4 GB, q8 6.9 GB, q4 5.8 GB"
	if got := aboutModel(m); !strings.Contains(got, want) {
		t.Errorf("aboutModel = %q, want it to say %q", got, want)
	}
}
