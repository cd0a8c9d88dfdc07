//go:build arm64 && !purego

package cpu

import "glimpse/compute"

// The bfloat16 kernels of the "neon" set (vec_bf16_arm64.s): the weights
// are widened by interleaving them with zero halves, as the top halves of
// float32s, and multiplied as dotF16NEON's are.

//go:noescape
func dotBF16NEONAsm(x *float32, w *uint32, n int, acc *[4]float32)

//go:noescape
func dotBF16x4NEONAsm(x *float32, ldx int, w *uint32, n int, out *[4]float32)

// dotBF16NEON is dotBF16 with the multiples of 16 values in assembly.
func dotBF16NEON(x []float32, w []uint32) float32 {
	x = x[:2*len(w)]
	n := len(x) &^ 15
	var s float32
	if n > 0 {
		var acc [4]float32
		dotBF16NEONAsm(&x[0], &w[0], n, &acc)
		s = sum4(&acc)
	}
	for i := n; i < len(x); i++ {
		s += x[i] * compute.BF16ToFloat32(uint16(w[i/2]>>(16*uint(i&1))))
	}
	return s
}

// dotBF16x4NEON is four dotBF16NEON (x rows ldx apart).
func dotBF16x4NEON(x []float32, ldx int, w []uint32, out *[4]float32) {
	dotBF16x4Tail(dotBF16x4NEONAsm, 16, x, ldx, w, out)
}
