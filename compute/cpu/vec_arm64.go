//go:build arm64 && !purego

package cpu

import (
	"glimpse/compute"
)

// archKernels lists the arm64 kernel sets, best first. Advanced SIMD
// (NEON), with FCVTL for halves, is part of every ARMv8-A core, so the
// "neon" set needs no feature test. Cores with the dot product extension
// (hasSDOT: Apple M1, Graviton 2, Cortex-A76 and later) get the same set
// with the integer kernels of qdot_arm64.s added first, as "neon-dotprod":
// with them Linear rounds x to bytes for Q8, Q4 and Q4K weights and
// multiplies bytes by bytes, instead of widening every weight to float32.
func archKernels() []vecKernels {
	neon := vecKernels{name: "neon", f32: dotF32NEON, f16: dotF16NEON, bf16: dotBF16NEON, q8: dotQ8NEON, q4: dotQ4NEON, q4k: dotQ4KNEON,
		f32x4: dotF32x4NEON, f16x4: dotF16x4NEON, bf16x4: dotBF16x4NEON, q8x4: dotQ8x4NEON, q4x4: dotQ4x4NEON,
		axpy: axpyF32NEON, axpyF16: axpyF16NEON, halves: halvesNEON,
		gemm:      &gemmKernel{mr: 6, nr: 16, fn: gemm6x16NEON},
		fusedRows: simdFusedRows}
	if !hasSDOT {
		return []vecKernels{neon}
	}
	dp := neon
	dp.name = "neon-dotprod"
	dp.q8i, dp.q4i, dp.q4ki, dp.q4kix4 = dotQ8iSDOT, dotQ4iSDOT, dotQ4KiSDOT, dotQ4Kx4iSDOT
	dp.q6ki, dp.q6kix4 = dotQ6KiSDOT, dotQ6Kx4iSDOT
	return []vecKernels{dp, neon}
}

// gemm6x16NEON is the matrix product's micro-kernel (gemm_arm64.s), with
// gemmKernel.fn's contract: gemmPacked checks the slices before it calls
// it. Its panels are packed by the Go transposes.
//
//go:noescape
func gemm6x16NEON(x *float32, ldx int, b *float32, kc int, c *float32, ldc int, acc int)

// The assembly kernels leave four lane sums in acc, which the Go wrappers
// below add pairwise; the wrappers also check the slices' lengths, so that
// a short slice panics in Go instead of reading past its end.

//go:noescape
func dotF32NEONAsm(x, w *float32, n int, acc *[4]float32)

//go:noescape
func dotF16NEONAsm(x *float32, w *uint32, n int, acc *[4]float32)

//go:noescape
func dotQ8NEONAsm(x *float32, w *uint32, scales *float32, nb int, acc *[4]float32)

//go:noescape
func dotQ4NEONAsm(x *float32, w *uint32, scales *float32, nb int, acc *[4]float32)

//go:noescape
func dotQ4KNEONAsm(x *float32, w *uint32, sm *float32, nsb int, acc *[4]float32)

//go:noescape
func dotF32x4NEONAsm(x *float32, ldx int, w *float32, n int, out *[4]float32)

//go:noescape
func dotF16x4NEONAsm(x *float32, ldx int, w *uint32, n int, out *[4]float32)

//go:noescape
func dotQ8x4NEONAsm(x *float32, ldx int, w *uint32, scales *float32, nb int, out *[4]float32)

//go:noescape
func dotQ4x4NEONAsm(x *float32, ldx int, w *uint32, scales *float32, nb int, out *[4]float32)

// sum4 adds four lane sums in a fixed order.
func sum4(a *[4]float32) float32 { return (a[0] + a[1]) + (a[2] + a[3]) }

// dotF32NEON is dotF32 with the multiples of 16 in assembly.
func dotF32NEON(x, w []float32) float32 {
	w = w[:len(x)]
	n := len(x) &^ 15
	var s float32
	if n > 0 {
		var acc [4]float32
		dotF32NEONAsm(&x[0], &w[0], n, &acc)
		s = sum4(&acc)
	}
	for i := n; i < len(x); i++ {
		s += x[i] * w[i]
	}
	return s
}

// dotF16NEON is dotF16 with the multiples of 16 halves in assembly.
func dotF16NEON(x []float32, w []uint32) float32 {
	x = x[:2*len(w)]
	n := len(x) &^ 15
	var s float32
	if n > 0 {
		var acc [4]float32
		dotF16NEONAsm(&x[0], &w[0], n, &acc)
		s = sum4(&acc)
	}
	for i := n; i < len(x); i++ {
		s += x[i] * halfTable[uint16(w[i/2]>>(16*uint(i&1)))]
	}
	return s
}

// dotQ8NEON is dotQ8 in assembly (rows are whole blocks).
func dotQ8NEON(x []float32, w []uint32, scales []float32) float32 {
	nb := len(scales)
	if nb == 0 {
		return 0
	}
	x = x[:nb*compute.BlockSize]
	w = w[:nb*compute.BlockSize/4]
	var acc [4]float32
	dotQ8NEONAsm(&x[0], &w[0], &scales[0], nb, &acc)
	return sum4(&acc)
}

// dotQ4NEON is dotQ4 in assembly (rows are whole blocks).
func dotQ4NEON(x []float32, w []uint32, scales []float32) float32 {
	nb := len(scales)
	if nb == 0 {
		return 0
	}
	x = x[:nb*compute.BlockSize]
	w = w[:nb*compute.BlockSize/8]
	var acc [4]float32
	dotQ4NEONAsm(&x[0], &w[0], &scales[0], nb, &acc)
	return sum4(&acc)
}

// dotQ4KNEON is dotQ4K with the sums in assembly and the 6-bit scales and
// mins decoded in Go (q4kScalesMins).
func dotQ4KNEON(x []float32, w []uint32) float32 {
	const sb, sw = compute.SuperBlockSize, compute.Q4KWords
	nsb := len(w) / sw
	x = x[:nsb*sb]
	var sm [q4kBatch * 16]float32
	var total float32
	for s0 := 0; s0 < nsb; s0 += q4kBatch {
		n := min(q4kBatch, nsb-s0)
		for s := range n {
			q4kScalesMins(w[(s0+s)*sw:(s0+s+1)*sw], (*[16]float32)(sm[16*s:]))
		}
		var acc [4]float32
		dotQ4KNEONAsm(&x[s0*sb], &w[s0*sw], &sm[0], n, &acc)
		total += sum4(&acc)
	}
	return total
}

// dotF32x4NEON is four dotF32NEON (x rows ldx apart) with the multiples of
// 16 in assembly.
func dotF32x4NEON(x []float32, ldx int, w []float32, out *[4]float32) {
	dotF32x4Tail(dotF32x4NEONAsm, 16, x, ldx, w, out)
}

// dotF16x4NEON is four dotF16NEON (x rows ldx apart).
func dotF16x4NEON(x []float32, ldx int, w []uint32, out *[4]float32) {
	dotF16x4Tail(dotF16x4NEONAsm, 16, x, ldx, w, out)
}

// dotQ8x4NEON is four dotQ8NEON (x rows ldx apart).
func dotQ8x4NEON(x []float32, ldx int, w []uint32, scales []float32, out *[4]float32) {
	dotBlocksx4(dotQ8x4NEONAsm, 4, x, ldx, w, scales, out)
}

// dotQ4x4NEON is four dotQ4NEON (x rows ldx apart).
func dotQ4x4NEON(x []float32, ldx int, w []uint32, scales []float32, out *[4]float32) {
	dotBlocksx4(dotQ4x4NEONAsm, 8, x, ldx, w, scales, out)
}
