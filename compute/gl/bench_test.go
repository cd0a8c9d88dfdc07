package gl

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"glimpse/compute"
	"glimpse/compute/optest"
)

// Benchmarks of the GL kernels at the real model shapes, the twins of the
// CPU ones in compute/cpu. Run with
//
//	go test -run '^$' -bench GL -benchtime 3x ./compute/gl/
//
// Every iteration reads its result back (Read), so the time covers the GPU's
// work and not only the queueing of it. The one-time shader compilation
// happens in a warm-up call before the timer starts.

// BenchmarkGLLinearVec is one decoding step's matrix–vector product at
// Vicuna-7B's MLP up projection: x [1, 4096] by w [11008, 4096], in GB/s of
// weights read (packed words plus Q8/Q4 block scales).
func BenchmarkGLLinearVec(b *testing.B) {
	const n, k = 11008, 4096
	_, be := testGL(b)
	data := optest.BenchWeights(n, k)
	x := optest.RandFloats(rand.New(rand.NewPCG(2, 2)), k, 1)
	for _, dt := range []compute.DType{compute.F32, compute.F16, compute.BF16, compute.Q8, compute.Q4, compute.Q4K} {
		b.Run(fmt.Sprintf("Vicuna7B_4096x11008/%v", dt), func(b *testing.B) {
			w, err := be.Upload(dt, []int{n, k}, data)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Release()
			ctx := be.NewContext()
			defer ctx.Close()
			xt := ctx.FromFloats([]int{1, k}, x)
			optest.BenchRate(b, optest.WeightBytes(dt, n, k), "GB/s", func() {
				y := ctx.Linear(xt, w, nil)
				ctx.Read(y)
				y.Release()
			})
		})
	}
}

// BenchmarkGLLinearMat is ViT-g's MLP product as the model runs it: Linear
// of 257 tokens × 1408 with a [6144, 1408] weight, in GFLOP/s (2·M·K·N).
func BenchmarkGLLinearMat(b *testing.B) {
	const m, k, n = 257, 1408, 6144
	_, be := testGL(b)
	data := optest.BenchWeights(n, k)
	x := optest.RandFloats(rand.New(rand.NewPCG(4, 4)), m*k, 1)
	for _, dt := range []compute.DType{compute.F32, compute.F16} {
		b.Run(fmt.Sprintf("ViTg_257x1408x6144/%v", dt), func(b *testing.B) {
			w, err := be.Upload(dt, []int{n, k}, data)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Release()
			ctx := be.NewContext()
			defer ctx.Close()
			xt := ctx.FromFloats([]int{m, k}, x)
			optest.BenchRate(b, 2*m*k*n, "GFLOP/s", func() {
				y := ctx.Linear(xt, w, nil)
				ctx.Read(y)
				y.Release()
			})
		})
	}
}

// BenchmarkGLMatMul multiplies F32 activations at the same ViT-g shape,
// 257 × 1408 by 1408 × 6144 (MatMul without transB).
func BenchmarkGLMatMul(b *testing.B) {
	const m, k, n = 257, 1408, 6144
	_, be := testGL(b)
	rng := rand.New(rand.NewPCG(3, 3))
	ctx := be.NewContext()
	defer ctx.Close()
	a := ctx.FromFloats([]int{m, k}, optest.RandFloats(rng, m*k, 1))
	bm := ctx.FromFloats([]int{k, n}, optest.RandFloats(rng, k*n, 1))
	b.Run("ViTg_257x1408x6144", func(b *testing.B) {
		optest.BenchRate(b, 2*m*k*n, "GFLOP/s", func() {
			y := ctx.MatMul(a, bm, false)
			ctx.Read(y)
			y.Release()
		})
	})
}

// BenchmarkGLOpOverhead is the cost of queueing one small operation (an
// Add of 64 values) on the GL thread, measured over chains of 100 with one
// Read at the end: what a decoding step pays per kernel beyond its work.
func BenchmarkGLOpOverhead(b *testing.B) {
	_, be := testGL(b)
	ctx := be.NewContext()
	defer ctx.Close()
	x := ctx.FromFloats([]int{64}, make([]float32, 64))
	chain := func() {
		c := be.NewContext()
		y := x
		for range 100 {
			y = c.Add(y, x)
		}
		c.Read(y)
		c.Close()
	}
	chain()
	b.ResetTimer()
	for range b.N {
		chain()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(100*b.N), "µs/op")
}
