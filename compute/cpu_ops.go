package compute

import (
	"container/heap"
	"fmt"
	"math"
)

// Element-wise operations, normalisation, softmax, RoPE and lookups on the
// CPU. Transcendentals (erf, tanh, exp, sin, cos) are evaluated in float64 and
// rounded to float32 once; sums are float32.

// elementGrain is the smallest chunk of elements worth a goroutine.
const elementGrain = 1 << 15

// rowGrain returns how many rows of length cols make a chunk worth a
// goroutine.
func rowGrain(cols int) int { return max(1, elementGrain/max(cols, 1)) }

// broadcastOperand checks b against a for Add and Mul: the same number of
// elements, or one row of a's row length. It returns b's period.
func broadcastOperand(op string, at, bt *cpuTensor) int {
	_, cols := rowsCols(op, at.shape)
	nb := NumElements(bt.shape)
	switch {
	case nb == NumElements(at.shape):
		return nb
	case nb == cols:
		return cols
	}
	panic(fmt.Sprintf("compute: %s of %v and %v: b must have a's shape or be one row of %d", op, at, bt, cols))
}

// binary applies a + b (mul false) or a * b (mul true) with broadcasting.
func (c *cpuContext) binary(op string, a, b Tensor, mul bool) Tensor {
	at, ad := f32(op, a)
	bt, bd := f32(op, b)
	period := broadcastOperand(op, at, bt)
	out := make([]float32, len(ad))
	if period == 0 {
		return c.newF32(cloneShape(at.shape), out)
	}
	parallelFor(len(ad)/period, max(1, elementGrain/period), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			o := out[r*period : (r+1)*period]
			x := ad[r*period : (r+1)*period]
			y := bd[:len(o)]
			if mul {
				for i := range o {
					o[i] = x[i] * y[i]
				}
			} else {
				for i := range o {
					o[i] = x[i] + y[i]
				}
			}
		}
	})
	return c.newF32(cloneShape(at.shape), out)
}

func (c *cpuContext) Add(a, b Tensor) Tensor { return c.binary("Add", a, b, false) }
func (c *cpuContext) Mul(a, b Tensor) Tensor { return c.binary("Mul", a, b, true) }

// unary applies f to every element of x.
func (c *cpuContext) unary(op string, x Tensor, f func(float32) float32) Tensor {
	xt, xd := f32(op, x)
	out := make([]float32, len(xd))
	parallelFor(len(xd), elementGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = f(xd[i])
		}
	})
	return c.newF32(cloneShape(xt.shape), out)
}

func (c *cpuContext) Scale(a Tensor, s float32) Tensor {
	return c.unary("Scale", a, func(x float32) float32 { return x * s })
}

func (c *cpuContext) GELU(x Tensor) Tensor     { return c.unary("GELU", x, gelu) }
func (c *cpuContext) GELUTanh(x Tensor) Tensor { return c.unary("GELUTanh", x, geluTanh) }
func (c *cpuContext) SiLU(x Tensor) Tensor     { return c.unary("SiLU", x, silu) }

// gelu is the exact form x/2·(1 + erf(x/√2)).
func gelu(x float32) float32 {
	v := float64(x)
	return float32(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
}

// geluTanh is x/2·(1 + tanh(√(2/π)·(x + 0.044715x³))).
func geluTanh(x float32) float32 {
	v := float64(x)
	return float32(0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))))
}

// silu is x·sigmoid(x).
func silu(x float32) float32 {
	v := float64(x)
	return float32(v / (1 + math.Exp(-v)))
}

func relu(x float32) float32 { return max(x, 0) }

// gatedActs are the activations Gated accepts.
var gatedActs = map[string]func(float32) float32{
	"silu":      silu,
	"gelu":      gelu,
	"gelu_tanh": geluTanh,
	"relu":      relu,
}

// Gated returns act(gate)·up; the activation is rounded to float32 before
// the product, as PyTorch does when it runs act(gate) * up.
func (c *cpuContext) Gated(act string, gate, up Tensor) Tensor {
	f, ok := gatedActs[act]
	if !ok {
		panic(fmt.Sprintf("compute: Gated with unknown activation %q", act))
	}
	gt, gd := f32("Gated", gate)
	ut, ud := f32("Gated", up)
	if !equalInts(gt.shape, ut.shape) {
		panic(fmt.Sprintf("compute: Gated of gate %v and up %v: shapes differ", gt, ut))
	}
	out := make([]float32, len(gd))
	parallelFor(len(gd), elementGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = f(gd[i]) * ud[i]
		}
	})
	return c.newF32(cloneShape(gt.shape), out)
}

