package cpu

import (
	"math"
	"sync"

	"glimpse/compute"
)

// The integer matrix–vector path.
//
// With Q8, Q4 or Q4K weights, a float32 x row costs more to multiply than
// the weights cost to read: every weight is widened to float32 first. ggml
// instead rounds x to 8-bit integers once per product (its vec_dot_type)
// and multiplies bytes by bytes, four pairs per lane and instruction
// (VPDPBUSD, SDOT), which leaves the kernel bound by memory. This file does
// the same under compute's contract for quantized weights (compute.Linear:
// x may be rounded to 8 bits per block of BlockSize, to multiples of its
// block's largest magnitude / 127). The rounding is finer than ggml's for
// Q4K, whose x blocks there are 256 long (Q8_K): here every 32 values have
// their own scale, and the terms that need only Σx per block (Q4K's mins,
// Q4's offset of 8) take the exact float32 sum instead of the rounded one.

// qrow is one x row rounded to 8 bits: q[i]·d[i/32] is element i.
type qrow struct {
	q    []int8
	d    []float32 // per block of 32: the scale, its largest |x| / 127
	sum  []float32 // per block: Σx of the row as it was (float32, in order)
	isum []int32   // per block: Σq
}

// qrows holds m rounded rows of length k, one after another.
type qrows struct {
	k    int
	q    []int8
	d    []float32
	sum  []float32
	isum []int32
	rows []qrow // rows(), kept with the pooled storage
}

// all returns rows 0…m−1, in storage that is reused with x's (a decoding
// step's products allocate nothing).
func (x *qrows) all(m int) []qrow {
	x.rows = x.rows[:0]
	for r := range m {
		x.rows = append(x.rows, x.row(r))
	}
	return x.rows
}

// row returns rounded row r.
func (x *qrows) row(r int) qrow {
	k, nb := x.k, x.k/compute.BlockSize
	return qrow{q: x.q[r*k : (r+1)*k], d: x.d[r*nb : (r+1)*nb], sum: x.sum[r*nb : (r+1)*nb], isum: x.isum[r*nb : (r+1)*nb]}
}

// qrowsPool recycles the rounded rows of one product.
var qrowsPool sync.Pool

// quantizeRows rounds m rows of x (length k, a multiple of BlockSize) to
// 8 bits per block. Put the result back in qrowsPool after use.
func quantizeRows(x []float32, m, k int) *qrows {
	const bs = compute.BlockSize
	nb := m * k / bs
	p, _ := qrowsPool.Get().(*qrows)
	if p == nil || cap(p.q) < m*k || cap(p.d) < nb {
		p = &qrows{q: make([]int8, m*k), d: make([]float32, nb), sum: make([]float32, nb), isum: make([]int32, nb)}
	}
	p.k = k
	p.q, p.d, p.sum, p.isum = p.q[:m*k], p.d[:nb], p.sum[:nb], p.isum[:nb]
	x = x[:m*k]
	for b := range nb {
		p.d[b], p.sum[b], p.isum[b] = quantizeBlock8(x[b*bs:(b+1)*bs], p.q[b*bs:(b+1)*bs])
	}
	return p
}

// quantizeBlock8 rounds one block of x to q·d with d = max|x| / 127 and q
// the nearest integer to x/d (ties away from zero, as ggml's roundf), and
// returns d, Σx and Σq. A block of zeros has d = 0 and q = 0.
func quantizeBlock8(x []float32, q []int8) (d, sum float32, isum int32) {
	// max|x| as bits: for floats of one sign the bit patterns order as
	// the values do, and any NaN's pattern is above +Inf's. (One pass
	// without math.Abs and max's NaN checks: decoding rounds every x
	// row of every product on one core while the other waits.)
	var abits uint32
	for _, v := range x {
		sum += v
		abits = max(abits, math.Float32bits(v)&^(1<<31))
	}
	amax := math.Float32frombits(abits)
	q = q[:len(x)]
	inv := 127 / amax
	if abits >= 0x7f800000 {
		// NaN or ±Inf in x: a NaN scale carries it into every product,
		// where the float kernels give NaN or ±Inf.
		clear(q)
		return float32(math.NaN()), sum, 0
	}
	if math.IsInf(float64(inv), 0) {
		// Zeros, or values so small (below 4e-37) that 127/max|x|
		// overflows: they round to zero.
		clear(q)
		return 0, sum, 0
	}
	d = amax / 127
	for i, v := range x {
		// |v·inv| ≤ 127 up to one rounding, so the result fits int8.
		// Adding ±0.5 in float64 is exact for such values, and the
		// conversion truncates: the nearest integer, ties away from
		// zero, as math.Round (and ggml's roundf) gives.
		r := int32(float64(v*inv) + math.Copysign(0.5, float64(v)))
		q[i] = int8(r)
		isum += r
	}
	return d, sum, isum
}

