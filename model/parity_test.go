package model

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"glimpse/checkpoint/safetensors"
	"glimpse/compute"
	"glimpse/compute/cpu"
	"glimpse/compute/gl"
)

// The parity tests run the tiny fixture models (real architecture, random
// weights) and compare with what transformers produced for the same
// inputs: intermediate activations, prompt logits, and the logits of every
// greedy step.

const fixtures = "../../shared/fixtures"

// Tolerances from the fixtures' README: float32 activations within 1e-4
// absolute + 1e-3 relative, logits within 2e-3 absolute.
const (
	actAbs, actRel = 1e-4, 1e-3
	logitAbs       = 2e-3
)

// goldenCase is one case of golden.json.
type goldenCase struct {
	Image                string   `json:"image"`
	InputIDs             []int32  `json:"input_ids"`
	AttentionMask        []int32  `json:"attention_mask"`
	QFormerInputIDs      []int32  `json:"qformer_input_ids"`
	QFormerAttentionMask []int32  `json:"qformer_attention_mask"`
	Hooked               []string `json:"hooked"`
	Generate             map[string]struct {
		Sequence    []int32   `json:"sequence"`
		Top2Margins []float64 `json:"top2_margins"`
	} `json:"generate"`
}

// golden is a fixture model's golden.json.
type golden struct {
	Kind  string       `json:"kind"`
	Cases []goldenCase `json:"cases"`
	Batch struct {
		Images               []string  `json:"images"`
		InputIDs             [][]int32 `json:"input_ids"`
		AttentionMask        [][]int32 `json:"attention_mask"`
		QFormerInputIDs      [][]int32 `json:"qformer_input_ids"`
		QFormerAttentionMask [][]int32 `json:"qformer_attention_mask"`
		GreedySequences      [][]int32 `json:"greedy_sequences"`
	} `json:"batch"`
}

// fixture is a loaded golden set for one tiny model.
type fixture struct {
	name, dir string
	golden    golden
	tensors   *safetensors.File // golden.safetensors
	pixels    *safetensors.File // images/pixel_values.safetensors
}

var fixtureNames = []string{"tiny-instructblip-vicuna", "tiny-instructblip-flan-t5"}

var (
	fixturesOnce sync.Once
	fixtureSet   []*fixture
	fixtureErr   error
)

// loadFixtures opens both fixture models' golden data once per test binary.
func loadFixtures(t testing.TB) []*fixture {
	t.Helper()
	fixturesOnce.Do(func() {
		pixels, err := safetensors.Open(filepath.Join(fixtures, "images", "pixel_values.safetensors"))
		if err != nil {
			fixtureErr = err
			return
		}
		for _, name := range fixtureNames {
			dir := filepath.Join(fixtures, "models", name)
			f := &fixture{name: name, dir: dir, pixels: pixels}
			b, err := os.ReadFile(filepath.Join(dir, "golden.json"))
			if err == nil {
				err = json.Unmarshal(b, &f.golden)
			}
			if err == nil {
				f.tensors, err = safetensors.Open(filepath.Join(dir, "golden.safetensors"))
			}
			if err != nil {
				fixtureErr = fmt.Errorf("%s: %v", name, err)
				return
			}
			fixtureSet = append(fixtureSet, f)
		}
	})
	if fixtureErr != nil {
		t.Fatalf("fixtures: %v", fixtureErr)
	}
	return fixtureSet
}

// tensor reads a golden tensor.
func (f *fixture) tensor(t testing.TB, name string) []float32 {
	t.Helper()
	v, err := f.tensors.Float32(name)
	if err != nil {
		t.Fatalf("%s: golden tensor %s: %v", f.name, name, err)
	}
	return v
}

// inputs builds case i's model inputs.
func (f *fixture) inputs(t testing.TB, i int) *Inputs {
	c := f.golden.Cases[i]
	return &Inputs{
		PixelValues:          f.tensor(t, fmt.Sprintf("case%d.pixel_values", i)),
		InputIDs:             [][]int32{c.InputIDs},
		AttentionMask:        [][]int32{c.AttentionMask},
		QFormerInputIDs:      [][]int32{c.QFormerInputIDs},
		QFormerAttentionMask: [][]int32{c.QFormerAttentionMask},
	}
}

