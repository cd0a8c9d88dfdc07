package generate

import "context"

// DeviceSelector is an optional Session interface: a session that keeps
// each step's logits on its device and selects the next tokens there, so
// that a greedy step reads back only the chosen ids and a beam step only
// its candidates (issue #14). The processors and the choice are the host
// path's, computed on the device: repetition penalty, minimum-length EOS
// masking and suppressed ids from state kept on the device, the n-gram bans
// (when no_repeat_ngram_size is set) from the ids the host holds, then
// argmax, or log-softmax plus the running scores and the top candidates.
// model.Session implements it; a Session without it (the test sessions)
// takes the host path. Sampling always takes the host path: it reads the
// logits back to draw from the whole distribution.
type DeviceSelector interface {
	// SelectStart prepares selection on the device, once per request,
	// after the first token was chosen on the host from Prefill's logits.
	// seqs holds every live sequence so far (prefix and tokens, the tokens
	// the next Step appends included); scores their running scores for beam
	// search (nil for greedy search); penalty the repetition penalty (1:
	// off); eos and suppress the EOS and suppressed ids; k the candidates
	// beam search keeps per prompt (0 for greedy search). It reports false
	// when the session cannot select these on its device (then Step is used
	// as before).
	SelectStart(seqs [][]int32, scores []float32, penalty float32, eos, suppress []int32, k int) bool
	// StepArgmax is Step followed by greedy selection: tokens[i] is appended
	// to live sequence i, the processors run (EOS masked when maskEOS;
	// bans[i], when bans is not nil, lists ids banned for sequence i), and
	// each sequence's best token is returned and marked as seen.
	StepArgmax(ctx context.Context, tokens []int32, maskEOS bool, bans [][]int32) ([]int32, error)
	// StepBeams is Step followed by beam search's selection: log-softmax,
	// the processors, plus each sequence's running score, then each
	// prompt's k best (score, beam·vocab + token) over its beams, best
	// first. The device then advances its running scores and seen tokens
	// to the beams transformers keeps running (the best num_beams of the
	// candidates, those ending on EOS pushed down by −1e9), which are the
	// ones the caller continues with Reorder and the next StepBeams.
	StepBeams(ctx context.Context, tokens []int32, maskEOS bool, bans [][]int32) (scores []float32, idx []int32, err error)
}

// startDevice returns s as a DeviceSelector when it is one and accepts
// this request, and nil for the host path (always for sampling).
func (g *search) startDevice(s Session, seqs [][]int32, scores []float32, k int) DeviceSelector {
	d, ok := s.(DeviceSelector)
	if !ok || g.cfg.DoSample {
		return nil
	}
	if !d.SelectStart(seqs, scores, float32(g.cfg.RepetitionPenalty), g.cfg.EOS, g.cfg.Suppress, k) {
		return nil
	}
	return d
}

// eosMasked reports whether the processors forbid EOS for sequences of
// length n (prefix included): min_length or min_new_tokens not reached,
// as minLength and minNewTokens decide it.
func (g *search) eosMasked(n int) bool {
	if len(g.cfg.EOS) == 0 {
		return false
	}
	return (g.minLen > 0 && n < g.minLen) || (g.cfg.MinNewTokens > 0 && n-g.prefixLen < g.cfg.MinNewTokens)
}

// ngramBans returns, for each sequence, the ids noRepeatNgram would ban
// next; nil when no_repeat_ngram_size is off.
func (g *search) ngramBans(seqs [][]int32) [][]int32 {
	if g.cfg.NoRepeatNgramSize <= 0 {
		return nil
	}
	bans := make([][]int32, len(seqs))
	for i, seq := range seqs {
		for _, id := range ngramBanned(g.cfg.NoRepeatNgramSize, seq) {
			if id >= 0 && int(id) < g.vocab {
				bans[i] = append(bans[i], id)
			}
		}
	}
	return bans
}
