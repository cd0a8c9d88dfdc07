package generate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
)

// sample is transformers' _sample: greedy search (argmax) or multinomial
// sampling, one token per live sequence per step. Like transformers it keeps
// stepping sequences that already ended, feeding them PadID, until every
// sequence has ended or the maximum length is reached, so all results have
// the same length.
func (g *search) sample(ctx context.Context, s Session, logits [][]float32) ([]Result, error) {
	rows := g.batch * g.returns
	if g.returns > 1 {
		// transformers expands the batch before the prefill; the copies'
		// logits are identical, so expanding afterwards is the same.
		idx := expand(g.batch, g.returns)
		if err := s.Reorder(idx); err != nil {
			return nil, stepError(ctx, err)
		}
		logits = expandRows(logits, g.returns)
	}
	seqs := make([][]int32, rows)
	for i := range seqs {
		// Room for a typical answer up front; longer ones grow as usual.
		seqs[i] = slices.Grow(slices.Clone(g.prefix[i/g.returns]), min(g.maxLen-g.prefixLen, 256))
	}
	var rng *rand.Rand
	if g.cfg.DoSample {
		rng = rand.New(rand.NewPCG(g.cfg.Seed, 0x676c696d707365)) // "glimpse"
	}
	hasEOS := len(g.cfg.EOS) > 0
	unfinished := make([]bool, rows)
	for i := range unfinished {
		unfinished[i] = true
	}
	streams := make([]textStream, rows)
	maxSteps := g.maxLen - g.prefixLen
	tokens := make([]int32, rows)
	scores := make([]float32, g.vocab)
	// After the first token, a DeviceSelector session picks greedy tokens
	// on its device: picked holds them, and logits stay unread.
	var dev DeviceSelector
	var picked []int32
	tried := false
	for {
		for i := range rows {
			var tok int32
			switch {
			case picked != nil:
				tok = picked[i]
			case g.cfg.DoSample:
				copy(scores, logits[i])
				for _, p := range g.procs {
					p(seqs[i], scores)
				}
				tok = int32(multinomial(rng, softmax32(scores)))
			default:
				copy(scores, logits[i])
				for _, p := range g.procs {
					p(seqs[i], scores)
				}
				tok = int32(argmax(scores))
			}
			if hasEOS && !unfinished[i] {
				tok = g.cfg.PadID
			}
			tokens[i] = tok
			seqs[i] = append(seqs[i], tok)
		}
		step := len(seqs[0]) - g.prefixLen
		atMax := len(seqs[0]) >= g.maxLen
		anyLeft := false
		for i := range rows {
			if !unfinished[i] {
				continue
			}
			ended := atMax || (hasEOS && g.isEOS(tokens[i]))
			unfinished[i] = !ended
			anyLeft = anyLeft || !ended
			g.streamText(&streams[i], i, seqs[i][g.prefixLen:], step, maxSteps, ended)
		}
		if !anyLeft {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !tried {
			tried = true
			// Finished sequences keep being stepped with PadID while the
			// device marks the token it picked for them as seen: only their
			// own (ignored) picks can differ from the host path's.
			dev = g.startDevice(s, seqs, nil, 0)
		}
		var err error
		if dev != nil {
			picked, err = dev.StepArgmax(ctx, tokens, g.eosMasked(len(seqs[0])), g.ngramBans(seqs))
			if err == nil && len(picked) != rows {
				panic(fmt.Sprintf("generate: StepArgmax returned %d tokens for %d live sequences", len(picked), rows))
			}
		} else {
			logits, err = s.Step(ctx, tokens)
			if err == nil {
				g.checkLogits("Step", logits, rows)
			}
		}
		if err != nil {
			return nil, stepError(ctx, err)
		}
	}
	results := make([]Result, rows)
	for i, seq := range seqs {
		gen := seq[g.prefixLen:]
		n := len(gen)
		ended := false
		for j, t := range gen {
			if g.isEOS(t) {
				n, ended = j+1, true
				break
			}
		}
		results[i] = Result{Sequence: seq, NewTokens: n, EOS: ended, Text: g.text(gen)}
	}
	return results, nil
}

// streamText sends sequence i's event for this step, with the text it
// gained (possibly none).
func (g *search) streamText(ts *textStream, i int, generated []int32, step, maxSteps int, final bool) {
	if g.stream == nil {
		return
	}
	var text string
	if g.cfg.Decode != nil {
		ids := g.answer(generated)
		if !final && g.cfg.Partial != nil {
			for len(ids) > 0 && g.cfg.Partial(ids[len(ids)-1]) {
				ids = ids[:len(ids)-1]
			}
		}
		text = ts.next(g.cfg.Decode(ids), final)
	}
	g.emit(Event{Index: i, Text: text, Step: step, MaxSteps: maxSteps, Final: final})
}

// expandRows repeats each logit row n times in place, matching expand.
func expandRows(logits [][]float32, n int) [][]float32 {
	out := make([][]float32, 0, len(logits)*n)
	for _, l := range logits {
		for range n {
			out = append(out, l)
		}
	}
	return out
}

// multinomial draws an index with probability probs[i] (torch.multinomial
// with one sample). probs need not sum exactly to 1.
func multinomial(rng *rand.Rand, probs []float32) int {
	var total float64
	for _, p := range probs {
		total += float64(p)
	}
	if !(total > 0) {
		return argmax(probs)
	}
	u := rng.Float64() * total
	last := 0
	for i, p := range probs {
		if p <= 0 {
			continue
		}
		last = i
		u -= float64(p)
		if u < 0 {
			return i
		}
	}
	return last // rounding left u at or just above 0: the last possible index
}
