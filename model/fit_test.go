package model

import (
	"context"
	"errors"
	"testing"

	"glimpse/checkpoint/synthetic"
)

// handMatrix is count weight matrices of rows × k in a hand count of a
// checkpoint. keep8 marks the ones the q4 mix keeps at 8 bits, keep6 the
// ones it stores as Q6K.
type handMatrix struct {
	rows, k, count int
	keep8, keep6   bool
}

// handBytes is, from the formats' definitions (docs/precision.md), what
// matrices and floats (float32 tensors: norms, biases, added embeddings)
// take in precision p: F32 4 bytes a weight, F16 2, Q8 36 bytes per 32
// weights (needs rows of whole blocks of 32, else F16), Q4K 144 bytes per
// 256 and Q6K 212 (both need rows of whole super-blocks of 256, else Q8).
func handBytes(p Precision, mats []handMatrix, floats int64) int64 {
	total := 4 * floats
	for _, m := range mats {
		n := int64(m.rows) * int64(m.k) * int64(m.count)
		q8 := 2 * n
		if m.k%32 == 0 {
			q8 = n * 36 / 32
		}
		switch {
		case p == FP32:
			total += 4 * n
		case p == FP16:
			total += 2 * n
		case p == Q8, m.keep8, m.k%256 != 0:
			total += q8
		case m.keep6:
			total += n * 212 / 256
		default:
			total += n * 144 / 256
		}
	}
	return total
}

// imageSide is the vision encoder (ViT-g: 39 layers of 1408, MLP 6144, 257
// tokens, 14×14 patches), the query tokens, the Q-Former (BERT-base: 12
// layers of 768, MLP 3072, cross-attention to 1408 in every second layer,
// 30523 tokens, 512 positions) and the projection to hidden, counted by hand
// as the Hub's checkpoints hold them. All of it stays at 8 bits in q4.
func imageSide(hidden int) ([]handMatrix, int64) {
	mats := []handMatrix{
		{1408, 3 * 14 * 14, 1, true, false}, // patch embedding: 588 is no whole block, so F16 in q8 and q4
		{1408, 1408, 39 * 4, true, false},   // query, key, value (the fused qkv in thirds), projection
		{6144, 1408, 39, true, false},       // fc1
		{1408, 6144, 39, true, false},       // fc2
		{30523, 768, 1, true, false},        // word embeddings
		{768, 768, 12 * 4, true, false},     // self-attention query, key, value, output
		{768, 768, 6 * 2, true, false},      // cross-attention query and output
		{768, 1408, 6 * 2, true, false},     // cross-attention key and value
		{3072, 768, 12 * 2, true, false},    // intermediate and intermediate_query
		{768, 3072, 12 * 2, true, false},    // output and output_query
		{hidden, 768, 1, true, false},       // language projection
	}
	vision := int64(1408 + 257*1408 + 1408 + // class and position embeddings, patch bias
		39*(2*1408+1408+1408+1408+2*1408+6144+1408) + // norms, q and v biases, projection, fc1 and fc2 biases
		2*1408) // post-layernorm
	query := int64(32 * 768)
	qformer := int64(512*768 + 2*768 + // position embeddings, embedding norm
		12*(4*768+2*768) + // self-attention biases and norm
		6*(4*768+2*768) + // cross-attention biases and norm
		12*2*(3072+768+2*768)) // both feed-forwards' biases and norms
	return mats, vision + query + qformer + int64(hidden)
}

