//go:build amd64 && !purego

package cpu

//go:noescape
func halvesAVX2Asm(dst *uint32, src *float32, n int)

// halvesAVX2 is halves with the multiples of eight values in assembly
// (F16C's VCVTPS2PH).
func halvesAVX2(dst []uint32, src []float32) {
	src = src[:2*len(dst)]
	n := len(src) &^ 7
	if n > 0 {
		halvesAVX2Asm(&dst[0], &src[0], n)
	}
	halves(dst[n/2:], src[n:])
}