// The reference integer kernels: the pure-Go definition that every SIMD
// integer kernel is tested against. They compute each block's integer
// sum exactly and combine the blocks in float32.

// dotQ8i is x·w for Q8 weights: Σ_b scale_b·d_b·Σ w·q.
func dotQ8i(x qrow, w []uint32, scales []float32) float32 {
	const bs = compute.BlockSize
	var total float32
	for b, s := range scales {
		q := x.q[b*bs : (b+1)*bs]
		ws := w[b*bs/4 : (b+1)*bs/4]
		var acc int32
		for i, v := range ws {
			acc += int32(int8(v))*int32(q[4*i]) + int32(int8(v>>8))*int32(q[4*i+1]) +
				int32(int8(v>>16))*int32(q[4*i+2]) + int32(int8(v>>24))*int32(q[4*i+3])
		}
		total += s * x.d[b] * float32(acc)
	}
	return total
}

// dotQ4i is x·w for Q4 weights, whose values are scale·(n − 8) for
// nibbles n: Σ_b scale_b·(d_b·Σ n·q − 8·Σx_b).
func dotQ4i(x qrow, w []uint32, scales []float32) float32 {
	const bs = compute.BlockSize
	var total float32
	for b, s := range scales {
		q := x.q[b*bs : (b+1)*bs]
		ws := w[b*bs/8 : (b+1)*bs/8]
		var acc int32
		for i, v := range ws {
			for j := range 8 {
				acc += int32(v>>(4*uint(j))&15) * int32(q[8*i+j])
			}
		}
		total += s * (x.d[b]*float32(acc) - 8*x.sum[b])
	}
	return total
}

// dotQ4Ki is x·w for Q4K super-blocks, whose values are scale_j·n − min_j
// per sub-block j: Σ_j scale_j·d_j·Σ n·q − min_j·Σx_j.
func dotQ4Ki(x qrow, w []uint32) float32 {
	const sb, bs, sw = compute.SuperBlockSize, compute.BlockSize, compute.Q4KWords
	var total float32
	var sm [16]float32
	for s := 0; s < len(w)/sw; s++ {
		blk := w[s*sw : (s+1)*sw]
		q4kScalesMins(blk, &sm)
		qs := blk[4:]
		for j := range 8 {
			// Sub-block j is chunk j/2's low (even j) or high nibbles.
			c, shift := j/2, 4*uint(j&1)
			q := x.q[s*sb+j*bs : s*sb+(j+1)*bs]
			var acc int32
			for i := range bs {
				n := qs[8*c+i/4] >> (8*uint(i%4) + shift) & 15
				acc += int32(n) * int32(q[i])
			}
			sub := s*8 + j
			total += sm[j]*x.d[sub]*float32(acc) - sm[8+j]*x.sum[sub]
		}
	}
	return total
}

// dotQ6Ki is x·w for Q6K super-blocks, whose values are d·sc_j·(q − 32)
// per group j of 16: per super-block d·Σ_b x.d[b]·Σ_{j in b} sc_j·Σ
// (q − 32)·x.q, block b's two groups combined in int32 (|Σ| ≤ 2·128·16·
// 32·127 < 2^24, so exact in float32 too).
func dotQ6Ki(x qrow, w []uint32) float32 {
	const sb, bs, sw = compute.SuperBlockSize, compute.BlockSize, compute.Q6KWords
	var total float32
	for s := 0; s < len(w)/sw; s++ {
		blk := w[s*sw : (s+1)*sw]
		d, sc := compute.Q6KScales(blk)
		var t float32
		for b := range sb / bs {
			var acc int32
			for g := 2 * b; g < 2*b+2; g++ {
				var ig int32
				for e := 16 * g; e < 16*g+16; e++ {
					ig += (int32(compute.Q6KValue(blk, e)) - 32) * int32(x.q[s*sb+e])
				}
				acc += int32(sc[g]) * ig
			}
			t += x.d[s*sb/bs+b] * float32(acc)
		}
		total += d * t
	}
	return total
}

