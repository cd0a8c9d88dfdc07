package cpu

import (
	"sync"

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
	if !f16 && rd == nil && vec.gemm != nil && p.Queries >= blockedQueries && d > 0 {
		attentionBlocked(qd, kd, vd, md, bd, od, p)
		return
	}
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

// blockedQueries is the fewest queries for which Attention multiplies
// whole heads with the packed matrix product (encoders, prompts) instead
// of one query and one key at a time.
const blockedQueries = 16

// attnPool recycles attentionBlocked's per-head scratch.
var attnPool sync.Pool

// attentionBlocked is Attention for float32 keys and values without a
// rows index: per batch entry and head, S = q·kᵀ and then softmax(S)·v
// through gemmPacked, the vision encoder's 257×257 scores in two matrix
// products instead of 66049 dot products of 88 values. Each score is
// Scale·(q·k) with the dot product one running float32 sum, then the mask
// and bias are added and softmaxRow runs over the keys a query sees, as in
// the one-query path; keys a query does not see get probability zero.
func attentionBlocked(qd, kd, vd, md, bd, od []float32, p compute.AttentionParams) {
	d := p.HeadDim
	qRow, kvRow := p.Heads*d, p.KVHeads*d
	group := p.Heads / p.KVHeads
	tq, n := p.Queries, p.Used
	ker := vec.gemm
	parallel.For(p.Batch*p.Heads, 1, func(lo, hi int) {
		need := tq*d + 2*n*d + tq*n
		sp, _ := attnPool.Get().(*[]float32)
		if sp == nil || cap(*sp) < need {
			buf := make([]float32, need)
			sp = &buf
		}
		defer attnPool.Put(sp)
		buf := (*sp)[:need]
		qh, kh, vh, sc := buf[:tq*d], buf[tq*d:tq*d+n*d], buf[tq*d+n*d:tq*d+2*n*d], buf[tq*d+2*n*d:]
		for u := lo; u < hi; u++ {
			b, h := u/p.Heads, u%p.Heads
			kvh := h / group
			// The head's rows, contiguous for the product's packing.
			for i := range tq {
				copy(qh[i*d:(i+1)*d], qd[(b*tq+i)*qRow+h*d:])
			}
			for j := range n {
				at := (b*p.Keys+j)*kvRow + kvh*d
				copy(kh[j*d:(j+1)*d], kd[at:at+d])
				copy(vh[j*d:(j+1)*d], vd[at:at+d])
			}
			gemmPacked(ker, qh, tq, d, packRows(ker, &weightRows{dt: compute.F32, k: d, f: kh}, d), n, nil, sc, n)
			for i := range tq {
				s := sc[i*n : (i+1)*n]
				seen := n
				if p.Causal {
					seen = min(n, max(0, i+p.Offset+1))
				}
				for j := range s[:seen] {
					s[j] *= p.Scale
				}
				if md != nil {
					m := md[b*p.MaskStride:]
					for j := range s[:seen] {
						s[j] += m[j]
					}
				}
				if bd != nil {
					row := h*tq + i
					if p.BiasBatched {
						row += b * p.Heads * tq
					}
					br := bd[row*p.BiasStride:]
					for j := range s[:seen] {
						s[j] += br[j]
					}
				}
				softmaxRow(s[:seen])
				clear(s[seen:])
			}
			gemmPacked(ker, sc, tq, n, packCols(ker, vh, n, d), d, nil, od[b*tq*qRow+h*d:], qRow)
		}
	})
}