// TestPlanWeightBytes checks the plan's weight bytes for the real
// Vicuna-7B and Flan-T5-XL (their config.json and the Hub's tensor list, as
// checkpoint/synthetic writes them) against a count by hand from the
// configs' sizes.
func TestPlanWeightBytes(t *testing.T) {
	vicuna := func() ([]handMatrix, int64) {
		mats, floats := imageSide(4096)
		// 32 layers; llama.cpp's use_more_bits keeps v_proj and down_proj
		// at 6 bits in 16 of them (0–3, 28–31, and 6, 9, …, 27), and
		// lm_head at 6 bits too.
		mats = append(mats,
			handMatrix{32064, 4096, 1, true, false},      // embed_tokens
			handMatrix{32064, 4096, 1, false, true},      // lm_head
			handMatrix{4096, 4096, 32 * 3, false, false}, // q, k, o
			handMatrix{4096, 4096, 16, false, true},      // v in the more-bits layers
			handMatrix{4096, 4096, 16, false, false},     // v elsewhere
			handMatrix{11008, 4096, 32 * 2, false, false},
			handMatrix{4096, 11008, 16, false, true},
			handMatrix{4096, 11008, 16, false, false},
		)
		return mats, floats + 4096 + 32*2*4096 // final norm, two norms a layer
	}
	flanT5XL := func() ([]handMatrix, int64) {
		mats, floats := imageSide(2048)
		// shared (the decoder's embed_tokens falls back to it: one copy) and
		// the untied lm_head; T5 has no biases; the relative position bias
		// tables stay on the host.
		mats = append(mats,
			handMatrix{32128, 2048, 1, true, false},           // shared
			handMatrix{32128, 2048, 1, false, true},           // lm_head
			handMatrix{2048, 2048, 24*3 + 24*6, false, false}, // q, k, v: encoder self, decoder self and cross
			handMatrix{2048, 2048, 24 + 24*2, true, false},    // attention outputs
			handMatrix{5120, 2048, 24*2 + 24*2, false, false}, // wi_0, wi_1
			handMatrix{2048, 5120, 24 + 24, true, false},      // wo
		)
		return mats, floats + 24*2*2048 + 24*3*2048 + 2*2048
	}
	for _, tc := range []struct {
		model string
		count func() ([]handMatrix, int64)
	}{{"vicuna-7b", vicuna}, {"flan-t5-xl", flanT5XL}} {
		plan := syntheticPlan(t, tc.model)
		mats, floats := tc.count()
		for _, p := range []Precision{FP32, FP16, Q8, Q4} {
			if got, want := plan.WeightBytes(p), handBytes(p, mats, floats); got != want {
				t.Errorf("%s %s: %d bytes, by hand %d", tc.model, p, got, want)
			}
		}
	}
}

// syntheticPlan plans a catalogue model from its real config and tensors.
func syntheticPlan(t *testing.T, name string) *Plan {
	t.Helper()
	cfg, err := synthetic.Config(synthetic.Options{Model: name})
	if err != nil {
		t.Fatal(err)
	}
	tensors, err := synthetic.Plan(synthetic.Options{Model: name})
	if err != nil {
		t.Fatal(err)
	}
	var shapes []TensorShape
	for _, x := range tensors {
		shapes = append(shapes, TensorShape{Name: x.Name, Shape: x.Shape})
	}
	plan, err := NewPlan(cfg, shapes)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestPlanMatchesLoad checks that a plan of each fixture says what loading
// it makes: the same weight bytes in every precision, and the same request
// estimates.
func TestPlanMatchesLoad(t *testing.T) {
	requests := []Request{
		{Prompts: 1, Sequences: 1, PromptLen: 40, Positions: 64},
		{Prompts: 2, Sequences: 10, PromptLen: 50, Positions: 300},
	}
	for _, f := range loadFixtures(t) {
		plan, err := PlanFolder(f.dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []Precision{FP32, FP16, Q8, Q4} {
			m, err := Load(context.Background(), sharedBackend(t, "cpu"), f.dir, LoadOptions{Mix: p})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := plan.WeightBytes(p), m.WeightBytes(); got != want {
				t.Errorf("%s %s: the plan says %d bytes, loaded %d", f.name, p, got, want)
			}
			for _, r := range requests {
				if got, want := plan.RequestBytes(p, r), m.RequestBytes(r); got != want {
					t.Errorf("%s %s %+v: the plan says %d bytes, the loaded model %d", f.name, p, r, got, want)
				}
			}
			m.Close()
		}
	}
}

// TestPlanRefusesMismatch checks that a plan, like Load, refuses a
// checkpoint that lacks tensors its config needs.
func TestPlanRefusesMismatch(t *testing.T) {
	cfg, err := synthetic.Config(synthetic.Options{Model: "flan-t5-xl"})
	if err != nil {
		t.Fatal(err)
	}
	tensors, err := synthetic.Plan(synthetic.Options{Model: "flan-t5-xl"})
	if err != nil {
		t.Fatal(err)
	}
	var shapes []TensorShape
	for _, x := range tensors {
		if x.Name != "language_model.lm_head.weight" && x.Name != "language_model.shared.weight" {
			shapes = append(shapes, TensorShape{Name: x.Name, Shape: x.Shape})
		}
	}
	if _, err := NewPlan(cfg, shapes); err == nil || !errors.Is(err, ErrIncomplete) {
		t.Errorf("a checkpoint without its embeddings: %v, want ErrIncomplete", err)
	}
}
