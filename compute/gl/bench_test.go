package gl

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/go-gl/gl/v4.3-core/gl"

	"glimpse/compute"
	"glimpse/compute/optest"
)

// Benchmarks of the GL kernels at the real model shapes, the twins of the
// CPU ones in compute/cpu. Run with
//
//	go test -run '^$' -bench GL -benchtime 20x ./compute/gl/
//
// Each reports two rates: the GPU's, from a GL_TIME_ELAPSED timer query
// around all the iterations (the GPU's own clock: no queueing, no
// transfers), and "wall-" the same over wall-clock time with one Read per
// iteration. The one-time shader compilation happens in a warm-up call
// before either starts. Weights are uploaded in enough copies, used in
// turn, that one pass over them exceeds any GPU's L2 cache (50 MB on an
// H100): a matrix–vector product must stream its weights from memory, as
// it does in a model.

// l2Bytes is more than the largest L2 cache of the GPUs Glimpse meets.
const l2Bytes = 128 << 20

// gpuTimed runs n calls of step between one GL_TIME_ELAPSED query's begin
// and end and returns the GPU time they took; the end waits for the result.
func (b *device) gpuTimed(n int, step func()) time.Duration {
	var q uint32
	b.call(func() {
		gl.GenQueries(1, &q)
		gl.BeginQuery(gl.TIME_ELAPSED, q)
	})
	for range n {
		step()
	}
	var ns uint64
	b.call(func() {
		gl.EndQuery(gl.TIME_ELAPSED)
		gl.GetQueryObjectui64v(q, gl.QUERY_RESULT, &ns)
		gl.DeleteQueries(1, &q)
	})
	return time.Duration(ns)
}

// benchGPU reports work·b.N per second in unit by the GPU's clock (step
// queues one iteration's work and releases what it made) and by the wall
// clock with each iteration's result read back (read).
func benchGPU(b *testing.B, d *device, work float64, unit string, step func() compute.Tensor, ctx compute.Context) {
	b.Helper()
	ctx.Read(step()) // warm-up: compiles the shaders
	// A software renderer runs the shaders on the CPU when the queue is
	// flushed, outside what its timer measures: only the wall clock means
	// anything there.
	var gpu time.Duration
	if !compute.SoftwareRenderer(d.Info().Device) {
		gpu = d.gpuTimed(b.N, func() { step().Release() })
	}
	b.ResetTimer()
	for range b.N {
		y := step()
		ctx.Read(y)
		y.Release()
	}
	wall := b.Elapsed()
	if gpu > 0 {
		b.ReportMetric(work*float64(b.N)/gpu.Seconds()/1e9, unit)
	}
	b.ReportMetric(work*float64(b.N)/wall.Seconds()/1e9, "wall-"+unit)
}

// uploadCopies uploads data as dt in as many copies as one pass over them
// needs to exceed l2Bytes, packing it once.
func uploadCopies(b *testing.B, be compute.Backend, dt compute.DType, shape []int, data []float32) []compute.Tensor {
	b.Helper()
	words, scales, err := compute.Pack(dt, shape, data)
	if err != nil {
		b.Fatal(err)
	}
	size := 4 * (len(words) + len(scales))
	var ws []compute.Tensor
	for len(ws) == 0 || len(ws)*size <= l2Bytes {
		w, err := be.UploadPacked(dt, shape, words, scales)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(w.Release)
		ws = append(ws, w)
	}
	return ws
}

// BenchmarkGLLinearVec is one decoding step's matrix–vector product at
// Vicuna-7B's MLP up projection: x [1, 4096] by w [11008, 4096], in GB/s of
// weights read (packed words plus Q8/Q4 block scales).
func BenchmarkGLLinearVec(b *testing.B) {
	const n, k = 11008, 4096
	d, be := testGL(b)
	data := optest.BenchWeights(n, k)
	x := optest.RandFloats(rand.New(rand.NewPCG(2, 2)), k, 1)
	for _, dt := range []compute.DType{compute.F32, compute.F16, compute.BF16, compute.Q8, compute.Q4, compute.Q4K, compute.Q6K} {
		b.Run(fmt.Sprintf("Vicuna7B_4096x11008/%v", dt), func(b *testing.B) {
			ws := uploadCopies(b, be, dt, []int{n, k}, data)
			ctx := be.NewContext()
			defer ctx.Close()
			xt := ctx.FromFloats([]int{1, k}, x)
			i := 0
			benchGPU(b, d, optest.WeightBytes(dt, n, k), "GB/s", func() compute.Tensor {
				i++
				return ctx.Linear(xt, ws[i%len(ws)], nil)
			}, ctx)
		})
	}
}

// BenchmarkGLLinearMat is ViT-g's MLP product as the model runs it: Linear
// of 257 tokens × 1408 with a [6144, 1408] weight, in GFLOP/s (2·M·K·N).
func BenchmarkGLLinearMat(b *testing.B) {
	const m, k, n = 257, 1408, 6144
	d, be := testGL(b)
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
			benchGPU(b, d, 2*m*k*n, "GFLOP/s", func() compute.Tensor { return ctx.Linear(xt, w, nil) }, ctx)
		})
	}
}

// BenchmarkGLMatMul multiplies F32 activations at the same ViT-g shape,
// 257 × 1408 by 1408 × 6144 (MatMul without transB).
func BenchmarkGLMatMul(b *testing.B) {
	const m, k, n = 257, 1408, 6144
	d, be := testGL(b)
	rng := rand.New(rand.NewPCG(3, 3))
	ctx := be.NewContext()
	defer ctx.Close()
	a := ctx.FromFloats([]int{m, k}, optest.RandFloats(rng, m*k, 1))
	bm := ctx.FromFloats([]int{k, n}, optest.RandFloats(rng, k*n, 1))
	b.Run("ViTg_257x1408x6144", func(b *testing.B) {
		benchGPU(b, d, 2*m*k*n, "GFLOP/s", func() compute.Tensor { return ctx.MatMul(a, bm, false) }, ctx)
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
