package cpu

import (
	"glimpse/compute"
	"glimpse/compute/internal/parallel"
)

// The fused kernels. On the CPU fusing saves no dispatch, so each gives
// the numbers of the kernels it fuses, bit for bit. Where the products
// take the integer kernels (decoding and short prompts on quantized
// weights), the fused products share one rounding of x and one parallel
// loop, and the epilogue (residual, gating) runs in each task on rows the
// task has just written; otherwise each is the composition of the kernels
// it fuses, on the same buffers. A decoding step of Vicuna-7B makes seven
// products per layer, each a few hundred microseconds of weights: every
// separate loop is one more start and one more wait for the slower core.

// LinearAdd is Linear, then the residual added.
func (d device) LinearAdd(out, x, w, bias, res compute.Operand) {
	wr := weightsOf(w)
	N, K := w.Shape[0], w.Shape[1]
	M := x.Len() / K
	ik, ok := wr.intPath(M)
	if !ok {
		d.Linear(out, x, w, bias)
		d.Add(out, out, res)
		return
	}
	var bd []float32
	if !bias.None() {
		bd = floats(bias)
	}
	o, r := floats(out), floats(res)
	p := newIntProduct(floats(x), M, K)
	defer p.release()
	parallel.For(N, intRowBlock, func(n0, n1 int) {
		p.block(ik, n0, n1, bd, o, N)
		for m := range M {
			or, rr := o[m*N+n0:m*N+n1], r[m*N+n0:m*N+n1]
			for i := range or {
				or[i] += rr[i]
			}
		}
	})
}

// normed returns x, or RMSNorm(x) in scratch when norm is set.
func (d device) normed(x, norm compute.Operand, eps float32) compute.Operand {
	if norm.None() {
		return x
	}
	h := compute.Operand{Buf: &buffer{f: make([]float32, x.Len())}, DType: compute.F32, Shape: x.Shape}
	d.RMSNorm(h, x, norm, eps)
	return h
}

// GatedLinear runs both products, then Gated: per task of weight rows on
// the integer path, else over the whole output.
func (d device) GatedLinear(act compute.Activation, out, x, norm compute.Operand, eps float32, gate, up compute.Operand) {
	x = d.normed(x, norm, eps)
	n := out.Len()
	N, K := gate.Shape[0], gate.Shape[1]
	M := n / N
	if gik, ok := weightsOf(gate).intPath(M); ok {
		if uik, ok := weightsOf(up).intPath(M); ok {
			f := activations[act]
			sp := getScratch(n)
			defer scratchPool.Put(sp)
			g, o := *sp, floats(out)
			p := newIntProduct(floats(x), M, K)
			defer p.release()
			parallel.For(N, intRowBlock, func(n0, n1 int) {
				p.block(gik, n0, n1, nil, g, N)
				p.block(uik, n0, n1, nil, o, N)
				for m := range M {
					or, gr := o[m*N+n0:m*N+n1], g[m*N+n0:m*N+n1]
					for i, u := range or {
						or[i] = f(gr[i]) * u
					}
				}
			})
			return
		}
	}
	g := compute.Operand{Buf: &buffer{f: make([]float32, n)}, DType: compute.F32, Shape: out.Shape}
	d.Linear(g, x, gate, compute.Operand{})
	d.Linear(out, x, up, compute.Operand{})
	d.Gated(act, out, g, out)
}

// Linears writes each product straight into its columns of out (the
// matrix kernel takes the output's row stride). Where every weight takes
// the integer kernels, x is rounded once and one loop runs the tasks of
// all the weights.
func (d device) Linears(out, x, norm compute.Operand, eps float32, ws []compute.Operand) {
	x = d.normed(x, norm, eps)
	K := ws[0].Shape[1]
	M := x.Len() / K
	ldo := out.Shape[len(out.Shape)-1]
	o := floats(out)
	if len(ws) > 1 && linearsInt(floats(x), M, K, ws, o, ldo) {
		return
	}
	col := 0
	for _, w := range ws {
		N := w.Shape[0]
		gemmNT(floats(x), M, K, weightsOf(w), N, nil, o[col:], ldo)
		col += N
	}
}

// linearsInt runs Linears on the integer path, if every weight takes it,
// and reports whether it did.
func linearsInt(x []float32, M, K int, ws []compute.Operand, o []float32, ldo int) bool {
	type task struct{ w, n0, n1 int }
	iks := make([]intKernel, len(ws))
	cols := make([]int, len(ws))
	var tasks []task
	col := 0
	for i, w := range ws {
		ik, ok := weightsOf(w).intPath(M)
		if !ok {
			return false
		}
		iks[i], cols[i] = ik, col
		N := w.Shape[0]
		for n0 := 0; n0 < N; n0 += intRowBlock {
			tasks = append(tasks, task{i, n0, min(n0+intRowBlock, N)})
		}
		col += N
	}
	p := newIntProduct(x, M, K)
	defer p.release()
	parallel.For(len(tasks), 1, func(t0, t1 int) {
		for _, t := range tasks[t0:t1] {
			p.block(iks[t.w], t.n0, t.n1, nil, o[cols[t.w]:], ldo)
		}
	})
	return true
}

// SplitQKV rotates with compute.RoPETable's angles, as RoPE does, and
// stores keys and values converted to the caches' dtype.
func (device) SplitQKV(out, qkv, kc, vc, pos compute.Operand, p compute.SplitQKVParams) {
	rows := p.Batch * p.Tokens
	d := p.HeadDim
	qw, kw := p.Heads*d, p.KVHeads*d
	src, o := floats(qkv), floats(out)
	var cs []float32
	if p.Theta > 0 {
		pf := floats(pos)
		ps := make([]int32, rows)
		for r := range ps {
			ps[r] = int32(pf[r]) + int32(p.PosOffset)
		}
		cs = compute.RoPETable(ps, d, p.Theta)
	}
	half := d / 2
	rotate := func(dst, in, rc []float32) {
		for i := 0; i < half; i++ {
			x1, x2 := in[i], in[i+half]
			c, s := rc[2*i], rc[2*i+1]
			// The conversions forbid fused multiply-adds (see RoPE).
			dst[i] = float32(x1*c) - float32(x2*s)
			dst[i+half] = float32(x2*c) + float32(x1*s)
		}
	}
	kb, vb := buf(kc), buf(vc)
	f16 := kc.DType == compute.F16
	parallel.For(rows, rowGrain(qw+2*kw), func(r0, r1 int) {
		krow := make([]float32, kw)
		for r := r0; r < r1; r++ {
			in := src[r*(qw+2*kw) : (r+1)*(qw+2*kw)]
			q, k, v := in[:qw], in[qw:qw+kw], in[qw+kw:]
			dq := o[r*qw : (r+1)*qw]
			if cs != nil {
				rc := cs[r*half*2 : (r+1)*half*2]
				for h := 0; h < p.Heads; h++ {
					rotate(dq[h*d:(h+1)*d], q[h*d:(h+1)*d], rc)
				}
				for h := 0; h < p.KVHeads; h++ {
					rotate(krow[h*d:(h+1)*d], k[h*d:(h+1)*d], rc)
				}
			} else {
				copy(dq, q)
				copy(krow, k)
			}
			b, t := r/p.Tokens, r%p.Tokens
			at := (b*p.Capacity + p.At + t) * kw
			if f16 {
				vec.halves(kb.words[at/2:(at+kw)/2], krow)
				vec.halves(vb.words[at/2:(at+kw)/2], v)
			} else {
				copy(kb.f[at:at+kw], krow)
				copy(vb.f[at:at+kw], v)
			}
		}
	})
}
