package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"glimpse/checkpoint/synthetic"
	"glimpse/compute"
	"glimpse/model"
)

// realPlan plans a catalogue model from its real config and the Hub's
// tensor list.
func realPlan(t *testing.T, name string) *model.Plan {
	t.Helper()
	cfg, err := synthetic.Config(synthetic.Options{Model: name})
	if err != nil {
		t.Fatal(err)
	}
	tensors, err := synthetic.Plan(synthetic.Options{Model: name})
	if err != nil {
		t.Fatal(err)
	}
	var shapes []model.TensorShape
	for _, x := range tensors {
		shapes = append(shapes, model.TensorShape{Name: x.Name, Shape: x.Shape})
	}
	p, err := model.NewPlan(cfg, shapes)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestChoosePrecision gives the real Vicuna-7B and Flan-T5-XL memory sizes
// at the edges of what each precision needs, and checks auto's choice: the
// best precision that fits, in the order fp32 > fp16 > q8 > q4 on the CPU
// (fp16 first on gl), and a FitError with the numbers when even q4 does not.
func TestChoosePrecision(t *testing.T) {
	const GB = 1_000_000_000
	for _, name := range []string{"vicuna-7b", "flan-t5-xl"} {
		plan := realPlan(t, name)
		need := plan.Need
		tests := []struct {
			backend string
			memory  int64
			want    string // "" for a FitError
			better  string // AutoChoice.Better
		}{
			{"cpu", 1000 * GB, "fp32", ""},
			{"cpu", need(model.FP32), "fp32", ""},
			{"cpu", need(model.FP32) - 1, "fp16", "fp32"},
			{"cpu", need(model.FP16), "fp16", "fp32"},
			{"cpu", need(model.FP16) - 1, "q8", "fp32"},
			{"cpu", need(model.Q8), "q8", "fp32"},
			{"cpu", need(model.Q8) - 1, "q4", "fp32"},
			{"cpu", need(model.Q4), "q4", "fp32"},
			{"cpu", need(model.Q4) - 1, "", ""},
			{"gl", 1000 * GB, "fp16", ""},
			{"gl", need(model.FP16), "fp16", ""},
			{"gl", need(model.FP16) - 1, "q8", "fp16"},
			{"gl", need(model.Q4), "q4", "fp16"},
			{"gl", need(model.Q4) - 1, "", ""},
			{"cpu", 0, "fp32", ""}, // unknown: today's defaults
			{"gl", 0, "fp16", ""},
		}
		for _, tc := range tests {
			mem := DeviceMemory{Bytes: tc.memory, Where: "free"}
			p, choice, err := choosePrecision(need, tc.backend, mem)
			if tc.want == "" {
				var fe *FitError
				if !errors.As(err, &fe) || !errors.Is(err, ErrNoFit) {
					t.Errorf("%s %s %d: %v, %v; want a FitError", name, tc.backend, tc.memory, p, err)
					continue
				}
				if fe.Precision != "q4" || fe.Need != need(model.Q4) || fe.Memory.Bytes != tc.memory {
					t.Errorf("%s %s %d: %+v, want q4 needing %d", name, tc.backend, tc.memory, fe, need(model.Q4))
				}
				if msg := err.Error(); !strings.Contains(msg, formatBytes(need(model.Q4))) || !strings.Contains(msg, formatBytes(tc.memory)) {
					t.Errorf("%s: %q lacks the numbers", name, msg)
				}
				continue
			}
			if err != nil || p.String() != tc.want {
				t.Errorf("%s %s %d: %v, %v; want %s", name, tc.backend, tc.memory, p, err, tc.want)
				continue
			}
			wantNeed := int64(0)
			if tc.memory > 0 {
				wantNeed = need(p)
			}
			if choice.Better != tc.better || choice.Need != wantNeed || choice.Memory != mem {
				t.Errorf("%s %s %d: choice %+v, want better %q and need %d", name, tc.backend, tc.memory, choice, tc.better, wantNeed)
			}
			if tc.better != "" && choice.BetterNeed != need(model.Precision(tc.better)) {
				t.Errorf("%s %s %d: better needs %d, want %d", name, tc.backend, tc.memory, choice.BetterNeed, need(model.Precision(tc.better)))
			}
		}
	}
}

// TestOpenAuto opens a fixture with the automatic precision on the CPU:
// plenty of memory loads fp32 and says why, memory only for q8 loads q8,
// and too little refuses with ErrNoFit before loading.
func TestOpenAuto(t *testing.T) {
	dir := filepath.Join(fixtures, "models", "tiny-instructblip-vicuna")
	plan, err := model.PlanFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		memory int64
		want   string
	}{
		{1 << 40, "fp32"},
		{plan.Need(model.Q8), "q8"},
		{plan.Need(model.Q4) - 1, ""},
	}
	for _, tc := range tests {
		var asked string
		p, err := Open(context.Background(), dir, Options{Backend: "cpu", Precision: "auto",
			Memory: func(backend string, info compute.Info) DeviceMemory {
				asked = backend
				return DeviceMemory{Bytes: tc.memory, Where: "available"}
			}})
		if asked != "cpu" {
			t.Errorf("memory asked for backend %q, want cpu", asked)
		}
		if tc.want == "" {
			if !errors.Is(err, ErrNoFit) {
				t.Errorf("%d bytes: %v, want ErrNoFit", tc.memory, err)
			}
			if p != nil {
				p.Close()
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		d := p.Describe()
		p.Close()
		if d.Precision != tc.want || d.Auto == nil || d.Auto.Memory.Bytes != tc.memory || d.Auto.Need != plan.Need(model.Precision(tc.want)) {
			t.Errorf("%d bytes: %s, %+v; want %s", tc.memory, d.Precision, d.Auto, tc.want)
		}
	}
	// A named precision is not automatic.
	p, err := Open(context.Background(), dir, Options{Backend: "cpu", Precision: "fp16"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if d := p.Describe(); d.Precision != "fp16" || d.Auto != nil {
		t.Errorf("fp16 named: %s, %+v", d.Precision, d.Auto)
	}
}
