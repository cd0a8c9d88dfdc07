package model

import (
	"context"
	"fmt"

	"glimpse/compute"
)

// Token selection on the device: Session implements generate's
// DeviceSelector, so that after the first token a greedy step reads back
// only the chosen ids and a beam step only each prompt's candidates. The
// processors' state lives in the session's long-lived context: the EOS and
// suppression masks and, with a repetition penalty, the tokens each live
// sequence has seen, built once per request and then updated on the
// device from the ids it selects.

// selector is a request's device selection state.
type selector struct {
	penalty        float32
	k              int            // beam candidates per prompt; 0: greedy
	eos, suppress  compute.Tensor // F32 [V] masks; suppress nil without ids
	seen, seenNext compute.Tensor // F32 [live, V]; nil without a penalty (seenNext: beams only)
	scores         compute.Tensor // F32 [live]: beam search's running scores
}

// idMask makes an F32 [v] tensor of 1 at ids (those in range) in g.
func idMask(g compute.Context, v int, ids []int32) compute.Tensor {
	m := make([]float32, v)
	for _, id := range ids {
		if id >= 0 && int(id) < v {
			m[id] = 1
		}
	}
	return g.FromFloats([]int{v}, m)
}

// SelectStart prepares selection on the device for the live sequences seqs
// (see generate.DeviceSelector). It reports false, leaving the session as
// it was, when the backend selects no tokens, the call does not fit the
// live sequences, or beam search keeps more candidates than the device
// does (compute.MaxBeamCandidates).
func (s *Session) SelectStart(seqs [][]int32, scores []float32, penalty float32, eos, suppress []int32, k int) bool {
	if !s.prefilled || s.closed || s.state == nil || len(seqs) != len(s.rows) || !(penalty > 0) {
		return false
	}
	if !compute.SelectsTokens(s.model.backend) {
		return false
	}
	n, v := len(seqs), s.model.VocabSize()
	if k > 0 {
		b := s.in.Batch()
		if scores == nil || len(scores) != n || b == 0 || n%b != 0 || k < n/b || k > compute.MaxBeamCandidates || k > n/b*v {
			return false
		}
	}
	sel := &selector{penalty: penalty, k: k, eos: idMask(s.ctx, v, eos)}
	if len(suppress) > 0 {
		sel.suppress = idMask(s.ctx, v, suppress)
	}
	if penalty != 1 {
		marks := make([]float32, n*v)
		for i, seq := range seqs {
			for _, id := range seq {
				if id >= 0 && int(id) < v {
					marks[i*v+int(id)] = 1
				}
			}
		}
		sel.seen = s.ctx.FromFloats([]int{n, v}, marks)
		if k > 0 {
			sel.seenNext = s.ctx.Zeros(n, v)
		}
	}
	if k > 0 {
		sel.scores = s.ctx.FromFloats([]int{n}, scores)
	}
	if s.sel != nil {
		s.sel.release()
	}
	s.sel = sel
	return true
}

// release frees the state's tensors before the session's context closes.
func (sel *selector) release() {
	for _, t := range []compute.Tensor{sel.eos, sel.suppress, sel.seen, sel.seenNext, sel.scores} {
		if t != nil {
			t.Release()
		}
	}
}

// stepLogits runs Step's checks and the model's step, returning the logits
// [live, V] left on the device in g, which the caller closes.
func (s *Session) stepLogits(ctx context.Context, what string, tokens []int32) (compute.Context, compute.Tensor, error) {
	if !s.prefilled || s.closed || s.state == nil || s.sel == nil {
		return nil, nil, fmt.Errorf("%w: %s before SelectStart or after Close", ErrSession, what)
	}
	if len(tokens) != len(s.rows) {
		return nil, nil, fmt.Errorf("%w: %d tokens for %d live sequences", ErrSession, len(tokens), len(s.rows))
	}
	vocab := s.model.VocabSize()
	for _, t := range tokens {
		if t < 0 || int(t) >= vocab {
			return nil, nil, fmt.Errorf("%w: token %d is outside the vocabulary of %d", ErrSession, t, vocab)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	g := s.model.backend.NewContext()
	logits := s.state.step(g, tokens)
	return g, g.Reshape(logits, len(s.rows), vocab), nil
}

// options returns the processors' settings for one step.
func (sel *selector) options(maskEOS bool, bans [][]int32) compute.LogitsOptions {
	o := compute.LogitsOptions{Penalty: sel.penalty, Seen: sel.seen, EOS: sel.eos, MaskEOS: maskEOS, Suppress: sel.suppress}
	for i, ids := range bans {
		for _, id := range ids {
			o.Bans = append(o.Bans, int32(i), id)
		}
	}
	return o
}

// StepArgmax appends tokens to the live sequences and returns each one's
// next token chosen greedily on the device (generate.DeviceSelector). The
// chosen tokens are marked as seen there: the next call's tokens are
// expected to be them (a finished sequence's padding is not marked, which
// changes only that sequence's ignored choices).
func (s *Session) StepArgmax(ctx context.Context, tokens []int32, maskEOS bool, bans [][]int32) ([]int32, error) {
	if s.sel != nil && s.sel.k != 0 {
		return nil, fmt.Errorf("%w: StepArgmax after SelectStart for beam search", ErrSession)
	}
	if bans != nil && len(bans) != len(s.rows) {
		return nil, fmt.Errorf("%w: bans for %d of %d live sequences", ErrSession, len(bans), len(s.rows))
	}
	g, x, err := s.stepLogits(ctx, "StepArgmax", tokens)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	o := s.sel.options(maskEOS, bans)
	if o.Penalty != 1 || maskEOS || o.Suppress != nil || len(o.Bans) > 0 {
		x = compute.ProcessLogits(g, x, o)
	}
	ids := compute.ArgmaxMark(g, x, s.sel.seen)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return ids, nil
}

// StepBeams appends tokens to the live sequences and returns each prompt's
// best k candidates (generate.DeviceSelector), advancing the running
// scores and seen tokens on the device to the beams that keep running.
func (s *Session) StepBeams(ctx context.Context, tokens []int32, maskEOS bool, bans [][]int32) ([]float32, []int32, error) {
	if s.sel != nil && s.sel.k == 0 {
		return nil, nil, fmt.Errorf("%w: StepBeams after SelectStart for greedy search", ErrSession)
	}
	if bans != nil && len(bans) != len(s.rows) {
		return nil, nil, fmt.Errorf("%w: bans for %d of %d live sequences", ErrSession, len(bans), len(s.rows))
	}
	sel := s.sel
	if sel != nil && len(s.rows) != sel.scores.Shape()[0] {
		return nil, nil, fmt.Errorf("%w: %d live sequences for %d running beams", ErrSession, len(s.rows), sel.scores.Shape()[0])
	}
	g, x, err := s.stepLogits(ctx, "StepBeams", tokens)
	if err != nil {
		return nil, nil, err
	}
	defer g.Close()
	b := s.in.Batch()
	o := sel.options(maskEOS, bans)
	o.LogSoftmax, o.RowBias = true, sel.scores
	acc := compute.ProcessLogits(g, x, o)
	v := s.model.VocabSize()
	vals, idx := compute.BeamSelect(g, g.Reshape(acc, b, len(s.rows)/b, v), sel.k,
		compute.BeamState{Scores: sel.scores, EOS: sel.eos, Seen: sel.seen, SeenNext: sel.seenNext})
	sel.seen, sel.seenNext = sel.seenNext, sel.seen
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return vals, idx, nil
}
