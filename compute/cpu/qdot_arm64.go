//go:build arm64 && !purego

package cpu

import (
	"glimpse/compute"

	"golang.org/x/sys/cpu"
)

// hasSDOT reports whether this processor runs qdot_arm64.s: the ARMv8.2
// dot product extension (SDOT), optional before ARMv8.4, which the
// operating system reports as asimddp (Linux's HWCAP, macOS's
// FEAT_DotProd). Without it archKernels keeps the NEON float kernels. A
// variable, so that tests can take the other branch.
var hasSDOT = cpu.ARM64.HasASIMDDP

// The assembly takes pointers and block counts; the wrappers below check
// them against the slices first, so that a short slice panics in Go
// instead of the assembly reading past its end.

//go:noescape
func dotQ8SDOTAsm(q *int8, d *float32, w *uint32, scales *float32, nb int) float32

//go:noescape
func dotQ4SDOTAsm(q *int8, d *float32, sum *float32, w *uint32, scales *float32, nb int) float32

//go:noescape
func dotQ4KSDOTAsm(q *int8, d *float32, sum *float32, w *uint32, nsb int) float32

//go:noescape
func dotQ4Kx4SDOTAsm(q *int8, k int, d *float32, sum *float32, w *uint32, nsb int, out *[4]float32)

// sdotRow checks that x holds nb blocks and returns them (the assembly
// reads q, d and sum; Q8 does not need isum, since SDOT is signed).
func sdotRow(x qrow, nb int) qrow {
	return qrow{q: x.q[:nb*compute.BlockSize], d: x.d[:nb], sum: x.sum[:nb]}
}

// dotQ8iSDOT is dotQ8i in assembly.
func dotQ8iSDOT(x qrow, w []uint32, scales []float32) float32 {
	nb := len(scales)
	if nb == 0 {
		return 0
	}
	x = sdotRow(x, nb)
	w = w[:nb*compute.BlockSize/4]
	return dotQ8SDOTAsm(&x.q[0], &x.d[0], &w[0], &scales[0], nb)
}

// dotQ4iSDOT is dotQ4i in assembly.
func dotQ4iSDOT(x qrow, w []uint32, scales []float32) float32 {
	nb := len(scales)
	if nb == 0 {
		return 0
	}
	x = sdotRow(x, nb)
	w = w[:nb*compute.BlockSize/8]
	return dotQ4SDOTAsm(&x.q[0], &x.d[0], &x.sum[0], &w[0], &scales[0], nb)
}

// dotQ4KiSDOT is dotQ4Ki in assembly, the scales and mins decoded there
// too (unlike dotQ4KNEON's, which Go decodes): in registers they cost a
// few instructions per super-block.
func dotQ4KiSDOT(x qrow, w []uint32) float32 {
	nsb := len(w) / compute.Q4KWords
	if nsb == 0 {
		return 0
	}
	x = sdotRow(x, nsb*compute.SuperBlockSize/compute.BlockSize)
	w = w[:nsb*compute.Q4KWords]
	return dotQ4KSDOTAsm(&x.q[0], &x.d[0], &x.sum[0], &w[0], nsb)
}

// dotQ4Kx4iSDOT writes dotQ4Ki of rows m..m+3 of x with w to out (the
// contract of vecKernels.q4kix4).
func dotQ4Kx4iSDOT(x *qrows, m int, w []uint32, out *[4]float32) {
	k, nb := x.k, x.k/compute.BlockSize
	nsb := len(w) / compute.Q4KWords
	if nsb*compute.SuperBlockSize != k {
		panic("cpu: Q4K x4 kernel with a weight row of another length than x's")
	}
	*out = [4]float32{}
	if nsb == 0 {
		return
	}
	// The last row's ends bound every row's.
	_ = x.q[(m+4)*k-1]
	_ = x.d[(m+4)*nb-1]
	_ = x.sum[(m+4)*nb-1]
	w = w[:nsb*compute.Q4KWords]
	dotQ4Kx4SDOTAsm(&x.q[m*k], k, &x.d[m*nb], &x.sum[m*nb], &w[0], nsb, out)
}