// intKernel is one weight's integer kernels in the form Linear calls them:
// one (rounded) x row against weight row n, and, where this processor has
// one, rows m..m+3 of x against it.
type intKernel struct {
	one  func(x qrow, n int) float32
	four func(x *qrows, m, n int, out *[4]float32)
	// rows writes one x row against weight rows [n0, n0+len(out)) to out
	// in one call; nil where there is no such kernel.
	rows func(x qrow, n0 int, out []float32)
}

// intKernels returns this processor's integer kernels for w's dtype, or
// ok false where there are none (then Linear keeps x in float32).
func (w *weightRows) intKernels() (ik intKernel, ok bool) {
	k := w.k
	if k%compute.BlockSize != 0 {
		return ik, false
	}
	switch {
	case w.dt == compute.Q8 && vec.q8i != nil:
		row := func(n int) ([]uint32, []float32) {
			return w.words[n*k/4 : (n+1)*k/4], w.scales[n*k/compute.BlockSize : (n+1)*k/compute.BlockSize]
		}
		ik.one = func(x qrow, n int) float32 {
			ws, sc := row(n)
			return vec.q8i(x, ws, sc)
		}
		if vec.q8ix4 != nil {
			ik.four = func(x *qrows, m, n int, out *[4]float32) {
				ws, sc := row(n)
				vec.q8ix4(x, m, ws, sc, out)
			}
		}
		if vec.q8irows != nil {
			ik.rows = func(x qrow, n0 int, out []float32) {
				n1 := n0 + len(out)
				vec.q8irows(x, w.words[n0*k/4:n1*k/4], w.scales[n0*k/compute.BlockSize:n1*k/compute.BlockSize], out)
			}
		}
	case w.dt == compute.Q4 && vec.q4i != nil:
		ik.one = func(x qrow, n int) float32 {
			return vec.q4i(x, w.words[n*k/8:(n+1)*k/8], w.scales[n*k/compute.BlockSize:(n+1)*k/compute.BlockSize])
		}
		if vec.q4irows != nil {
			ik.rows = func(x qrow, n0 int, out []float32) {
				n1 := n0 + len(out)
				vec.q4irows(x, w.words[n0*k/8:n1*k/8], w.scales[n0*k/compute.BlockSize:n1*k/compute.BlockSize], out)
			}
		}
	case w.dt == compute.Q4K && vec.q4ki != nil:
		const sw = compute.Q4KWords
		row := func(n int) []uint32 {
			return w.words[n*k/compute.SuperBlockSize*sw : (n+1)*k/compute.SuperBlockSize*sw]
		}
		ik.one = func(x qrow, n int) float32 { return vec.q4ki(x, row(n)) }
		if vec.q4kix4 != nil {
			ik.four = func(x *qrows, m, n int, out *[4]float32) { vec.q4kix4(x, m, row(n), out) }
		}
		if vec.q4kirows != nil {
			ik.rows = func(x qrow, n0 int, out []float32) {
				vec.q4kirows(x, w.words[n0*k/compute.SuperBlockSize*sw:(n0+len(out))*k/compute.SuperBlockSize*sw], out)
			}
		}
	case w.dt == compute.Q6K && vec.q6ki != nil:
		const sw = compute.Q6KWords
		row := func(n int) []uint32 {
			return w.words[n*k/compute.SuperBlockSize*sw : (n+1)*k/compute.SuperBlockSize*sw]
		}
		ik.one = func(x qrow, n int) float32 { return vec.q6ki(x, row(n)) }
		if vec.q6kix4 != nil {
			ik.four = func(x *qrows, m, n int, out *[4]float32) { vec.q6kix4(x, m, row(n), out) }
		}
		if vec.q6kirows != nil {
			ik.rows = func(x qrow, n0 int, out []float32) {
				vec.q6kirows(x, w.words[n0*k/compute.SuperBlockSize*sw:(n0+len(out))*k/compute.SuperBlockSize*sw], out)
			}
		}
	default:
		return ik, false
	}
	return ik, true
}
