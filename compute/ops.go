package compute

import "fmt"

// The operations, each defined once: check the operands, compute the
// result's shape, allocate it, call the kernel. Results with no elements
// are returned without calling a kernel, and reductions over nothing (K = 0,
// no keys) are settled here, so kernels never see empty work.

// --- data movement ---

func (c *context) FromFloats(shape []int, data []float32) Tensor {
	c.live("FromFloats")
	checkShape("FromFloats", shape)
	if len(data) != NumElements(shape) {
		panic(fmt.Sprintf("compute: FromFloats shape %v needs %d values, got %d", shape, NumElements(shape), len(data)))
	}
	out := c.out(F32, cloneShape(shape))
	if len(data) > 0 {
		c.b.dev.Write(out.operand(), data)
	}
	return out
}

func (c *context) Zeros(shape ...int) Tensor {
	c.live("Zeros")
	checkShape("Zeros", shape)
	out := c.out(F32, cloneShape(shape))
	if NumElements(shape) > 0 {
		c.b.dev.Clear(out.operand())
	}
	return out
}

func (c *context) Read(t Tensor) []float32 {
	c.live("Read")
	x := c.arg("Read", t)
	if NumElements(x.shape) == 0 {
		return []float32{}
	}
	return c.b.dev.Read(x.operand())
}

// Reshape returns a view; a Q8/Q4/Q4K/Q6K view's rows must still be whole
// blocks (super-blocks).
func (c *context) Reshape(t Tensor, shape ...int) Tensor {
	c.live("Reshape")
	x := c.arg("Reshape", t)
	checkShape("Reshape", shape)
	if NumElements(shape) != NumElements(x.shape) {
		panic(fmt.Sprintf("compute: Reshape %v to %v changes the number of elements", x, shape))
	}
	if u := packUnit(x.dtype); (x.dtype == Q8 || x.dtype == Q4 || x.dtype == Q4K || x.dtype == Q6K) && (len(shape) == 0 || shape[len(shape)-1]%u != 0) {
		panic(fmt.Sprintf("compute: Reshape %v to %v: quantized rows must be a multiple of %d", x, shape, u))
	}
	return c.view(x, cloneShape(shape))
}

// rowElems returns the elements in one index of dimension 0 of t, checking
// that rows of them fill whole words of t's packed layout.
func rowElems(op string, t *tensor) int {
	if len(t.shape) == 0 {
		panic(fmt.Sprintf("compute: %s of a scalar %v", op, t))
	}
	re := NumElements(t.shape[1:])
	checkUnit(op, t, re)
	return re
}

// checkUnit panics unless runs of n elements of t fill whole words (blocks).
func checkUnit(op string, t *tensor, n int) {
	if u := packUnit(t.dtype); n%u != 0 {
		panic(fmt.Sprintf("compute: %s of %v: rows of %d elements do not fill whole %v words (%d elements)", op, t, n, t.dtype, u))
	}
}

func (c *context) Rows(t Tensor, start, n int) Tensor {
	c.live("Rows")
	x := c.arg("Rows", t)
	re := rowElems("Rows", x)
	if start < 0 || n < 0 || start+n > x.shape[0] {
		panic(fmt.Sprintf("compute: Rows [%d, %d) of %v", start, start+n, x))
	}
	shape := cloneShape(x.shape)
	shape[0] = n
	out := c.out(x.dtype, shape)
	if n*re > 0 {
		c.b.dev.Copy(out.operand(), x.operand(), []Span{{Src: start * re, Dst: 0, N: n * re}})
	}
	return out
}

func (c *context) Concat(ts ...Tensor) Tensor {
	c.live("Concat")
	if len(ts) == 0 {
		panic("compute: Concat of no tensors")
	}
	first := c.arg("Concat", ts[0])
	re := rowElems("Concat", first)
	xs := make([]*tensor, len(ts))
	rows := 0
	for i, t := range ts {
		x := c.arg("Concat", t)
		if x.dtype != first.dtype || len(x.shape) != len(first.shape) || !equalInts(x.shape[1:], first.shape[1:]) {
			panic(fmt.Sprintf("compute: Concat of %v and %v: dtypes or dimensions after the first differ", first, x))
		}
		xs[i] = x
		rows += x.shape[0]
	}
	shape := cloneShape(first.shape)
	shape[0] = rows
	out := c.out(first.dtype, shape)
	at := 0
	for _, x := range xs {
		if n := x.shape[0] * re; n > 0 {
			c.b.dev.Copy(out.operand(), x.operand(), []Span{{Src: 0, Dst: at, N: n}})
			at += n
		}
	}
	return out
}