// batchInputs builds the padded batch's inputs, with the processor's pixel
// values for its images.
func (f *fixture) batchInputs(t *testing.T) *Inputs {
	b := f.golden.Batch
	in := &Inputs{InputIDs: b.InputIDs, AttentionMask: b.AttentionMask,
		QFormerInputIDs: b.QFormerInputIDs, QFormerAttentionMask: b.QFormerAttentionMask}
	for _, img := range b.Images {
		px, err := f.pixels.Float32(img + ".slow")
		if err != nil {
			t.Fatalf("pixel values of %s: %v", img, err)
		}
		in.PixelValues = append(in.PixelValues, px...)
	}
	return in
}

// backends are the engines every parity test runs on. The GL backend runs
// on Mesa llvmpipe in CI; failing to create it fails the test.
var backends = []struct {
	name string
	new  func() (compute.Backend, error)
}{
	{"cpu", func() (compute.Backend, error) { return cpu.New(), nil }},
	{"gl", gl.New},
}

// shared holds the backends and models that tests reuse: on llvmpipe every
// GL backend compiles its kernels anew, which costs far more than the tiny
// models' arithmetic.
var shared struct {
	sync.Mutex
	backends map[string]compute.Backend
	errs     map[string]error
	models   map[string]*Model
}

// sharedBackend returns the named backend, creating it on first use.
func sharedBackend(t testing.TB, name string) compute.Backend {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if be, ok := shared.backends[name]; ok {
		return be
	}
	if err, ok := shared.errs[name]; ok {
		t.Fatalf("creating the %s backend: %v", name, err)
	}
	for _, b := range backends {
		if b.name != name {
			continue
		}
		be, err := b.new()
		if err != nil {
			if shared.errs == nil {
				shared.errs = map[string]error{}
			}
			shared.errs[name] = err
			t.Fatalf("creating the %s backend: %v", name, err)
		}
		if shared.backends == nil {
			shared.backends = map[string]compute.Backend{}
		}
		shared.backends[name] = be
		return be
	}
	t.Fatalf("no backend %q", name)
	return nil
}

// sharedModel returns a fixture model loaded on the named backend, loading
// it on first use. Tests must not close it.
func sharedModel(t testing.TB, backend string, f *fixture, precision compute.DType) *Model {
	t.Helper()
	be := sharedBackend(t, backend)
	key := fmt.Sprintf("%s/%s/%v", backend, f.name, precision)
	shared.Lock()
	defer shared.Unlock()
	if m, ok := shared.models[key]; ok {
		return m
	}
	m, err := Load(context.Background(), be, f.dir, LoadOptions{Precision: precision})
	if err != nil {
		t.Fatalf("loading %s: %v", f.name, err)
	}
	if shared.models == nil {
		shared.models = map[string]*Model{}
	}
	shared.models[key] = m
	return m
}

// TestMain frees the shared models and backends after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, mod := range shared.models {
		mod.Close()
	}
	for _, be := range shared.backends {
		be.Close()
	}
	os.Exit(code)
}

// diff summarises how far got is from want.
type diff struct {
	maxAbs float64 // largest |got - want|
	excess float64 // largest |got - want| - (abs + rel·|want|); > 0 fails
	at     int
}

func compare(got, want []float32, abs, rel float64) diff {
	d := diff{excess: math.Inf(-1), at: -1}
	for i := range want {
		e := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(e) {
			e = math.Inf(1)
		}
		if e > d.maxAbs || d.at < 0 {
			d.maxAbs, d.at = max(e, d.maxAbs), i
		}
		d.excess = max(d.excess, e-(abs+rel*math.Abs(float64(want[i]))))
	}
	return d
}

