package cpu

import (
	"fmt"
	"math"
	"sync"

	"glimpse/compute"
	"glimpse/compute/internal/parallel"
)

// Linear algebra.
//
// Linear multiplies rows of x by rows of w (PyTorch's [out, in] layout), so
// every output is a dot product of two contiguous rows. Work is split over
// blocks of w rows. With few x rows (decoding: fewer than four for the
// pure-Go kernels, up to eight for the SIMD ones of vec.go) each w row is
// widened and multiplied in one fused pass, reading every weight once, which
// is what bounds matrix–vector speed; F32, F16 and BF16 rows four at a time
// where the processor has such kernels. Q8, Q4 and Q4K weights instead meet
// x rounded to bytes (qdot.go, gemvInt), for decoding and for prompts of up
// to intRows rows. With more x rows, where this processor
// has a matrix-product micro-kernel in assembly (vec.gemm), the packed,
// register- and cache-blocked product of gemm.go runs; elsewhere four w rows
// at a time are widened into a float32 scratch block that stays in cache and
// is multiplied against pairs of x rows (2×4 register block: 8 accumulators).
//
// MatMul with transB has the same layout and shares that kernel; without
// transB it packs b's columns for the same micro-kernel, or accumulates
// c[i,:] += a[i,k]·b[k,:] over column blocks of b, which reads b
// contiguously.

// linearRowBlock is how many w rows one parallel task takes at least.
const linearRowBlock = 16

// vecRowBlock is how many weight rows one task of a matrix–vector product
// takes (a multiple of four, for the four-row kernels). Chunks this small
// (64 to 500 per product) keep the cores finishing together whatever
// their speed, which memory traffic makes uneven; ggml hands out 16-row
// chunks for the same reason. With a quarter of a product per core and
// task, one slow core held up every step.
const vecRowBlock = 64

// intRowBlock is vecRowBlock for the integer kernels, whose tasks read
// 0.6–1.2 MB of Q4K or Q8 weights at 256 rows of Vicuna-7B's widths. Eight
// Q4K layers in sequence (BenchmarkCPUDecodeLayersHuge, four alternating
// rounds on the 2-core CI machine) ran at 17.8–18.4 GB/s with 64-row tasks,
// 17.9–18.9 with 128, 19.4–19.8 with 256 and 18.8–20.7 with 512 (Q8
// layers 22.1–23.7, 22.2–23.5, 23.1–24.4, 23.5–24.8). What a task costs
// beyond its bytes was not isolated: each core's next task starts a new
// prefetch stream, yet handing each core a contiguous run of 64-row tasks
// recovered only a third of the difference. Products of 4096 rows still
// make 16 tasks.
const intRowBlock = 256

// smallM is the number of x rows below which Linear uses the fused
// matrix–vector kernels when they are the pure-Go ones (vec.go's fusedRows:
// the SIMD kernels take up to eight).
const smallM = 4

// scratchPool recycles the float32 blocks that hold widened weight rows.
var scratchPool sync.Pool

func getScratch(n int) *[]float32 {
	if p, ok := scratchPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

// weightRows gives access to the rows of a [N, K] weight of any dtype.
type weightRows struct {
	dt     compute.DType
	k      int
	f      []float32
	words  []uint32
	scales []float32
}

// weightsOf returns the rows of a 2-D operand of any dtype.
func weightsOf(w compute.Operand) *weightRows {
	b := buf(w)
	return &weightRows{dt: w.DType, k: w.Shape[1], f: b.f, words: b.words, scales: b.scales}
}

// halfTable holds the float32 value of every half, so that the dot
// kernels widen F16 with one indexed load from a table of this package.
var halfTable = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = compute.HalfToFloat32(uint16(i))
	}
	return &t
}()

// aligned reports whether rows start on word boundaries, which the fused
// kernels need (always true for F32, Q8, Q4, Q4K; F16/BF16 need an even K).
func (w *weightRows) aligned() bool {
	return w.dt == compute.F32 || w.dt == compute.Q8 || w.dt == compute.Q4 || w.dt == compute.Q4K || w.k%2 == 0
}

