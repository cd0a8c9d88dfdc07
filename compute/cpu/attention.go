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
	// One query at a time, over blocks of kv heads: the unit of work is a
	// batch entry, a query and hb kv heads with their query heads. The
	// cache holds a position's heads side by side ([seq, key, kvh, d]), so
	// walking positions in the outer loop and the block's heads in the
	// inner one reads hb·d contiguous values per position, which the
	// hardware prefetchers follow; one head at a time would read d values
	// every kvRow, a new page per key in a Vicuna-7B cache, at the memory's
	// latency rather than its bandwidth (BenchmarkCPUDecodeAttention). The
	// sums are the same, term by term and in the same order, as one head
	// at a time. Blocks are as large as keeping every core busy allows:
	// one step of one sequence splits its heads between the cores (16
	// heads each on two cores: 4 KB of keys per position), as smaller
	// blocks measured slower.
	blocks := min(p.KVHeads, max(1, (parallel.Procs()+p.Batch*p.Queries-1)/(p.Batch*p.Queries)))
	hb := (p.KVHeads + blocks - 1) / blocks
	blocks = (p.KVHeads + hb - 1) / hb
	// With one query head per kv head, a set's head kernels take a
	// position's whole block in one call.
	hk := vec.heads
	if !f16 || group != 1 || hk == nil || d%hk.step != 0 {
		hk = nil
	}
	parallel.For(p.Batch*p.Queries*blocks, 1, func(lo, hi int) {
		scores := make([]float32, hb*group*p.Used)
		for u := lo; u < hi; u++ {
			blk := u % blocks
			i := (u / blocks) % p.Queries
			b := u / (blocks * p.Queries)
			kv0, kv1 := blk*hb, min(p.KVHeads, (blk+1)*hb)
			h0, h1 := kv0*group, kv1*group
			n := p.Used
			if p.Causal {
				n = min(n, max(0, i+p.Offset+1))
			}
			qr := qd[(b*p.Queries+i)*qRow : (b*p.Queries+i+1)*qRow]
			or := od[(b*p.Queries+i)*qRow : (b*p.Queries+i+1)*qRow]
			// score returns head h's scores (n of them).
			score := func(h int) []float32 { return scores[(h-h0)*n : (h-h0+1)*n] }
			for j := range n {
				base := (seq(b, j)*p.Keys + j) * kvRow
				if hk != nil {
					hk.dotF16(qr[h0*d:h1*d], kh[(base+kv0*d)/2:(base+kv1*d)/2], d, p.Scale, scores[j:], n)
					continue
				}
				for h := h0; h < h1; h++ {
					at := base + (h/group)*d
					qv := qr[h*d : (h+1)*d]
					if f16 {
						score(h)[j] = p.Scale * vec.f16(qv, kh[at/2:(at+d)/2])
					} else {
						score(h)[j] = p.Scale * vec.f32(qv, kd[at:at+d])
					}
				}
			}
			for h := h0; h < h1; h++ {
				s := score(h)
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
			}
			// Alloc leaves contents undefined (this device's happen to be
			// zero): the sums start from cleared rows.
			clear(or[h0*d : h1*d])
			for j := range n {
				base := (seq(b, j)*p.Keys + j) * kvRow
				if hk != nil {
					hk.axpyF16(or[h0*d:h1*d], scores[j:], n, vh[(base+kv0*d)/2:(base+kv1*d)/2], d)
					continue
				}
				for h := h0; h < h1; h++ {
					at := base + (h/group)*d
					dst, pj := or[h*d:(h+1)*d], score(h)[j]
					if f16 {
						vec.axpyF16(dst, pj, vh[at/2:(at+d)/2])
					} else {
						vec.axpy(dst, pj, vd[at:at+d])
					}
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
