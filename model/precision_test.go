package model

import (
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
		{Q4, "language_model.model.layers.0.mlp.down_proj.weight", []int{4096, 11008}, compute.Q8},
		{Q4, "language_model.model.layers.5.mlp.down_proj.weight", []int{4096, 11008}, compute.Q4K},
		{Q4, "language_model.model.layers.6.mlp.down_proj.weight", []int{4096, 11008}, compute.Q8},
		{Q4, "language_model.model.layers.8.self_attn.v_proj.weight", []int{4096, 4096}, compute.Q4K},
		{Q4, "language_model.model.layers.9.self_attn.v_proj.weight", []int{4096, 4096}, compute.Q8},
		{Q4, "language_model.model.layers.31.self_attn.v_proj.weight", []int{4096, 4096}, compute.Q8},
		{Q4, "language_model.model.embed_tokens.weight", []int{32064, 4096}, compute.Q8},
		{Q4, "language_model.lm_head.weight", []int{32064, 4096}, compute.Q8},
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
	}
	for _, tc := range tests {
		if got := tc.p.dtypeFor(tc.name, tc.shape, layers); got != tc.want {
			t.Errorf("%v: %s %v stored as %v, want %v", tc.p, tc.name, tc.shape, got, tc.want)
		}
	}
}