// row widens row n into dst (len k). For F32 it returns the row itself.
func (w *weightRows) row(n int, dst []float32) []float32 {
	k := w.k
	switch {
	case w.dt == compute.F32:
		return w.f[n*k : (n+1)*k]
	case (w.dt == compute.F16 || w.dt == compute.BF16) && k%2 == 0:
		src := w.words[n*k/2 : (n+1)*k/2]
		dst = dst[:2*len(src)]
		if w.dt == compute.F16 {
			for j, v := range src {
				dst[2*j] = halfTable[uint16(v)]
				dst[2*j+1] = halfTable[v>>16]
			}
		} else {
			for j, v := range src {
				dst[2*j] = compute.BF16ToFloat32(uint16(v))
				dst[2*j+1] = compute.BF16ToFloat32(uint16(v >> 16))
			}
		}
		return dst
	case w.dt == compute.Q8:
		src := w.words[n*k/4 : (n+1)*k/4]
		sc := w.scales[n*k/compute.BlockSize : (n+1)*k/compute.BlockSize]
		dst = dst[:4*len(src)]
		for j, v := range src {
			s := sc[j/(compute.BlockSize/4)]
			d := dst[4*j : 4*j+4]
			d[0] = int8Value[uint8(v)] * s
			d[1] = int8Value[uint8(v>>8)] * s
			d[2] = int8Value[uint8(v>>16)] * s
			d[3] = int8Value[v>>24] * s
		}
		return dst
	case w.dt == compute.Q4K:
		src := w.words[n*k/compute.SuperBlockSize*compute.Q4KWords : (n+1)*k/compute.SuperBlockSize*compute.Q4KWords]
		dst = dst[:k]
		for s := 0; s < len(src)/compute.Q4KWords; s++ {
			compute.DequantizeQ4K(src[s*compute.Q4KWords:(s+1)*compute.Q4KWords], (*[compute.SuperBlockSize]float32)(dst[s*compute.SuperBlockSize:]))
		}
		return dst
	case w.dt == compute.Q6K:
		src := w.words[n*k/compute.SuperBlockSize*compute.Q6KWords : (n+1)*k/compute.SuperBlockSize*compute.Q6KWords]
		dst = dst[:k]
		for s := 0; s < len(src)/compute.Q6KWords; s++ {
			compute.DequantizeQ6K(src[s*compute.Q6KWords:(s+1)*compute.Q6KWords], (*[compute.SuperBlockSize]float32)(dst[s*compute.SuperBlockSize:]))
		}
		return dst
	case w.dt == compute.Q4:
		src := w.words[n*k/8 : (n+1)*k/8]
		sc := w.scales[n*k/compute.BlockSize : (n+1)*k/compute.BlockSize]
		dst = dst[:8*len(src)]
		for j, v := range src {
			s := sc[j/(compute.BlockSize/8)]
			d := dst[8*j : 8*j+8]
			for b := range d {
				d[b] = nibbleValue[v>>(4*uint(b))&15] * s
			}
		}
		return dst
	}
	// F16 or BF16 rows of odd length start in the middle of a word.
	dst = dst[:k]
	for j := range dst {
		i := n*k + j
		h := uint16(w.words[i/2] >> (16 * uint(i&1)))
		if w.dt == compute.F16 {
			dst[j] = halfTable[h]
		} else {
			dst[j] = compute.BF16ToFloat32(h)
		}
	}
	return dst
}

// dot returns x·(row n of w) for an aligned weight, widening as it goes,
// with this processor's kernels (vec.go).
func (w *weightRows) dot(x []float32, n int) float32 {
	k := w.k
	switch w.dt {
	case compute.F32:
		return vec.f32(x, w.f[n*k:(n+1)*k])
	case compute.F16:
		return vec.f16(x, w.words[n*k/2:(n+1)*k/2])
	case compute.BF16:
		return vec.bf16(x, w.words[n*k/2:(n+1)*k/2])
	case compute.Q8:
		return vec.q8(x, w.words[n*k/4:(n+1)*k/4], w.scales[n*k/compute.BlockSize:(n+1)*k/compute.BlockSize])
	case compute.Q4:
		return vec.q4(x, w.words[n*k/8:(n+1)*k/8], w.scales[n*k/compute.BlockSize:(n+1)*k/compute.BlockSize])
	case compute.Q4K:
		const sw = compute.Q4KWords
		return vec.q4k(x, w.words[n*k/compute.SuperBlockSize*sw:(n+1)*k/compute.SuperBlockSize*sw])
	case compute.Q6K:
		// Only where there are no integer kernels (the purego build):
		// Q6K rows are whole super-blocks, which those always take.
		const sw = compute.Q6KWords
		return dotQ6K(x, w.words[n*k/compute.SuperBlockSize*sw:(n+1)*k/compute.SuperBlockSize*sw])
	}
	panic(fmt.Sprintf("cpu: Linear with weight dtype %v", w.dt))
}