func (c *context) Gather(t Tensor, idx []int32) Tensor {
	c.live("Gather")
	x := c.arg("Gather", t)
	re := rowElems("Gather", x)
	var spans []Span
	for i, r := range idx {
		if r < 0 || int(r) >= x.shape[0] {
			panic(fmt.Sprintf("compute: Gather index %d out of range for %v", r, x))
		}
		// Consecutive indices become one span (the common no-reorder case).
		if n := len(spans); n > 0 && r == idx[i-1]+1 {
			spans[n-1].N += re
			continue
		}
		spans = append(spans, Span{Src: int(r) * re, Dst: i * re, N: re})
	}
	shape := cloneShape(x.shape)
	shape[0] = len(idx)
	out := c.out(x.dtype, shape)
	if len(idx)*re > 0 {
		c.b.dev.Copy(out.operand(), x.operand(), spans)
	}
	return out
}

// SetRows writes src over rows [at, at+n) of dimension dim of dst.
func (c *context) SetRows(dst Tensor, dim, at int, src Tensor) {
	c.live("SetRows")
	d := c.arg("SetRows", dst)
	s := c.arg("SetRows", src)
	bad := func() {
		panic(fmt.Sprintf("compute: SetRows of %v into %v at dim %d row %d", s, d, dim, at))
	}
	if d.dtype != s.dtype || dim < 0 || dim > 1 || len(d.shape) <= dim || len(s.shape) != len(d.shape) || at < 0 {
		bad()
	}
	for i := range d.shape {
		if i != dim && d.shape[i] != s.shape[i] {
			bad()
		}
	}
	n := s.shape[dim]
	if at+n > d.shape[dim] {
		bad()
	}
	inner := NumElements(d.shape[dim+1:])
	checkUnit("SetRows", d, inner)
	outer := NumElements(d.shape[:dim])
	if n*inner*outer == 0 {
		return
	}
	spans := make([]Span, outer)
	for o := range spans {
		spans[o] = Span{Src: o * n * inner, Dst: (o*d.shape[dim] + at) * inner, N: n * inner}
	}
	c.b.dev.Copy(d.operand(), s.operand(), spans)
}

// --- linear algebra ---

func (c *context) Linear(x, w, bias Tensor) Tensor {
	c.live("Linear")
	xt, wt, bo, shape := c.linearArgs("Linear", x, w, bias)
	K := wt.shape[1]
	out := c.out(F32, shape)
	switch {
	case NumElements(shape) == 0:
	case K == 0:
		// No products: every row is the bias, or zero.
		c.b.dev.Clear(out.operand())
		if !bo.None() {
			c.b.dev.Add(out.operand(), out.operand(), bo)
		}
	default:
		c.b.dev.Linear(out.operand(), xt.operand(), wt.operand(), bo)
	}
	return out
}

func (c *context) MatMul(a, b Tensor, transB bool) Tensor {
	c.live("MatMul")
	at := c.f32("MatMul", a)
	bt := c.f32("MatMul", b)
	na, nb := len(at.shape), len(bt.shape)
	if na < 2 || nb < 2 {
		panic(fmt.Sprintf("compute: MatMul needs matrices or batches of them, got %v and %v", at, bt))
	}
	K := at.shape[na-1]
	N, KB := bt.shape[nb-1], bt.shape[nb-2]
	if transB {
		N, KB = KB, N
	}
	shared := nb == 2
	if KB != K || (!shared && (nb != na || !equalInts(at.shape[:na-2], bt.shape[:nb-2]))) {
		panic(fmt.Sprintf("compute: MatMul of %v and %v (transB %v): inner or batch dimensions differ", at, bt, transB))
	}
	shape := cloneShape(at.shape)
	shape[na-1] = N
	out := c.out(F32, shape)
	switch {
	case NumElements(shape) == 0:
	case K == 0:
		c.b.dev.Clear(out.operand())
	default:
		c.b.dev.MatMul(out.operand(), at.operand(), bt.operand(), transB)
	}
	return out
}

