//go:build arm64 && !purego

package cpu

import "golang.org/x/sys/cpu"

// hasSDOT reports whether this processor runs qdot_arm64.s: the ARMv8.2
// dot product extension (SDOT), optional before ARMv8.4, which the
// operating system reports as asimddp (Linux's HWCAP, macOS's
// FEAT_DotProd). Without it archKernels keeps the NEON float kernels. A
// variable, so that tests can take the other branch.
var hasSDOT = cpu.ARM64.HasASIMDDP

// The assembly takes pointers and block counts; the wrappers below hand
// them to qdot_asm.go's, which check them against the slices first.

//go:noescape
func dotQ8SDOTAsm(q *int8, d *float32, w *uint32, scales *float32, nb int) float32

//go:noescape
func dotQ4SDOTAsm(q *int8, d *float32, sum *float32, w *uint32, scales *float32, nb int) float32

//go:noescape
func dotQ4KSDOTAsm(q *int8, d *float32, sum *float32, w *uint32, nsb int) float32

//go:noescape
func dotQ4Kx4SDOTAsm(q *int8, k int, d *float32, sum *float32, w *uint32, nsb int, out *[4]float32)

// dotQ8iSDOT is dotQ8i in assembly.
func dotQ8iSDOT(x qrow, w []uint32, scales []float32) float32 {
	return callQ8(dotQ8SDOTAsm, x, w, scales)
}

// dotQ4iSDOT is dotQ4i in assembly.
func dotQ4iSDOT(x qrow, w []uint32, scales []float32) float32 {
	return callQ4(dotQ4SDOTAsm, x, w, scales)
}

// dotQ4KiSDOT is dotQ4Ki in assembly, the scales and mins decoded there
// too (unlike dotQ4KNEON's, which Go decodes): in registers they cost a
// few instructions per super-block.
func dotQ4KiSDOT(x qrow, w []uint32) float32 {
	return callQ4K(dotQ4KSDOTAsm, x, w)
}

// dotQ4Kx4iSDOT writes dotQ4Ki of rows m..m+3 of x with w to out (the
// contract of vecKernels.q4kix4).
func dotQ4Kx4iSDOT(x *qrows, m int, w []uint32, out *[4]float32) {
	callQ4Kx4(dotQ4Kx4SDOTAsm, x, m, w, out)
}
