//go:build arm64 && !purego

package cpu

// Attention's accumulation of values and SplitQKV's F16 stores
// (axpy_arm64.s) for the "neon" set.

//go:noescape
func axpyF32NEONAsm(dst *float32, a float32, v *float32, n int)

//go:noescape
func axpyF16NEONAsm(dst *float32, a float32, v *uint32, n int)

// axpyF32NEON is axpyF32 with the multiples of four in assembly.
func axpyF32NEON(dst []float32, a float32, v []float32) {
	v = v[:len(dst)]
	n := len(dst) &^ 3
	if n > 0 {
		axpyF32NEONAsm(&dst[0], a, &v[0], n)
	}
	for i := n; i < len(dst); i++ {
		dst[i] += a * v[i]
	}
}

// axpyF16NEON is axpyF16 with the multiples of four halves in assembly.
func axpyF16NEON(dst []float32, a float32, v []uint32) {
	dst = dst[:2*len(v)]
	n := len(dst) &^ 3
	if n > 0 {
		axpyF16NEONAsm(&dst[0], a, &v[0], n)
	}
	for i := n; i < len(dst); i++ {
		dst[i] += a * halfTable[uint16(v[i/2]>>(16*uint(i&1)))]
	}
}

//go:noescape
func halvesNEONAsm(dst *uint32, src *float32, n int)

// halvesNEON is halves with the multiples of four values in assembly.
func halvesNEON(dst []uint32, src []float32) {
	src = src[:2*len(dst)]
	n := len(src) &^ 3
	if n > 0 {
		halvesNEONAsm(&dst[0], &src[0], n)
	}
	halves(dst[n/2:], src[n:])
}