// vector returns the elements of a per-channel parameter (norm weights),
// widened to float32, checking it has n of them.
func vector(op string, t Tensor, n int) []float32 {
	ct := tensor(op, t)
	if NumElements(ct.shape) != n {
		panic(fmt.Sprintf("compute: %s parameter %v: want %d values", op, ct, n))
	}
	return floats(ct)
}

// sum32 adds xs in float32 with four accumulators.
func sum32(xs []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		s0 += xs[i]
		s1 += xs[i+1]
		s2 += xs[i+2]
		s3 += xs[i+3]
	}
	for ; i < len(xs); i++ {
		s0 += xs[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// LayerNorm computes, per row, the mean and then the variance of the
// deviations (two passes, float32), and (x-mean)·rsqrt(var+eps)·w + b.
func (c *cpuContext) LayerNorm(x, w, b Tensor, eps float32) Tensor {
	xt, xd := f32("LayerNorm", x)
	rows, cols := rowsCols("LayerNorm", xt.shape)
	wd := vector("LayerNorm weight", w, cols)
	var bd []float32
	if b != nil {
		bd = vector("LayerNorm bias", b, cols)
	}
	out := make([]float32, len(xd))
	parallelFor(rows, rowGrain(cols), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			row := xd[r*cols : (r+1)*cols]
			o := out[r*cols : (r+1)*cols]
			mean := sum32(row) / float32(cols)
			for i, v := range row {
				d := v - mean
				o[i] = d * d
			}
			variance := sum32(o) / float32(cols)
			rstd := float32(1 / math.Sqrt(float64(variance+eps)))
			for i, v := range row {
				y := (v - mean) * rstd * wd[i]
				if bd != nil {
					y += bd[i]
				}
				o[i] = y
			}
		}
	})
	return c.newF32(cloneShape(xt.shape), out)
}

// RMSNorm is x·rsqrt(mean(x²)+eps)·w per row (LLaMA's and T5's form).
func (c *cpuContext) RMSNorm(x, w Tensor, eps float32) Tensor {
	xt, xd := f32("RMSNorm", x)
	rows, cols := rowsCols("RMSNorm", xt.shape)
	wd := vector("RMSNorm weight", w, cols)
	out := make([]float32, len(xd))
	parallelFor(rows, rowGrain(cols), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			row := xd[r*cols : (r+1)*cols]
			o := out[r*cols : (r+1)*cols]
			for i, v := range row {
				o[i] = v * v
			}
			ms := sum32(o) / float32(cols)
			rstd := float32(1 / math.Sqrt(float64(ms+eps)))
			for i, v := range row {
				o[i] = wd[i] * (v * rstd)
			}
		}
	})
	return c.newF32(cloneShape(xt.shape), out)
}

// exp32 is e^x rounded to float32.
func exp32(x float32) float32 { return float32(math.Exp(float64(x))) }

// softmaxRow replaces row with its softmax. A row whose values are all -Inf
// (everything masked) becomes all zeros rather than NaN.
func softmaxRow(row []float32) {
	m := float32(math.Inf(-1))
	for _, v := range row {
		m = max(m, v)
	}
	if math.IsInf(float64(m), -1) {
		clear(row)
		return
	}
	var sum float32
	for i, v := range row {
		e := exp32(v - m)
		row[i] = e
		sum += e
	}
	for i := range row {
		row[i] /= sum
	}
}

// Softmax of each row of x + mask. mask is nil, x's shape, or one row
// broadcast over every row. Rows that are entirely -Inf give zeros.
func (c *cpuContext) Softmax(x, mask Tensor) Tensor {
	xt, xd := f32("Softmax", x)
	rows, cols := rowsCols("Softmax", xt.shape)
	var md []float32
	period := 0
	if mask != nil {
		var mt *cpuTensor
		mt, md = f32("Softmax mask", mask)
		period = broadcastOperand("Softmax", xt, mt)
	}
	out := make([]float32, len(xd))
	copy(out, xd)
	parallelFor(rows, rowGrain(cols), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			o := out[r*cols : (r+1)*cols]
			if md != nil {
				off := (r * cols) % period
				mrow := md[off : off+cols]
				for i := range o {
					o[i] += mrow[i]
				}
			}
			softmaxRow(o)
		}
	})
	return c.newF32(cloneShape(xt.shape), out)
}