// --- element-wise ---

func (c *context) Add(a, b Tensor) Tensor {
	c.live("Add")
	at := c.f32("Add", a)
	bt := c.f32("Add", b)
	_, cols := rowsCols("Add", at)
	n, bn := NumElements(at.shape), NumElements(bt.shape)
	oneRow := len(bt.shape) > 0 && bt.shape[len(bt.shape)-1] == cols && bn == cols
	if bn != n && !oneRow {
		panic(fmt.Sprintf("compute: Add of %v and %v: b must have a's size or be one row of %d", at, bt, cols))
	}
	out := c.out(F32, cloneShape(at.shape))
	if n > 0 {
		c.b.dev.Add(out.operand(), at.operand(), bt.operand())
	}
	return out
}

func (c *context) Scale(a Tensor, s float32) Tensor {
	c.live("Scale")
	x := c.f32("Scale", a)
	out := c.out(F32, cloneShape(x.shape))
	if NumElements(x.shape) > 0 {
		c.b.dev.Scale(out.operand(), x.operand(), s)
	}
	return out
}

// activation applies act to every element of x.
func (c *context) activation(op string, act Activation, x Tensor) Tensor {
	c.live(op)
	xt := c.f32(op, x)
	out := c.out(F32, cloneShape(xt.shape))
	if NumElements(xt.shape) > 0 {
		c.b.dev.Activation(act, out.operand(), xt.operand())
	}
	return out
}

func (c *context) GELU(x Tensor) Tensor     { return c.activation("GELU", ActGELU, x) }
func (c *context) GELUTanh(x Tensor) Tensor { return c.activation("GELUTanh", ActGELUTanh, x) }
func (c *context) SiLU(x Tensor) Tensor     { return c.activation("SiLU", ActSiLU, x) }

// gatedActs are the activations Gated accepts, by the names configs use.
var gatedActs = map[string]Activation{
	"silu":      ActSiLU,
	"gelu":      ActGELU,
	"gelu_tanh": ActGELUTanh,
	"relu":      ActReLU,
}

func (c *context) Gated(act string, gate, up Tensor) Tensor {
	c.live("Gated")
	a, ok := gatedActs[act]
	if !ok {
		panic(fmt.Sprintf("compute: Gated with unknown activation %q", act))
	}
	gt := c.f32("Gated", gate)
	ut := c.f32("Gated", up)
	if !equalInts(gt.shape, ut.shape) {
		panic(fmt.Sprintf("compute: Gated of gate %v and up %v: shapes differ", gt, ut))
	}
	out := c.out(F32, cloneShape(gt.shape))
	if NumElements(gt.shape) > 0 {
		c.b.dev.Gated(a, out.operand(), gt.operand(), ut.operand())
	}
	return out
}

// --- normalisation ---

// param unwraps a per-channel parameter (norm weight or bias): F32 with
// cols values.
func (c *context) param(op, what string, x *tensor, t Tensor, cols int) Operand {
	p := c.f32(op+" "+what, t)
	if NumElements(p.shape) != cols {
		panic(fmt.Sprintf("compute: %s of %v with %s %v: want %d values", op, x, what, p, cols))
	}
	return p.operand()
}

func (c *context) LayerNorm(x, w, b Tensor, eps float32) Tensor {
	c.live("LayerNorm")
	xt := c.f32("LayerNorm", x)
	rows, cols := rowsCols("LayerNorm", xt)
	wo := c.param("LayerNorm", "weight", xt, w, cols)
	var bo Operand
	if b != nil {
		bo = c.param("LayerNorm", "bias", xt, b, cols)
	}
	out := c.out(F32, cloneShape(xt.shape))
	if rows > 0 {
		c.b.dev.LayerNorm(out.operand(), xt.operand(), wo, bo, eps)
	}
	return out
}

