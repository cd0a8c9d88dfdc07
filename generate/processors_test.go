package generate

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func inf() float32 { return float32(math.Inf(-1)) }

// TestProcessors checks each logits processor on hand-computed cases that
// follow transformers' definitions.
func TestProcessors(t *testing.T) {
	ln := func(ps ...float64) []float32 {
		out := make([]float32, len(ps))
		for i, p := range ps {
			out[i] = float32(math.Log(p))
		}
		return out
	}
	tests := []struct {
		name   string
		p      processor
		seq    []int32
		scores []float32
		want   []float32
	}{
		{
			// Negative scores are multiplied, positive divided; the repeated
			// id 1 is penalised once, and ids outside the scores are ignored.
			name: "repetition penalty", p: repetitionPenalty(2),
			seq: []int32{0, 1, 1, 9}, scores: []float32{2, -2, 3, 1}, want: []float32{1, -4, 3, 1},
		},
		{
			name: "repetition penalty below one rewards", p: repetitionPenalty(0.5),
			seq: []int32{0, 1}, scores: []float32{2, -2, 3}, want: []float32{4, -1, 3},
		},
		{
			// Bigrams seen: (1,2) (2,3) (3,1) (1,2); the tail is 2, which was
			// followed by 3: ban 3.
			name: "no repeat bigram", p: noRepeatNgram(2),
			seq: []int32{1, 2, 3, 1, 2}, scores: []float32{0, 0, 0, 0}, want: []float32{0, 0, 0, inf()},
		},
		{
			// Trigrams: the tail (1,2) was followed by 3 once.
			name: "no repeat trigram", p: noRepeatNgram(3),
			seq: []int32{1, 2, 3, 1, 2}, scores: []float32{0, 0, 0, 0}, want: []float32{0, 0, 0, inf()},
		},
		{
			// The tail (2,1) never occurred before: nothing banned.
			name: "no repeat trigram unseen tail", p: noRepeatNgram(3),
			seq: []int32{1, 2, 3, 2, 1}, scores: []float32{0, 0, 0, 0}, want: []float32{0, 0, 0, 0},
		},
		{
			// transformers bans nothing while cur_len + 1 < n.
			name: "no repeat ngram too short", p: noRepeatNgram(4),
			seq: []int32{1, 1}, scores: []float32{0, 0}, want: []float32{0, 0},
		},
		{
			name: "unigram bans every seen token", p: noRepeatNgram(1),
			seq: []int32{0, 2}, scores: []float32{1, 1, 1}, want: []float32{inf(), 1, inf()},
		},
		{
			name: "min length active", p: minLength(4, []int32{1, 2}),
			seq: []int32{5, 5, 5}, scores: []float32{1, 1, 1}, want: []float32{1, inf(), inf()},
		},
		{
			name: "min length reached", p: minLength(3, []int32{1}),
			seq: []int32{5, 5, 5}, scores: []float32{1, 1, 1}, want: []float32{1, 1, 1},
		},
		{
			// Two prompt tokens, one new: below min_new_tokens 2.
			name: "min new tokens active", p: minNewTokens(2, 2, []int32{0}),
			seq: []int32{7, 7, 3}, scores: []float32{1, 1}, want: []float32{inf(), 1},
		},
		{
			name: "min new tokens reached", p: minNewTokens(2, 1, []int32{0}),
			seq: []int32{7, 7, 3}, scores: []float32{1, 1}, want: []float32{1, 1},
		},
		{
			name: "suppress", p: suppress([]int32{0, 3, 99}),
			scores: []float32{1, 2, 3, 4}, want: []float32{inf(), 2, 3, inf()},
		},
		{
			name: "temperature", p: temperature(0.5),
			scores: []float32{1, -2, 0.25}, want: []float32{2, -4, 0.5},
		},
		{
			// Ties with the k-th value are kept (transformers compares with <).
			name: "top-k keeps ties", p: topK(2, 1),
			scores: []float32{1, 3, 2, 2, 0}, want: []float32{inf(), 3, 2, 2, inf()},
		},
		{
			name: "top-k raised to min tokens", p: topK(1, 2),
			scores: []float32{1, 3, 2}, want: []float32{inf(), 3, 2},
		},
		{
			name: "top-k larger than vocab", p: topK(10, 1),
			scores: []float32{1, 3}, want: []float32{1, 3},
		},
		{
			// Ascending cumulative probabilities 0.05 0.2 0.5 1: top_p 0.8
			// drops those at most 0.2, i.e. 0.05 and 0.15.
			name: "top-p 0.8", p: topP(0.8, 1),
			scores: ln(0.5, 0.15, 0.3, 0.05), want: append(ln(0.5), inf(), float32(math.Log(0.3)), inf()),
		},
		{
			name: "top-p 0.9", p: topP(0.9, 1),
			scores: ln(0.5, 0.15, 0.3, 0.05), want: append(ln(0.5, 0.15, 0.3), inf()),
		},
		{
			// A tiny top_p keeps min_tokens_to_keep tokens.
			name: "top-p keeps min tokens", p: topP(0.01, 2),
			scores: ln(0.5, 0.15, 0.3, 0.05), want: []float32{float32(math.Log(0.5)), inf(), float32(math.Log(0.3)), inf()},
		},
		{
			// Tokens already at -inf (after top-k) count among
			// transformers' top min_tokens_to_keep only if the finite
			// ones run out: here all finite tokens stay.
			name: "top-p keep beyond finite tokens", p: topP(0.01, 3),
			scores: []float32{inf(), 1, inf(), 2}, want: []float32{inf(), 1, inf(), 2},
		},
		{
			name: "top-p ignores -inf tokens", p: topP(0.8, 1),
			scores: append(ln(0.5, 0.15, 0.3, 0.05), inf()), want: []float32{float32(math.Log(0.5)), inf(), float32(math.Log(0.3)), inf(), inf()},
		},
		{
			name: "top-p 1 keeps all", p: topP(1, 1),
			scores: ln(0.5, 0.5), want: ln(0.5, 0.5),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := slices.Clone(tc.scores)
			tc.p(tc.seq, got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestProcessorOrder checks that the warpers run after the processors and
// temperature before top-p, as in transformers. min_length bans EOS (token
// 2), leaving (0.5, 0.3): top_p 0.7 alone would keep both (0.3/0.8 = 0.375
// > 1-0.7), but temperature 0.5 first sharpens them to (25, 9)/34, and
// 9/34 = 0.265 <= 0.3 drops token 1.
func TestProcessorOrder(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DoSample = true
	cfg.Temperature = 0.5
	cfg.TopK = 0
	cfg.TopP = 0.7
	cfg.RepetitionPenalty = 2
	cfg.EOS = []int32{2}
	procs := buildProcessors(cfg, 1, 5)
	if len(procs) != 4 { // repetition, min_length, temperature, top-p
		t.Fatalf("%d processors, want 4", len(procs))
	}
	scores := []float32{float32(math.Log(0.5)), float32(math.Log(0.3)), float32(math.Log(0.2))}
	seq := []int32{7}
	for _, p := range procs {
		p(seq, scores)
	}
	// min_length 5 > len(seq) bans EOS (2); temperature then top-p keep 0.
	if !math.IsInf(float64(scores[1]), -1) || !math.IsInf(float64(scores[2]), -1) || math.IsInf(float64(scores[0]), 0) {
		t.Errorf("scores %v: want only token 0 left", scores)
	}
}

// TestMultinomial draws many samples from a known distribution and checks
// the frequencies; zero-probability tokens are never drawn.
func TestMultinomial(t *testing.T) {
	probs := []float32{0.5, 0, 0.3, 0.2}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 200000
	counts := make([]int, len(probs))
	for range n {
		counts[multinomial(rng, probs)]++
	}
	for i, p := range probs {
		got := float64(counts[i]) / n
		// Three standard deviations of a binomial proportion at n=200000 is
		// under 0.004.
		if math.Abs(got-float64(p)) > 0.004 {
			t.Errorf("token %d drawn %.4f of the time, want %.2f", i, got, p)
		}
	}
	if counts[1] != 0 {
		t.Errorf("zero-probability token drawn %d times", counts[1])
	}
}

// TestSampleWithoutReplacement checks distinct draws and the fallback when
// too few tokens have probability.
func TestSampleWithoutReplacement(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	got := sampleWithoutReplacement(rng, []float32{0.1, 0.6, 0, 0.3}, 4)
	if len(got) != 4 {
		t.Fatalf("got %v, want 4 indices", got)
	}
	seen := map[int]bool{}
	for _, i := range got {
		if seen[i] {
			t.Fatalf("index %d drawn twice: %v", i, got)
		}
		seen[i] = true
	}
	if got[3] != 2 {
		t.Errorf("the zero-probability index must come last, got %v", got)
	}
	// The first draw follows the distribution.
	first := make([]int, 4)
	for range 20000 {
		first[sampleWithoutReplacement(rng, []float32{0.1, 0.6, 0, 0.3}, 2)[0]]++
	}
	if f := float64(first[1]) / 20000; math.Abs(f-0.6) > 0.02 {
		t.Errorf("index 1 drawn first %.3f of the time, want 0.6", f)
	}
}

func TestTopKIndices(t *testing.T) {
	tests := []struct {
		x    []float32
		k    int
		want []int
	}{
		{[]float32{1, 5, 3, 5, 2}, 3, []int{1, 3, 2}},
		{[]float32{1, 5, 3, 5, 2}, 1, []int{1}},
		{[]float32{0, 0, 0}, 2, []int{0, 1}},
		{[]float32{2, 1}, 5, []int{0, 1}},
		{[]float32{inf(), -1, inf()}, 2, []int{1, 0}},
	}
	for _, tc := range tests {
		if got := topKIndices(tc.x, tc.k); !slices.Equal(got, tc.want) {
			t.Errorf("topKIndices(%v, %d) = %v, want %v", tc.x, tc.k, got, tc.want)
		}
	}
}

func TestLogSoftmax(t *testing.T) {
	x := []float32{1, 2, 3, float32(math.Inf(-1))}
	got := logSoftmax32(x)
	lse := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(3))
	for i := range 3 {
		if want := float64(x[i]) - lse; math.Abs(float64(got[i])-want) > 1e-6 {
			t.Errorf("log_softmax[%d] = %v, want %v", i, got[i], want)
		}
	}
	if !math.IsInf(float64(got[3]), -1) {
		t.Errorf("log_softmax(-inf) = %v", got[3])
	}
}

// TestKthLargest compares the heap selection with sorting on random data
// with many ties.
func TestKthLargest(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for range 200 {
		n := 1 + rng.IntN(60)
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.IntN(10)) // ties on purpose
		}
		sorted := slices.Clone(x)
		slices.Sort(sorted)
		for k := 1; k <= n; k++ {
			if got, want := kthLargest(x, k), sorted[n-k]; got != want {
				t.Fatalf("kthLargest(%v, %d) = %v, want %v", x, k, got, want)
			}
		}
	}
}