// dot4 writes the products of four x rows (x[r*ldx:], r < 4) with row n
// of w to out and reports true, where this processor's kernels have an x4
// kernel for w's dtype; else it does nothing and reports false.
func (w *weightRows) dot4(x []float32, ldx, n int, out *[4]float32) bool {
	k := w.k
	switch {
	case w.dt == compute.F32 && vec.f32x4 != nil:
		vec.f32x4(x, ldx, w.f[n*k:(n+1)*k], out)
	case w.dt == compute.F16 && vec.f16x4 != nil:
		vec.f16x4(x, ldx, w.words[n*k/2:(n+1)*k/2], out)
	case w.dt == compute.BF16 && vec.bf16x4 != nil:
		vec.bf16x4(x, ldx, w.words[n*k/2:(n+1)*k/2], out)
	case w.dt == compute.Q8 && vec.q8x4 != nil:
		vec.q8x4(x, ldx, w.words[n*k/4:(n+1)*k/4], w.scales[n*k/compute.BlockSize:(n+1)*k/compute.BlockSize], out)
	case w.dt == compute.Q4 && vec.q4x4 != nil:
		vec.q4x4(x, ldx, w.words[n*k/8:(n+1)*k/8], w.scales[n*k/compute.BlockSize:(n+1)*k/compute.BlockSize], out)
	case w.dt == compute.Q4K && vec.q4kx4 != nil:
		const sw = compute.Q4KWords
		vec.q4kx4(x, ldx, w.words[n*k/compute.SuperBlockSize*sw:(n+1)*k/compute.SuperBlockSize*sw], out)
	default:
		return false
	}
	return true
}

// rows4 returns this processor's four-weight-row kernels where they take
// w (F32, F16 or BF16 with K a multiple of their step), else nil.
func (w *weightRows) rows4() *floatRows {
	fr := vec.rows4
	if fr == nil || w.k%fr.step != 0 || w.k == 0 {
		return nil
	}
	switch w.dt {
	case compute.F32, compute.F16, compute.BF16:
		return fr
	}
	return nil
}

// dotRows4 writes x·(row n+j·s of w) to out[j] for j < 4 with fr
// (w.rows4): four rows s apart (s ≥ 1).
func (w *weightRows) dotRows4(fr *floatRows, x []float32, n, s int, out *[4]float32) {
	k, end := w.k, n+3*s+1
	x = x[:k]
	switch w.dt {
	case compute.F32:
		fr.f32(x, w.f[n*k:end*k], s*k, out)
	case compute.F16:
		fr.f16(x, w.words[n*k/2:end*k/2], s*k/2, out)
	case compute.BF16:
		fr.bf16(x, w.words[n*k/2:end*k/2], s*k/2, out)
	}
}

// dot4Rows4 writes (x row r)·(row n+j·s of w) to out[4r+j] for r, j < 4,
// the x rows ldx apart and the weight rows s apart, with fr (w.rows4).
func (w *weightRows) dot4Rows4(fr *floatRows, x []float32, ldx, n, s int, out *[16]float32) {
	k, end := w.k, n+3*s+1
	switch w.dt {
	case compute.F32:
		fr.f32x4(x, ldx, k, w.f[n*k:end*k], s*k, out)
	case compute.F16:
		fr.f16x4(x, ldx, k, w.words[n*k/2:end*k/2], s*k/2, out)
	case compute.BF16:
		fr.bf16x4(x, ldx, k, w.words[n*k/2:end*k/2], s*k/2, out)
	}
}

// int8Value maps a stored Q8 byte to its signed value: a table load is
// cheaper than sign extension and an integer-to-float conversion.
var int8Value = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(int8(uint8(i)))
	}
	return t
}()

// nibbleValue maps a stored Q4 nibble to its signed value.
var nibbleValue = [16]float32{-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7}

