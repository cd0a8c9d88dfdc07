package compute

import "fmt"

// Token selection on the device: the logits processors that generation
// applies before it picks a token (transformers' repetition penalty,
// no-repeat n-gram bans, min_length and min_new_tokens EOS masking,
// suppressed tokens), log-softmax, greedy argmax and beam search's top
// candidates, so that a decoding step reads back the chosen ids (and, for
// beams, their scores) instead of the logits [n, vocab] (issue #14).
//
// The operations are functions over a Context rather than Context methods:
// they are optional for a device (LogitsKernel, found by a type assertion
// as ArgmaxKernel is) and a caller asks SelectsTokens before it relies on
// them. They are defined once here, checked and shaped like every other
// operation; the kernels only compute.

// LogitsOptions configures ProcessLogits. Every processor is optional; they
// apply in transformers' order: log-softmax, repetition penalty, bans (the
// n-gram bans, EOS masking and suppression all set scores to −Inf, so their
// order does not matter), then the row bias.
type LogitsOptions struct {
	// LogSoftmax first turns each row into log-probabilities (beam search
	// applies its processors to those; greedy search to the raw logits).
	LogSoftmax bool
	// Penalty is the repetition penalty (1 or 0: off): the score of every
	// token marked in Seen is multiplied by it when negative and divided by
	// it otherwise.
	Penalty float32
	// Seen is F32 [n, V]: non-zero where the token occurs in the row's
	// sequence. Needed when Penalty is on.
	Seen Tensor
	// Bans lists (row, token) pairs whose scores become −Inf: the
	// no-repeat n-gram bans, which the host computes from the ids it holds.
	Bans []int32
	// EOS is F32 [V], non-zero at the end-of-sequence ids; with MaskEOS
	// their scores become −Inf (min_length, min_new_tokens not reached).
	EOS     Tensor
	MaskEOS bool
	// Suppress is F32 [V], non-zero at ids never generated (−Inf).
	Suppress Tensor
	// RowBias is F32 [n], added to every score of its row last: beam
	// search's running scores.
	RowBias Tensor
}

// LogitsParams are a ProcessLogits call's flags, as the kernel gets them.
type LogitsParams struct {
	LogSoftmax bool
	Penalty    float32 // 1: off
	MaskEOS    bool
}

// BeamParams is a BeamSelect call's checked layout: x is [Batch, Beams,
// Vocab], and K candidates are kept per batch entry.
type BeamParams struct {
	Batch, Beams, Vocab, K int
}

// MaxBeamCandidates is the most candidates per batch entry BeamSelect
// keeps: the GPU keeps each invocation's best K in registers.
const MaxBeamCandidates = 64

// BeamNeg is the score beam search gives what may not be chosen
// (transformers' −1e9, exact in float32): BeamSelect adds it to a
// candidate that ends on an EOS id before choosing the running beams.
const BeamNeg = float32(-1e9)

// LogitsKernel is an optional Device interface: token selection on the
// device. Operands come checked by the front (ProcessLogits, ArgmaxMark,
// BeamSelect); absent optional operands are None.
type LogitsKernel interface {
	// ProcessLogits writes out [n, V] = x [n, V] processed as LogitsOptions
	// says: log-softmax (Device.LogSoftmax's formula) when p.LogSoftmax;
	// then, for a token with seen ≠ 0, s·Penalty if s < 0 else s/Penalty;
	// −Inf for the (row, token) pairs of bans, for eos ≠ 0 when p.MaskEOS
	// and for suppress ≠ 0; then + bias[row].
	ProcessLogits(out, x, seen, eos, suppress, bias Operand, bans []int32, p LogitsParams)
	// ArgmaxMark returns each row's argmax (ArgmaxKernel's rules) and, when
	// seen is not None, sets seen[row, id] to 1 on the device.
	ArgmaxMark(x, seen Operand) []int32
	// BeamSelect finds, for each batch entry b, the K best (value, index)
	// of x[b] flattened over beams × vocab (TopK's order: descending,
	// ties to the lower index, NaN last), and returns them as vals and
	// idx [Batch·K]. On the device it then advances the beams as
	// transformers' beam search does: each candidate ending on an EOS id
	// (eos ≠ 0) gets BeamNeg added, the Beams best of those (same order)
	// become the running beams, and beam j of entry b gets scores[b·Beams+j]
	// = that value and, when seen is not None, seenNext's row b·Beams+j =
	// seen's row of the beam it extends with its token set to 1.
	BeamSelect(x, scores, eos, seen, seenNext Operand, p BeamParams) (vals []float32, idx []int32)
}

// SelectsTokens reports whether b's device selects tokens on the device,
// so that ProcessLogits, ArgmaxMark and BeamSelect may be called.
func SelectsTokens(b Backend) bool {
	fb, ok := b.(*backend)
	return ok && fb.logits() != nil
}