// LogSoftmax of each row: x - (max + log(Σ exp(x - max))), rounded as
// PyTorch's kernel rounds it. A row that is all -Inf stays all -Inf.
func (c *cpuContext) LogSoftmax(x Tensor) Tensor {
	xt, xd := f32("LogSoftmax", x)
	rows, cols := rowsCols("LogSoftmax", xt.shape)
	out := make([]float32, len(xd))
	parallelFor(rows, rowGrain(cols), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			row := xd[r*cols : (r+1)*cols]
			o := out[r*cols : (r+1)*cols]
			m := float32(math.Inf(-1))
			for _, v := range row {
				m = max(m, v)
			}
			if math.IsInf(float64(m), -1) {
				copy(o, row)
				continue
			}
			var sum float32
			for _, v := range row {
				sum += exp32(v - m)
			}
			shift := m + float32(math.Log(float64(sum)))
			for i, v := range row {
				o[i] = v - shift
			}
		}
	})
	return c.newF32(cloneShape(xt.shape), out)
}

// RoPE rotates each head of each row by its position, LLaMA's rotate-half
// layout, with the angles computed as transformers does: inv_freq and
// pos·inv_freq in float32, then cos and sin of that float32 angle.
func (c *cpuContext) RoPE(x Tensor, pos []int32, heads int, theta float32) Tensor {
	xt, xd := f32("RoPE", x)
	rows, cols := rowsCols("RoPE", xt.shape)
	if heads <= 0 || cols%heads != 0 || (cols/heads)%2 != 0 || len(pos) != rows {
		panic(fmt.Sprintf("compute: RoPE of %v with %d heads and %d positions: want rows of heads×even head size, one position per row", xt, heads, len(pos)))
	}
	d := cols / heads
	half := d / 2
	invFreq := make([]float32, half)
	for i := range invFreq {
		e := float32(2*i) / float32(d)
		invFreq[i] = 1 / float32(math.Pow(float64(theta), float64(e)))
	}
	out := make([]float32, len(xd))
	parallelFor(rows, rowGrain(cols), func(r0, r1 int) {
		cos := make([]float32, half)
		sin := make([]float32, half)
		for r := r0; r < r1; r++ {
			p := float32(pos[r])
			for i, f := range invFreq {
				a := float64(float32(p * f))
				cos[i] = float32(math.Cos(a))
				sin[i] = float32(math.Sin(a))
			}
			for h := 0; h < heads; h++ {
				in := xd[r*cols+h*d : r*cols+(h+1)*d]
				o := out[r*cols+h*d : r*cols+(h+1)*d]
				for i := 0; i < half; i++ {
					x1, x2 := in[i], in[i+half]
					// The conversions forbid fused multiply-adds, so every
					// product is rounded as PyTorch's separate ops round it.
					o[i] = float32(x1*cos[i]) - float32(x2*sin[i])
					o[i+half] = float32(x2*cos[i]) + float32(x1*sin[i])
				}
			}
		}
	})
	return c.newF32(cloneShape(xt.shape), out)
}

// Embedding returns rows ids of table [V, C] (any dtype) as F32.
func (c *cpuContext) Embedding(table Tensor, ids []int32) Tensor {
	tt := tensor("Embedding", table)
	if len(tt.shape) != 2 {
		panic(fmt.Sprintf("compute: Embedding table %v must be [V, C]", tt))
	}
	v, cols := tt.shape[0], tt.shape[1]
	w := &weightRows{dt: tt.dtype, k: cols, f: tt.data.f, words: tt.data.words, scales: tt.data.scales}
	out := make([]float32, len(ids)*cols)
	for i, id := range ids {
		if id < 0 || int(id) >= v {
			panic(fmt.Sprintf("compute: Embedding id %d out of range for table %v", id, tt))
		}
		dst := out[i*cols : (i+1)*cols]
		if r := w.row(int(id), dst); w.dt == F32 {
			copy(dst, r)
		}
	}
	return c.newF32([]int{len(ids), cols}, out)
}

