//go:build arm64 && !purego

package cpu

// The Q6K integer kernels for cores with the dot product extension
// (q6k_arm64.s), in the "neon-dotprod" set beside qdot_arm64.go's. As
// there, the assembly takes pointers and super-block counts, and these
// wrappers (through qdot_asm.go's callQ6K and callQ6Kx4) check the slices
// first, so that a short x or a partial weight row panics in Go instead of
// reading past its end.

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
	return callQ6K(dotQ6KSDOTAsm, x, w)
}

// dotQ6Kx4iSDOT writes dotQ6Ki of rows m..m+3 of x with w to out (the
// contract of vecKernels.q6kix4): beam search's four beams, or four rows
// of a short prompt, share each weight super-block's unpacking. w must
// hold exactly one row of x's length.
func dotQ6Kx4iSDOT(x *qrows, m int, w []uint32, out *[4]float32) {
	callQ6Kx4(dotQ6Kx4SDOTAsm, x, m, w, out)
}
