package generate

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// beamRow is one batch row's beam search state, the per-row slice of the
// tensors in transformers 5.17's _beam_search.
type beamRow struct {
	running      [][]int32 // num_beams live hypotheses (prefix + generated)
	runningScore []float32 // their summed log-probabilities
	finished     [][]int32 // num_beams best finished hypotheses, best first
	finishedLP   []float32 // their scores (sum / length**length_penalty)
	isFinished   []bool    // whether each finished slot holds a real hypothesis
	improvable   bool      // is_early_stop_heuristic_unsatisfied
}

// beamCand is one of the top-K continuations of a step.
type beamCand struct {
	seq   []int32
	score float32 // summed log-probability including the new token
	beam  int     // the running beam it extends
	hits  bool    // it ends here: EOS, or max_length reached
}

// -1e9 is transformers' "impossible" score; in float32 it is exact.
const veryNegative = float32(-1e9)

// beamSearch is transformers' _beam_search (and beam sampling when
// DoSample), ported operation by operation in float32 so that the same
// candidates win.
func (g *search) beamSearch(ctx context.Context, s Session, logits [][]float32) ([]Result, error) {
	nb := g.beams
	V := g.vocab
	// Keep (number of EOS ids + 1) × num_beams candidates, at least 2 ×
	// num_beams, so num_beams of them are still running even when the top
	// ones all end.
	K := max(2, 1+len(g.cfg.EOS)) * nb
	lp := g.cfg.LengthPenalty
	early := g.cfg.EarlyStopping

	if err := s.Reorder(expand(g.batch, nb)); err != nil {
		return nil, stepError(ctx, err)
	}
	logits = expandRows(logits, nb)

	rows := make([]beamRow, g.batch)
	for b := range rows {
		r := &rows[b]
		r.improvable = true
		for j := range nb {
			r.running = append(r.running, slices.Clone(g.prefix[b]))
			// Only the first beam starts live, so the first step does not
			// pick the same token from num_beams identical copies.
			if j == 0 {
				r.runningScore = append(r.runningScore, 0)
			} else {
				r.runningScore = append(r.runningScore, veryNegative)
			}
			r.finished = append(r.finished, slices.Clone(g.prefix[b]))
			r.finishedLP = append(r.finishedLP, veryNegative)
			r.isFinished = append(r.isFinished, false)
		}
	}

	var rng *rand.Rand
	if g.cfg.DoSample {
		rng = rand.New(rand.NewPCG(g.cfg.Seed, 0x676c696d707365))
	}
	maxSteps := g.maxLen - g.prefixLen
	curLen := g.prefixLen
	acc := make([]float32, nb*V)
	reorder := make([]int32, g.batch*nb)
	tokens := make([]int32, g.batch*nb)
	lps := make([][]float32, g.batch*nb)
	// After the first step, a DeviceSelector session runs b. and c. on its
	// device (greedy beam search only): devScores and devIdx hold each
	// row's K candidates, and logits stay unread.
	var dev DeviceSelector
	var devScores []float32
	var devIdx []int32
	tried := false
	for {
		// b. log-softmax and the processors on log-probabilities, each
		// sequence on its own (in parallel: at a 32k vocabulary this is
		// most of the search's time).
		if dev == nil {
			forEachRow(len(lps), V, func(i int) {
				l := logSoftmax32(logits[i])
				for _, p := range g.procs {
					p(rows[i/nb].running[i%nb], l)
				}
				lps[i] = l
			})
		}
		allHit := true
		for b := range rows {
			r := &rows[b]
			var idx []int
			var score []float32 // the candidates' scores, in idx's order
			if dev != nil {
				score = devScores[b*K : (b+1)*K]
				for _, i := range devIdx[b*K : (b+1)*K] {
					idx = append(idx, int(i))
				}
			} else {
				// Plus the running beam scores, flattened over num_beams × vocab.
				for j := range nb {
					l := lps[b*nb+j]
					base := r.runningScore[j]
					row := acc[j*V : (j+1)*V]
					for v, x := range l {
						row[v] = x + base
					}
				}
				// c. the top K continuations (or K sampled without replacement).
				if rng != nil {
					idx = sampleWithoutReplacement(rng, softmax32(acc), K)
				} else {
					idx = topKIndices(acc, K)
				}
				for _, i := range idx {
					score = append(score, acc[i])
				}
			}
			cands := make([]beamCand, len(idx))
			for k, i := range idx {
				beam, tok := i/V, int32(i%V)
				seq := make([]int32, len(r.running[beam]), len(r.running[beam])+1)
				copy(seq, r.running[beam])
				seq = append(seq, tok)
				// d. stopping criteria on the candidate: max_length or EOS.
				hits := len(seq) >= g.maxLen || g.isEOS(tok)
				cands[k] = beamCand{seq: seq, score: score[k], beam: beam, hits: hits}
				allHit = allHit && hits
			}
			// e. the best num_beams candidates that did not end keep running.
			runLP := make([]float32, len(cands))
			for k, c := range cands {
				runLP[k] = c.score
				if c.hits {
					runLP[k] += veryNegative
				}
			}
			sel := topKIndices(runLP, nb)
			newRunning := make([][]int32, nb)
			newScore := make([]float32, nb)
			for j, k := range sel {
				newRunning[j] = cands[k].seq
				newScore[j] = runLP[k]
				reorder[b*nb+j] = int32(b*nb + cands[k].beam)
				tokens[b*nb+j] = cands[k].seq[len(cands[k].seq)-1]
			}
			// f. candidates among the top num_beams that just ended join the
			// finished hypotheses if they beat them.
			g.updateFinished(r, cands, curLen)
			r.running, r.runningScore = newRunning, newScore
		}
		curLen++
		g.emit(Event{Index: -1, Step: curLen - g.prefixLen, MaxSteps: maxSteps})

		// g. stopping: can any row still improve, is any beam still open,
		// and is there any continuation left?
		improvable, allFinished := false, true
		for b := range rows {
			r := &rows[b]
			r.improvable = r.improvable && g.canImprove(r, curLen, lp, early)
			improvable = improvable || r.improvable
			for _, f := range r.isFinished {
				allFinished = allFinished && f
			}
		}
		openBeam := !(allFinished && early == EarlyStopAll)
		if !(improvable && openBeam && !allHit) {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !isIdentity(reorder, len(reorder)) {
			if err := s.Reorder(reorder); err != nil {
				return nil, stepError(ctx, err)
			}
		}
		live := make([][]int32, 0, g.batch*nb)
		for b := range rows {
			live = append(live, rows[b].running...)
		}
		if !tried {
			tried = true
			scores := make([]float32, 0, g.batch*nb)
			for b := range rows {
				scores = append(scores, rows[b].runningScore...)
			}
			dev = g.startDevice(s, live, scores, K)
		}
		var err error
		if dev != nil {
			devScores, devIdx, err = dev.StepBeams(ctx, tokens, g.eosMasked(curLen), g.ngramBans(live))
			if err == nil && (len(devScores) != g.batch*K || len(devIdx) != g.batch*K) {
				panic(fmt.Sprintf("generate: StepBeams returned %d scores and %d indices for %d rows of %d candidates", len(devScores), len(devIdx), g.batch, K))
			}
		} else {
			logits, err = s.Step(ctx, tokens)
			if err == nil {
				g.checkLogits("Step", logits, g.batch*nb)
			}
		}
		if err != nil {
			return nil, stepError(ctx, err)
		}
	}
	return g.beamResults(rows), nil
}

// updateFinished is _update_finished_beams for one batch row, with
// transformers' float32 arithmetic: the candidates' scores are divided by
// length**length_penalty, pushed to -1e9 when they may not be added, and
// merged with the current finished hypotheses by a top-num_beams.
func (g *search) updateFinished(r *beamRow, cands []beamCand, curLen int) {
	nb := g.beams
	denom := float32(math.Pow(float64(curLen+1-g.prefixLen), g.cfg.LengthPenalty))
	full := g.cfg.EarlyStopping == EarlyStopAll && !slices.Contains(r.isFinished, false)
	scores := make([]float32, 0, nb+len(cands))
	scores = append(scores, r.finishedLP...)
	justFinished := make([]bool, len(cands))
	for k, c := range cands {
		s := c.score / denom
		if full {
			s += veryNegative
		}
		if !r.improvable {
			s += veryNegative
		}
		// Only the top num_beams candidates may finish; the others exist to
		// keep num_beams beams running.
		justFinished[k] = c.hits && k < nb
		if !justFinished[k] {
			s += veryNegative
		}
		scores = append(scores, s)
	}
	sel := topKIndices(scores, nb)
	seqs := make([][]int32, nb)
	lps := make([]float32, nb)
	done := make([]bool, nb)
	for j, i := range sel {
		lps[j] = scores[i]
		if i < nb {
			seqs[j], done[j] = r.finished[i], r.isFinished[i]
		} else {
			seqs[j], done[j] = cands[i-nb].seq, justFinished[i-nb]
		}
	}
	r.finished, r.finishedLP, r.isFinished = seqs, lps, done
}

// canImprove is _check_early_stop_heuristic for one row: can the best
// running beam, scored at its best hypothetical length, still beat the worst
// finished hypothesis? Rows with an empty finished slot always can.
func (g *search) canImprove(r *beamRow, curLen int, lp float64, early EarlyStopping) bool {
	length := curLen - g.prefixLen
	if early == EarlyStopNever && lp > 0 {
		length = g.maxLen - g.prefixLen
	}
	best := r.runningScore[0] / float32(math.Pow(float64(length), lp))
	worst := slices.Min(r.finishedLP)
	for _, f := range r.isFinished {
		w := veryNegative
		if f {
			w = worst
		}
		if best > w {
			return true
		}
	}
	return false
}

// beamResults takes the num_return_sequences best finished hypotheses of each
// row and crops or fills them to one length, as transformers does: the
// longest returned hypothesis sets the length, and shorter ones are filled
// with pad_token_id, or eos_token_id[0] when the pad id is 0 (transformers
// writes `pad_token_id or eos_token_id[0]`).
func (g *search) beamResults(rows []beamRow) []Result {
	fill := int32(-1)
	if len(g.cfg.EOS) > 0 {
		fill = g.cfg.PadID
		if fill == 0 {
			fill = g.cfg.EOS[0]
		}
	}
	var results []Result
	longest := 0
	for b := range rows {
		for j := range g.returns {
			seq := rows[b].finished[j]
			gen := seq[g.prefixLen:]
			longest = max(longest, len(gen))
			results = append(results, Result{
				Sequence:  seq,
				NewTokens: len(gen),
				EOS:       len(gen) > 0 && g.isEOS(gen[len(gen)-1]),
				Score:     rows[b].finishedLP[j],
				Text:      g.text(gen),
			})
		}
	}
	for i := range results {
		seq := slices.Clone(results[i].Sequence)
		for len(seq) < g.prefixLen+longest {
			seq = append(seq, fill)
		}
		results[i].Sequence = seq
		g.emit(Event{Index: i, Text: results[i].Text, Step: results[i].NewTokens, MaxSteps: g.maxLen - g.prefixLen, Final: true})
	}
	return results
}

// forEachRow runs fn(0..n-1), spread over the CPUs when the rows are long
// enough to be worth it. fn must only touch row i's data.
func forEachRow(n, width int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers < 2 || n*width < 1<<16 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// topKIndices returns the indices of the k largest values, largest first;
// equal values keep index order (the lower index first).
func topKIndices(x []float32, k int) []int {
	k = min(k, len(x))
	top := make([]int, 0, k+1)
	for i, v := range x {
		if len(top) == k && !(v > x[top[k-1]]) {
			continue
		}
		// Insert after every kept value >= v, so ties stay in index order.
		pos := len(top)
		for pos > 0 && x[top[pos-1]] < v {
			pos--
		}
		top = slices.Insert(top, pos, i)
		if len(top) > k {
			top = top[:k]
		}
	}
	return top
}

// sampleWithoutReplacement draws k distinct indices with probabilities
// proportional to probs, in draw order (torch.multinomial with
// replacement=False). If fewer than k indices have positive probability,
// where torch would raise, the rest are the best remaining by probability.
func sampleWithoutReplacement(rng *rand.Rand, probs []float32, k int) []int {
	p := slices.Clone(probs)
	out := make([]int, 0, k)
	for len(out) < k && len(out) < len(p) {
		var total float64
		for _, v := range p {
			if v > 0 {
				total += float64(v)
			}
		}
		if !(total > 0) {
			break
		}
		i := multinomial(rng, p)
		out = append(out, i)
		p[i] = 0
	}
	if len(out) < k {
		taken := make(map[int]bool, len(out))
		for _, i := range out {
			taken[i] = true
		}
		order := make([]int, len(probs))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(probs[b], probs[a]) })
		for _, i := range order {
			if len(out) == k {
				break
			}
			if !taken[i] {
				out = append(out, i)
			}
		}
	}
	return out
}