func (c *context) RMSNorm(x, w Tensor, eps float32) Tensor {
	c.live("RMSNorm")
	xt := c.f32("RMSNorm", x)
	rows, cols := rowsCols("RMSNorm", xt)
	wo := c.param("RMSNorm", "weight", xt, w, cols)
	out := c.out(F32, cloneShape(xt.shape))
	if rows > 0 {
		c.b.dev.RMSNorm(out.operand(), xt.operand(), wo, eps)
	}
	return out
}

// --- attention ---

func (c *context) LogSoftmax(x Tensor) Tensor {
	c.live("LogSoftmax")
	xt := c.f32("LogSoftmax", x)
	rows, _ := rowsCols("LogSoftmax", xt)
	out := c.out(F32, cloneShape(xt.shape))
	if rows > 0 {
		c.b.dev.LogSoftmax(out.operand(), xt.operand())
	}
	return out
}

func (c *context) Attention(q, k, v Tensor, o AttentionOptions) Tensor {
	c.live("Attention")
	qt := c.f32("Attention", q)
	kt := c.arg("Attention", k)
	vt := c.arg("Attention", v)
	bad := func(why string) {
		panic(fmt.Sprintf("compute: Attention of q %v, k %v, v %v with %d heads, %d kv heads, key length %d: %s",
			qt, kt, vt, o.Heads, o.KVHeads, o.KeyLen, why))
	}
	if len(qt.shape) != 3 || len(kt.shape) != 3 || !equalInts(kt.shape, vt.shape) {
		bad("want q [B, Tq, H*D] and k, v [B, Tk, KVH*D]")
	}
	if kt.dtype != vt.dtype || (kt.dtype != F32 && kt.dtype != F16) {
		bad("k and v must both be F32 or both F16")
	}
	p := AttentionParams{Batch: qt.shape[0], Queries: qt.shape[1], Keys: kt.shape[1],
		Heads: o.Heads, KVHeads: o.KVHeads, Scale: o.Scale, Causal: o.Causal}
	if p.KVHeads == 0 {
		p.KVHeads = p.Heads
	}
	if p.Heads <= 0 || p.KVHeads <= 0 || p.Heads%p.KVHeads != 0 || qt.shape[2]%p.Heads != 0 {
		bad("heads must be positive, a multiple of the kv heads, and divide q's rows")
	}
	p.HeadDim = qt.shape[2] / p.Heads
	p.KVBatch = kt.shape[0]
	if (o.Rows == nil && p.KVBatch < p.Batch) || kt.shape[2] != p.KVHeads*p.HeadDim {
		bad("k and v must be [S, Tk, KVH*D] with q's D, and without Rows S >= B")
	}
	if kt.dtype == F16 && p.HeadDim%2 != 0 {
		bad("an F16 cache needs an even head size")
	}
	p.Used = p.Keys
	if o.KeyLen > 0 {
		if o.KeyLen > p.Keys {
			bad("KeyLen exceeds the keys")
		}
		p.Used = o.KeyLen
	}
	p.Offset = p.Used - p.Queries
	// The last dimension of Mask and Bias may be Tk or, with KeyLen, KeyLen.
	okLast := func(n int) bool { return n == p.Keys || n == p.Used }
	var mo, bo Operand
	if o.Mask != nil {
		mt := c.f32("Attention mask", o.Mask)
		s := mt.shape
		if len(s) < 2 || s[0] != p.Batch || !okLast(s[len(s)-1]) || NumElements(s) != p.Batch*s[len(s)-1] {
			bad(fmt.Sprintf("mask %v must be [B, Tk]", mt))
		}
		mo, p.MaskStride = mt.operand(), s[len(s)-1]
	}
	if o.Bias != nil {
		bt := c.f32("Attention bias", o.Bias)
		s := bt.shape
		switch {
		case len(s) == 3 && s[0] == p.Heads && s[1] == p.Queries && okLast(s[2]):
		case len(s) == 4 && s[0] == p.Batch && s[1] == p.Heads && s[2] == p.Queries && okLast(s[3]):
			p.BiasBatched = true
		default:
			bad(fmt.Sprintf("bias %v must be [H, Tq, Tk] or [B, H, Tq, Tk]", bt))
		}
		bo, p.BiasStride = bt.operand(), s[len(s)-1]
	}
	var ro Operand
	if o.Rows != nil {
		rt := c.f32("Attention rows", o.Rows)
		s := rt.shape
		if len(s) != 2 || s[0] != p.Batch || !okLast(s[1]) {
			bad(fmt.Sprintf("rows %v must be [B, Tk]", rt))
		}
		ro, p.RowsStride = rt.operand(), s[1]
	}
	out := c.out(F32, cloneShape(qt.shape))
	switch {
	case NumElements(qt.shape) == 0:
	case p.Used == 0:
		// No key to attend to: every query gets zeros.
		c.b.dev.Clear(out.operand())
	default:
		c.b.dev.Attention(out.operand(), qt.operand(), kt.operand(), vt.operand(), mo, bo, ro, p)
	}
	return out
}

