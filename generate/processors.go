package generate

import (
	"cmp"
	"math"
	"slices"
)

// A processor rewrites one sequence's next-token scores in place, as a
// transformers LogitsProcessor does for one row of its batch. seq is the
// whole sequence so far (prefix included), which is what transformers
// passes as input_ids.
type processor func(seq []int32, scores []float32)

var negInf = float32(math.Inf(-1))

// buildProcessors lists the processors generate() would use, in the order of
// transformers 5.17's _get_logits_processor: repetition penalty,
// no_repeat_ngram, min_length, min_new_tokens, suppress_tokens, then (only
// when sampling) the temperature, top-k and top-p warpers.
func buildProcessors(cfg Config, prefixLen, minLen int) []processor {
	var ps []processor
	if cfg.RepetitionPenalty != 1 {
		ps = append(ps, repetitionPenalty(float32(cfg.RepetitionPenalty)))
	}
	if cfg.NoRepeatNgramSize > 0 {
		ps = append(ps, noRepeatNgram(cfg.NoRepeatNgramSize))
	}
	if minLen > 0 && len(cfg.EOS) > 0 {
		ps = append(ps, minLength(minLen, cfg.EOS))
	}
	if cfg.MinNewTokens > 0 && len(cfg.EOS) > 0 {
		ps = append(ps, minNewTokens(prefixLen, cfg.MinNewTokens, cfg.EOS))
	}
	if len(cfg.Suppress) > 0 {
		ps = append(ps, suppress(cfg.Suppress))
	}
	if cfg.DoSample {
		// Beam sampling keeps one token more than there are EOS ids, so a
		// beam always has a continuation that is not an end.
		keep := 1
		if cfg.NumBeams > 1 {
			keep = max(len(cfg.EOS), 1) + 1
		}
		if cfg.Temperature != 1 {
			ps = append(ps, temperature(float32(cfg.Temperature)))
		}
		if cfg.TopK != 0 {
			ps = append(ps, topK(cfg.TopK, keep))
		}
		if cfg.TopP < 1 {
			ps = append(ps, topP(cfg.TopP, keep))
		}
	}
	return ps
}

// repetitionPenalty is RepetitionPenaltyLogitsProcessor: every id present in
// the sequence has its score multiplied by the penalty when negative and
// divided by it otherwise, once however often the id occurs (transformers
// gathers the scores, then scatters the penalised copies back, so duplicates
// write the same value twice).
func repetitionPenalty(penalty float32) processor {
	return func(seq []int32, scores []float32) {
		seen := make(map[int32]bool, len(seq))
		for _, id := range seq {
			if seen[id] || id < 0 || int(id) >= len(scores) {
				continue
			}
			seen[id] = true
			if s := scores[id]; s < 0 {
				scores[id] = s * penalty
			} else {
				scores[id] = s / penalty
			}
		}
	}
}

// noRepeatNgram is NoRepeatNGramLogitsProcessor (fairseq's rule): the tokens
// that followed earlier occurrences of the sequence's last n-1 tokens are
// banned, so no n-gram appears twice.
func noRepeatNgram(n int) processor {
	return func(seq []int32, scores []float32) {
		for _, next := range ngramBanned(n, seq) {
			if next >= 0 && int(next) < len(scores) {
				scores[next] = negInf
			}
		}
	}
}

// ngramBanned returns the tokens that followed earlier occurrences of
// seq's last n-1 tokens (repeats included): the ids noRepeatNgram bans.
func ngramBanned(n int, seq []int32) []int32 {
	cur := len(seq)
	if cur+1 < n {
		return nil
	}
	var banned []int32
	tail := seq[cur-(n-1):]
	for i := 0; i+n <= cur; i++ {
		if slices.Equal(seq[i:i+n-1], tail) {
			banned = append(banned, seq[i+n-1])
		}
	}
	return banned
}

// minLength is MinLengthLogitsProcessor: no EOS while the sequence (prefix
// included) is shorter than min.
func minLength(min int, eos []int32) processor {
	return func(seq []int32, scores []float32) {
		if len(seq) < min {
			setInf(scores, eos)
		}
	}
}

// minNewTokens is MinNewTokensLengthLogitsProcessor: no EOS before min new
// tokens.
func minNewTokens(prefixLen, min int, eos []int32) processor {
	return func(seq []int32, scores []float32) {
		if len(seq)-prefixLen < min {
			setInf(scores, eos)
		}
	}
}