// checkClose fails t unless got is within tolerance of want.
func checkClose(t *testing.T, what string, got, want []float32, abs, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	d := compare(got, want, abs, rel)
	t.Logf("%-40s max abs diff %.3g", what, d.maxAbs)
	if d.excess > 0 {
		t.Errorf("%s: off by %.3g at %d (got %g, want %g); tolerance %g + %g·|want|",
			what, d.maxAbs, d.at, got[d.at], want[d.at], abs, rel)
	}
}

// withBackends runs fn once per backend, with that backend's name.
func withBackends(t *testing.T, fn func(t *testing.T, backend string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.name) })
	}
}

// TestIntermediates compares every hooked module output and the prompt
// logits with transformers' for each golden case.
func TestIntermediates(t *testing.T) {
	fs := loadFixtures(t)
	withBackends(t, func(t *testing.T, backend string) {
		for _, f := range fs {
			t.Run(f.name, func(t *testing.T) {
				m := sharedModel(t, backend, f, compute.F32)
				for i, c := range f.golden.Cases {
					got := map[string][]float32{}
					trace := func(ctx compute.Context, name string, x compute.Tensor) {
						got[name] = ctx.Read(x)
					}
					logits, _, err := m.Forward(context.Background(), f.inputs(t, i), trace)
					if err != nil {
						t.Fatalf("case %d: %v", i, err)
					}
					names := append([]string(nil), c.Hooked...)
					sort.Strings(names)
					for _, name := range names {
						want := f.tensor(t, fmt.Sprintf("case%d.%s", i, name))
						what := fmt.Sprintf("case%d.%s", i, name)
						if name == "language_model" { // the language model's output is the logits
							checkClose(t, what, got["logits"], want, logitAbs, 0)
							continue
						}
						g, ok := got[name]
						if !ok {
							t.Errorf("%s: not traced", what)
							continue
						}
						checkClose(t, what, g, want, actAbs, actRel)
					}
					checkClose(t, fmt.Sprintf("case%d.logits", i), logits, f.tensor(t, fmt.Sprintf("case%d.logits", i)), logitAbs, 0)
				}
			})
		}
	})
}

// promptLen is how many tokens of a generate() sequence are prompt: the
// whole input for the decoder-only model, the start token for T5.
func (f *fixture) promptLen(i int) int {
	if f.golden.Kind == "llama" {
		return len(f.golden.Cases[i].InputIDs)
	}
	return 1
}

