package gl

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/go-gl/gl/v4.3-core/gl"

	"glimpse/compute"
)

// Token selection on the GPU (compute.LogitsKernel, glsl/logits.comp): a
// decoding step reads back only the chosen ids, or beam search's
// candidates, instead of the logits.

var _ compute.LogitsKernel = (*device)(nil)

// ProcessLogits runs the processors in one dispatch; only the n-gram bans,
// when there are any, are uploaded.
func (b *device) ProcessLogits(out, x, seen, eos, suppress, bias compute.Operand, bans []int32, p compute.LogitsParams) {
	const op = "ProcessLogits"
	rows, cols := x.RowsCols()
	defs := []string{rowWG, "PROCESS"}
	binds := []*glSlot{single(op, out), single(op, x), nil, nil, nil, nil, nil}
	if p.LogSoftmax {
		defs = append(defs, "LOG_SOFTMAX")
	}
	for _, o := range []struct {
		at  int
		def string
		op  compute.Operand
	}{{2, "HAS_SEEN", seen}, {3, "HAS_EOS", eos}, {4, "HAS_SUPPRESS", suppress}, {5, "HAS_BIAS", bias}} {
		if !o.op.None() {
			defs = append(defs, o.def)
			binds[o.at] = single(op, o.op)
		}
	}
	var bw []uint32
	if len(bans) > 0 {
		defs = append(defs, "HAS_BANS")
		// The front made bans for this call alone.
		bw = unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(bans))), len(bans))
	}
	b.submit(func() {
		var bs *glSlot
		if len(bw) > 0 {
			bs = b.tempSlot(bw)
			binds[6] = bs
		}
		b.dispatch(&kernel{name: "logits", defines: defs, writes: 1, binds: binds,
			args: []any{rows, cols, p.Penalty, len(bw) / 2}, groups: grid(rows)})
		if bs != nil {
			b.free(bs)
		}
	})
}

// ArgmaxMark is Argmax, marking the winners in seen on the way.
func (b *device) ArgmaxMark(x, seen compute.Operand) []int32 {
	const op = "ArgmaxMark"
	rows, cols := x.RowsCols()
	defs := []string{rowWG, "ARGMAX_MARK"}
	binds := []*glSlot{nil, single(op, x), nil}
	writes := uint32(1)
	if !seen.None() {
		defs = append(defs, "HAS_SEEN")
		binds[2] = single(op, seen)
		writes |= 1 << 2
	}
	return b.dispatchIDs(&kernel{name: "logits", defines: defs, writes: writes, binds: binds, args: []any{rows, cols}, groups: grid(rows)}, rows)
}

// BeamSelect keeps each entry's K best in one work group per entry and
// reads back the (value, index) pairs in one transfer.
func (b *device) BeamSelect(x, scores, eos, seen, seenNext compute.Operand, p compute.BeamParams) ([]float32, []int32) {
	const op = "BeamSelect"
	defs := []string{rowWG, "BEAM_SELECT", fmt.Sprintf("K=%d", p.K)}
	binds := []*glSlot{nil, single(op, x), single(op, scores), single(op, eos), nil, nil}
	writes := uint32(1 | 1<<2)
	if !seen.None() {
		defs = append(defs, "HAS_SEEN")
		binds[4], binds[5] = single(op, seen), single(op, seenNext)
		writes |= 1 << 5
	}
	words := make([]uint32, 2*p.Batch*p.K)
	b.call(func() {
		os := &glSlot{bytes: 4 * len(words), pooled: true}
		b.alloc(os)
		binds[0] = os
		b.dispatch(&kernel{name: "logits", defines: defs, writes: writes, binds: binds,
			args: []any{p.Batch, p.Beams, p.Vocab}, groups: grid(p.Batch)})
		b.beforeTransfer(os.buf)
		gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, os.buf.id)
		gl.GetBufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*len(words), unsafe.Pointer(&words[0]))
		b.readBack(4 * len(words))
		b.free(os)
	})
	vals := make([]float32, p.Batch*p.K)
	idx := make([]int32, p.Batch*p.K)
	for i := range vals {
		vals[i] = math.Float32frombits(words[2*i])
		idx[i] = int32(words[2*i+1])
	}
	return vals, idx
}
