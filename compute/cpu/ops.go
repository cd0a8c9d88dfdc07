package cpu

import (
	"math"

	"glimpse/compute"
	"glimpse/compute/internal/parallel"
)

// Element-wise operations, normalisation, log-softmax, RoPE and lookups.
// Transcendentals (erf, tanh, exp, log) are evaluated in float64 and rounded
// to float32 once; sums are float32.

// elementGrain is the smallest chunk of elements worth a goroutine.
const elementGrain = 1 << 15

// rowGrain returns how many rows of length cols make a chunk worth a
// goroutine.
func rowGrain(cols int) int { return max(1, elementGrain/max(cols, 1)) }

// Add adds b, which has a's size or is one row repeated over a's rows.
func (device) Add(out, a, b compute.Operand) {
	o, x, y := floats(out), floats(a), floats(b)
	period := len(y)
	parallel.For(len(x)/period, max(1, elementGrain/period), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			or, xr := o[r*period:(r+1)*period], x[r*period:(r+1)*period]
			yr := y[:len(or)]
			for i := range or {
				or[i] = xr[i] + yr[i]
			}
		}
	})
}

// unary applies f to every element of x.
func unary(out, x compute.Operand, f func(float32) float32) {
	o, xd := floats(out), floats(x)
	parallel.For(len(xd), elementGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o[i] = f(xd[i])
		}
	})
}

func (device) Scale(out, x compute.Operand, s float32) {
	unary(out, x, func(v float32) float32 { return v * s })
}

func (device) Activation(act compute.Activation, out, x compute.Operand) {
	unary(out, x, activations[act])
}

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

// activations implements each compute.Activation.
var activations = [...]func(float32) float32{
	compute.ActGELU:     gelu,
	compute.ActGELUTanh: geluTanh,
	compute.ActSiLU:     silu,
	compute.ActReLU:     relu,
}

// Gated rounds the activation to float32 before the product, as PyTorch
// does when it runs act(gate) * up.
func (device) Gated(act compute.Activation, out, gate, up compute.Operand) {
	f := activations[act]
	o, g, u := floats(out), floats(gate), floats(up)
	parallel.For(len(g), elementGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o[i] = f(g[i]) * u[i]
		}
	})
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
func (device) LayerNorm(out, x, w, b compute.Operand, eps float32) {
	rows, cols := x.RowsCols()
	o, xd, wd := floats(out), floats(x), floats(w)
	var bd []float32
	if !b.None() {
		bd = floats(b)
	}
	parallel.For(rows, rowGrain(cols), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			row := xd[r*cols : (r+1)*cols]
			or := o[r*cols : (r+1)*cols]
			mean := sum32(row) / float32(cols)
			for i, v := range row {
				d := v - mean
				or[i] = d * d
			}
			variance := sum32(or) / float32(cols)
			rstd := float32(1 / math.Sqrt(float64(variance+eps)))
			for i, v := range row {
				y := (v - mean) * rstd * wd[i]
				if bd != nil {
					y += bd[i]
				}
				or[i] = y
			}
		}
	})
}

// RMSNorm is x·rsqrt(mean(x²)+eps)·w per row (LLaMA's and T5's form).
func (device) RMSNorm(out, x, w compute.Operand, eps float32) {
	rows, cols := x.RowsCols()
	o, xd, wd := floats(out), floats(x), floats(w)
	parallel.For(rows, rowGrain(cols), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			row := xd[r*cols : (r+1)*cols]
			or := o[r*cols : (r+1)*cols]
			for i, v := range row {
				or[i] = v * v
			}
			ms := sum32(or) / float32(cols)
			rstd := float32(1 / math.Sqrt(float64(ms+eps)))
			for i, v := range row {
				or[i] = wd[i] * (v * rstd)
			}
		}
	})
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

// LogSoftmax is x - (max + log(Σ exp(x - max))) per row, rounded as
// PyTorch's kernel rounds it. A row that is all -Inf stays all -Inf.
func (device) LogSoftmax(out, x compute.Operand) {
	rows, cols := x.RowsCols()
	o, xd := floats(out), floats(x)
	parallel.For(rows, rowGrain(cols), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			row := xd[r*cols : (r+1)*cols]
			or := o[r*cols : (r+1)*cols]
			m := float32(math.Inf(-1))
			for _, v := range row {
				m = max(m, v)
			}
			if math.IsInf(float64(m), -1) {
				copy(or, row)
				continue
			}
			var sum float32
			for _, v := range row {
				sum += exp32(v - m)
			}
			shift := m + float32(math.Log(float64(sum)))
			for i, v := range row {
				or[i] = v - shift
			}
		}
	})
}

// RoPE rotates each head of each row by compute.RoPETable's (cos, sin).
func (device) RoPE(out, x compute.Operand, pos []int32, heads int, theta float32) {
	rows, cols := x.RowsCols()
	o, xd := floats(out), floats(x)
	d := cols / heads
	cs := compute.RoPETable(pos, d, theta)
	half := d / 2
	parallel.For(rows, rowGrain(cols), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			rc := cs[r*half*2 : (r+1)*half*2]
			for h := 0; h < heads; h++ {
				in := xd[r*cols+h*d : r*cols+(h+1)*d]
				or := o[r*cols+h*d : r*cols+(h+1)*d]
				for i := 0; i < half; i++ {
					x1, x2 := in[i], in[i+half]
					c, s := rc[2*i], rc[2*i+1]
					// The conversions forbid fused multiply-adds, so every
					// product is rounded as PyTorch's separate ops round it.
					or[i] = float32(x1*c) - float32(x2*s)
					or[i+half] = float32(x2*c) + float32(x1*s)
				}
			}
		}
	})
}

// Embedding widens rows ids of table [V, C] (any dtype) to F32.
func (device) Embedding(out, table compute.Operand, ids []int32) {
	cols := table.Shape[1]
	w := weightsOf(table)
	o := floats(out)
	for i, id := range ids {
		dst := o[i*cols : (i+1)*cols]
		if r := w.row(int(id), dst); w.dt == compute.F32 {
			copy(dst, r)
		}
	}
}

// Patches cuts img [B, C, H, W] into p×p patches, row-major over the
// (H/p)×(W/p) grid (any remainder at the right and bottom is dropped, as a
// stride-p convolution does), each flattened as (c, y, x).
func (device) Patches(out, img compute.Operand, p int) {
	b, ch, h, w := img.Shape[0], img.Shape[1], img.Shape[2], img.Shape[3]
	id, o := floats(img), floats(out)
	gh, gw := h/p, w/p
	plen := ch * p * p
	for n := 0; n < b; n++ {
		for py := 0; py < gh; py++ {
			for px := 0; px < gw; px++ {
				op := o[((n*gh+py)*gw+px)*plen:]
				for ci := 0; ci < ch; ci++ {
					for y := 0; y < p; y++ {
						src := id[((n*ch+ci)*h+py*p+y)*w+px*p:]
						copy(op[(ci*p+y)*p:(ci*p+y+1)*p], src[:p])
					}
				}
			}
		}
	}
}
