//go:build amd64 && !purego

package cpu

import (
	"sync"

	"glimpse/compute"
)

// The Q6K integer kernels for AVX-512 VNNI (q6k_vnni_amd64.s), with the
// contract of dotQ6Ki. The assembly takes pointers and super-block counts;
// these wrappers (through qdot_asm.go's callQ6K and callQ6Kx4 for one
// and four x rows) check them against the slices first, so that a short
// slice panics in Go instead of reading past its end. Q6K's offset of 32
// is taken off x's own bytes inside the kernels, so they read neither
// x.sum nor x.isum.

//go:noescape
func dotQ6KVNNIAsm(q *int8, d *float32, w *uint32, nsb int) float32

//go:noescape
func dotQ6KRowsVNNIAsm(q *int8, d *float32, w *uint32, nsb int, nrows int, out *float32, tab *uint32)

//go:noescape
func dotQ6Kx4VNNIAsm(q *int8, k int, d *float32, w *uint32, nsb int, out *[4]float32)

// dotQ6KVNNI is dotQ6Ki in AVX-512 VNNI assembly over the whole
// super-blocks of w. It computes the x terms that the rows kernel puts in
// a table as it goes: for one row, filling the table (about as many
// instructions per super-block as it saves) and a pool round trip per call
// would not pay.
func dotQ6KVNNI(x qrow, w []uint32) float32 {
	return callQ6K(dotQ6KVNNIAsm, x, w)
}

// q6kTableWords is the size of the rows kernel's table of x terms per
// super-block, in words (q6k_vnni_amd64.s): four chunks' sixteen int32
// offsets and sixteen float32 group scales.
const q6kTableWords = 80

// q6kTablePool recycles the rows kernel's tables (*[]uint32), so that a
// decoding step allocates nothing.
var q6kTablePool sync.Pool

// dotQ6KRowsVNNI writes dotQ6Ki of x with each of len(out) consecutive Q6K
// weight rows (w holds them, one after another) to out: one call per task
// of decoding.
func dotQ6KRowsVNNI(x qrow, w []uint32, out []float32) {
	nrows := len(out)
	if nrows == 0 {
		return
	}
	nsb := len(w) / compute.Q6KWords / nrows
	if nsb*nrows*compute.Q6KWords != len(w) {
		panic("cpu: Q6K rows kernel with weights that are not whole rows")
	}
	if nsb == 0 {
		clear(out)
		return
	}
	// The kernel reads x's bytes and block scales only.
	q := x.q[:nsb*compute.SuperBlockSize]
	d := x.d[:nsb*compute.SuperBlockSize/compute.BlockSize]
	tab, _ := q6kTablePool.Get().(*[]uint32)
	if tab == nil || cap(*tab) < nsb*q6kTableWords {
		t := make([]uint32, nsb*q6kTableWords)
		tab = &t
	}
	*tab = (*tab)[:nsb*q6kTableWords]
	dotQ6KRowsVNNIAsm(&q[0], &d[0], &w[0], nsb, nrows, &out[0], &(*tab)[0])
	q6kTablePool.Put(tab)
}

// dotQ6Kx4VNNI writes dotQ6Ki of rows m..m+3 of x with w to out, each
// super-block decoded once for the four rows.
func dotQ6Kx4VNNI(x *qrows, m int, w []uint32, out *[4]float32) {
	callQ6Kx4(dotQ6Kx4VNNIAsm, x, m, w, out)
}
