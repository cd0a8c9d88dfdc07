package compute

import "fmt"

// The fused operations: compositions of the basic ones that a decoding step
// runs for every layer, defined (checked, shaped, allocated) once here like
// every other operation. They exist so that a GPU runs a LLaMA block in a
// handful of dispatches instead of sixteen (issue #14): each is one kernel
// on a device that fuses it, and the same numbers as its composition on
// any device (the op table in compute/optest checks both against one float64
// reference).

// SplitQKVOptions configures Context.SplitQKV.
type SplitQKVOptions struct {
	// Heads and KVHeads are the query and key/value heads (KVHeads 0 means
	// Heads); the head size is qkv's row length / (Heads + 2·KVHeads).
	Heads, KVHeads int
	// Theta is RoPE's base (LLaMA's rope_theta); 0 leaves q and k as they
	// are (T5, which has relative position biases instead).
	Theta float32
	// Pos holds one position per row of qkv (F32 integers, B·T values), and
	// PosOffset is added to each: a decoding session keeps the next
	// position of each sequence on the device and steps PosOffset, so that
	// a step uploads no positions. Pos may be nil when Theta is 0.
	Pos       Tensor
	PosOffset int
	// MaxPosition bounds Pos + PosOffset (a device that keeps a table of
	// angles sizes it by this; the positions themselves never come back
	// to the host).
	MaxPosition int
	// K and V are the caches [S, capacity, KVHeads·D] (F32 or F16, one
	// dtype) that row t of batch entry b is written into, at sequence b and
	// position At+t, converted to the caches' dtype. S may exceed qkv's
	// batch (the cache is sized for the most sequences a request reaches).
	K, V Tensor
	At   int
}

// SplitQKVParams is a SplitQKV call's checked layout.
type SplitQKVParams struct {
	Batch, Tokens       int // B, T of qkv [B, T, (H+2·KVH)·D]
	Heads, KVHeads      int
	HeadDim             int
	Theta               float32 // 0: no rotation
	PosOffset           int
	MaxPosition         int
	Sequences, Capacity int // S and capacity of the caches
	At                  int
}

// LinearAdd returns x·wᵀ (+ bias) + res, res of the result's shape: a
// Linear with the residual added in its epilogue.
func (c *context) LinearAdd(x, w, bias, res Tensor) Tensor {
	c.live("LinearAdd")
	xt, wt, bo, shape := c.linearArgs("LinearAdd", x, w, bias)
	rt := c.f32("LinearAdd residual", res)
	if !equalInts(rt.shape, shape) {
		panic(fmt.Sprintf("compute: LinearAdd of x %v and w %v with residual %v: want the residual %v", xt, wt, rt, shape))
	}
	out := c.out(F32, shape)
	switch {
	case NumElements(shape) == 0:
	case wt.shape[1] == 0:
		c.b.dev.Clear(out.operand())
		if !bo.None() {
			c.b.dev.Add(out.operand(), out.operand(), bo)
		}
		c.b.dev.Add(out.operand(), out.operand(), rt.operand())
	default:
		c.b.dev.LinearAdd(out.operand(), xt.operand(), wt.operand(), bo, rt.operand())
	}
	return out
}

// linearArgs checks a Linear's operands and returns them with the result's
// shape.
func (c *context) linearArgs(op string, x, w, bias Tensor) (xt, wt *tensor, bo Operand, shape []int) {
	xt = c.f32(op, x)
	wt = c.arg(op, w)
	if len(wt.shape) != 2 || len(xt.shape) == 0 || xt.shape[len(xt.shape)-1] != wt.shape[1] {
		panic(fmt.Sprintf("compute: %s of x %v with w %v: want x [..., K] and w [N, K]", op, xt, wt))
	}
	N := wt.shape[0]
	if bias != nil {
		bt := c.f32(op+" bias", bias)
		if NumElements(bt.shape) != N {
			panic(fmt.Sprintf("compute: %s bias %v for w %v: want %d values", op, bt, wt, N))
		}
		bo = bt.operand()
	}
	shape = cloneShape(xt.shape)
	shape[len(shape)-1] = N
	return xt, wt, bo, shape
}