func (c *context) RoPE(x Tensor, pos []int32, heads int, theta float32) Tensor {
	c.live("RoPE")
	xt := c.f32("RoPE", x)
	rows, cols := rowsCols("RoPE", xt)
	if heads <= 0 || cols%heads != 0 || (cols/heads)%2 != 0 || len(pos) != rows {
		panic(fmt.Sprintf("compute: RoPE of %v with %d heads and %d positions: want rows of heads×even head size, one position per row", xt, heads, len(pos)))
	}
	for _, p := range pos {
		if p < 0 {
			panic(fmt.Sprintf("compute: RoPE of %v: negative position %d", xt, p))
		}
	}
	out := c.out(F32, cloneShape(xt.shape))
	if rows > 0 {
		c.b.dev.RoPE(out.operand(), xt.operand(), append([]int32(nil), pos...), heads, theta)
	}
	return out
}

// --- lookups ---

func (c *context) Embedding(table Tensor, ids []int32) Tensor {
	c.live("Embedding")
	tt := c.arg("Embedding", table)
	if len(tt.shape) != 2 {
		panic(fmt.Sprintf("compute: Embedding table %v must be [V, C]", tt))
	}
	v, cols := tt.shape[0], tt.shape[1]
	for _, id := range ids {
		if id < 0 || int(id) >= v {
			panic(fmt.Sprintf("compute: Embedding id %d out of range for table %v", id, tt))
		}
	}
	out := c.out(F32, []int{len(ids), cols})
	if len(ids)*cols > 0 {
		c.b.dev.Embedding(out.operand(), tt.operand(), ids)
	}
	return out
}

func (c *context) Patches(img Tensor, p int) Tensor {
	c.live("Patches")
	it := c.f32("Patches", img)
	if len(it.shape) != 4 || p <= 0 {
		panic(fmt.Sprintf("compute: Patches of %v with patch size %d: want [B, C, H, W] and p > 0", it, p))
	}
	b, ch, h, w := it.shape[0], it.shape[1], it.shape[2], it.shape[3]
	shape := []int{b, (h / p) * (w / p), ch * p * p}
	out := c.out(F32, shape)
	if NumElements(shape) > 0 {
		c.b.dev.Patches(out.operand(), it.operand(), p)
	}
	return out
}

// --- reductions returning host values ---

func (c *context) Argmax(x Tensor) []int32 {
	c.live("Argmax")
	xt := c.f32("Argmax", x)
	rows, cols := rowsCols("Argmax", xt)
	if cols == 0 {
		panic(fmt.Sprintf("compute: Argmax of empty rows %v", xt))
	}
	if rows == 0 {
		return []int32{}
	}
	if c.b.argmax != nil {
		return c.b.argmax.Argmax(xt.operand())
	}
	return hostArgmax(c.b.dev.Read(xt.operand()), rows, cols)
}

// TopK reads the rows back and selects on the host: k is small (beams) and
// a row of logits is a fraction of a millisecond to transfer. A device
// top-k will be an optional kernel found as Argmax's is.
func (c *context) TopK(x Tensor, k int) (vals []float32, idx []int32) {
	c.live("TopK")
	xt := c.f32("TopK", x)
	rows, cols := rowsCols("TopK", xt)
	if k < 0 || k > cols {
		panic(fmt.Sprintf("compute: TopK %d of rows of %v", k, xt))
	}
	if rows*k == 0 {
		return make([]float32, rows*k), make([]int32, rows*k)
	}
	return topKRows(c.b.dev.Read(xt.operand()), rows, cols, k)
}
