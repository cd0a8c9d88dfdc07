package cpu

import (
	"glimpse/compute"
	"glimpse/compute/internal/parallel"
)

// Attention computes softmax(Scale·q·kᵀ + mask + bias)·v per batch entry,
// head and query, with query head h reading kv head h/(H/KVH) (GQA). Keys a
// query may not see (causal, beyond KeyLen) are left out; a query that sees
// no key at all, or whose scores are all -Inf, gets zeros.
func (device) Attention(out, q, k, v, mask, bias compute.Operand, p compute.AttentionParams) {
	qd, kd, vd, od := floats(q), floats(k), floats(v), floats(out)
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
			kh := h / group
			n := p.Used
			if p.Causal {
				n = min(n, max(0, i+p.Offset+1))
			}
			qv := qd[(b*p.Queries+i)*qRow+h*d : (b*p.Queries+i)*qRow+(h+1)*d]
			s := scores[:n]
			for j := range s {
				kv := kd[(b*p.Keys+j)*kvRow+kh*d : (b*p.Keys+j)*kvRow+(kh+1)*d]
				s[j] = p.Scale * dotF32(qv, kv)
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
				vv := vd[(b*p.Keys+j)*kvRow+kh*d : (b*p.Keys+j)*kvRow+(kh+1)*d]
				vv = vv[:len(dst)]
				for e := range dst {
					dst[e] += pj * vv[e]
				}
			}
		}
	})
}
