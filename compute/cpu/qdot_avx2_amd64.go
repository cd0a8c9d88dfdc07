//go:build amd64 && !purego

package cpu

// The integer kernels of qdot.go in AVX2 + FMA + F16C assembly
// (qdot_avx2_amd64.s), for processors without AVX-512 VNNI: most desktops
// (Zen 2 and 3, Intel's 12th to 14th generations) would otherwise widen
// every quantized weight to float32 against a float32 x. archKernels puts
// them in the AVX2 set, which the AVX-512 set copies; the VNNI set
// replaces them with qdot_amd64.s's.
//
// As there, the assembly takes pointers and block counts, and the wrappers
// below hand them to qdot_asm.go's, which check them against the slices
// first, so that a short slice panics in Go instead of being read past its
// end.

//go:noescape
func dotQ8iAVX2Asm(q *int8, d *float32, w *uint32, scales *float32, nb int) float32

//go:noescape
func dotQ4iAVX2Asm(q *int8, d *float32, sum *float32, w *uint32, scales *float32, nb int) float32

//go:noescape
func dotQ4KiAVX2Asm(q *int8, d *float32, sum *float32, w *uint32, nsb int) float32

//go:noescape
func dotQ4Kx4iAVX2Asm(q *int8, k int, d *float32, sum *float32, w *uint32, nsb int, out *[4]float32)

// dotQ8iAVX2 is dotQ8i in AVX2 assembly. It needs no Σq (x.isum): VPSIGNB
// moves the weights' signs onto x, where the VNNI kernel corrects for
// offset weights.
func dotQ8iAVX2(x qrow, w []uint32, scales []float32) float32 {
	return callQ8(dotQ8iAVX2Asm, x, w, scales)
}

// dotQ4iAVX2 is dotQ4i in AVX2 assembly.
func dotQ4iAVX2(x qrow, w []uint32, scales []float32) float32 {
	return callQ4(dotQ4iAVX2Asm, x, w, scales)
}

// dotQ4KiAVX2 is dotQ4Ki in AVX2 assembly, the scales and mins decoded in
// registers (no q4kScalesMins pass in Go, unlike the float dotQ4KAVX2).
func dotQ4KiAVX2(x qrow, w []uint32) float32 {
	return callQ4K(dotQ4KiAVX2Asm, x, w)
}

// dotQ4Kx4iAVX2 writes dotQ4Ki of rows m..m+3 of x with w to out (the
// q4kix4 contract): one decoding and unpacking of each weight chunk serves
// four beams, so the matrix is read once for them.
func dotQ4Kx4iAVX2(x *qrows, m int, w []uint32, out *[4]float32) {
	callQ4Kx4(dotQ4Kx4iAVX2Asm, x, m, w, out)
}
