package generate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"glimpse/checkpoint/config"
	"glimpse/checkpoint/safetensors"
	"glimpse/compute"
	"glimpse/compute/cpu"
	"glimpse/compute/gl"
	"glimpse/generate"
	"glimpse/input/tokenizer"
	"glimpse/model"
)

// The golden tests run every generate() setting of the fixtures' golden.json
// on both tiny models (real architectures, random weights) and both compute
// backends, and require transformers' exact sequences. Greedy search may
// differ only from a step whose top-2 margin is below 1e-3, where float32
// summation order can legitimately flip the winner.

const fixtures = "../../shared/fixtures"

type goldenRun struct {
	Kwargs      map[string]any `json:"kwargs"`
	Sequence    []int32        `json:"sequence"`
	Text        string         `json:"text"`
	Top2Margins []float64      `json:"top2_margins"`
}

type goldenFile struct {
	Kind  string `json:"kind"`
	Cases []struct {
		Image                string               `json:"image"`
		Prompt               string               `json:"prompt"`
		InputIDs             []int32              `json:"input_ids"`
		AttentionMask        []int32              `json:"attention_mask"`
		QFormerInputIDs      []int32              `json:"qformer_input_ids"`
		QFormerAttentionMask []int32              `json:"qformer_attention_mask"`
		Generate             map[string]goldenRun `json:"generate"`
	} `json:"cases"`
	Batch struct {
		Images               []string  `json:"images"`
		Prompts              []string  `json:"prompts"`
		InputIDs             [][]int32 `json:"input_ids"`
		AttentionMask        [][]int32 `json:"attention_mask"`
		QFormerInputIDs      [][]int32 `json:"qformer_input_ids"`
		QFormerAttentionMask [][]int32 `json:"qformer_attention_mask"`
		GreedySequences      [][]int32 `json:"greedy_sequences"`
		GreedyText           []string  `json:"greedy_text"`
	} `json:"batch"`
}

// fixtureModel is one tiny model with its golden data.
type fixtureModel struct {
	name, dir string
	golden    goldenFile
	tensors   *safetensors.File
	pixels    *safetensors.File
	tok       *tokenizer.Tokenizer
	eos       []int32
	pad       int32
	start     int32 // T5's decoder_start_token_id
}

func loadFixture(t *testing.T, name string) *fixtureModel {
	t.Helper()
	f := &fixtureModel{name: name, dir: filepath.Join(fixtures, "models", name)}
	b, err := os.ReadFile(filepath.Join(f.dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f.golden); err != nil {
		t.Fatal(err)
	}
	if f.tensors, err = safetensors.Open(filepath.Join(f.dir, "golden.safetensors")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.tensors.Close() })
	if f.pixels, err = safetensors.Open(filepath.Join(fixtures, "images", "pixel_values.safetensors")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.pixels.Close() })
	if f.tok, err = tokenizer.Load(f.dir); err != nil {
		t.Fatal(err)
	}
	folder, err := config.LoadFolder(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	// EOS from the tokenizer (for Vicuna the generation config's is wrong);
	// pad as generate() takes it, from the generation config.
	eos, ok := f.tok.EOS()
	if !ok {
		t.Fatal("tokenizer has no EOS")
	}
	f.eos = []int32{eos}
	pad, ok := folder.Generation.PadTokenID.First()
	if !ok {
		pad = int(eos)
	}
	f.pad = int32(pad)
	if s, ok := folder.Generation.DecoderStartTokenID.First(); ok {
		f.start = int32(s)
	}
	return f
}

func (f *fixtureModel) llama() bool { return f.golden.Kind == "llama" }

// prefix is what generate() calls input_ids inside its loop.
func (f *fixtureModel) prefix(inputIDs [][]int32) [][]int32 {
	if f.llama() {
		return inputIDs
	}
	out := make([][]int32, len(inputIDs))
	for i := range out {
		out[i] = []int32{f.start}
	}
	return out
}

func (f *fixtureModel) caseInputs(t *testing.T, i int) *model.Inputs {
	c := f.golden.Cases[i]
	px, err := f.tensors.Float32(fmt.Sprintf("case%d.pixel_values", i))
	if err != nil {
		t.Fatal(err)
	}
	return &model.Inputs{
		PixelValues:          px,
		InputIDs:             [][]int32{c.InputIDs},
		AttentionMask:        [][]int32{c.AttentionMask},
		QFormerInputIDs:      [][]int32{c.QFormerInputIDs},
		QFormerAttentionMask: [][]int32{c.QFormerAttentionMask},
	}
}