// logits returns the device's LogitsKernel, or nil.
func (b *backend) logits() LogitsKernel {
	d := b.dev
	if cd, ok := d.(countedDevice); ok {
		// The front counts for a device without a Counter: unwrap it, and
		// count the kernel's work below.
		k, _ := cd.Device.(LogitsKernel)
		if k == nil {
			return nil
		}
		return countedLogits{k: k, n: cd.n}
	}
	k, _ := d.(LogitsKernel)
	return k
}

// countedLogits counts a LogitsKernel's work for the front's counts: one
// dispatch per call, the bans as an upload, the results as one readback.
type countedLogits struct {
	k LogitsKernel
	n *callCounts
}

func (c countedLogits) ProcessLogits(out, x, seen, eos, suppress, bias Operand, bans []int32, p LogitsParams) {
	c.n.dispatches.Add(1)
	if len(bans) > 0 {
		c.n.uploads.Add(1)
		c.n.uploadBytes.Add(4 * int64(len(bans)))
	}
	c.k.ProcessLogits(out, x, seen, eos, suppress, bias, bans, p)
}

func (c countedLogits) ArgmaxMark(x, seen Operand) []int32 {
	r := c.k.ArgmaxMark(x, seen)
	c.n.dispatches.Add(1)
	c.n.readbacks.Add(1)
	c.n.readbackBytes.Add(4 * int64(len(r)))
	return r
}

func (c countedLogits) BeamSelect(x, scores, eos, seen, seenNext Operand, p BeamParams) ([]float32, []int32) {
	v, i := c.k.BeamSelect(x, scores, eos, seen, seenNext, p)
	c.n.dispatches.Add(1)
	c.n.readbacks.Add(1) // one buffer of (value, index) pairs
	c.n.readbackBytes.Add(4 * int64(len(v)+len(i)))
	return v, i
}

// selectArgs unwraps the context and the device's kernel of op.
func selectArgs(op string, ctx Context) (*context, LogitsKernel) {
	c, ok := ctx.(*context)
	if !ok || c == nil {
		panic(fmt.Sprintf("compute: %s: context %T is not the front's", op, ctx))
	}
	c.live(op)
	k := c.b.logits()
	if k == nil {
		panic(fmt.Sprintf("compute: %s: device %s selects no tokens (ask SelectsTokens first)", op, c.b.dev.Info().Name))
	}
	return c, k
}

// vocabMask unwraps an optional F32 [V] mask of op.
func (c *context) vocabMask(op, what string, t Tensor, v int) Operand {
	if t == nil {
		return Operand{}
	}
	m := c.f32(op+" "+what, t)
	if NumElements(m.shape) != v {
		panic(fmt.Sprintf("compute: %s %s %v: want %d values, one per token", op, what, m, v))
	}
	return m.operand()
}

// ProcessLogits returns x [n, V] (F32, any leading dimensions) with the
// processors of o applied (see LogitsOptions), in a new tensor.
func ProcessLogits(ctx Context, x Tensor, o LogitsOptions) Tensor {
	const op = "ProcessLogits"
	c, k := selectArgs(op, ctx)
	xt := c.f32(op, x)
	rows, v := rowsCols(op, xt)
	p := LogitsParams{LogSoftmax: o.LogSoftmax, Penalty: o.Penalty, MaskEOS: o.MaskEOS}
	if p.Penalty == 0 {
		p.Penalty = 1
	}
	if !(p.Penalty > 0) {
		panic(fmt.Sprintf("compute: %s of %v with repetition penalty %g: want a positive penalty", op, xt, o.Penalty))
	}
	var seen Operand
	if p.Penalty != 1 {
		if o.Seen == nil {
			panic(fmt.Sprintf("compute: %s of %v: a repetition penalty needs Seen", op, xt))
		}
		st := c.f32(op+" Seen", o.Seen)
		if NumElements(st.shape) != rows*v {
			panic(fmt.Sprintf("compute: %s of %v with Seen %v: want [%d, %d]", op, xt, st, rows, v))
		}
		seen = st.operand()
	}
	if len(o.Bans)%2 != 0 {
		panic(fmt.Sprintf("compute: %s of %v: %d ban values are not (row, token) pairs", op, xt, len(o.Bans)))
	}
	for i := 0; i < len(o.Bans); i += 2 {
		if r, id := o.Bans[i], o.Bans[i+1]; r < 0 || int(r) >= rows || id < 0 || int(id) >= v {
			panic(fmt.Sprintf("compute: %s of %v: ban (row %d, token %d) out of range", op, xt, r, id))
		}
	}
	var eos Operand
	if o.MaskEOS {
		if o.EOS == nil {
			panic(fmt.Sprintf("compute: %s of %v: MaskEOS needs EOS", op, xt))
		}
		eos = c.vocabMask(op, "EOS", o.EOS, v)
	}
	sup := c.vocabMask(op, "Suppress", o.Suppress, v)
	var bias Operand
	if o.RowBias != nil {
		bt := c.f32(op+" RowBias", o.RowBias)
		if NumElements(bt.shape) != rows {
			panic(fmt.Sprintf("compute: %s of %v with RowBias %v: want %d values, one per row", op, xt, bt, rows))
		}
		bias = bt.operand()
	}
	out := c.out(F32, cloneShape(xt.shape))
	if rows > 0 {
		k.ProcessLogits(out.operand(), xt.operand(), seen, eos, sup, bias, append([]int32(nil), o.Bans...), p)
	}
	return out
}

