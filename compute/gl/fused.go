package gl

import (
	"fmt"

	"glimpse/compute"
)

// The fused kernels: one matvec dispatch for a Linear with its residual,
// for gate and up with the activation, for several projections of one x,
// and one splitqkv dispatch from the projections to the KV cache. Where a
// fused dispatch does not apply (more than matvecRows rows, weights split
// over buffers, a dtype without vector loads, too few storage-block
// bindings), each falls back to the dispatches it fuses, with the same
// numbers.

// matvec bindings of the weights (data, scales) in fused dispatches.
var (
	fusedData   = [...]int{2, 5, 7}
	fusedScales = [...]int{3, 6, 8}
)

// fusedMatvec returns the matvec dispatch of x by the weights ws (one dtype,
// each in one buffer), writing N rows of out with stride N, or nil where
// the fused kernel does not apply. extra is a binding the caller adds
// (the residual), -1 for none. norm, if set, is the RMSNorm weight of the
// prologue (and bias must be None: they share binding 4).
func (b *device) fusedMatvec(op string, out, x compute.Operand, ws []compute.Operand, bias, norm compute.Operand, eps float32, extra int) *kernel {
	dt := ws[0].DType
	K := ws[0].Shape[1]
	M := x.Len() / K
	ev := vecElems(dt)
	if M > matvecRows || ev == 0 || K%ev != 0 || len(ws) > len(fusedData) {
		return nil
	}
	binds := make([]*glSlot, 9)
	binds[0], binds[1] = single(op, out), single(op, x)
	top := max(extra, 4)
	for i, w := range ws {
		st := storage(w)
		if w.DType != dt || len(st.chunks) != 1 {
			return nil
		}
		binds[fusedData[i]] = st.chunks[0].data
		top = max(top, fusedData[i])
		if sc := st.chunks[0].scales; sc != nil {
			binds[fusedScales[i]] = sc
			top = max(top, fusedScales[i])
		}
	}
	if int64(top) >= b.bindings {
		return nil
	}
	defs := []string{matvecWG, matvecNR, fmt.Sprintf("MAXM=%d", pow2AtLeast(M)), weightDefine(dt), "VEC", fmt.Sprintf("EPV=%d", ev)}
	if !bias.None() {
		binds[4] = single(op+" bias", bias)
		defs = append(defs, "HAS_BIAS")
	}
	N := out.Shape[len(out.Shape)-1]
	args := make([]any, 9)
	args[0], args[1], args[2], args[3], args[4] = M, N, K, N, 0
	if !norm.None() {
		binds[4] = single(op+" norm weight", norm)
		defs = append(defs, "NORM")
		args[8] = eps
	}
	return &kernel{name: "matvec", defines: defs, binds: binds, writes: 1, args: args,
		groups: grid((N + matvecRowsPerGroup - 1) / matvecRowsPerGroup)}
}

// normed returns x, or when norm is set RMSNorm(x) in a new buffer (the
// dispatch a prologue saves where the fused kernel does not apply) and a
// function that frees it once the kernels using it are queued.
func (b *device) normed(x, norm compute.Operand, eps float32) (compute.Operand, func()) {
	if norm.None() {
		return x, func() {}
	}
	h := b.Alloc(compute.F32, x.Shape)
	ho := compute.Operand{Buf: h, DType: compute.F32, Shape: x.Shape}
	b.RMSNorm(ho, x, norm, eps)
	return ho, func() { b.Free(h) }
}

// LinearAdd adds the residual in matvec's epilogue.
func (b *device) LinearAdd(out, x, w, bias, res compute.Operand) {
	if k := b.fusedMatvec("LinearAdd", out, x, []compute.Operand{w}, bias, compute.Operand{}, 0, 7); k != nil {
		k.binds[7] = single("LinearAdd residual", res)
		k.defines = append(k.defines, "HAS_RES")
		b.exec(k)
		return
	}
	b.Linear(out, x, w, bias)
	b.Add(out, out, res)
}

// GatedLinear reads gate and up rows n in one work group and applies the
// activation before writing.
func (b *device) GatedLinear(act compute.Activation, out, x, norm compute.Operand, eps float32, gate, up compute.Operand) {
	if k := b.fusedMatvec("GatedLinear", out, x, []compute.Operand{gate, up}, compute.Operand{}, norm, eps, -1); k != nil {
		k.defines = append(k.defines, "GATED", "ACT="+activationDefines[act].fn)
		b.exec(k)
		return
	}
	x, done := b.normed(x, norm, eps)
	defer done()
	g, u := b.Alloc(compute.F32, out.Shape), b.Alloc(compute.F32, out.Shape)
	gop := compute.Operand{Buf: g, DType: compute.F32, Shape: out.Shape}
	uop := compute.Operand{Buf: u, DType: compute.F32, Shape: out.Shape}
	b.Linear(gop, x, gate, compute.Operand{})
	b.Linear(uop, x, up, compute.Operand{})
	b.Gated(act, out, gop, uop)
	// Kernels queued with them still see them.
	b.Free(g)
	b.Free(u)
}

// Linears runs up to three weights in one matvec dispatch (MULTI), each
// work group one row of one weight.
func (b *device) Linears(out, x, norm compute.Operand, eps float32, ws []compute.Operand) {
	if k := b.fusedMatvec("Linears", out, x, ws, compute.Operand{}, norm, eps, -1); k != nil {
		if len(ws) > 1 {
			// With two weights n2 is N: no group reaches w3.
			n1 := ws[0].Shape[0]
			n2 := n1 + ws[1].Shape[0]
			k.defines = append(k.defines, "MULTI")
			k.args[5], k.args[6] = n1, n2
		}
		b.exec(k)
		return
	}
	x, done := b.normed(x, norm, eps)
	defer done()
	ldc, col := out.Shape[len(out.Shape)-1], 0
	var ks []*kernel
	for _, w := range ws {
		ks = append(ks, b.linearKernels("Linears", out, x, w, compute.Operand{}, ldc, col)...)
		col += w.Shape[0]
	}
	b.exec(ks...)
}

// SplitQKV rotates by the device's RoPE table (see RoPE) at the positions
// in pos (a tensor: no upload) and converts keys and values to the cache's
// dtype as it writes them.
func (b *device) SplitQKV(out, qkv, kc, vc, pos compute.Operand, p compute.SplitQKVParams) {
	rows := p.Batch * p.Tokens
	os, xs := single("SplitQKV", out), single("SplitQKV", qkv)
	ks, vs := single("SplitQKV key cache", kc), single("SplitQKV value cache", vc)
	defs := []string{elemWG}
	if kc.DType == compute.F16 {
		defs = append(defs, "KV_F16")
	}
	var ps *glSlot
	if p.Theta > 0 {
		defs = append(defs, "ROPE")
		ps = single("SplitQKV positions", pos)
	}
	pairs := rows * (p.Heads + 2*p.KVHeads) * p.HeadDim / 2
	key := ropeKey{p.HeadDim, p.Theta}
	b.submit(func() {
		var t *glSlot
		if p.Theta > 0 {
			t = b.ropeTable(key, p.MaxPosition)
		}
		b.dispatch(&kernel{name: "splitqkv", defines: defs, writes: 1<<0 | 1<<2 | 1<<3,
			binds:  []*glSlot{os, xs, ks, vs, t, ps},
			args:   []any{rows, p.Tokens, p.Heads, p.KVHeads, p.HeadDim, p.Capacity, p.At, p.PosOffset},
			groups: strideGrid(pairs, wgElem)})
	})
}