func (f *fixtureModel) batchInputs(t *testing.T) *model.Inputs {
	b := f.golden.Batch
	in := &model.Inputs{InputIDs: b.InputIDs, AttentionMask: b.AttentionMask,
		QFormerInputIDs: b.QFormerInputIDs, QFormerAttentionMask: b.QFormerAttentionMask}
	for _, img := range b.Images {
		px, err := f.pixels.Float32(img + ".slow")
		if err != nil {
			t.Fatal(err)
		}
		in.PixelValues = append(in.PixelValues, px...)
	}
	return in
}

// configFromKwargs turns a golden run's generate() kwargs into a Config,
// refusing any keyword it does not know so that new golden settings cannot
// be silently ignored.
func (f *fixtureModel) configFromKwargs(t *testing.T, kw map[string]any) generate.Config {
	t.Helper()
	cfg := generate.DefaultConfig()
	cfg.EOS, cfg.PadID = f.eos, f.pad
	cfg.Decode = func(ids []int32) string { return f.tok.Decode(ids, true) }
	cfg.Partial = generate.ByteFallback(f.tok.IDToToken)
	num := func(k string) float64 {
		v, ok := kw[k].(float64)
		if !ok {
			t.Fatalf("kwarg %s = %v is not a number", k, kw[k])
		}
		return v
	}
	keys := make([]string, 0, len(kw))
	for k := range kw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "do_sample":
			cfg.DoSample = kw[k].(bool)
		case "num_beams":
			cfg.NumBeams = int(num(k))
		case "max_new_tokens":
			cfg.MaxNewTokens = int(num(k))
		case "max_length":
			cfg.MaxLength = int(num(k))
		case "min_length":
			cfg.MinLength = int(num(k))
		case "min_new_tokens":
			cfg.MinNewTokens = int(num(k))
		case "top_p":
			cfg.TopP = num(k)
		case "top_k":
			cfg.TopK = int(num(k))
		case "temperature":
			cfg.Temperature = num(k)
		case "repetition_penalty":
			cfg.RepetitionPenalty = num(k)
		case "length_penalty":
			cfg.LengthPenalty = num(k)
		case "no_repeat_ngram_size":
			cfg.NoRepeatNgramSize = int(num(k))
		case "num_return_sequences":
			cfg.NumReturnSequences = int(num(k))
		default:
			t.Fatalf("golden kwarg %q has no Config field", k)
		}
	}
	return cfg
}

// checkSequence compares a generated sequence with transformers'. Without
// margins every token must match; with them (greedy), the first difference
// must fall on a step whose top-2 margin is below marginTol, after which
// the sequences may part.
func checkSequence(t *testing.T, what string, got, want []int32, prefixLen int, margins []float64, marginTol float64) {
	t.Helper()
	n := max(len(got), len(want))
	for i := range n {
		if i < len(got) && i < len(want) && got[i] == want[i] {
			continue
		}
		step := i - prefixLen
		if margins != nil && step >= 0 && step < len(margins) && margins[step] < marginTol {
			t.Logf("%s: parts from transformers at step %d, whose top-2 margin %.3g is below %g", what, step, margins[step], marginTol)
			return
		}
		t.Errorf("%s: differs at position %d (step %d)\n got %v\nwant %v", what, i, step, got, want)
		return
	}
}

var fixtureNames = []string{"tiny-instructblip-vicuna", "tiny-instructblip-flan-t5"}

var backends = []struct {
	name string
	new  func() (compute.Backend, error)
}{
	{"cpu", func() (compute.Backend, error) { return cpu.New(), nil }},
	// In CI the GL backend runs on Mesa's llvmpipe; failing to start it
	// fails the test.
	{"gl", gl.New},
}