// GatedLinear returns act(x·gateᵀ)·(x·upᵀ): LLaMA's and T5's gated
// feed-forward input side in one pass over x.
func (c *context) GatedLinear(act string, x, gate, up Tensor) Tensor {
	c.live("GatedLinear")
	return c.gatedLinear("GatedLinear", act, x, nil, 0, gate, up)
}

// NormGatedLinear is GatedLinear of RMSNorm(x, w, eps): the norm as the
// products' prologue.
func (c *context) NormGatedLinear(act string, x, w Tensor, eps float32, gate, up Tensor) Tensor {
	c.live("NormGatedLinear")
	return c.gatedLinear("NormGatedLinear", act, x, w, eps, gate, up)
}

func (c *context) gatedLinear(op, act string, x, norm Tensor, eps float32, gate, up Tensor) Tensor {
	a, ok := gatedActs[act]
	if !ok {
		panic(fmt.Sprintf("compute: %s with unknown activation %q", op, act))
	}
	xt, gt, _, shape := c.linearArgs(op, x, gate, nil)
	ut := c.arg(op, up)
	if !equalInts(gt.shape, ut.shape) {
		panic(fmt.Sprintf("compute: %s of gate %v and up %v: shapes differ", op, gt, ut))
	}
	no := c.normArg(op, xt, norm)
	out := c.out(F32, shape)
	switch {
	case NumElements(shape) == 0:
	case gt.shape[1] == 0:
		// Both products are zero, and act(0)·0 is 0 for every activation.
		c.b.dev.Clear(out.operand())
	default:
		c.b.dev.GatedLinear(a, out.operand(), xt.operand(), no, eps, gt.operand(), ut.operand())
	}
	return out
}

// normArg checks an optional RMSNorm prologue's weight: F32, one value per
// element of x's rows.
func (c *context) normArg(op string, xt *tensor, norm Tensor) Operand {
	if norm == nil {
		return Operand{}
	}
	_, cols := rowsCols(op, xt)
	return c.param(op, "norm weight", xt, norm, cols)
}

// Linears returns x multiplied by several weights that share its row
// length, their outputs side by side: [..., N1+N2+…], as a Linear by the
// weights stacked would (LLaMA's query, key and value projections in one
// pass over x).
func (c *context) Linears(x Tensor, ws ...Tensor) Tensor {
	c.live("Linears")
	return c.linears("Linears", x, nil, 0, ws)
}

// NormLinears is Linears of RMSNorm(x, w, eps): the norm as the products'
// prologue.
func (c *context) NormLinears(x, w Tensor, eps float32, ws ...Tensor) Tensor {
	c.live("NormLinears")
	return c.linears("NormLinears", x, w, eps, ws)
}

func (c *context) linears(op string, x, norm Tensor, eps float32, ws []Tensor) Tensor {
	if len(ws) == 0 {
		panic(fmt.Sprintf("compute: %s of no weights", op))
	}
	xt := c.f32(op, x)
	ops := make([]Operand, len(ws))
	n, k0 := 0, 0
	for i, w := range ws {
		_, wt, _, _ := c.linearArgs(op, x, w, nil)
		if i == 0 {
			k0 = wt.shape[1]
		}
		ops[i] = wt.operand()
		n += wt.shape[0]
	}
	no := c.normArg(op, xt, norm)
	shape := cloneShape(xt.shape)
	shape[len(shape)-1] = n
	out := c.out(F32, shape)
	switch {
	case NumElements(shape) == 0:
	case k0 == 0:
		c.b.dev.Clear(out.operand())
	default:
		c.b.dev.Linears(out.operand(), xt.operand(), no, eps, ops)
	}
	return out
}

