//go:build amd64 && !purego

package cpu

import (
	"glimpse/compute"

	"golang.org/x/sys/cpu"
)

// archKernels lists the amd64 kernel sets this processor runs, best first.
// AVX2 with FMA and F16C (Haswell, Zen and later) is the baseline; without
// all three the pure-Go set runs. AVX-512 F adds a set before it.
func archKernels() []vecKernels {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA || !cpu.X86.HasF16C {
		return nil
	}
	avx2 := vecKernels{name: "avx2-fma-f16c",
		f32: dotF32AVX2, f16: dotF16AVX2, bf16: dotBF16AVX2, q8: dotQ8AVX2, q4: dotQ4AVX2, q4k: dotQ4KAVX2,
		f32x4: dotF32x4AVX2, f16x4: dotF16x4AVX2, bf16x4: dotBF16x4AVX2, q8x4: dotQ8x4AVX2, q4x4: dotQ4x4AVX2, q4kx4: dotQ4Kx4AVX2,
		gemm: &gemmKernel{mr: 6, nr: 16, fn: gemm6x16AVX2,
			t8f32: packT8F32, t8f16: packT8F16, t8bf16: packT8BF16, t8q8: packT8Q8, t8q4: packT8Q4, t8q4k: packT8Q4K},
		// Quantized weights meet x rounded to bytes (qdot.go) with
		// VPMADDUBSW (qdot_avx2_amd64.s), as ggml's AVX2 kernels do.
		q8i: dotQ8iAVX2, q4i: dotQ4iAVX2, q4ki: dotQ4KiAVX2, q4kix4: dotQ4Kx4iAVX2,
		q6ki: dotQ6KiAVX2, q6kix4: dotQ6Kx4iAVX2, q6kirows: dotQ6KRowsAVX2, // q6k_avx2_amd64.s
		axpy: axpyF32AVX2, axpyF16: axpyF16AVX2, heads: headsAVX2, halves: halvesAVX2,
		fusedRows: simdFusedRows}
	if !cpu.X86.HasAVX512F {
		return []vecKernels{avx2}
	}
	// AVX-512 pays for the widening of Q8, and for the float kernels,
	// whose instruction counts it halves (see vec_avx512_amd64.s); the
	// rest of the set is AVX2's.
	avx512 := avx2
	avx512.name = "avx512"
	avx512.q8 = dotQ8AVX512
	avx512.f32, avx512.f16, avx512.bf16 = dotF32AVX512, dotF16AVX512, dotBF16AVX512
	avx512.f32x4, avx512.f16x4, avx512.bf16x4 = dotF32x4AVX512, dotF16x4AVX512, dotBF16x4AVX512
	avx512.rows4 = floatRowsAVX512
	avx512.heads = headsAVX512
	// The matrix product's tile doubles in width with 512-bit vectors:
	// twice the FMAs for the same loads and broadcasts.
	gemm512 := *avx2.gemm
	gemm512.nr, gemm512.fn = 32, gemm6x32AVX512
	avx512.gemm = &gemm512
	if !hasVNNI {
		return []vecKernels{avx512, avx2}
	}
	// With VNNI, quantized weights meet x rounded to bytes (qdot.go).
	vnni := avx512
	vnni.name = "avx512-vnni"
	vnni.q8i, vnni.q4i, vnni.q4ki, vnni.q4kix4, vnni.q8ix4 = dotQ8VNNI, dotQ4VNNI, dotQ4KVNNI, dotQ4Kx4VNNI, dotQ8x4VNNI
	vnni.q8irows, vnni.q4irows, vnni.q4kirows = dotQ8RowsVNNI, dotQ4RowsVNNI, dotQ4KRowsVNNI
	vnni.q6ki, vnni.q6kix4, vnni.q6kirows = dotQ6KVNNI, dotQ6Kx4VNNI, dotQ6KRowsVNNI
	return []vecKernels{vnni, avx512, avx2}
}

// The matrix product's micro-kernels (gemm_amd64.s), with gemmKernel.fn's
// contract: gemmPacked checks the slices before it calls them.

