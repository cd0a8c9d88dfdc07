//go:build amd64 && !purego

package cpu

//go:noescape
func axpyF32AVX2Asm(dst *float32, a float32, v *float32, n int)

//go:noescape
func axpyF16AVX2Asm(dst *float32, a float32, v *uint32, n int)

//go:noescape
func dotF16HeadsAVX2Asm(q *float32, k *uint32, d, heads int, scale float32, out *float32, stride int)

//go:noescape
func axpyF16HeadsAVX2Asm(dst *float32, p *float32, stride int, v *uint32, d, heads int)

// headsAVX2 is the AVX2 set's attention kernels over a block of heads
// (vec.go's headKernels).
var headsAVX2 = headKernelsOf(8, dotF16HeadsAVX2Asm, axpyF16HeadsAVX2Asm)

// headKernelsOf wraps a pair of head-block kernels (each head's d values a
// multiple of step; strides in bytes) in headKernels' contract, checking
// the slices they read and write.
func headKernelsOf(step int,
	dot func(q *float32, k *uint32, d, heads int, scale float32, out *float32, stride int),
	axpy func(dst *float32, p *float32, stride int, v *uint32, d, heads int)) *headKernels {
	return &headKernels{
		step: step,
		dotF16: func(q []float32, k []uint32, d int, scale float32, out []float32, stride int) {
			heads := len(q) / d
			_ = k[len(q)/2-1]
			_ = out[(heads-1)*stride]
			dot(&q[0], &k[0], d, heads, scale, &out[0], 4*stride)
		},
		axpyF16: func(dst []float32, p []float32, stride int, v []uint32, d int) {
			heads := len(dst) / d
			_ = v[len(dst)/2-1]
			_ = p[(heads-1)*stride]
			axpy(&dst[0], &p[0], 4*stride, &v[0], d, heads)
		},
	}
}

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
