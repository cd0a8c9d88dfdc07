package model

import (
	"context"
	"testing"

	"glimpse/compute"
	"glimpse/compute/cpu"
)

// TestAllocPacked checks the storage mapped for packed tensors: the word
// and scale counts of each format (quant.go), zeroed, and writable to the
// end.
func TestAllocPacked(t *testing.T) {
	cases := []struct {
		dt            compute.DType
		n             int
		words, scales int
	}{
		{compute.Q4K, 512, 72, 0}, // two super-blocks of 36 words
		{compute.Q8, 96, 24, 3},   // 4 values a word, a scale per 32
		{compute.Q4, 64, 8, 2},    // 8 values a word
		{compute.F16, 5, 3, 0},    // 2 values a word, the last half empty
		{compute.BF16, 0, 0, 0},
	}
	for _, c := range cases {
		h, err := allocPacked(c.dt, c.n)
		if err != nil {
			t.Fatalf("%v × %d: %v", c.dt, c.n, err)
		}
		if len(h.words) != c.words || len(h.scales) != c.scales {
			t.Errorf("%v × %d: %d words and %d scales, want %d and %d", c.dt, c.n, len(h.words), len(h.scales), c.words, c.scales)
		}
		for i, w := range h.words {
			if w != 0 {
				t.Errorf("%v × %d: word %d = %#x, want zero", c.dt, c.n, i, w)
			}
			h.words[i] = 0xffffffff
		}
		for i, s := range h.scales {
			if s != 0 {
				t.Errorf("%v × %d: scale %d = %v, want zero", c.dt, c.n, i, s)
			}
			h.scales[i] = -1
		}
		if c.words > 0 && h.words[c.words-1] != 0xffffffff {
			t.Errorf("%v × %d: the last word did not keep what was written", c.dt, c.n)
		}
		h.free()
		if h.words != nil || h.scales != nil {
			t.Errorf("%v × %d: free left the slices", c.dt, c.n)
		}
	}
}

// TestLoadPacksOffHeap loads the Vicuna fixture on the CPU engine at each
// precision and checks that every tensor the engine keeps packed (all but
// float32) reads storage outside the Go heap that the model frees on Close,
// and that float32 tensors, which the engine copies, take none.
func TestLoadPacksOffHeap(t *testing.T) {
	f := loadFixtures(t)[1]
	be := cpu.New()
	defer be.Close()
	for _, p := range []Precision{FP32, FP16, Q8, Q4} {
		m, err := Load(context.Background(), be, f.dir, LoadOptions{Mix: p})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		packed := 0
		for _, w := range m.weights.tensors {
			if w.DType() != compute.F32 {
				packed++
			}
		}
		if len(m.weights.host) != packed || (p != FP32 && packed == 0) || (p == FP32 && packed != 0) {
			t.Errorf("%s: %d tensors in storage outside the heap, %d packed tensors (fp32: none)", p, len(m.weights.host), packed)
		}
		m.Close()
	}
}