//go:noescape
func gemm6x16AVX2(x *float32, ldx int, b *float32, kc int, c *float32, ldc int, acc int)

//go:noescape
func gemm6x32AVX512(x *float32, ldx int, b *float32, kc int, c *float32, ldc int, acc int)

//go:noescape
func packT8F32(src *float32, lds int, dst *float32, ldd int, n int)

//go:noescape
func packT8F16(src *uint16, lds int, dst *float32, ldd int, n int)

//go:noescape
func packT8BF16(src *uint16, lds int, dst *float32, ldd int, n int)

//go:noescape
func packT8Q8(src *uint8, lds int, scales *float32, dst *float32, ldd int, n int)

//go:noescape
func packT8Q4(src *uint32, lds int, scales *float32, dst *float32, ldd int, n int)

//go:noescape
func packT8Q4K(src *uint32, lds int, scales, mins *float32, dst *float32, ldd int, n int)

// The assembly kernels take pointers and counts that their Go wrappers
// below check against the slices, so that a short slice panics in Go
// instead of reading past its end.

//go:noescape
func dotF32AVX2Asm(x, w *float32, n int) float32

//go:noescape
func dotF16AVX2Asm(x *float32, w *uint32, n int) float32

//go:noescape
func dotQ8AVX2Asm(x *float32, w *uint32, scales *float32, nb int) float32

//go:noescape
func dotQ4AVX2Asm(x *float32, w *uint32, scales *float32, nb int) float32

//go:noescape
func dotQ4KAVX2Asm(x *float32, w *uint32, sm *float32, nsb int) float32

//go:noescape
func dotQ4Kx4AVX2Asm(x *float32, ldx int, w *uint32, sm *float32, nsb int, out *[4]float32)

//go:noescape
func dotF32x4AVX2Asm(x *float32, ldx int, w *float32, n int, out *[4]float32)

//go:noescape
func dotF16x4AVX2Asm(x *float32, ldx int, w *uint32, n int, out *[4]float32)

//go:noescape
func dotQ8x4AVX2Asm(x *float32, ldx int, w *uint32, scales *float32, nb int, out *[4]float32)

//go:noescape
func dotQ4x4AVX2Asm(x *float32, ldx int, w *uint32, scales *float32, nb int, out *[4]float32)

// dotF32AVX2 is dotF32 with the multiples of eight in assembly.
func dotF32AVX2(x, w []float32) float32 {
	w = w[:len(x)]
	n := len(x) &^ 7
	var s float32
	if n > 0 {
		s = dotF32AVX2Asm(&x[0], &w[0], n)
	}
	for i := n; i < len(x); i++ {
		s += x[i] * w[i]
	}
	return s
}

// dotF16AVX2 is dotF16 with the multiples of eight halves in assembly.
func dotF16AVX2(x []float32, w []uint32) float32 {
	x = x[:2*len(w)]
	n := len(x) &^ 7
	var s float32
	if n > 0 {
		s = dotF16AVX2Asm(&x[0], &w[0], n)
	}
	for i := n; i < len(x); i++ {
		s += x[i] * halfTable[uint16(w[i/2]>>(16*uint(i&1)))]
	}
	return s
}

//go:noescape
func dotBF16AVX2Asm(x *float32, w *uint32, n int) float32

//go:noescape
func dotBF16x4AVX2Asm(x *float32, ldx int, w *uint32, n int, out *[4]float32)

// dotBF16AVX2 is dotBF16 with the multiples of eight values in assembly.
func dotBF16AVX2(x []float32, w []uint32) float32 {
	x = x[:2*len(w)]
	n := len(x) &^ 7
	var s float32
	if n > 0 {
		s = dotBF16AVX2Asm(&x[0], &w[0], n)
	}
	for i := n; i < len(x); i++ {
		s += x[i] * compute.BF16ToFloat32(uint16(w[i/2]>>(16*uint(i&1))))
	}
	return s
}

// dotBF16x4AVX2 is dotF16x4AVX2 for bfloat16 weights.
func dotBF16x4AVX2(x []float32, ldx int, w []uint32, out *[4]float32) {
	dotBF16x4Tail(dotBF16x4AVX2Asm, 8, x, ldx, w, out)
}