// dotF32 is x·w (len(w) >= len(x)) with eight float32 accumulators, enough
// independent additions to keep the floating-point units busy.
func dotF32(x, w []float32) float32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	// Written so that the compiler drops every bounds check in the loop.
	for len(x) >= 8 && len(w) >= 8 {
		s0 += x[0] * w[0]
		s1 += x[1] * w[1]
		s2 += x[2] * w[2]
		s3 += x[3] * w[3]
		s4 += x[4] * w[4]
		s5 += x[5] * w[5]
		s6 += x[6] * w[6]
		s7 += x[7] * w[7]
		x, w = x[8:], w[8:]
	}
	w = w[:len(x)]
	for i, v := range x {
		s0 += v * w[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// dotF16 is x·w for halves packed two per word (len(x) == 2*len(w)).
func dotF16(x []float32, w []uint32) float32 {
	x = x[:2*len(w)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+2 <= len(w); i += 2 {
		a, b := w[i], w[i+1]
		xx := x[2*i : 2*i+4]
		s0 += xx[0] * halfTable[uint16(a)]
		s1 += xx[1] * halfTable[a>>16]
		s2 += xx[2] * halfTable[uint16(b)]
		s3 += xx[3] * halfTable[b>>16]
	}
	if i < len(w) {
		a := w[i]
		s0 += x[2*i] * halfTable[uint16(a)]
		s1 += x[2*i+1] * halfTable[a>>16]
	}
	return (s0 + s1) + (s2 + s3)
}

// dotBF16 is x·w for bfloat16 packed two per word.
func dotBF16(x []float32, w []uint32) float32 {
	x = x[:2*len(w)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+2 <= len(w); i += 2 {
		a, b := w[i], w[i+1]
		xx := x[2*i : 2*i+4]
		s0 += xx[0] * compute.BF16ToFloat32(uint16(a))
		s1 += xx[1] * compute.BF16ToFloat32(uint16(a>>16))
		s2 += xx[2] * compute.BF16ToFloat32(uint16(b))
		s3 += xx[3] * compute.BF16ToFloat32(uint16(b>>16))
	}
	if i < len(w) {
		a := w[i]
		s0 += x[2*i] * compute.BF16ToFloat32(uint16(a))
		s1 += x[2*i+1] * compute.BF16ToFloat32(uint16(a>>16))
	}
	return (s0 + s1) + (s2 + s3)
}

// dotQ8 is x·w for int8 blocks: each block's integer-weighted sum is
// multiplied by its scale once.
func dotQ8(x []float32, w []uint32, scales []float32) float32 {
	x = x[:len(scales)*compute.BlockSize]
	w = w[:len(scales)*compute.BlockSize/4]
	var total float32
	for b, s := range scales {
		xb := x[b*compute.BlockSize : (b+1)*compute.BlockSize]
		wb := w[b*compute.BlockSize/4 : (b+1)*compute.BlockSize/4]
		var s0, s1, s2, s3 float32
		for i, v := range wb {
			xx := xb[4*i : 4*i+4]
			s0 += xx[0] * int8Value[uint8(v)]
			s1 += xx[1] * int8Value[uint8(v>>8)]
			s2 += xx[2] * int8Value[uint8(v>>16)]
			s3 += xx[3] * int8Value[v>>24]
		}
		total += ((s0 + s1) + (s2 + s3)) * s
	}
	return total
}

// dotQ4 is x·w for 4-bit blocks, scaled per block as dotQ8.
func dotQ4(x []float32, w []uint32, scales []float32) float32 {
	x = x[:len(scales)*compute.BlockSize]
	w = w[:len(scales)*compute.BlockSize/8]
	var total float32
	for b, s := range scales {
		xb := x[b*compute.BlockSize : (b+1)*compute.BlockSize]
		wb := w[b*compute.BlockSize/8 : (b+1)*compute.BlockSize/8]
		var s0, s1, s2, s3 float32
		for i, v := range wb {
			xx := xb[8*i : 8*i+8]
			s0 += xx[0]*nibbleValue[v&15] + xx[4]*nibbleValue[v>>16&15]
			s1 += xx[1]*nibbleValue[v>>4&15] + xx[5]*nibbleValue[v>>20&15]
			s2 += xx[2]*nibbleValue[v>>8&15] + xx[6]*nibbleValue[v>>24&15]
			s3 += xx[3]*nibbleValue[v>>12&15] + xx[7]*nibbleValue[v>>28]
		}
		total += ((s0 + s1) + (s2 + s3)) * s
	}
	return total
}

// dotQ4K is x·w for Q4K super-blocks. A value is scale·q − min per
// 32-element sub-block, so a sub-block contributes scale·Σx·q − min·Σx:
// the integer-weighted sum and the plain sum of x are accumulated over the
// sub-block, and its scale and min applied once.
func dotQ4K(x []float32, w []uint32) float32 {
	const sb, bs = compute.SuperBlockSize, compute.BlockSize
	x = x[:len(w)/compute.Q4KWords*sb]
	var total float32
	for s := 0; s < len(w)/compute.Q4KWords; s++ {
		blk := w[s*compute.Q4KWords : (s+1)*compute.Q4KWords]
		scale, minv := compute.Q4KSubBlocks(blk)
		qs := blk[4:compute.Q4KWords]
		xs := x[s*sb : (s+1)*sb]
		// Each 64-element chunk is 8 words: sub-block 2c in the low
		// nibbles, 2c+1 in the high ones.
		for c := 0; c < 4; c++ {
			q := qs[8*c : 8*c+8]
			xl := xs[64*c : 64*c+bs]
			xh := xs[64*c+bs : 64*c+2*bs]
			var l0, l1, h0, h1, sl, sh float32
			for i, v := range q {
				a := xl[4*i : 4*i+4]
				b := xh[4*i : 4*i+4]
				l0 += a[0]*nibbleU[v&15] + a[1]*nibbleU[v>>8&15]
				l1 += a[2]*nibbleU[v>>16&15] + a[3]*nibbleU[v>>24&15]
				h0 += b[0]*nibbleU[v>>4&15] + b[1]*nibbleU[v>>12&15]
				h1 += b[2]*nibbleU[v>>20&15] + b[3]*nibbleU[v>>28&15]
				sl += (a[0] + a[1]) + (a[2] + a[3])
				sh += (b[0] + b[1]) + (b[2] + b[3])
			}
			total += scale[2*c]*(l0+l1) - minv[2*c]*sl
			total += scale[2*c+1]*(h0+h1) - minv[2*c+1]*sh
		}
	}
	return total
}

// dotQ6K is x·w for Q6K super-blocks. A value is d·sc_j·(q − 32) per
// group j of 16, so each group's float sum of x·(q − 32) is scaled once.
// Element 32k + l of a 128-element half has its low bits in byte
// l + 32·(k&1) of the half's ql, shifted by 4·(k>>1), and its top two in
// byte l of its qh, shifted by 2k (compute/quant.go).
func dotQ6K(x []float32, w []uint32) float32 {
	const sb, sw = compute.SuperBlockSize, compute.Q6KWords
	x = x[:len(w)/sw*sb]
	var total float32
	for s := 0; s < len(w)/sw; s++ {
		blk := w[s*sw : (s+1)*sw]
		d, sc := compute.Q6KScales(blk)
		var bytes [4 * sw]uint8 // by shifts: right on any byte order
		for i, v := range blk {
			bytes[4*i], bytes[4*i+1], bytes[4*i+2], bytes[4*i+3] = uint8(v), uint8(v>>8), uint8(v>>16), uint8(v>>24)
		}
		xs := x[s*sb : (s+1)*sb]
		var acc [16]float32
		for h := range 2 {
			ql, qh := bytes[64*h:64*h+64], bytes[128+32*h:128+32*h+32]
			for l := range 32 {
				lo, hi, top := ql[l], ql[l+32], qh[l]
				e := 128*h + l
				g := 8*h + l/16
				acc[g] += xs[e] * float32(int(lo&15|top&3<<4)-32)
				acc[g+2] += xs[e+32] * float32(int(hi&15|top>>2&3<<4)-32)
				acc[g+4] += xs[e+64] * float32(int(lo>>4|top>>4&3<<4)-32)
				acc[g+6] += xs[e+96] * float32(int(hi>>4|top>>6<<4)-32)
			}
		}
		var t float32
		for j, a := range acc {
			t += float32(sc[j]) * a
		}
		total += d * t
	}
	return total
}

// nibbleU maps an unsigned Q4K nibble to its value.
var nibbleU = [16]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

// dot2x4 returns the eight dot products of x rows a0, a1 with w rows
// b0..b3 (all of length len(a0)) in one pass over k.
func dot2x4(a0, a1, b0, b1, b2, b3 []float32) (c [8]float32) {
	n := len(a0)
	a1 = a1[:n]
	b0, b1, b2, b3 = b0[:n], b1[:n], b2[:n], b3[:n]
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	for k := 0; k < n; k++ {
		x0, x1 := a0[k], a1[k]
		w0, w1, w2, w3 := b0[k], b1[k], b2[k], b3[k]
		c00 += x0 * w0
		c01 += x0 * w1
		c02 += x0 * w2
		c03 += x0 * w3
		c10 += x1 * w0
		c11 += x1 * w1
		c12 += x1 * w2
		c13 += x1 * w3
	}
	return [8]float32{c00, c01, c02, c03, c10, c11, c12, c13}
}

// dot1x4 returns the dot products of x row a with w rows b0..b3.
func dot1x4(a, b0, b1, b2, b3 []float32) (c0, c1, c2, c3 float32) {
	n := len(a)
	b0, b1, b2, b3 = b0[:n], b1[:n], b2[:n], b3[:n]
	for k := 0; k < n; k++ {
		x := a[k]
		c0 += x * b0[k]
		c1 += x * b1[k]
		c2 += x * b2[k]
		c3 += x * b3[k]
	}
	return
}

// gemmNT computes out[m, n] = x[m]·w[n] (+ bias[n]) for m < M and n in
// [0, N), writing rows of length ldo. x holds M rows of length K.
func gemmNT(x []float32, M, K int, w *weightRows, N int, bias []float32, out []float32, ldo int) {
	if M == 0 || N == 0 {
		return
	}
	fused := M <= vec.fusedRows && w.aligned()
	if ik, ok := w.intPath(M); ok {
		gemvInt(ik, x, M, K, N, bias, out, ldo)
		return
	}
	if !fused && vec.gemm != nil && K > 0 {
		gemmPacked(vec.gemm, x, M, K, packRows(vec.gemm, w, K), N, bias, out, ldo)
		return
	}
	// Chunks are whole blocks of four w rows.
	grain := (parallel.Grain(N, linearRowBlock) + 3) &^ 3
	if fused {
		grain = vecRowBlock
	}
	parallel.For(N, grain, func(n0, n1 int) {
		if fused {
			n := n0
			if fr := w.rows4(); fr != nil {
				// Four weight rows at a time, every x row against them:
				// rows n0+i+j·q (j < 4) of the task's 4q, four streams a
				// quarter of the task apart rather than four neighbouring
				// rows. Past the cache this machine serves separate
				// regions faster than one (as for the Q4K and Q8 rows
				// kernels): F16 4096×11008, one x row, 1.5–2.1 ms against
				// 2.1–2.5 with neighbouring rows (ggml 1.6–2.0 beside it).
				var o4 [4]float32
				var o16 [16]float32
				q := (n1 - n0) / 4
				for i := range q {
					nb := n0 + i
					var b [4]float32
					if bias != nil {
						for j := range 4 {
							b[j] = bias[nb+j*q]
						}
					}
					m := 0
					for ; m+4 <= M; m += 4 {
						w.dot4Rows4(fr, x[m*K:], K, nb, q, &o16)
						for r := range 4 {
							for j := range 4 {
								out[(m+r)*ldo+nb+j*q] = o16[4*r+j] + b[j]
							}
						}
					}
					for ; m < M; m++ {
						w.dotRows4(fr, x[m*K:(m+1)*K], nb, q, &o4)
						for j := range 4 {
							out[m*ldo+nb+j*q] = o4[j] + b[j]
						}
					}
				}
				n = n0 + 4*q
			}
			for ; n < n1; n++ {
				var b float32
				if bias != nil {
					b = bias[n]
				}
				m := 0
				// Four x rows at a time where an x4 kernel reads the
				// weight row once for all four.
				var o4 [4]float32
				for ; m+4 <= M && w.dot4(x[m*K:], K, n, &o4); m += 4 {
					for r, v := range o4 {
						out[(m+r)*ldo+n] = v + b
					}
				}
				for ; m < M; m++ {
					out[m*ldo+n] = w.dot(x[m*K:(m+1)*K], n) + b
				}
			}
			return
		}
		var sp *[]float32
		if w.dt != compute.F32 {
			sp = getScratch(4 * K)
			defer scratchPool.Put(sp)
		}
		for nb := n0; nb < n1; nb += 4 {
			r := min(4, n1-nb)
			var rows [4][]float32
			for j := 0; j < r; j++ {
				var dst []float32
				if sp != nil {
					dst = (*sp)[j*K : (j+1)*K]
				}
				rows[j] = w.row(nb+j, dst)
			}
			if r < 4 {
				for j := 0; j < r; j++ {
					for m := 0; m < M; m++ {
						out[m*ldo+nb+j] = dotF32(x[m*K:(m+1)*K], rows[j])
					}
				}
			} else {
				m := 0
				for ; m+2 <= M; m += 2 {
					c := dot2x4(x[m*K:(m+1)*K], x[(m+1)*K:(m+2)*K], rows[0], rows[1], rows[2], rows[3])
					copy(out[m*ldo+nb:m*ldo+nb+4], c[:4])
					copy(out[(m+1)*ldo+nb:(m+1)*ldo+nb+4], c[4:])
				}
				if m < M {
					o := out[m*ldo+nb : m*ldo+nb+4]
					o[0], o[1], o[2], o[3] = dot1x4(x[m*K:(m+1)*K], rows[0], rows[1], rows[2], rows[3])
				}
			}
			if bias != nil {
				for m := 0; m < M; m++ {
					o := out[m*ldo+nb : m*ldo+nb+r]
					for j := range o {
						o[j] += bias[nb+j]
					}
				}
			}
		}
	})
}

// intRows is the most x rows for which Linear runs the integer kernels
// (where this processor has four-row ones for dt) rather than the packed
// float matrix product: a prompt's rows meet each quantized weight row
// while it is in L1, with no packing. Measured on 4096→11008, two cores
// (BenchmarkCPUPrefillPaths: 16, 32 and 64 rows, both paths): Q4K 2.0×,
// 1.6× and 1.2× the packed product's speed; Q8 1.4×, 1.1×, 0.8×. Q8
// prompts keep float32 x all the same: rounding x in the prompt too took
// the tiny Vicuna's largest q8 logit error from 0.38 to 0.56 (model's
// TestPrecisionGolden), for 10% on its 32-row products.
//
// Q6K takes the integer kernels at any number of rows: the packed product
// would widen its rows through the scalar decoder (there is no SIMD Q6K
// transpose), 160–180 ms for 4096×11008 whatever M, while the integer
// kernels take 9–10 ms at 16 rows, 18 at 32 and 38 at 64 (142–157 GFLOP/s,
// flat in M), so they stay ahead up to prompts of about 250 rows, longer
// than a question about an image.
func intRows(dt compute.DType) int {
	switch dt {
	case compute.Q4K:
		return 64
	case compute.Q6K:
		return math.MaxInt
	}
	return simdFusedRows
}

// intPath returns w's integer kernels (qdot.go) where Linear takes them for
// M x rows: up to intRows(w.dt) rows, and more than one only where there
// is a four-row kernel or the fused kernels take M rows.
func (w *weightRows) intPath(M int) (intKernel, bool) {
	if M > intRows(w.dt) {
		return intKernel{}, false
	}
	ik, ok := w.intKernels()
	if !ok || !(M <= vec.fusedRows && w.aligned() || ik.four != nil) {
		return intKernel{}, false
	}
	return ik, true
}

// intProduct is x rounded to 8 bits once (quantizeRows) for one or more
// integer products: a decoding step's query, key and value weights, or
// its gate and up weights, share one rounding and one parallel loop.
type intProduct struct {
	xq   *qrows
	rows []qrow
}

// newIntProduct rounds the M rows of x (length K). Call release after use.
func newIntProduct(x []float32, M, K int) intProduct {
	xq := quantizeRows(x, M, K)
	return intProduct{xq: xq, rows: xq.all(M)}
}

// release gives the rounded rows back to their pool.
func (p intProduct) release() { qrowsPool.Put(p.xq) }

// block writes x·wᵀ (+ bias) for weight rows [n0, n1) to out, x row m's at
// out[m·ldo+n]; ik is w's kernels. Every weight row meets all of x while
// it is in cache, four x rows at a time where ik has a kernel for four.
func (p intProduct) block(ik intKernel, n0, n1 int, bias, out []float32, ldo int) {
	M := len(p.rows)
	if M == 1 && ik.rows != nil {
		// Decoding: the task's rows in one call, then the bias.
		ik.rows(p.rows[0], n0, out[n0:n1])
		if bias != nil {
			for n := n0; n < n1; n++ {
				out[n] += bias[n]
			}
		}
		return
	}
	var o4 [4]float32
	for n := n0; n < n1; n++ {
		var b float32
		if bias != nil {
			b = bias[n]
		}
		m := 0
		if ik.four != nil {
			for ; m+4 <= M; m += 4 {
				ik.four(p.xq, m, n, &o4)
				for r, v := range o4 {
					out[(m+r)*ldo+n] = v + b
				}
			}
		}
		for ; m < M; m++ {
			out[m*ldo+n] = ik.one(p.rows[m], n) + b
		}
	}
}

// gemvInt is gemmNT's path for integer kernels: x rounded once, then
// tasks of intRowBlock weight rows.
func gemvInt(ik intKernel, x []float32, M, K, N int, bias []float32, out []float32, ldo int) {
	p := newIntProduct(x, M, K)
	defer p.release()
	parallel.For(N, intRowBlock, func(n0, n1 int) { p.block(ik, n0, n1, bias, out, ldo) })
}

// Linear multiplies the rows of x by the rows of w (any dtype).
func (device) Linear(out, x, w, bias compute.Operand) {
	var bd []float32
	if !bias.None() {
		bd = floats(bias)
	}
	N, K := w.Shape[0], w.Shape[1]
	M := x.Len() / K
	gemmNT(floats(x), M, K, weightsOf(w), N, bd, floats(out), N)
}

// MatMul returns a·b or a·bᵀ per batch entry; a 2-D b is shared by every
// entry of a.
func (device) MatMul(out, a, b compute.Operand, transB bool) {
	na, nb := len(a.Shape), len(b.Shape)
	M, K := a.Shape[na-2], a.Shape[na-1]
	N := b.Shape[nb-1]
	if transB {
		N = b.Shape[nb-2]
	}
	batch := compute.NumElements(a.Shape[:na-2])
	shared := nb == 2
	ad, bd, od := floats(a), floats(b), floats(out)
	one := func(i int) {
		bi := i
		if shared {
			bi = 0
		}
		am := ad[i*M*K : (i+1)*M*K]
		bm := bd[bi*K*N : (bi+1)*K*N]
		om := od[i*M*N : (i+1)*M*N]
		if transB {
			gemmNT(am, M, K, &weightRows{dt: compute.F32, k: K, f: bm}, N, nil, om, N)
		} else if vec.gemm != nil && K > 0 && M > vec.fusedRows {
			gemmPacked(vec.gemm, am, M, K, packCols(vec.gemm, bm, K, N), N, nil, om, N)
		} else {
			clear(om) // gemmNN accumulates into it
			gemmNN(am, M, K, bm, N, om)
		}
	}
	// Many small products (per-head scores) are spread over the cores one
	// product each; large ones parallelise inside.
	if batch > 1 && M*N*K < 1<<20 {
		parallel.For(batch, max(1, (1<<16)/max(1, M*N*K)), func(i0, i1 int) {
			for i := i0; i < i1; i++ {
				one(i)
			}
		})
	} else {
		for i := 0; i < batch; i++ {
			one(i)
		}
	}
}

// gemmNNCols is the width of the column blocks of b that gemmNN works on:
// K rows of it stay in cache while every row of a passes over them.
const gemmNNCols = 256

// gemmNNDepth is the number of rows of b (a multiple of 4) in one slab of
// gemmNN: 256×256 float32 is 256 KiB, within a core's L2 cache.
const gemmNNDepth = 256

// gemmNN computes out = a·b for a [M, K] and b [K, N], all row-major, as
// out[m, cols] += a[m, k]·b[k, cols], four k at a time.
func gemmNN(a []float32, M, K int, b []float32, N int, out []float32) {
	if M == 0 || N == 0 {
		return
	}
	blocks := (N + gemmNNCols - 1) / gemmNNCols
	// Split rows too when there are few column blocks, so that every core
	// has work.
	rowGrain := M
	if blocks < 4*parallel.Procs() {
		rowGrain = max(8, M*blocks/(4*parallel.Procs()))
	}
	rowTasks := (M + rowGrain - 1) / rowGrain
	parallel.For(blocks*rowTasks, 1, func(t0, t1 int) {
		for t := t0; t < t1; t++ {
			c0 := (t % blocks) * gemmNNCols
			c1 := min(c0+gemmNNCols, N)
			m0 := (t / blocks) * rowGrain
			m1 := min(m0+rowGrain, M)
			w := c1 - c0
			// K is walked in slabs so that the gemmNNDepth×w tile of b
			// stays in cache while every row of the task passes over it;
			// each output still sums its k terms in ascending order.
			for k0 := 0; k0 < K; k0 += gemmNNDepth {
				k1 := min(k0+gemmNNDepth, K)
				for m := m0; m < m1; m++ {
					o := out[m*N+c0 : m*N+c1]
					ar := a[m*K : (m+1)*K]
					k := k0
					for ; k+4 <= k1; k += 4 {
						axpy4(o, ar[k], ar[k+1], ar[k+2], ar[k+3],
							b[k*N+c0:k*N+c0+w], b[(k+1)*N+c0:(k+1)*N+c0+w],
							b[(k+2)*N+c0:(k+2)*N+c0+w], b[(k+3)*N+c0:(k+3)*N+c0+w])
					}
					for ; k < k1; k++ {
						s := ar[k]
						br := b[k*N+c0 : k*N+c0+w]
						for j := range o {
							o[j] += s * br[j]
						}
					}
				}
			}
		}
	})
}

// axpy4 adds a0·b0 + a1·b1 + a2·b2 + a3·b3 to o.
func axpy4(o []float32, a0, a1, a2, a3 float32, b0, b1, b2, b3 []float32) {
	n := len(o)
	b0, b1, b2, b3 = b0[:n], b1[:n], b2[:n], b3[:n]
	for j := range o {
		o[j] += a0*b0[j] + a1*b1[j] + a2*b2[j] + a3*b3[j]
	}
}