// ArgmaxMark returns the index of each row's largest value of x (F32,
// Argmax's rules: ties to the lower index, NaN never over a number) and,
// when seen (F32, x's number of elements) is not nil, sets seen at each
// row's index to 1 on the device: greedy search marking the token it chose
// for the repetition penalty without an upload.
func ArgmaxMark(ctx Context, x, seen Tensor) []int32 {
	const op = "ArgmaxMark"
	c, k := selectArgs(op, ctx)
	xt := c.f32(op, x)
	rows, cols := rowsCols(op, xt)
	if cols == 0 {
		panic(fmt.Sprintf("compute: %s of empty rows %v", op, xt))
	}
	var so Operand
	if seen != nil {
		st := c.f32(op+" seen", seen)
		if NumElements(st.shape) != rows*cols {
			panic(fmt.Sprintf("compute: %s of %v with seen %v: want [%d, %d]", op, xt, st, rows, cols))
		}
		so = st.operand()
	}
	if rows == 0 {
		return []int32{}
	}
	return k.ArgmaxMark(xt.operand(), so)
}

// BeamState is the device state BeamSelect advances.
type BeamState struct {
	// Scores is F32 [B·beams]: each beam's running score, overwritten with
	// the new running beams' scores.
	Scores Tensor
	// EOS is F32 [V], non-zero at the end-of-sequence ids.
	EOS Tensor
	// Seen and SeenNext are F32 [B·beams, V] (both or neither): the running
	// beams' token marks, and where the new running beams' go.
	Seen, SeenNext Tensor
}

// BeamSelect finds the k best candidates of each batch entry of x [B,
// beams, V] (F32: processed log-probabilities plus running scores),
// flattened over beams × V, and advances st on the device (see
// LogitsKernel.BeamSelect). It returns vals and idx [B·k], best first per
// entry, idx = beam·V + token. k must not exceed MaxBeamCandidates or
// beams·V, and must be at least beams.
func BeamSelect(ctx Context, x Tensor, k int, st BeamState) (vals []float32, idx []int32) {
	const op = "BeamSelect"
	c, kern := selectArgs(op, ctx)
	xt := c.f32(op, x)
	if len(xt.shape) != 3 || xt.shape[0] == 0 || xt.shape[1] == 0 || xt.shape[2] == 0 {
		panic(fmt.Sprintf("compute: %s of %v: want x [B, beams, V] with none empty", op, xt))
	}
	p := BeamParams{Batch: xt.shape[0], Beams: xt.shape[1], Vocab: xt.shape[2], K: k}
	if k < p.Beams || k > MaxBeamCandidates || k > p.Beams*p.Vocab {
		panic(fmt.Sprintf("compute: %s of %v keeping %d: want beams ≤ k ≤ min(%d, beams·V)", op, xt, k, MaxBeamCandidates))
	}
	n := p.Batch * p.Beams
	if st.Scores == nil || st.EOS == nil {
		panic(fmt.Sprintf("compute: %s of %v: the state needs Scores and EOS", op, xt))
	}
	sc := c.f32(op+" Scores", st.Scores)
	if NumElements(sc.shape) != n {
		panic(fmt.Sprintf("compute: %s of %v with Scores %v: want %d values", op, xt, sc, n))
	}
	eos := c.vocabMask(op, "EOS", st.EOS, p.Vocab)
	var seen, next Operand
	if (st.Seen == nil) != (st.SeenNext == nil) {
		panic(fmt.Sprintf("compute: %s of %v: Seen and SeenNext go together", op, xt))
	}
	if st.Seen != nil {
		s, sn := c.f32(op+" Seen", st.Seen), c.f32(op+" SeenNext", st.SeenNext)
		if NumElements(s.shape) != n*p.Vocab || NumElements(sn.shape) != n*p.Vocab || s.st == sn.st {
			panic(fmt.Sprintf("compute: %s of %v with Seen %v and SeenNext %v: want two distinct [%d, %d]", op, xt, s, sn, n, p.Vocab))
		}
		seen, next = s.operand(), sn.operand()
	}
	return kern.BeamSelect(xt.operand(), sc.operand(), eos, seen, next, p)
}