// SplitQKV takes a fused query–key–value projection qkv [B, T, (H+2·KVH)·D]
// (Linears of the three weights), rotates the queries and keys by RoPE at
// their positions (when o.Theta > 0), writes the keys and values into the
// caches o.K and o.V at positions o.At… of sequences 0…B−1, and returns the
// queries [B, T, H·D]. It is the step from the projections to attention in
// one kernel, with no tensor for the keys and values of their own.
func (c *context) SplitQKV(qkv Tensor, o SplitQKVOptions) Tensor {
	c.live("SplitQKV")
	xt := c.f32("SplitQKV", qkv)
	kt := c.arg("SplitQKV key cache", o.K)
	vt := c.arg("SplitQKV value cache", o.V)
	p := SplitQKVParams{Heads: o.Heads, KVHeads: o.KVHeads, Theta: o.Theta, PosOffset: o.PosOffset,
		MaxPosition: o.MaxPosition, At: o.At}
	if p.KVHeads == 0 {
		p.KVHeads = p.Heads
	}
	bad := func(why string) {
		panic(fmt.Sprintf("compute: SplitQKV of %v with %d heads, %d kv heads into caches %v, %v at %d: %s",
			xt, o.Heads, o.KVHeads, kt, vt, o.At, why))
	}
	if len(xt.shape) != 3 || p.Heads <= 0 || p.KVHeads <= 0 || p.Heads%p.KVHeads != 0 ||
		xt.shape[2]%(p.Heads+2*p.KVHeads) != 0 {
		bad("want qkv [B, T, (H+2·KVH)·D] and H a positive multiple of KVH")
	}
	p.Batch, p.Tokens = xt.shape[0], xt.shape[1]
	p.HeadDim = xt.shape[2] / (p.Heads + 2*p.KVHeads)
	if kt.dtype != vt.dtype || (kt.dtype != F32 && kt.dtype != F16) || len(kt.shape) != 3 || !equalInts(kt.shape, vt.shape) {
		bad("the caches must be F32 or F16 [S, capacity, KVH·D], both alike")
	}
	p.Sequences, p.Capacity = kt.shape[0], kt.shape[1]
	if kt.shape[2] != p.KVHeads*p.HeadDim || p.Sequences < p.Batch || o.At < 0 || o.At+p.Tokens > p.Capacity {
		bad("the caches must hold KVH·D wide rows for every sequence, with room for the new positions")
	}
	if p.Theta > 0 && p.HeadDim%2 != 0 {
		bad("RoPE needs an even head size")
	}
	var po Operand
	if p.Theta > 0 {
		if o.Pos == nil {
			bad("RoPE needs positions")
		}
		pt := c.f32("SplitQKV positions", o.Pos)
		if NumElements(pt.shape) != p.Batch*p.Tokens {
			bad(fmt.Sprintf("positions %v: want one per row (%d)", pt, p.Batch*p.Tokens))
		}
		if o.PosOffset < 0 || o.MaxPosition < o.PosOffset {
			bad(fmt.Sprintf("position offset %d and bound %d", o.PosOffset, o.MaxPosition))
		}
		po = pt.operand()
	}
	out := c.out(F32, []int{p.Batch, p.Tokens, p.Heads * p.HeadDim})
	if p.Batch*p.Tokens*p.HeadDim > 0 {
		c.b.dev.SplitQKV(out.operand(), xt.operand(), kt.operand(), vt.operand(), po, p)
	}
	return out
}

// ZerosOf makes a tensor of zeros of any dtype: an F16 KV cache.
func (c *context) ZerosOf(dt DType, shape ...int) Tensor {
	c.live("ZerosOf")
	checkShape("ZerosOf", shape)
	if _, err := checkPackShape(dt, shape); err != nil {
		panic(fmt.Sprintf("compute: ZerosOf %v%v: %v", dt, shape, err))
	}
	out := c.out(dt, cloneShape(shape))
	if NumElements(shape) > 0 {
		c.b.dev.Clear(out.operand())
	}
	return out
}
