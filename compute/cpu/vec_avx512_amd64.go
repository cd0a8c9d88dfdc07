//go:build amd64 && !purego

package cpu

import "glimpse/compute"

// The AVX-512 float kernels (vec_avx512_amd64.s) take sixteen values a
// step; these wrappers check the slices and finish the tail in Go, as the
// AVX2 ones do.

//go:noescape
func dotF32AVX512Asm(x, w *float32, n int) float32

//go:noescape
func dotF16AVX512Asm(x *float32, w *uint32, n int) float32

//go:noescape
func dotBF16AVX512Asm(x *float32, w *uint32, n int) float32

//go:noescape
func dotF32x4AVX512Asm(x *float32, ldx int, w *float32, n int, out *[4]float32)

//go:noescape
func dotF16x4AVX512Asm(x *float32, ldx int, w *uint32, n int, out *[4]float32)

//go:noescape
func dotBF16x4AVX512Asm(x *float32, ldx int, w *uint32, n int, out *[4]float32)

// dotF32AVX512 is dotF32 with the multiples of sixteen in assembly.
func dotF32AVX512(x, w []float32) float32 {
	w = w[:len(x)]
	n := len(x) &^ 15
	var s float32
	if n > 0 {
		s = dotF32AVX512Asm(&x[0], &w[0], n)
	}
	for i := n; i < len(x); i++ {
		s += x[i] * w[i]
	}
	return s
}

// dotF16AVX512 is dotF16 with the multiples of sixteen halves in assembly.
func dotF16AVX512(x []float32, w []uint32) float32 {
	x = x[:2*len(w)]
	n := len(x) &^ 15
	var s float32
	if n > 0 {
		s = dotF16AVX512Asm(&x[0], &w[0], n)
	}
	for i := n; i < len(x); i++ {
		s += x[i] * halfTable[uint16(w[i/2]>>(16*uint(i&1)))]
	}
	return s
}

// dotBF16AVX512 is dotBF16 with the multiples of sixteen in assembly.
func dotBF16AVX512(x []float32, w []uint32) float32 {
	x = x[:2*len(w)]
	n := len(x) &^ 15
	var s float32
	if n > 0 {
		s = dotBF16AVX512Asm(&x[0], &w[0], n)
	}
	for i := n; i < len(x); i++ {
		s += x[i] * compute.BF16ToFloat32(uint16(w[i/2]>>(16*uint(i&1))))
	}
	return s
}

// dotF32x4AVX512 is four dotF32AVX512 (x rows ldx apart).
func dotF32x4AVX512(x []float32, ldx int, w []float32, out *[4]float32) {
	dotF32x4Tail(dotF32x4AVX512Asm, 16, x, ldx, w, out)
}

// dotF16x4AVX512 is four dotF16AVX512 (x rows ldx apart).
func dotF16x4AVX512(x []float32, ldx int, w []uint32, out *[4]float32) {
	dotF16x4Tail(dotF16x4AVX512Asm, 16, x, ldx, w, out)
}

// dotBF16x4AVX512 is four dotBF16AVX512 (x rows ldx apart).
func dotBF16x4AVX512(x []float32, ldx int, w []uint32, out *[4]float32) {
	dotBF16x4Tail(dotBF16x4AVX512Asm, 16, x, ldx, w, out)
}

//go:noescape
func dotF32r4AVX512Asm(x *float32, w *float32, ldw int, n int, out *[4]float32)

//go:noescape
func dotF16r4AVX512Asm(x *float32, w *uint32, ldw int, n int, out *[4]float32)

//go:noescape
func dotBF16r4AVX512Asm(x *float32, w *uint32, ldw int, n int, out *[4]float32)

//go:noescape
func dotF32x4r4AVX512Asm(x *float32, ldx int, w *float32, ldw int, n int, out *[16]float32)

//go:noescape
func dotF16x4r4AVX512Asm(x *float32, ldx int, w *uint32, ldw int, n int, out *[16]float32)

//go:noescape
func dotBF16x4r4AVX512Asm(x *float32, ldx int, w *uint32, ldw int, n int, out *[16]float32)

// floatRowsAVX512 is the AVX-512 set's multi-row float kernels
// (vec.go's floatRows).
var floatRowsAVX512 = &floatRows{
	step: 16,
	f32: func(x []float32, w []float32, ldw int, out *[4]float32) {
		k := len(x)
		_ = w[3*ldw+k-1]
		dotF32r4AVX512Asm(&x[0], &w[0], 4*ldw, k, out)
	},
	f16: func(x []float32, w []uint32, ldw int, out *[4]float32) {
		k := len(x)
		_ = w[3*ldw+k/2-1]
		dotF16r4AVX512Asm(&x[0], &w[0], 4*ldw, k, out)
	},
	bf16: func(x []float32, w []uint32, ldw int, out *[4]float32) {
		k := len(x)
		_ = w[3*ldw+k/2-1]
		dotBF16r4AVX512Asm(&x[0], &w[0], 4*ldw, k, out)
	},
	f32x4: func(x []float32, ldx, k int, w []float32, ldw int, out *[16]float32) {
		rows4(x, ldx, k)
		_ = w[3*ldw+k-1]
		dotF32x4r4AVX512Asm(&x[0], ldx, &w[0], 4*ldw, k, out)
	},
	f16x4: func(x []float32, ldx, k int, w []uint32, ldw int, out *[16]float32) {
		rows4(x, ldx, k)
		_ = w[3*ldw+k/2-1]
		dotF16x4r4AVX512Asm(&x[0], ldx, &w[0], 4*ldw, k, out)
	},
	bf16x4: func(x []float32, ldx, k int, w []uint32, ldw int, out *[16]float32) {
		rows4(x, ldx, k)
		_ = w[3*ldw+k/2-1]
		dotBF16x4r4AVX512Asm(&x[0], ldx, &w[0], 4*ldw, k, out)
	},
}

//go:noescape
func dotF16HeadsAVX512Asm(q *float32, k *uint32, d, heads int, scale float32, out *float32, stride int)

//go:noescape
func axpyF16HeadsAVX512Asm(dst *float32, p *float32, stride int, v *uint32, d, heads int)

// headsAVX512 is the AVX-512 set's attention kernels over a block of
// heads (vec.go's headKernels).
var headsAVX512 = headKernelsOf(16, dotF16HeadsAVX512Asm, axpyF16HeadsAVX512Asm)
