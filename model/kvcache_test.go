package model

import (
	"context"
	"fmt"
	"math"
	"testing"

	"glimpse/compute"
)

// TestCacheGrowsAndReorders runs the same beam-search-like sequence of
// steps and reorders twice: once in a session reserved for all of it (the
// cache never moves), once in one reserved for a single sequence and one
// position past the prompt, so that the first reorder grows the cache's
// sequences and later steps grow its capacity while the rows index is in
// use. Growing copies keys and values exactly and rebuilds the index, so
// every step's logits must be the same in both, bit for bit. Both
// fixtures (LLaMA and T5 caches), fp32 and fp16 (F32 and F16 caches), CPU
// and GL.
func TestCacheGrowsAndReorders(t *testing.T) {
	reorders := [][]int32{{0, 0, 0}, {1, 0, 2}, {2, 2, 0}, {0, 1, 1}, {1, 2, 0}, {0, 0, 2}}
	for _, backend := range []string{"cpu", "gl"} {
		for _, f := range loadFixtures(t) {
			for _, prec := range []compute.DType{compute.F32, compute.F16} {
				t.Run(fmt.Sprintf("%s/%s/%v", backend, f.name, prec), func(t *testing.T) {
					m := sharedModel(t, backend, f, prec)
					prompt := len(f.golden.Cases[0].InputIDs)
					run := func(positions, sequences int) [][]float32 {
						s, err := m.NewSession(f.inputs(t, 0))
						if err != nil {
							t.Fatal(err)
						}
						defer s.Close()
						if err := s.Reserve(positions, sequences); err != nil {
							t.Fatal(err)
						}
						first, err := s.Prefill(context.Background())
						if err != nil {
							t.Fatal(err)
						}
						all := first
						for step, idx := range reorders {
							if err := s.Reorder(idx); err != nil {
								t.Fatal(err)
							}
							tokens := []int32{int32(5 + step), int32(7 + step), int32(11 + step)}
							logits, err := s.Step(context.Background(), tokens)
							if err != nil {
								t.Fatal(err)
							}
							all = append(all, logits...)
						}
						return all
					}
					// T5's positions are the decoder's: one start token.
					roomy, tight := run(prompt+len(reorders)+1, 3), run(2, 1)
					if len(roomy) != len(tight) {
						t.Fatalf("%d logit rows reserved, %d grown", len(roomy), len(tight))
					}
					for r := range roomy {
						for i, v := range roomy[r] {
							if w := tight[r][i]; math.Float32bits(v) != math.Float32bits(w) {
								t.Fatalf("row %d logit %d: %v with the cache reserved, %v grown", r, i, v, w)
							}
						}
					}
				})
			}
		}
	}
}