// TestSessionGreedyScores runs each case's greedy sequence through a
// session and compares every step's logits with transformers' greedy
// scores (no logits processors, so scores are raw logits). Beam-style
// reorders (duplicating and dropping sequences) must not change them.
func TestSessionGreedyScores(t *testing.T) {
	fs := loadFixtures(t)
	withBackends(t, func(t *testing.T, backend string) {
		for _, f := range fs {
			t.Run(f.name, func(t *testing.T) {
				m := sharedModel(t, backend, f, compute.F32)
				vocab := m.VocabSize()
				for i, c := range f.golden.Cases {
					scores := f.tensor(t, fmt.Sprintf("case%d.greedy_scores", i))
					seq := c.Generate["greedy"].Sequence[f.promptLen(i):]
					s, err := m.NewSession(f.inputs(t, i))
					if err != nil {
						t.Fatal(err)
					}
					logits, err := s.Prefill(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					// Live sequences per step: 1, then 3 copies, then 2, then 1.
					reorders := map[int][]int32{1: {0, 0, 0}, 4: {2, 0}, 8: {1}}
					worst := 0.0
					for step := range seq {
						want := scores[step*vocab : (step+1)*vocab]
						for j, row := range logits {
							d := compare(row, want, logitAbs, 0)
							worst = max(worst, d.maxAbs)
							if d.excess > 0 {
								t.Fatalf("case %d step %d sequence %d: logit %d off by %.3g (got %g, want %g)",
									i, step, j, d.at, d.maxAbs, row[d.at], want[d.at])
							}
						}
						if step == len(seq)-1 {
							break
						}
						if idx, ok := reorders[step]; ok {
							if err := s.Reorder(idx); err != nil {
								t.Fatal(err)
							}
						}
						tokens := make([]int32, s.Live())
						for j := range tokens {
							tokens[j] = seq[step]
						}
						if logits, err = s.Step(context.Background(), tokens); err != nil {
							t.Fatal(err)
						}
					}
					s.Close()
					t.Logf("case%d: %d steps, max abs logit diff %.3g", i, len(seq), worst)
				}
			})
		}
	})
}

// greedy decodes n tokens by argmax through a session, showing seen (if
// not nil) the logits that choose each step's tokens and the tokens chosen
// before it.
func greedy(t *testing.T, m *Model, in *Inputs, n int, seen func(step int, logits [][]float32, before [][]int32)) [][]int32 {
	t.Helper()
	s, err := m.NewSession(in)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	logits, err := s.Prefill(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]int32, len(logits))
	for step := 0; step < n; step++ {
		if seen != nil {
			seen(step, logits, out)
		}
		tokens := make([]int32, len(logits))
		for j, row := range logits {
			best := 0
			for k, v := range row {
				if v > row[best] {
					best = k
				}
			}
			tokens[j] = int32(best)
			out[j] = append(out[j], int32(best))
		}
		if step == n-1 {
			break
		}
		if logits, err = s.Step(context.Background(), tokens); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestPaddedBatch decodes the left-padded batch of two prompts greedily and
// compares with transformers' sequences: padding must be masked and the
// position ids must skip it, as generate() does.
func TestPaddedBatch(t *testing.T) {
	fs := loadFixtures(t)
	withBackends(t, func(t *testing.T, backend string) {
		for _, f := range fs {
			t.Run(f.name, func(t *testing.T) {
				m := sharedModel(t, backend, f, compute.F32)
				in := f.batchInputs(t)
				skip := 1
				if f.golden.Kind == "llama" {
					skip = len(in.InputIDs[0])
				}
				want := f.golden.Batch.GreedySequences
				got := greedy(t, m, in, len(want[0])-skip, nil)
				for j := range want {
					if fmt.Sprint(got[j]) != fmt.Sprint(want[j][skip:]) {
						t.Errorf("row %d: got %v, want %v", j, got[j], want[j][skip:])
					}
				}
			})
		}
	})
}

// TestHalfPrecisionGL loads the weight matrices as float16 on the GL
// backend, reports how far the prompt logits move, and checks that greedy
// decoding still follows transformers up to the first step whose top-2
// margin is below 0.05 (where fp16 rounding may legitimately flip it).
func TestHalfPrecisionGL(t *testing.T) {
	fs := loadFixtures(t)
	for _, f := range fs {
		t.Run(f.name, func(t *testing.T) {
			m := sharedModel(t, "gl", f, compute.F16)
			vocab := m.VocabSize()
			for i, c := range f.golden.Cases {
				g := c.Generate["greedy"]
				want := g.Sequence[f.promptLen(i):]
				n := len(want)
				for k, margin := range g.Top2Margins {
					if margin < 0.05 {
						n = k + 1 // step k itself may flip; everything after it may differ
						break
					}
				}
				// While the tokens so far are transformers', each step's
				// logits are comparable with its greedy scores.
				scores := f.tensor(t, fmt.Sprintf("case%d.greedy_scores", i))
				worst, compared := 0.0, 0
				got := greedy(t, m, f.inputs(t, i), n, func(step int, logits [][]float32, before [][]int32) {
					if fmt.Sprint(before[0]) != fmt.Sprint(want[:step]) {
						return
					}
					d := compare(logits[0], scores[step*vocab:(step+1)*vocab], 0, 0)
					worst, compared = max(worst, d.maxAbs), compared+1
				})[0]
				for k := 0; k < n; k++ {
					if got[k] != want[k] && g.Top2Margins[k] >= 0.05 {
						t.Errorf("case%d step %d: token %d, want %d (top-2 margin %.3g)", i, k, got[k], want[k], g.Top2Margins[k])
						break
					}
				}
				t.Logf("case%d: fp16 weights: max abs logit error %.3g over %d steps; greedy matched all %d steps before the first top-2 margin under 0.05",
					i, worst, compared, n)
			}
		})
	}
}
