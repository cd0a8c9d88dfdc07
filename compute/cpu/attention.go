package cpu

import (
	"glimpse/compute"
	"glimpse/compute/internal/parallel"
)

// Attention computes softmax(Scale·q·kᵀ + mask + bias)·v per batch entry,
// head and query, with query head h reading kv head h/(H/KVH) (GQA). Keys a
// query may not see (causal, beyond KeyLen) are left out; a query that sees
// no key at all, or whose scores are all -Inf, gets zeros.
func (device) Attention(out, q, k, v, mask, bias, rows compute.Operand, p compute.AttentionParams) {
	qd, od := floats(q), floats(out)
	// An F16 cache is read as its words: keys through the f16 dot kernel,
	// values widened through halfTable.
	f16 := k.DType == compute.F16
	var kd, vd []float32
	var kh, vh []uint32
	if f16 {
		n := compute.PackedWords(compute.F16, k.Len())
		kh, vh = buf(k).words[:n], buf(v).words[:n]
	} else {
		kd, vd = floats(k), floats(v)
	}
	var rd []float32
	if !rows.None() {
		rd = floats(rows)
	}
	// seq is the sequence of k and v that holds key j of batch entry b.
	seq := func(b, j int) int {
		if rd != nil {
			return int(rd[b*p.RowsStride+j])
		}
		return b
	}
	var md, bd []float32
	if !mask.None() {
		md = floats(mask)
	}
	if !bias.None() {
		bd = floats(bias)
	}
	d := p.HeadDim
	qRow, kvRow := p.Heads*d, p.KVHeads*d
	group := p.Heads / p.KVHeads
	total := p.Batch * p.Heads * p.Queries
	grain := max(1, total/(8*parallel.Procs()))
	parallel.For(total, grain, func(lo, hi int) {
		scores := make([]float32, p.Used)
		for u := lo; u < hi; u++ {
			i := u % p.Queries
			h := (u / p.Queries) % p.Heads
			b := u / (p.Queries * p.Heads)
			kvh := h / group
			n := p.Used
			if p.Causal {
				n = min(n, max(0, i+p.Offset+1))
			}
			qv := qd[(b*p.Queries+i)*qRow+h*d : (b*p.Queries+i)*qRow+(h+1)*d]
			s := scores[:n]
			for j := range s {
				at := (seq(b, j)*p.Keys+j)*kvRow + kvh*d
				if f16 {
					s[j] = p.Scale * vec.f16(qv, kh[at/2:(at+d)/2])
				} else {
					s[j] = p.Scale * vec.f32(qv, kd[at:at+d])
				}
			}
			if md != nil {
				m := md[b*p.MaskStride:]
				for j := range s {
					s[j] += m[j]
				}
			}
			if bd != nil {
				row := h*p.Queries + i
				if p.BiasBatched {
					row += b * p.Heads * p.Queries
				}
				br := bd[row*p.BiasStride:]
				for j := range s {
					s[j] += br[j]
				}
			}
			softmaxRow(s)
			dst := od[(b*p.Queries+i)*qRow+h*d : (b*p.Queries+i)*qRow+(h+1)*d]
			// Alloc leaves contents undefined (this device's happen to be
			// zero): the sum starts from a cleared row.
			clear(dst)
			for j, pj := range s {
				at := (seq(b, j)*p.Keys+j)*kvRow + kvh*d
				if f16 {
					vec.axpyF16(dst, pj, vh[at/2:(at+d)/2])
				} else {
					vec.axpy(dst, pj, vd[at:at+d])
				}
			}
		}
	})
}