// dotQ8AVX2 is dotQ8 in assembly (rows are whole blocks).
func dotQ8AVX2(x []float32, w []uint32, scales []float32) float32 {
	nb := len(scales)
	if nb == 0 {
		return 0
	}
	x = x[:nb*compute.BlockSize]
	w = w[:nb*compute.BlockSize/4]
	return dotQ8AVX2Asm(&x[0], &w[0], &scales[0], nb)
}

//go:noescape
func dotQ8AVX512Asm(x *float32, w *uint32, scales *float32, nb int) float32

// dotQ8AVX512 is dotQ8 in AVX-512 assembly.
func dotQ8AVX512(x []float32, w []uint32, scales []float32) float32 {
	nb := len(scales)
	if nb == 0 {
		return 0
	}
	x = x[:nb*compute.BlockSize]
	w = w[:nb*compute.BlockSize/4]
	return dotQ8AVX512Asm(&x[0], &w[0], &scales[0], nb)
}

// dotQ4AVX2 is dotQ4 in assembly (rows are whole blocks).
func dotQ4AVX2(x []float32, w []uint32, scales []float32) float32 {
	nb := len(scales)
	if nb == 0 {
		return 0
	}
	x = x[:nb*compute.BlockSize]
	w = w[:nb*compute.BlockSize/8]
	return dotQ4AVX2Asm(&x[0], &w[0], &scales[0], nb)
}

// dotF32x4AVX2 is four dotF32AVX2 (x rows ldx apart) with the multiples of
// eight in assembly.
func dotF32x4AVX2(x []float32, ldx int, w []float32, out *[4]float32) {
	dotF32x4Tail(dotF32x4AVX2Asm, 8, x, ldx, w, out)
}

// dotF16x4AVX2 is four dotF16AVX2 (x rows ldx apart).
func dotF16x4AVX2(x []float32, ldx int, w []uint32, out *[4]float32) {
	dotF16x4Tail(dotF16x4AVX2Asm, 8, x, ldx, w, out)
}

// dotQ8x4AVX2 is four dotQ8AVX2 (x rows ldx apart).
func dotQ8x4AVX2(x []float32, ldx int, w []uint32, scales []float32, out *[4]float32) {
	dotBlocksx4(dotQ8x4AVX2Asm, 4, x, ldx, w, scales, out)
}

// dotQ4x4AVX2 is four dotQ4AVX2 (x rows ldx apart).
func dotQ4x4AVX2(x []float32, ldx int, w []uint32, scales []float32, out *[4]float32) {
	dotBlocksx4(dotQ4x4AVX2Asm, 8, x, ldx, w, scales, out)
}

// dotQ4KAVX2 is dotQ4K with the sums in assembly and the 6-bit scales and
// mins decoded in Go (q4kScalesMins).
func dotQ4KAVX2(x []float32, w []uint32) float32 {
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
		total += dotQ4KAVX2Asm(&x[s0*sb], &w[s0*sw], &sm[0], n)
	}
	return total
}

// dotQ4Kx4AVX2 is four dotQ4KAVX2 (x rows ldx apart), decoding each
// super-block's scales and mins once for the four rows.
func dotQ4Kx4AVX2(x []float32, ldx int, w []uint32, out *[4]float32) {
	const sb, sw = compute.SuperBlockSize, compute.Q4KWords
	nsb := len(w) / sw
	rows4(x, ldx, nsb*sb)
	*out = [4]float32{}
	var sm [q4kBatch * 16]float32
	for s0 := 0; s0 < nsb; s0 += q4kBatch {
		n := min(q4kBatch, nsb-s0)
		for s := range n {
			q4kScalesMins(w[(s0+s)*sw:(s0+s+1)*sw], (*[16]float32)(sm[16*s:]))
		}
		var part [4]float32
		dotQ4Kx4AVX2Asm(&x[s0*sb], ldx, &w[s0*sw], &sm[0], n, &part)
		for r, v := range part {
			out[r] += v
		}
	}
}