// TestGolden runs every golden generate() setting for every case, and the
// padded batch, on both backends.
func TestGolden(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			be, err := b.new()
			if err != nil {
				t.Fatalf("creating the %s backend: %v", b.name, err)
			}
			defer be.Close()
			for _, name := range fixtureNames {
				t.Run(name, func(t *testing.T) {
					f := loadFixture(t, name)
					m, err := model.Load(context.Background(), be, f.dir, model.LoadOptions{})
					if err != nil {
						t.Fatal(err)
					}
					defer m.Close()
					runGoldenCases(t, f, m, 1e-3)
					runGoldenBatch(t, f, m)
				})
			}
		})
	}
}

func runGoldenCases(t *testing.T, f *fixtureModel, m *model.Model, marginTol float64) {
	for i, c := range f.golden.Cases {
		settings := make([]string, 0, len(c.Generate))
		for s := range c.Generate {
			settings = append(settings, s)
		}
		sort.Strings(settings)
		for _, setting := range settings {
			run := c.Generate[setting]
			what := fmt.Sprintf("case%d %s", i, setting)
			cfg := f.configFromKwargs(t, run.Kwargs)
			in := f.caseInputs(t, i)
			s, err := m.NewSession(in)
			if err != nil {
				t.Fatal(err)
			}
			prefix := f.prefix(in.InputIDs)
			var streamed strings.Builder
			res, err := generate.Generate(context.Background(), s, prefix, cfg, func(e generate.Event) {
				if e.Index == 0 && (cfg.NumBeams == 1 || e.Final) {
					streamed.WriteString(e.Text)
				}
			})
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			var margins []float64
			if cfg.NumBeams == 1 {
				margins = run.Top2Margins
			}
			checkSequence(t, what, res[0].Sequence, run.Sequence, len(prefix[0]), margins, marginTol)
			if streamed.String() != res[0].Text {
				t.Errorf("%s: streamed %q, result text %q", what, streamed.String(), res[0].Text)
			}
			if slices.Equal(res[0].Sequence, run.Sequence) {
				if got := f.tok.Decode(res[0].Sequence, true); got != run.Text {
					t.Errorf("%s: text %q, want %q", what, got, run.Text)
				}
			}
		}
	}
}

// runGoldenBatch generates the left-padded batch of two prompts greedily,
// as the fixture did (max_new_tokens 12), and compares both rows.
func runGoldenBatch(t *testing.T, f *fixtureModel, m *model.Model) {
	b := f.golden.Batch
	in := f.batchInputs(t)
	prefix := f.prefix(in.InputIDs)
	cfg := f.configFromKwargs(t, map[string]any{"max_new_tokens": float64(len(b.GreedySequences[0]) - len(prefix[0]))})
	s, err := m.NewSession(in)
	if err != nil {
		t.Fatal(err)
	}
	res, err := generate.Generate(context.Background(), s, prefix, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for j, want := range b.GreedySequences {
		if !slices.Equal(res[j].Sequence, want) {
			t.Errorf("batch row %d:\n got %v\nwant %v", j, res[j].Sequence, want)
		} else if got := f.tok.Decode(res[j].Sequence, true); got != b.GreedyText[j] {
			t.Errorf("batch row %d: text %q, want %q", j, got, b.GreedyText[j])
		}
	}
}

// TestGoldenHalfPrecisionGL loads the weight matrices as float16 on GL and
// requires the golden greedy sequences up to the first step whose top-2
// margin is below 0.05: fp16 rounding of the weights may flip a closer call.
func TestGoldenHalfPrecisionGL(t *testing.T) {
	be, err := gl.New()
	if err != nil {
		t.Fatalf("creating the GL backend: %v", err)
	}
	defer be.Close()
	for _, name := range fixtureNames {
		t.Run(name, func(t *testing.T) {
			f := loadFixture(t, name)
			m, err := model.Load(context.Background(), be, f.dir, model.LoadOptions{Precision: compute.F16})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			for i, c := range f.golden.Cases {
				run := c.Generate["greedy"]
				in := f.caseInputs(t, i)
				s, err := m.NewSession(in)
				if err != nil {
					t.Fatal(err)
				}
				prefix := f.prefix(in.InputIDs)
				res, err := generate.Generate(context.Background(), s, prefix, f.configFromKwargs(t, run.Kwargs), nil)
				if err != nil {
					t.Fatal(err)
				}
				checkSequence(t, fmt.Sprintf("case%d greedy fp16", i), res[0].Sequence, run.Sequence, len(prefix[0]), run.Top2Margins, 0.05)
			}
		})
	}
}
