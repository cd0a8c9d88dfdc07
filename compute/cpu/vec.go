package cpu

import "glimpse/compute"

// Matrix–vector kernels and their dispatch.
//
// The fused matrix–vector path of Linear (few x rows) spends its time in
// five dot products: one x row against one weight row of F32, F16, Q8,
// Q4 or Q4K. The pure-Go versions in linear.go are the reference and the fallback;
// the files vec_<arch>.go offer SIMD versions in Go assembly, and the best
// set this processor runs is chosen once, at start-up (the purego build tag
// keeps the pure-Go set everywhere).

// vecKernels is one implementation of the matrix–vector dot products, with
// the contracts of dotF32, dotF16, dotBF16, dotQ8, dotQ4 and dotQ4K.
type vecKernels struct {
	name string
	f32  func(x, w []float32) float32
	f16  func(x []float32, w []uint32) float32
	bf16 func(x []float32, w []uint32) float32
	q8   func(x []float32, w []uint32, scales []float32) float32
	q4   func(x []float32, w []uint32, scales []float32) float32
	q4k  func(x []float32, w []uint32) float32

	// The x4 kernels take one weight row against four x rows, row r at
	// x[r*ldx:], and write the four products to out, loading and widening
	// each weight once. A nil one means one-row calls.
	f32x4 func(x []float32, ldx int, w []float32, out *[4]float32)
	f16x4 func(x []float32, ldx int, w []uint32, out *[4]float32)
	// bf16x4 may be nil where f16x4 is not: BF16 then runs row by row.
	bf16x4 func(x []float32, ldx int, w []uint32, out *[4]float32)
	q8x4   func(x []float32, ldx int, w []uint32, scales []float32, out *[4]float32)
	q4x4   func(x []float32, ldx int, w []uint32, scales []float32, out *[4]float32)
	q4kx4  func(x []float32, ldx int, w []uint32, out *[4]float32)

	// The integer kernels (qdot.go) take x rounded to 8 bits per block
	// (qrow) against one row of Q8, Q4 or Q4K weights, with the
	// contracts of dotQ8i, dotQ4i and dotQ4Ki. nil: Linear keeps x in
	// float32 for that dtype and runs the kernels above.
	q8i  func(x qrow, w []uint32, scales []float32) float32
	q4i  func(x qrow, w []uint32, scales []float32) float32
	q4ki func(x qrow, w []uint32) float32
	// q4kix4 writes q4ki of rows m..m+3 of x with w to out, decoding
	// and unpacking each weight once for the four; nil: row by row.
	q4kix4 func(x *qrows, m int, w []uint32, out *[4]float32)
	// q8ix4 is q4kix4 for Q8 weights.
	q8ix4 func(x *qrows, m int, w []uint32, scales []float32, out *[4]float32)
	// q8irows, q4irows and q4kirows are q8i, q4i and q4ki over
	// len(out) consecutive weight rows, one call for a decoding task's
	// rows; nil: row by row.
	q8irows  func(x qrow, w []uint32, scales []float32, out []float32)
	q4irows  func(x qrow, w []uint32, scales []float32, out []float32)
	q4kirows func(x qrow, w []uint32, out []float32)
	// q6ki, q6kix4 and q6kirows are q4ki, q4kix4 and q4kirows for Q6K
	// weights, with the contract of dotQ6Ki. Q6K has no float32 kernels
	// in the sets: where q6ki is nil, Linear runs the pure-Go dotQ6K.
	q6ki     func(x qrow, w []uint32) float32
	q6kix4   func(x *qrows, m int, w []uint32, out *[4]float32)
	q6kirows func(x qrow, w []uint32, out []float32)

	// axpy and axpyF16 add a·v to dst (len(dst) values; F16: two
	// halves per word of v), attention's accumulation of values.
	axpy    func(dst []float32, a float32, v []float32)
	axpyF16 func(dst []float32, a float32, v []uint32)

	// heads holds attention's kernels over a block of heads (nil: none);
	// Attention then makes one call per cached position, not one per head.
	heads *headKernels

	// halves packs 2·len(dst) float32 values into F16, two per word, low
	// half first, rounding as compute.Float32ToHalf does: SplitQKV's
	// stores into an F16 cache.
	halves func(dst []uint32, src []float32)

	// rows4 holds kernels that take four weight rows at once (nil:
	// none), which the fused path prefers for F32, F16 and BF16.
	rows4 *floatRows

	// gemm is the micro-kernel of the packed matrix product (gemm.go)
	// that Linear and MatMul run for more x rows than fusedRows; nil
	// where there is none, and they widen blocks of weight rows instead.
	gemm *gemmKernel

	// fusedRows is the most x rows for which Linear runs these kernels
	// row by row (the weight row stays in cache between them) rather than
	// widening blocks of weight rows into float32 first.
	fusedRows int
}

