package model

import "testing"

// TestRequestBytes checks the estimate against the published size of
// Vicuna-7B's KV cache, which is F16 (checkpoints.md: 0.5 MiB per token per
// beam in fp16: 32 layers × keys and values × 4096 × 2 bytes), allocated
// once, so that the estimate is the cache plus at most a GiB of
// activations, and that it scales with what the request asks for.
func TestRequestBytes(t *testing.T) {
	const mib = 1 << 20
	vicuna7b := &Model{
		Vision: newVisionModel(VisionParams{Hidden: 1408, Intermediate: 6144, Heads: 16, Layers: 39, ImageSize: 224, PatchSize: 14}),
		Language: newLlama(LlamaParams{Hidden: 4096, Intermediate: 11008, Layers: 32, Heads: 32, KVHeads: 32,
			HeadDim: 128, Vocab: 32064}),
	}
	flanT5XL := &Model{
		Vision: vicuna7b.Vision,
		Language: newT5(T5Params{DModel: 2048, DFF: 5120, DKV: 64, Heads: 32, EncoderLayers: 24, DecoderLayers: 24,
			Vocab: 32128, Gated: true}),
	}
	for _, c := range []struct {
		name     string
		m        *Model
		r        Request
		cacheMiB int64 // the KV cache alone, from the published per-token size
	}{
		{"Vicuna-7B, 5 beams × 256", vicuna7b, Request{Prompts: 1, Sequences: 5, PromptLen: 45, Positions: 256}, 5 * 256 / 2},
		{"Vicuna-7B, greedy × 2048", vicuna7b, Request{Prompts: 1, Sequences: 1, PromptLen: 45, Positions: 2048}, 2048 / 2},
		// T5's decoder cache: 24 blocks × 2 × 2048 × 2 bytes = 192 KiB per position.
		{"Flan-T5-XL, 5 beams × 256", flanT5XL, Request{Prompts: 1, Sequences: 5, PromptLen: 45, Positions: 256}, 5 * 256 * 192 / 1024},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.m.RequestBytes(c.r)
			lo, hi := c.cacheMiB*mib, c.cacheMiB*mib+1024*mib
			if got < lo || got > hi {
				t.Errorf("RequestBytes = %d MiB, want between the cache's %d MiB and %d MiB", got/mib, lo/mib, hi/mib)
			}
			// Ten times the positions: about ten times the cache.
			long := c.r
			long.Positions *= 10
			if g := c.m.RequestBytes(long); g < 10*lo {
				t.Errorf("10× the positions: %d MiB, want at least %d MiB", g/mib, 10*lo/mib)
			}
		})
	}
	// A hostile length is estimated without overflowing.
	huge := vicuna7b.RequestBytes(Request{Prompts: 1, Sequences: 5, PromptLen: 45, Positions: 1 << 31})
	if huge < 5*(1<<31)*mib/2 {
		t.Errorf("2^31 positions × 5 beams: %d bytes, want at least %d", huge, int64(5*(1<<31))*mib/2)
	}
}
