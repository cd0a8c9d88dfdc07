package generate

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
)

// wideLM is a cheap model with a large vocabulary: 16 random rows of
// logits, picked by the last token and the position (a toyLM table at this
// size would hold vocab² floats).
type wideLM struct{ rows [][]float32 }

func newWideLM(vocab int) *wideLM {
	rng := rand.New(rand.NewPCG(1, 2))
	m := &wideLM{}
	for range 16 {
		row := make([]float32, vocab)
		for i := range row {
			row[i] = float32(rng.NormFloat64() * 2)
		}
		m.rows = append(m.rows, row)
	}
	return m
}

func (m *wideLM) logits(seq []int32) []float32 {
	return slices.Clone(m.rows[(int(seq[len(seq)-1])+len(seq))%len(m.rows)])
}

// BenchmarkSearch measures the search itself (log-softmax, processors,
// top-k, bookkeeping) at Vicuna's vocabulary size, with a model that costs
// next to nothing: one op is a whole 32-token generation from a 40-token
// prompt.
func BenchmarkSearch(b *testing.B) {
	lm := newWideLM(32064)
	for _, bc := range []struct {
		name string
		cfg  func() Config
	}{
		{"greedy", func() Config { return greedyConfig(32) }},
		{"beam5_seed_settings", func() Config {
			c := beamConfig(5, 32, 1, EarlyStopHeuristic, 2)
			c.RepetitionPenalty = 1.5
			return c
		}},
		{"sample_top_p", func() Config {
			c := greedyConfig(32)
			c.DoSample, c.TopP = true, 0.9
			return c
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := bc.cfg()
			for b.Loop() {
				s := &fnSession{prompts: [][]int32{make([]int32, 40)}, logits: lm.logits}
				if _, err := Generate(context.Background(), s, s.prompts, cfg, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