// suppress is SuppressTokensLogitsProcessor.
func suppress(ids []int32) processor {
	return func(_ []int32, scores []float32) { setInf(scores, ids) }
}

func setInf(scores []float32, ids []int32) {
	for _, id := range ids {
		if id >= 0 && int(id) < len(scores) {
			scores[id] = negInf
		}
	}
}

// temperature is TemperatureLogitsWarper: scores / temperature in float32.
func temperature(t float32) processor {
	return func(_ []int32, scores []float32) {
		for i := range scores {
			scores[i] /= t
		}
	}
}

// topK is TopKLogitsWarper: scores below the k-th largest become -inf (ties
// with the k-th are kept, as transformers compares with <).
func topK(k, keep int) processor {
	k = max(k, keep)
	return func(_ []int32, scores []float32) {
		kth := kthLargest(scores, min(k, len(scores)))
		for i, s := range scores {
			if s < kth {
				scores[i] = negInf
			}
		}
	}
}

// kthLargest returns the k-th largest value (k >= 1), keeping the k largest
// seen so far in a min-heap: O(n log k) instead of sorting.
func kthLargest(x []float32, k int) float32 {
	h := make([]float32, 0, k)
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			if r := l + 1; r < len(h) && h[r] < h[l] {
				l = r
			}
			if !(h[l] < h[i]) {
				return
			}
			h[i], h[l] = h[l], h[i]
			i = l
		}
	}
	for _, v := range x {
		switch {
		case len(h) < k:
			h = append(h, v)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !(h[i] < h[p]) {
					break
				}
				h[i], h[p] = h[p], h[i]
				i = p
			}
		case v > h[0]:
			h[0] = v
			down(0)
		}
	}
	return h[0]
}

// topP is TopPLogitsWarper: sort ascending, take the float32 cumulative
// softmax, and drop the tokens whose cumulative probability is at most
// 1-top_p, always keeping the `keep` most likely. Tokens already at -inf
// (top-k's leftovers) have probability 0, sort first and stay dropped, so
// only the others are sorted.
func topP(p float64, keep int) processor {
	threshold := float32(1 - p)
	type scored struct {
		v  float32
		id int32
	}
	return func(_ []int32, scores []float32) {
		var order []scored
		for i, v := range scores {
			if math.IsInf(float64(v), -1) {
				continue
			}
			order = append(order, scored{v, int32(i)})
		}
		// Ascending by score, then by id, so that ties sort the same way
		// every time.
		slices.SortFunc(order, func(a, b scored) int {
			if c := cmp.Compare(a.v, b.v); c != 0 {
				return c
			}
			return cmp.Compare(a.id, b.id)
		})
		sorted := make([]float32, len(order))
		for i, o := range order {
			sorted[i] = o.v
		}
		probs := softmax32(sorted)
		var cum float32
		// The keep most likely tokens stay; they are the top of order (any
		// -inf among transformers' top keep were -inf already).
		protect := len(order) - keep
		for i, pr := range probs {
			cum += pr
			if cum <= threshold && i < protect {
				scores[order[i].id] = negInf
			}
		}
	}
}

// softmax32 is torch's float32 softmax: exp(x - max) / sum. The sum is
// accumulated in float64 and rounded once, which is at least as close to
// the exact value as torch's vectorised float32 sum.
func softmax32(x []float32) []float32 {
	m := negInf
	for _, v := range x {
		m = max(m, v)
	}
	out := make([]float32, len(x))
	if math.IsInf(float64(m), -1) {
		return out // every score is -inf: nothing can be drawn
	}
	var sum float64
	for i, v := range x {
		e := float32(math.Exp(float64(v - m)))
		out[i] = e
		sum += float64(e)
	}
	s := float32(sum)
	for i := range out {
		out[i] /= s
	}
	return out
}

// logSoftmax32 is torch's float32 log_softmax: (x - max) - log(sum(exp(x - max))).
func logSoftmax32(x []float32) []float32 {
	m := negInf
	for _, v := range x {
		m = max(m, v)
	}
	out := make([]float32, len(x))
	if math.IsInf(float64(m), -1) {
		copy(out, x)
		return out
	}
	var sum float64
	for _, v := range x {
		sum += float64(float32(math.Exp(float64(v - m))))
	}
	lse := float32(math.Log(sum))
	for i, v := range x {
		out[i] = (v - m) - lse
	}
	return out
}

// argmax is torch.argmax: the first index of the largest score.
func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