// floatRows is a set of multi-row float kernels: four weight rows,
// ldw elements (F32) or words (F16, BF16) apart, against one x row (len
// k) into out[j], or against four x rows (ldx apart) into out[4r+j]. k
// must be a multiple of step; every weight row must start on a word.
type floatRows struct {
	step          int
	f32           func(x []float32, w []float32, ldw int, out *[4]float32)
	f16, bf16     func(x []float32, w []uint32, ldw int, out *[4]float32)
	f32x4         func(x []float32, ldx, k int, w []float32, ldw int, out *[16]float32)
	f16x4, bf16x4 func(x []float32, ldx, k int, w []uint32, ldw int, out *[16]float32)
}

// headKernels are attention's kernels for an F16 cache over a block of
// len(q)/d (or len(dst)/d) heads whose rows lie side by side, d values
// apart; d must be a multiple of step. dotF16 sets out[h·stride] to
// scale·(q_h·k_h) and axpyF16 adds p[h·stride]·v_h to dst_h, each head's
// result bit for bit that of the set's f16 and axpyF16 kernels.
type headKernels struct {
	step    int
	dotF16  func(q []float32, k []uint32, d int, scale float32, out []float32, stride int)
	axpyF16 func(dst []float32, p []float32, stride int, v []uint32, d int)
}

// pureGoKernels is the reference set, which runs everywhere.
var pureGoKernels = vecKernels{name: "pure-go", f32: dotF32, f16: dotF16, bf16: dotBF16, q8: dotQ8, q4: dotQ4, q4k: dotQ4K,
	axpy: axpyF32, axpyF16: axpyF16, halves: halves, fusedRows: smallM - 1}

// axpyF32 adds a·v to dst (len(v) >= len(dst)).
func axpyF32(dst []float32, a float32, v []float32) {
	v = v[:len(dst)]
	for i := range dst {
		dst[i] += a * v[i]
	}
}

// axpyF16 adds a·v to dst for F16 v, two halves per word.
func axpyF16(dst []float32, a float32, v []uint32) {
	dst = dst[:2*len(v)]
	for e, w := range v {
		dst[2*e] += a * halfTable[uint16(w)]
		dst[2*e+1] += a * halfTable[w>>16]
	}
}

// halves packs src (two values per word of dst) into halves, low half
// first, with compute.Float32ToHalf.
func halves(dst []uint32, src []float32) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = uint32(compute.Float32ToHalf(src[2*i])) | uint32(compute.Float32ToHalf(src[2*i+1]))<<16
	}
}

// simdFusedRows is fusedRows for the SIMD sets: five beams (and up to
// eight rows) go through the fused kernels, whose per-row cost is far below
// the pure-Go widening path's.
const simdFusedRows = 8

// vec is the set the kernels of this package call: the first that this
// processor supports (archKernels lists them best first), else pure Go.
var vec = func() vecKernels {
	if ks := archKernels(); len(ks) > 0 {
		return ks[0]
	}
	return pureGoKernels
}()

// q4kBatch is how many Q4K super-blocks' scales and mins the SIMD Q4K
// kernels decode (in Go) before one assembly call multiplies them: 1 KiB
// of stack.
const q4kBatch = 16

