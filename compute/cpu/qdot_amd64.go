//go:build amd64 && !purego

package cpu

import (
	"glimpse/compute"

	"golang.org/x/sys/cpu"
)

// hasVNNI reports whether this processor runs qdot_amd64.s: AVX-512 F and
// BW, VL (for its 256-bit tails) and VNNI (VPDPBUSD).
var hasVNNI = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI

// The assembly takes pointers and block counts; the wrappers below check
// them against the slices first, so that a short slice panics in Go.

// dotQ8VNNI is dotQ8i in AVX-512 VNNI assembly: the rows kernel over one
// row.
func dotQ8VNNI(x qrow, w []uint32, scales []float32) float32 {
	var out [1]float32
	dotQ8RowsVNNI(x, w[:len(scales)*compute.BlockSize/4], scales, out[:])
	return out[0]
}

// dotQ4VNNI is dotQ4i in AVX-512 VNNI assembly: the rows kernel over one
// row.
func dotQ4VNNI(x qrow, w []uint32, scales []float32) float32 {
	var out [1]float32
	dotQ4RowsVNNI(x, w[:len(scales)*compute.BlockSize/8], scales, out[:])
	return out[0]
}

//go:noescape
func dotQ4RowsVNNIAsm(q *int8, d *float32, sum *float32, w *uint32, scales *float32, nb int, nrows int, out *float32)

// dotQ4RowsVNNI writes dotQ4i of x with each of len(out) consecutive Q4
// weight rows (w and scales hold them, one after another) to out.
func dotQ4RowsVNNI(x qrow, w []uint32, scales []float32, out []float32) {
	if x, nb, ok := blockRows("Q4", x, w, scales, out, compute.BlockSize/8); ok {
		dotQ4RowsVNNIAsm(&x.q[0], &x.d[0], &x.sum[0], &w[0], &scales[0], nb, len(out), &out[0])
	}
}

// dotQ4KVNNI is dotQ4Ki in AVX-512 VNNI assembly: the rows kernel over one
// row.
func dotQ4KVNNI(x qrow, w []uint32) float32 {
	var out [1]float32
	dotQ4KRowsVNNI(x, w[:len(w)/compute.Q4KWords*compute.Q4KWords], out[:])
	return out[0]
}

//go:noescape
func dotQ4Kx4VNNIAsm(q *int8, k int, d *float32, sum *float32, w *uint32, nsb int, out *[4]float32)

// dotQ4Kx4VNNI writes dotQ4Ki of rows m..m+3 of x with w to out.
func dotQ4Kx4VNNI(x *qrows, m int, w []uint32, out *[4]float32) {
	callQ4Kx4(dotQ4Kx4VNNIAsm, x, m, w, out)
}

//go:noescape
func dotQ8x4VNNIAsm(q *int8, k int, d *float32, isum *int32, w *uint32, scales *float32, nb int, out *[4]float32)

// dotQ8x4VNNI writes dotQ8i of rows m..m+3 of x with w to out.
func dotQ8x4VNNI(x *qrows, m int, w []uint32, scales []float32, out *[4]float32) {
	k, nb := x.k, x.k/compute.BlockSize
	if len(scales) != nb {
		panic("cpu: Q8 x4 kernel with a weight row of another length than x's")
	}
	*out = [4]float32{}
	if nb == 0 {
		return
	}
	w = w[:nb*compute.BlockSize/4]
	// The last row's ends bound every row's.
	_ = x.q[(m+4)*k-1]
	_ = x.d[(m+4)*nb-1]
	_ = x.isum[(m+4)*nb-1]
	dotQ8x4VNNIAsm(&x.q[m*k], k, &x.d[m*nb], &x.isum[m*nb], &w[0], &scales[0], nb, out)
}

//go:noescape
func dotQ8RowsVNNIAsm(q *int8, d *float32, isum *int32, w *uint32, scales *float32, nb int, nrows int, out *float32)

//go:noescape
func dotQ4KRowsVNNIAsm(q *int8, d *float32, sum *float32, w *uint32, nsb int, nrows int, out *float32)

// dotQ8RowsVNNI writes dotQ8i of x with each of len(out) consecutive Q8
// weight rows (w and scales hold them, one after another) to out.
func dotQ8RowsVNNI(x qrow, w []uint32, scales []float32, out []float32) {
	if x, nb, ok := blockRows("Q8", x, w, scales, out, compute.BlockSize/4); ok {
		dotQ8RowsVNNIAsm(&x.q[0], &x.d[0], &x.isum[0], &w[0], &scales[0], nb, len(out), &out[0])
	}
}

// blockRows checks the arguments of a rows kernel for a dtype of blocks
// with one scale each (Q8, Q4: wpb words per block) and returns x checked
// against the row length and the blocks per row; ok is false where there
// is nothing for the assembly to do (no rows, or rows of no blocks, whose
// products are zero).
func blockRows(dt string, x qrow, w []uint32, scales []float32, out []float32, wpb int) (qrow, int, bool) {
	nrows := len(out)
	if nrows == 0 {
		return x, 0, false
	}
	nb := len(scales) / nrows
	if nb*nrows != len(scales) || len(w) != nb*nrows*wpb {
		panic("cpu: " + dt + " rows kernel with weights that are not whole rows")
	}
	if nb == 0 {
		clear(out)
		return x, 0, false
	}
	return checkQRow(x, nb), nb, true
}

// dotQ4KRowsVNNI writes dotQ4Ki of x with each of len(out) consecutive Q4K
// weight rows (w holds them, one after another) to out.
func dotQ4KRowsVNNI(x qrow, w []uint32, out []float32) {
	nrows := len(out)
	if nrows == 0 {
		return
	}
	nsb := len(w) / compute.Q4KWords / nrows
	if nsb*nrows*compute.Q4KWords != len(w) {
		panic("cpu: Q4K rows kernel with weights that are not whole rows")
	}
	if nsb == 0 {
		clear(out)
		return
	}
	x = checkQRow(x, nsb*compute.SuperBlockSize/compute.BlockSize)
	dotQ4KRowsVNNIAsm(&x.q[0], &x.d[0], &x.sum[0], &w[0], nsb, nrows, &out[0])
}
