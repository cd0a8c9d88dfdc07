//go:build amd64 && !purego

package cpu

//go:noescape
func axpyF32AVX2Asm(dst *float32, a float32, v *float32, n int)

//go:noescape
func axpyF16AVX2Asm(dst *float32, a float32, v *uint32, n int)

// axpyF32AVX2 is axpyF32 with the multiples of eight in assembly.
func axpyF32AVX2(dst []float32, a float32, v []float32) {
	v = v[:len(dst)]
	n := len(dst) &^ 7
	if n > 0 {
		axpyF32AVX2Asm(&dst[0], a, &v[0], n)
	}
	for i := n; i < len(dst); i++ {
		dst[i] += a * v[i]
	}
}

// axpyF16AVX2 is axpyF16 with the multiples of eight halves in assembly.
func axpyF16AVX2(dst []float32, a float32, v []uint32) {
	dst = dst[:2*len(v)]
	n := len(dst) &^ 7
	if n > 0 {
		axpyF16AVX2Asm(&dst[0], a, &v[0], n)
	}
	for i := n; i < len(dst); i++ {
		dst[i] += a * halfTable[uint16(v[i/2]>>(16*uint(i&1)))]
	}
}
