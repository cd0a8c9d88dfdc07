//go:build amd64 && !purego

package cpu

import "glimpse/compute"

// The Q6K integer kernels (qdot.go's dotQ6Ki) in AVX2 assembly
// (q6k_avx2_amd64.s), for processors without AVX-512 VNNI. archKernels
// puts them in the AVX2 set, which the AVX-512 and VNNI sets copy.
//
// As for the other integer kernels, the assembly takes pointers and
// super-block counts, and the wrappers below (through qdot_asm.go's
// callQ6K and callQ6Kx4 for one and four x rows) check them against the
// slices first, so that a short slice panics in Go instead of being read
// past its end.

//go:noescape
func dotQ6KiAVX2Asm(q *int8, d *float32, w *uint32, nsb int) float32

//go:noescape
func dotQ6Kx4iAVX2Asm(q *int8, k int, d *float32, w *uint32, nsb int, out *[4]float32)

//go:noescape
func q6kGroupSumsAVX2Asm(q *int8, nsb int, gs *int16)

//go:noescape
func dotQ6KRowsAVX2Asm(q *int8, d *float32, gs *int16, w *uint32, nsb int, nrows int, out *float32)

// q6kRowsMaxSB is the most super-blocks per row (x length 32768) that
// dotQ6KRowsAVX2 takes with x's group sums on its stack (4 KiB); longer
// rows run row by row.
const q6kRowsMaxSB = 128

// dotQ6KiAVX2 is dotQ6Ki in AVX2 assembly: the weights' offset of 32 is
// taken off x's side block by block, as ggml's AVX2 kernel does.
func dotQ6KiAVX2(x qrow, w []uint32) float32 {
	return callQ6K(dotQ6KiAVX2Asm, x, w)
}

// dotQ6Kx4iAVX2 writes dotQ6Ki of rows m..m+3 of x with w to out (the
// q6kix4 contract): each 32 weights are unpacked, and their scales spread,
// once for the four rows, so that beams and short prompts read the matrix
// once.
func dotQ6Kx4iAVX2(x *qrows, m int, w []uint32, out *[4]float32) {
	callQ6Kx4(dotQ6Kx4iAVX2Asm, x, m, w, out)
}

// dotQ6KRowsAVX2 writes dotQ6Ki of x with each of len(out) consecutive Q6K
// weight rows (w holds them, one after another) to out: greedy decoding's
// product, one call per task. x's sums over each group of 16 are taken
// once for all the rows (q6kGroupSumsAVX2Asm), so that the offset of 32
// costs each row one multiply per super-block (Σ sc_j·Σx_j, as ggml's
// bsums) instead of a VPMADDUBSW and a subtraction per 32 weights, about a
// sixth of the kernel's vector instructions. BenchmarkCPULinearVecL2 (one
// core, AVX-512 off): 14.0–14.4 GB/s, against 12.0–12.7 row by row.
func dotQ6KRowsAVX2(x qrow, w []uint32, out []float32) {
	const sw = compute.Q6KWords
	nrows := len(out)
	if nrows == 0 {
		return
	}
	nsb := len(w) / sw / nrows
	if nsb*nrows*sw != len(w) {
		panic("cpu: Q6K rows kernel with weights that are not whole rows")
	}
	if nsb == 0 {
		clear(out)
		return
	}
	x = checkQRow(x, nsb*compute.SuperBlockSize/compute.BlockSize)
	if nsb > q6kRowsMaxSB {
		for r := range out {
			out[r] = dotQ6KiAVX2(x, w[r*nsb*sw:(r+1)*nsb*sw])
		}
		return
	}
	var gs [q6kRowsMaxSB * compute.SuperBlockSize / 16]int16
	q6kGroupSumsAVX2Asm(&x.q[0], nsb, &gs[0])
	dotQ6KRowsAVX2Asm(&x.q[0], &x.d[0], &gs[0], &w[0], nsb, nrows, &out[0])
}