// Patches cuts img [B, C, H, W] into p×p patches, row-major over the
// (H/p)×(W/p) grid (any remainder at the right and bottom is dropped, as a
// stride-p convolution does), each flattened as (c, y, x).
func (c *cpuContext) Patches(img Tensor, p int) Tensor {
	it, id := f32("Patches", img)
	if len(it.shape) != 4 || p <= 0 {
		panic(fmt.Sprintf("compute: Patches of %v with patch size %d: want [B, C, H, W] and p > 0", it, p))
	}
	b, ch, h, w := it.shape[0], it.shape[1], it.shape[2], it.shape[3]
	gh, gw := h/p, w/p
	plen := ch * p * p
	out := make([]float32, b*gh*gw*plen)
	for n := 0; n < b; n++ {
		for py := 0; py < gh; py++ {
			for px := 0; px < gw; px++ {
				o := out[((n*gh+py)*gw+px)*plen:]
				for ci := 0; ci < ch; ci++ {
					for y := 0; y < p; y++ {
						src := id[((n*ch+ci)*h+py*p+y)*w+px*p:]
						copy(o[(ci*p+y)*p:(ci*p+y+1)*p], src[:p])
					}
				}
			}
		}
	}
	return c.newF32([]int{b, gh * gw, plen}, out)
}

// Argmax returns the index of each row's largest value; among equal values
// the lowest index wins, and NaN is never chosen over a number.
func (c *cpuContext) Argmax(x Tensor) []int32 {
	xt, xd := f32("Argmax", x)
	rows, cols := rowsCols("Argmax", xt.shape)
	if cols == 0 {
		panic(fmt.Sprintf("compute: Argmax of empty rows %v", xt))
	}
	out := make([]int32, rows)
	for r := range out {
		row := xd[r*cols : (r+1)*cols]
		best := 0
		for i, v := range row {
			if v > row[best] || (row[best] != row[best] && v == v) {
				best = i
			}
		}
		out[r] = int32(best)
	}
	return out
}

// topHeap is a min-heap of candidate (value, index) pairs ordered so that
// the root is the worst of the current top k: the smallest value, and among
// equal values the highest index.
type topHeap struct {
	v []float32
	i []int32
}

func (h *topHeap) Len() int { return len(h.v) }
func (h *topHeap) Less(a, b int) bool {
	return worse(h.v[a], h.i[a], h.v[b], h.i[b])
}
func (h *topHeap) Swap(a, b int) {
	h.v[a], h.v[b] = h.v[b], h.v[a]
	h.i[a], h.i[b] = h.i[b], h.i[a]
}
func (h *topHeap) Push(x any) { panic("topHeap is fixed-size") }
func (h *topHeap) Pop() any   { panic("topHeap is fixed-size") }

// worse reports whether (v1, i1) ranks below (v2, i2): smaller value, or the
// same value at a higher index. NaN ranks below every number.
func worse(v1 float32, i1 int32, v2 float32, i2 int32) bool {
	n1, n2 := v1 != v1, v2 != v2
	switch {
	case n1 != n2:
		return n1
	case n1 || v1 == v2:
		return i1 > i2
	}
	return v1 < v2
}

// TopK returns each row's k largest values and their indices, best first;
// equal values keep ascending index order. The results are rows×k long.
func (c *cpuContext) TopK(x Tensor, k int) (vals []float32, idx []int32) {
	xt, xd := f32("TopK", x)
	rows, cols := rowsCols("TopK", xt.shape)
	if k < 0 || k > cols {
		panic(fmt.Sprintf("compute: TopK %d of rows of %v", k, xt))
	}
	return topKRows(xd, rows, cols, k)
}

// topKRows selects each row's k best values of a rows×cols matrix on the
// host, for both backends: a bounded heap per row, then a heap sort of it
// into best-first order.
func topKRows(data []float32, rows, cols, k int) (vals []float32, idx []int32) {
	vals = make([]float32, rows*k)
	idx = make([]int32, rows*k)
	if k == 0 {
		return vals, idx
	}
	for r := 0; r < rows; r++ {
		row := data[r*cols : (r+1)*cols]
		h := &topHeap{v: vals[r*k : (r+1)*k], i: idx[r*k : (r+1)*k]}
		for i := 0; i < k; i++ {
			h.v[i], h.i[i] = row[i], int32(i)
		}
		heap.Init(h)
		for i := k; i < cols; i++ {
			if worse(h.v[0], h.i[0], row[i], int32(i)) {
				h.v[0], h.i[0] = row[i], int32(i)
				heap.Fix(h, 0)
			}
		}
		for n := k - 1; n > 0; n-- {
			h.Swap(0, n)
			heap.Fix(&topHeap{v: h.v[:n], i: h.i[:n]}, 0)
		}
	}
	return vals, idx
}
