package generate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// fnSession is a test double for a language model: its next-token logits
// are a pure function of the sequence so far (prompt included), so every
// search can be checked against what that function implies. It records how
// Generate drives it.
type fnSession struct {
	prompts [][]int32
	logits  func(seq []int32) []float32

	live     [][]int32
	prefills int
	steps    int
	reorders [][]int32
	closes   int
	// onStep, when set, runs at the start of each Step (cancellation tests).
	onStep func(ctx context.Context, n int) error
}

func (s *fnSession) Prefill(ctx context.Context) ([][]float32, error) {
	s.prefills++
	s.live = nil
	for _, p := range s.prompts {
		s.live = append(s.live, slices.Clone(p))
	}
	return s.all(), nil
}

func (s *fnSession) Reorder(idx []int32) error {
	next := make([][]int32, len(idx))
	for i, j := range idx {
		if int(j) < 0 || int(j) >= len(s.live) {
			return fmt.Errorf("reorder index %d out of %d live sequences", j, len(s.live))
		}
		next[i] = slices.Clone(s.live[j])
	}
	s.live = next
	s.reorders = append(s.reorders, slices.Clone(idx))
	return nil
}

func (s *fnSession) Step(ctx context.Context, tokens []int32) ([][]float32, error) {
	s.steps++
	if s.onStep != nil {
		if err := s.onStep(ctx, s.steps); err != nil {
			return nil, err
		}
	}
	if len(tokens) != len(s.live) {
		return nil, fmt.Errorf("step with %d tokens for %d live sequences", len(tokens), len(s.live))
	}
	for i, t := range tokens {
		s.live[i] = append(s.live[i], t)
	}
	return s.all(), nil
}

func (s *fnSession) Close() { s.closes++ }

func (s *fnSession) all() [][]float32 {
	out := make([][]float32, len(s.live))
	for i, seq := range s.live {
		out[i] = s.logits(seq)
	}
	return out
}

// toyLM is a deterministic random language model: the logits are a fixed
// random table indexed by the last token and the position, scaled so that
// the distributions are neither flat nor one-hot.
type toyLM struct {
	vocab, positions int
	table            [][]float32
}

func newToyLM(seed uint64, vocab, positions int, scale float64) *toyLM {
	rng := rand.New(rand.NewPCG(seed, 7))
	m := &toyLM{vocab: vocab, positions: positions}
	for range vocab * positions {
		row := make([]float32, vocab)
		for i := range row {
			row[i] = float32(rng.NormFloat64() * scale)
		}
		m.table = append(m.table, row)
	}
	return m
}

func (m *toyLM) logits(seq []int32) []float32 {
	last := int(seq[len(seq)-1]) % m.vocab
	pos := (len(seq) - 1) % m.positions
	return slices.Clone(m.table[last*m.positions+pos])
}

func (m *toyLM) session(prompts ...[]int32) *fnSession {
	return &fnSession{prompts: prompts, logits: m.logits}
}

// probTable is a language model given as next-token probabilities, keyed
// by the generated tokens after the prompt written as token letters
// (names[id] is id's letter); continuations not listed use fallback. Letters
// missing from a distribution have probability 0. Logits are ln(p), so
// log-softmax gives back ln(p) up to float32 rounding.
type probTable struct {
	prefixLen int
	names     string
	probs     map[string]map[byte]float64
	fallback  map[byte]float64
}

func (t *probTable) logits(seq []int32) []float32 {
	key := make([]byte, 0, len(seq))
	for _, id := range seq[t.prefixLen:] {
		key = append(key, t.names[id])
	}
	dist, ok := t.probs[string(key)]
	if !ok {
		dist = t.fallback
	}
	out := make([]float32, len(t.names))
	for id := range out {
		out[id] = float32(math.Log(dist[t.names[id]]))
	}
	return out
}

// constLM returns the same logits at every position.
func constLM(l ...float32) func([]int32) []float32 {
	return func([]int32) []float32 { return slices.Clone(l) }
}