// q4kScalesMins writes the eight sub-block scales, then the eight mins, of
// the Q4K super-block blk to sm, bit for bit as compute.Q4KSubBlocks (the
// format's definition) does. It is that function specialised for the SIMD
// kernels, which decode every super-block of every row: the halves come
// from halfTable and the 12 packed bytes from three word loads, which makes
// it several times faster.
func q4kScalesMins(blk []uint32, sm *[16]float32) {
	d, dmin := halfTable[uint16(blk[0])], halfTable[blk[0]>>16]
	w1, w2, w3 := blk[1], blk[2], blk[3]
	for j := range 4 {
		sh := 8 * uint(j)
		b1, b2, b3 := uint8(w1>>sh), uint8(w2>>sh), uint8(w3>>sh)
		// Sub-block j has its scale and min in the low 6 bits of bytes
		// j and j+4; sub-block j+4 in byte j+8's nibbles, with the top
		// two bits of bytes j and j+4 above them.
		sm[j] = d * float32(b1&63)
		sm[8+j] = dmin * float32(b2&63)
		sm[4+j] = d * float32(b3&15|b1>>6<<4)
		sm[12+j] = dmin * float32(b3>>4|b2>>6<<4)
	}
}

// rows4 checks that x holds four rows of length k, ldx apart (ldx >= k),
// and returns them.
func rows4(x []float32, ldx, k int) [4][]float32 {
	if ldx < k {
		panic("cpu: x4 kernel with rows that overlap")
	}
	x = x[:3*ldx+k]
	return [4][]float32{x[:k], x[ldx : ldx+k], x[2*ldx : 2*ldx+k], x[3*ldx : 3*ldx+k]}
}

// The x4 kernels in assembly take the weights in whole steps (multiples of
// 8 or 16 values, or whole blocks); these wrappers, shared by every
// architecture, check the slices, run the assembly over what it takes and
// finish the tail in Go.

// dotF32x4Tail runs asm (four x rows ldx apart against w) over the first
// multiple of step values of w and adds the rest in Go.
func dotF32x4Tail(asm func(x *float32, ldx int, w *float32, n int, out *[4]float32), step int,
	x []float32, ldx int, w []float32, out *[4]float32) {
	k := len(w)
	xs := rows4(x, ldx, k)
	n := k / step * step
	*out = [4]float32{}
	if n > 0 {
		asm(&x[0], ldx, &w[0], n, out)
	}
	for r, xr := range xs {
		for i := n; i < k; i++ {
			out[r] += xr[i] * w[i]
		}
	}
}

// dotF16x4Tail is dotF32x4Tail for F16 weights (two per word).
func dotF16x4Tail(asm func(x *float32, ldx int, w *uint32, n int, out *[4]float32), step int,
	x []float32, ldx int, w []uint32, out *[4]float32) {
	dotHalvesx4Tail(asm, step, func(h uint16) float32 { return halfTable[h] }, x, ldx, w, out)
}

// dotBF16x4Tail is dotF32x4Tail for bfloat16 weights (two per word).
func dotBF16x4Tail(asm func(x *float32, ldx int, w *uint32, n int, out *[4]float32), step int,
	x []float32, ldx int, w []uint32, out *[4]float32) {
	dotHalvesx4Tail(asm, step, compute.BF16ToFloat32, x, ldx, w, out)
}

// dotHalvesx4Tail is dotF32x4Tail for 16-bit weights, two per word,
// widened by widen in the tail.
func dotHalvesx4Tail(asm func(x *float32, ldx int, w *uint32, n int, out *[4]float32), step int,
	widen func(uint16) float32, x []float32, ldx int, w []uint32, out *[4]float32) {
	k := 2 * len(w)
	xs := rows4(x, ldx, k)
	n := k / step * step
	*out = [4]float32{}
	if n > 0 {
		asm(&x[0], ldx, &w[0], n, out)
	}
	for r, xr := range xs {
		for i := n; i < k; i++ {
			out[r] += xr[i] * widen(uint16(w[i/2]>>(16*uint(i&1))))
		}
	}
}

// dotBlocksx4 runs asm over every block of a Q8 (perWord 4) or Q4
// (perWord 8) row: the rows are whole blocks, so nothing is left over.
func dotBlocksx4(asm func(x *float32, ldx int, w *uint32, scales *float32, nb int, out *[4]float32), perWord int,
	x []float32, ldx int, w []uint32, scales []float32, out *[4]float32) {
	nb := len(scales)
	rows4(x, ldx, nb*compute.BlockSize)
	*out = [4]float32{}
	if nb == 0 {
		return
	}
	w = w[:nb*compute.BlockSize/perWord]
	asm(&x[0], ldx, &w[0], &scales[0], nb, out)
}
