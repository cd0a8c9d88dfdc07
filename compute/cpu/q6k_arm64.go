//go:build arm64 && !purego

package cpu

import "glimpse/compute"

// The Q6K integer kernels for cores with the dot product extension
// (q6k_arm64.s), in the "neon-dotprod" set beside qdot_arm64.go's. As
// there, the assembly takes pointers and super-block counts, and these
// wrappers check the slices first, so that a short x or a partial weight
// row panics in Go instead of reading past its end.

// dotQ6KSDOTAsm returns x·w for nsb > 0 Q6K super-blocks of w (53 words
// each) and the 256·nsb bytes of x at q with their block scales at d.
//
//go:noescape
func dotQ6KSDOTAsm(q *int8, d *float32, w *uint32, nsb int) float32

// dotQ6Kx4SDOTAsm writes to out the products of four x rows (bytes k apart
// from q, block scales k/32 apart from d) with nsb > 0 super-blocks of w,
// each super-block unpacked once for the four.
//
//go:noescape
func dotQ6Kx4SDOTAsm(q *int8, k int, d *float32, w *uint32, nsb int, out *[4]float32)

// dotQ6KiSDOT is dotQ6Ki in assembly: the 6-bit values are unpacked to
// signed bytes (q − 32) and multiplied by x's bytes with SDOT, each
// group's integer sum scaled by its integer scale before any rounding.
// Rows are whole super-blocks; a trailing partial one is not read, as in
// dotQ6Ki.
func dotQ6KiSDOT(x qrow, w []uint32) float32 {
	const sb, bs, sw = compute.SuperBlockSize, compute.BlockSize, compute.Q6KWords
	nsb := len(w) / sw
	if nsb == 0 {
		return 0
	}
	q, d := x.q[:nsb*sb], x.d[:nsb*sb/bs]
	w = w[:nsb*sw]
	return dotQ6KSDOTAsm(&q[0], &d[0], &w[0], nsb)
}

// dotQ6Kx4iSDOT writes dotQ6Ki of rows m..m+3 of x with w to out (the
// contract of vecKernels.q6kix4): beam search's four beams, or four rows
// of a short prompt, share each weight super-block's unpacking. w must
// hold exactly one row of x's length.
func dotQ6Kx4iSDOT(x *qrows, m int, w []uint32, out *[4]float32) {
	const sb, bs, sw = compute.SuperBlockSize, compute.BlockSize, compute.Q6KWords
	k, nb := x.k, x.k/bs
	nsb := len(w) / sw
	if nsb*sb != k {
		panic("cpu: Q6K x4 kernel with a weight row of another length than x's")
	}
	*out = [4]float32{}
	if nsb == 0 {
		return
	}
	// The last row's ends bound every row's.
	_ = x.q[(m+4)*k-1]
	_ = x.d[(m+4)*nb-1]
	w = w[:nsb*sw]
	dotQ6Kx4SDOTAsm(&x.q[m*k], k, &x.d[m*nb], &w[0], nsb, out)
}
