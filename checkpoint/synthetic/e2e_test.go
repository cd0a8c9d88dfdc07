package synthetic_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"testing"
	"time"

	"glimpse/checkpoint/config"
	"glimpse/compute"
	"glimpse/compute/cpu"
	"glimpse/compute/gl"
	"glimpse/generate"
	"glimpse/input/processor"
	"glimpse/model"
)

// finiteSession checks every logit the model returns.
type finiteSession struct {
	generate.Session
	t     *testing.T
	vocab int
	steps int
}

func (s *finiteSession) check(what string, logits [][]float32) {
	for row, l := range logits {
		if len(l) != s.vocab {
			s.t.Fatalf("%s: row %d has %d logits, want %d (the embedding's rows)", what, row, len(l), s.vocab)
		}
		for id, v := range l {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				s.t.Fatalf("%s: logit %d of row %d is %v", what, id, row, v)
			}
		}
	}
}

func (s *finiteSession) Prefill(ctx context.Context) ([][]float32, error) {
	l, err := s.Session.Prefill(ctx)
	if err == nil {
		s.check("prefill", l)
	}
	return l, err
}

func (s *finiteSession) Step(ctx context.Context, tokens []int32) ([][]float32, error) {
	l, err := s.Session.Step(ctx, tokens)
	if err == nil {
		s.steps++
		s.check("step", l)
	}
	return l, err
}

// testImage is a colourful 320×240 picture, resized by the processor.
func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for y := 0; y < 240; y++ {
		for x := 0; x < 320; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / 319), uint8(y * 255 / 239), uint8((x + y) % 256), 255})
		}
	}
	return img
}

// answerOn loads a real-width, one-layer checkpoint on be at precision p
// and answers one short greedy question, checking that every logit is
// finite. Real widths mean real head dims (88 in the vision encoder, 128 in
// Vicuna, 64 in T5), the full 32064×4096 (Vicuna) or 32128×2048 (Flan-T5)
// embeddings and heads, and, for q4, rows that make whole Q4K and Q6K
// super-blocks (4096, 11008, 2048, 5120), which the tiny fixtures' rows do
// not: the heads and, the one layer being the stack's last eighth, Vicuna's
// v_proj and down_proj are Q6K.
func answerOn(t *testing.T, be compute.Backend, name string, p model.Precision) {
	dir := oneLayer(t, name)
	ctx := context.Background()
	folder, err := config.LoadFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	proc, err := processor.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m, err := model.Load(ctx, be, dir, model.LoadOptions{Mix: p})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	loaded := time.Since(start)

	in, err := proc.Process([]image.Image{testImage()}, []string{"What is unusual about this image?"})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := m.NewSession(&model.Inputs{PixelValues: in.PixelValues, InputIDs: in.InputIDs,
		AttentionMask: in.AttentionMask, QFormerInputIDs: in.QFormerInputIDs, QFormerAttentionMask: in.QFormerAttentionMask})
	if err != nil {
		t.Fatal(err)
	}
	checked := &finiteSession{Session: sess, t: t, vocab: folder.Model.Text.VocabSize()}
	cfg := generate.DefaultConfig()
	cfg.MaxNewTokens = 3
	if eos, ok := proc.Tokenizer.EOS(); ok {
		cfg.EOS = []int32{eos}
	}
	cfg.PadID = cfg.EOS[0]
	cfg.Decode = func(ids []int32) string { return proc.Tokenizer.Decode(ids, true) }
	prefix := m.GenerationPrefix(in.InputIDs, folder.Generation.DecoderStartTokenID)
	start = time.Now()
	res, err := generate.Generate(ctx, checked, prefix, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].NewTokens < 1 || res[0].NewTokens > 3 {
		t.Fatalf("got %+v, want one answer of 1 to 3 tokens", res)
	}
	if !res[0].EOS && checked.steps != 2 {
		t.Errorf("ran %d steps after the prefill for 3 new tokens, want 2", checked.steps)
	}
	for _, id := range res[0].Sequence[len(prefix[0]):] {
		if id < 0 || int(id) >= m.VocabSize() {
			t.Errorf("generated id %d outside the %d-row vocabulary", id, m.VocabSize())
		}
	}
	t.Logf("%s at %s on %s: loaded in %s, answered %q (%d tokens) in %s", name, p, be.Info().Device,
		loaded.Round(time.Millisecond), res[0].Text, res[0].NewTokens, time.Since(start).Round(time.Millisecond))
}

// precisions are the weight policies every real-width model must load and
// answer with: the dtypes differ per tensor only in the mixes, so each
// one's kernels meet the real shapes here.
var precisions = []model.Precision{model.FP32, model.FP16, model.Q8, model.Q4}

// TestAnswerCPU answers at real width at every precision on the CPU
// engine. The checkpoints are written once per test binary (oneLayer) and
// shared by every precision and by TestAnswerGL.
func TestAnswerCPU(t *testing.T) {
	be := cpu.New()
	defer be.Close()
	for _, name := range []string{"vicuna-7b", "flan-t5-xl"} {
		for _, p := range precisions {
			t.Run(fmt.Sprintf("%s/%s", name, p), func(t *testing.T) { answerOn(t, be, name, p) })
		}
	}
}

// TestAnswerGL runs the same questions on the OpenGL engine (Mesa's
// llvmpipe in CI): the embeddings and heads exceed llvmpipe's 128 MiB
// shader storage blocks, so the engine must split them. One engine serves
// every model and precision: on llvmpipe compiling the kernels costs more
// than a one-layer model's arithmetic.
func TestAnswerGL(t *testing.T) {
	be, err := gl.New()
	if err != nil {
		t.Fatalf("no OpenGL 4.3 context (CI provides Mesa llvmpipe through EGL): %v", err)
	}
	defer be.Close()
	for _, name := range []string{"vicuna-7b", "flan-t5-xl"} {
		for _, p := range precisions {
			t.Run(fmt.Sprintf("%s/%s", name, p), func(t *testing.T) { answerOn(t, be, name, p) })
		}
	}
}
