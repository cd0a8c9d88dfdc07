package model

import (
	"context"
	"fmt"
	"testing"

	"glimpse/compute"
)

// TestPrecisionMix checks which dtype each policy gives the tensors that
// docs/precision.md names, at real widths (Vicuna-7B, Flan-T5-XL, ViT-g).
func TestPrecisionMix(t *testing.T) {
	names := []string{}
	for i := 0; i < 32; i++ {
		names = append(names, fmt.Sprintf("language_model.model.layers.%d.mlp.down_proj.weight", i))
	}
	layers := stackLayers(names)
	tests := []struct {
		p     Precision
		name  string
		shape []int
		want  compute.DType
	}{
		{FP32, "language_model.model.layers.3.self_attn.q_proj.weight", []int{4096, 4096}, compute.F32},
		{FP16, "vision_model.encoder.layers.0.mlp.fc1.weight", []int{6144, 1408}, compute.F16},
		{Q8, "language_model.model.layers.3.self_attn.q_proj.weight", []int{4096, 4096}, compute.Q8},
		{Q8, "vision_model.embeddings.patch_embedding.weight", []int{1408, 588}, compute.F16},
		{Q4, "language_model.model.layers.3.self_attn.q_proj.weight", []int{4096, 4096}, compute.Q4K},
		{Q4, "language_model.model.layers.3.mlp.up_proj.weight", []int{11008, 4096}, compute.Q4K},
		// use_more_bits for 32 layers: 0–3, 28–31 and 6, 9, 12, … (i−4)%3 == 2.
		{Q4, "language_model.model.layers.0.mlp.down_proj.weight", []int{4096, 11008}, compute.Q6K},
		{Q4, "language_model.model.layers.5.mlp.down_proj.weight", []int{4096, 11008}, compute.Q4K},
		{Q4, "language_model.model.layers.6.mlp.down_proj.weight", []int{4096, 11008}, compute.Q6K},
		{Q4, "language_model.model.layers.8.self_attn.v_proj.weight", []int{4096, 4096}, compute.Q4K},
		{Q4, "language_model.model.layers.9.self_attn.v_proj.weight", []int{4096, 4096}, compute.Q6K},
		{Q4, "language_model.model.layers.31.self_attn.v_proj.weight", []int{4096, 4096}, compute.Q6K},
		{Q4, "language_model.model.embed_tokens.weight", []int{32064, 4096}, compute.Q8},
		{Q4, "language_model.lm_head.weight", []int{32064, 4096}, compute.Q6K},
		{Q4, "language_model.encoder.block.2.layer.0.SelfAttention.q.weight", []int{2048, 2048}, compute.Q4K},
		{Q4, "language_model.encoder.block.2.layer.0.SelfAttention.o.weight", []int{2048, 2048}, compute.Q8},
		{Q4, "language_model.decoder.block.2.layer.1.EncDecAttention.o.weight", []int{2048, 2048}, compute.Q8},
		{Q4, "language_model.decoder.block.2.layer.2.DenseReluDense.wi_0.weight", []int{5120, 2048}, compute.Q4K},
		{Q4, "language_model.decoder.block.2.layer.2.DenseReluDense.wo.weight", []int{2048, 5120}, compute.Q8},
		{Q4, "language_model.shared.weight", []int{32128, 2048}, compute.Q8},
		{Q4, "vision_model.encoder.layers.0.mlp.fc1.weight", []int{6144, 1408}, compute.Q8},
		{Q4, "qformer.encoder.layer.0.attention.attention.query.weight", []int{768, 768}, compute.Q8},
		{Q4, "language_projection.weight", []int{4096, 768}, compute.Q8},
		// Rows that are no whole super-block fall back to Q8.
		{Q4, "language_model.model.layers.3.self_attn.q_proj.weight", []int{128, 128}, compute.Q8},
		{Q4, "language_model.model.layers.0.mlp.down_proj.weight", []int{128, 352}, compute.Q8},
		{Q4, "language_model.lm_head.weight", []int{32128, 2080}, compute.Q8},
	}
	for _, tc := range tests {
		if got := tc.p.dtypeFor(tc.name, tc.shape, layers); got != tc.want {
			t.Errorf("%v: %s %v stored as %v, want %v", tc.p, tc.name, tc.shape, got, tc.want)
		}
	}
}

// TestWeightBytes checks the bytes a loaded model reports against the
// formats' definitions (docs/precision.md: F32 4 bytes a weight, F16 2,
// Q8 32 bytes and a float32 scale per 32 weights, Q4K 144 bytes per 256,
// Q6K 212 per 256),
// and, in fp32, against the checkpoint's own float32 bytes.
func TestWeightBytes(t *testing.T) {
	perWeight := map[compute.DType]float64{compute.F32: 4, compute.F16: 2, compute.Q8: 36.0 / 32, compute.Q4K: 144.0 / 256, compute.Q6K: 212.0 / 256}
	f := loadFixtures(t)[0]
	var checkpoint int64
	got := map[Precision]int64{}
	for _, p := range []Precision{FP32, FP16, Q8, Q4} {
		m, err := Load(context.Background(), sharedBackend(t, "cpu"), f.dir, LoadOptions{Mix: p, Progress: func(lp LoadProgress) { checkpoint = lp.TotalBytes }})
		if err != nil {
			t.Fatal(err)
		}
		want := 0.0
		for _, w := range m.weights.tensors {
			b, ok := perWeight[w.DType()]
			if !ok {
				t.Fatalf("%v: a tensor of unexpected dtype %v", p, w.DType())
			}
			want += b * float64(compute.NumElements(w.Shape()))
		}
		got[p] = m.WeightBytes()
		m.Close()
		if float64(got[p]) != want {
			t.Errorf("%v: WeightBytes %d, want %.0f", p, got[p], want)
		}
	}
	if got[FP32] != checkpoint {
		t.Errorf("fp32: WeightBytes %d, but the checkpoint holds %d bytes of float32", got[FP32], checkpoint)
	}
	if !(got[FP16] < got[FP32] && got[Q8] < got[FP16] && got[Q4] <= got[Q8]) {
		t.Errorf("bytes do not shrink with the precision: %v", got)
	}
}
