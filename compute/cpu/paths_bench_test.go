package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"glimpse/compute"
	"glimpse/compute/optest"
)

// BenchmarkCPUPrefillPaths times the two ways Linear can multiply a short
// prompt's rows by quantized weights, the packed float matrix product and
// the integer kernels, side by side at 16, 32 and 64 rows: intRows's
// thresholds come from it.
func BenchmarkCPUPrefillPaths(b *testing.B) {
	const n, k = 11008, 4096
	data := optest.BenchWeights(n, k)
	for _, m := range []int{16, 32, 64} {
		x := optest.RandFloats(rand.New(rand.NewPCG(6, 6)), m*k, 1)
		out := make([]float32, m*n)
		for _, dt := range []compute.DType{compute.Q8, compute.Q4K, compute.Q6K} {
			words, scales, err := compute.Pack(dt, []int{n, k}, data)
			if err != nil {
				b.Fatal(err)
			}
			w := &weightRows{dt: dt, k: k, words: words, scales: scales}
			ik, ok := w.intKernels()
			if vec.gemm == nil || !ok {
				b.Skipf("the %s kernels have no packed product or no integer kernel for %v", vec.name, dt)
			}
			b.Run(fmt.Sprintf("%dx4096x11008/%v/packed", m, dt), func(b *testing.B) {
				optest.BenchRate(b, float64(2*m*k*n), "GFLOP/s", func() { gemmPacked(vec.gemm, x, m, k, packRows(vec.gemm, w, k), n, nil, out, n) })
			})
			b.Run(fmt.Sprintf("%dx4096x11008/%v/integer", m, dt), func(b *testing.B) {
				optest.BenchRate(b, float64(2*m*k*n), "GFLOP/s", func() { gemvInt(ik, x, m, k, n, nil, out, n) })
			})
		}
	}
}
