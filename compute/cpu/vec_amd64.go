//go:build amd64 && !purego

package cpu

import (
	"glimpse/compute"

	"golang.org/x/sys/cpu"
)

// archKernels lists the amd64 kernel sets this processor runs, best first.
// AVX2 with FMA and F16C (Haswell, Zen and later) is the baseline; without
// all three the pure-Go set runs.
func archKernels() []vecKernels {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C {
		return []vecKernels{{name: "avx2-fma-f16c", f32: dotF32AVX2, f16: dotF16AVX2, q8: dotQ8AVX2, q4: dotQ4AVX2}}
	}
	return nil
}

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
