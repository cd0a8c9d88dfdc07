package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"glimpse/compute"
	"glimpse/compute/optest"
)

// Benchmarks of the CPU kernels at the real model shapes. Run with
//
//	go test -run '^$' -bench CPU -benchtime 3x ./compute/cpu/
//
// Matrix–vector speed is reported as GB/s of weights read (packed words and
// block scales), which is what bounds decoding; matrix–matrix speed as
// GFLOP/s (2·M·K·N per multiply).

// BenchmarkCPULinearVec is one decoding step's matrix–vector product at
// Vicuna-7B's MLP up projection: x [1, 4096] by w [11008, 4096].
func BenchmarkCPULinearVec(b *testing.B) {
	const n, k = 11008, 4096
	data := optest.BenchWeights(n, k)
	x := optest.RandFloats(rand.New(rand.NewPCG(2, 2)), k, 1)
	for _, dt := range []compute.DType{compute.F32, compute.F16, compute.BF16, compute.Q8, compute.Q4, compute.Q4K, compute.Q6K} {
		b.Run(fmt.Sprintf("Vicuna7B_4096x11008/%v", dt), func(b *testing.B) {
			be := New()
			defer be.Close()
			w, err := be.Upload(dt, []int{n, k}, data)
			if err != nil {
				b.Fatal(err)
			}
			ctx := be.NewContext()
			defer ctx.Close()
			xt := ctx.FromFloats([]int{1, k}, x)
			optest.BenchRate(b, optest.WeightBytes(dt, n, k), "GB/s", func() { ctx.Linear(xt, w, nil).Release() })
		})
	}
}

// BenchmarkCPULinearVecL2 is BenchmarkCPULinearVec's product at Vicuna-7B's
// width (k = 4096) over 64-row blocks of weights summing to about 1 MiB,
// which one core's L2 (2 MiB on the CI machine) holds between calls: run
// with -cpu 1, it measures what a kernel computes per second when memory
// bandwidth is not the limit, which the other benchmarks' memory traffic
// (and the traffic of other tenants of a shared machine) hides. A kernel
// that computes no faster than memory delivers cannot reach the bandwidth
// bound past the cache either.
func BenchmarkCPULinearVecL2(b *testing.B) {
	const k = 4096
	for _, dt := range []compute.DType{compute.F32, compute.F16, compute.BF16, compute.Q8, compute.Q4, compute.Q4K, compute.Q6K} {
		n := 64 * max(1, (1<<20)/int(optest.WeightBytes(dt, 64, k)))
		b.Run(fmt.Sprintf("%dx%d/%v", k, n, dt), func(b *testing.B) {
			be := New()
			defer be.Close()
			w, err := be.Upload(dt, []int{n, k}, optest.BenchWeights(n, k))
			if err != nil {
				b.Fatal(err)
			}
			ctx := be.NewContext()
			defer ctx.Close()
			xt := ctx.FromFloats([]int{1, k}, optest.RandFloats(rand.New(rand.NewPCG(3, 3)), k, 1))
			optest.BenchRate(b, optest.WeightBytes(dt, n, k), "GB/s", func() { ctx.Linear(xt, w, nil).Release() })
		})
	}
}

// BenchmarkCPULinearBeams is one beam-search step (five beams) at the same
// shape: x [5, 4096] by w [11008, 4096], reported as GB/s of weights read
// once, so that it compares with BenchmarkCPULinearVec: equal rates mean the
// five rows cost what one does.
func BenchmarkCPULinearBeams(b *testing.B) {
	const n, k, beams = 11008, 4096, 5
	data := optest.BenchWeights(n, k)
	x := optest.RandFloats(rand.New(rand.NewPCG(5, 5)), beams*k, 1)
	for _, dt := range []compute.DType{compute.F32, compute.F16, compute.Q8, compute.Q4, compute.Q4K, compute.Q6K} {
		b.Run(fmt.Sprintf("Vicuna7B_4096x11008_5beams/%v", dt), func(b *testing.B) {
			be := New()
			defer be.Close()
			w, err := be.Upload(dt, []int{n, k}, data)
			if err != nil {
				b.Fatal(err)
			}
			ctx := be.NewContext()
			defer ctx.Close()
			xt := ctx.FromFloats([]int{beams, k}, x)
			optest.BenchRate(b, optest.WeightBytes(dt, n, k), "GB/s", func() { ctx.Linear(xt, w, nil).Release() })
		})
	}
}

// BenchmarkCPUMatMul multiplies at ViT-g's MLP shape, 257 tokens × 1408 by
// 1408 × 6144, with both operands F32 activations (MatMul without transB).
func BenchmarkCPUMatMul(b *testing.B) {
	const m, k, n = 257, 1408, 6144
	rng := rand.New(rand.NewPCG(3, 3))
	be := New()
	defer be.Close()
	ctx := be.NewContext()
	defer ctx.Close()
	a := ctx.FromFloats([]int{m, k}, optest.RandFloats(rng, m*k, 1))
	bm := ctx.FromFloats([]int{k, n}, optest.RandFloats(rng, k*n, 1))
	b.Run("ViTg_257x1408x6144", func(b *testing.B) {
		optest.BenchRate(b, 2*m*k*n, "GFLOP/s", func() { ctx.MatMul(a, bm, false).Release() })
	})
}

// BenchmarkCPULinearMat is the same ViT-g MLP product the way the model
// runs it: Linear with a [6144, 1408] weight, F32 and F16.
func BenchmarkCPULinearMat(b *testing.B) {
	const m, k, n = 257, 1408, 6144
	data := optest.BenchWeights(n, k)
	x := optest.RandFloats(rand.New(rand.NewPCG(4, 4)), m*k, 1)
	for _, dt := range []compute.DType{compute.F32, compute.F16} {
		b.Run(fmt.Sprintf("ViTg_257x1408x6144/%v", dt), func(b *testing.B) {
			be := New()
			defer be.Close()
			w, err := be.Upload(dt, []int{n, k}, data)
			if err != nil {
				b.Fatal(err)
			}
			ctx := be.NewContext()
			defer ctx.Close()
			xt := ctx.FromFloats([]int{m, k}, x)
			optest.BenchRate(b, 2*m*k*n, "GFLOP/s", func() { ctx.Linear(xt, w, nil).Release() })
		})
	}
}

// BenchmarkCPULinearPrefill is a prompt's pass through the same Vicuna-7B
// up projection: 32 token rows, x [32, 4096] by w [11008, 4096], in
// GFLOP/s. It runs the packed product with the weights widened from every
// dtype, so it shows what the packing costs beside the arithmetic.
func BenchmarkCPULinearPrefill(b *testing.B) {
	const m, n, k = 32, 11008, 4096
	data := optest.BenchWeights(n, k)
	x := optest.RandFloats(rand.New(rand.NewPCG(6, 6)), m*k, 1)
	for _, dt := range []compute.DType{compute.F32, compute.F16, compute.BF16, compute.Q8, compute.Q4, compute.Q4K, compute.Q6K} {
		b.Run(fmt.Sprintf("Vicuna7B_32x4096x11008/%v", dt), func(b *testing.B) {
			be := New()
			defer be.Close()
			w, err := be.Upload(dt, []int{n, k}, data)
			if err != nil {
				b.Fatal(err)
			}
			ctx := be.NewContext()
			defer ctx.Close()
			xt := ctx.FromFloats([]int{m, k}, x)
			optest.BenchRate(b, 2*m*k*n, "GFLOP/s", func() { ctx.Linear(xt, w, nil).Release() })
		})
	}
}

// BenchmarkCPULinearVecDRAM is BenchmarkCPULinearVec over weights larger
// than any last-level cache (about 0.5–0.6 GB: this machine's L3 is
// 480 MiB), so that memory bandwidth bounds it as it bounds decoding a
// full-size model, whose 4–16 GB of weights are read once per token. The
// shapes are those scripts/bench-ggml.sh gives ggml. The words are random
// (valid halves for F16, Q4K's d and dmin and Q6K's d): speed does not depend on
// the values, and quantizing 1 G weights would take minutes.
func BenchmarkCPULinearVecDRAM(b *testing.B) {
	benchLinearVecDRAM(b, func(words []uint32) []uint32 { return words })
}

// benchLinearVecDRAM runs BenchmarkCPULinearVecDRAM's products with the
// packed words where place puts them.
func benchLinearVecDRAM(b *testing.B, place func([]uint32) []uint32) {
	for _, c := range []struct {
		dt   compute.DType
		n, k int
	}{{compute.F16, 32768, 8192}, {compute.Q8, 65536, 8192}, {compute.Q4K, 131072, 8192}, {compute.Q6K, 81920, 8192}} {
		b.Run(fmt.Sprintf("%dx%d/%v", c.k, c.n, c.dt), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(9, 9))
			words, scales := randomPacked(rng, c.dt, c.n, c.k)
			be := New()
			defer be.Close()
			w, err := be.UploadPacked(c.dt, []int{c.n, c.k}, place(words), scales)
			if err != nil {
				b.Fatal(err)
			}
			ctx := be.NewContext()
			defer ctx.Close()
			xt := ctx.FromFloats([]int{1, c.k}, optest.RandFloats(rng, c.k, 1))
			optest.BenchRate(b, optest.WeightBytes(c.dt, c.n, c.k), "GB/s", func() { ctx.Linear(xt, w, nil).Release() })
		})
	}
}

// randomPacked returns random packed weights of dtype dt (F16, Q8, Q4K or Q6K)
// and shape [n, k], with small scales so that products stay finite.
func randomPacked(rng *rand.Rand, dt compute.DType, n, k int) (words []uint32, scales []float32) {
	switch dt {
	case compute.F16:
		words = make([]uint32, n*k/2)
		for i := range words {
			words[i] = rng.Uint32()&0x03ff03ff | 0x38003800
		}
	case compute.Q8:
		words, scales = make([]uint32, n*k/4), make([]float32, n*k/compute.BlockSize)
		for i := range words {
			words[i] = rng.Uint32()
		}
		for i := range scales {
			scales[i] = 0.01
		}
	case compute.Q4K:
		words = make([]uint32, n*k/compute.SuperBlockSize*compute.Q4KWords)
		for i := range words {
			words[i] = rng.Uint32()
			if i%compute.Q4KWords == 0 {
				words[i] = words[i]&0x03ff03ff | 0x1c001c00
			}
		}
	case compute.Q6K:
		words = make([]uint32, n*k/compute.SuperBlockSize*compute.Q6KWords)
		for i := range words {
			words[i] = rng.Uint32()
			if i%compute.Q6KWords == compute.Q6KWords-1 {
				words[i] = words[i]&0x3ff | 0x1c00 // d, and the padding zero
			}
		}
	}
	return words, scales
}

// BenchmarkCPUDecodeAttention is the attention of one Vicuna-7B decoding
// step, all 32 layers (32 heads of 128 each, one new token per sequence):
// per layer SplitQKV rotates the token's q and k and stores k and v into
// that layer's F16 cache, then Attention reads `used` cached positions of
// each sequence. The 32 caches, as in the model, are far more than a
// core's L2 holds. With five beams the sequences read their first half
// through a rows index into sequence 0, as beam search leaves a shared
// prompt. GB/s counts the cache bytes that attention reads (keys and
// values of every used position of every sequence and layer), its memory
// traffic, which grows with the answer while the weights' stays fixed.
func BenchmarkCPUDecodeAttention(b *testing.B) {
	const layers, heads, d, capacity = 32, 32, 128, 512
	width := heads * d
	for _, beams := range []int{1, 5} {
		for _, used := range []int{64, 384} {
			b.Run(fmt.Sprintf("Vicuna7B/beams%d/used%d", beams, used), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(6, 6))
				be := New()
				defer be.Close()
				ctx := be.NewContext()
				defer ctx.Close()
				pos := make([]float32, beams*(used-1))
				for i := range pos {
					pos[i] = float32(i % (used - 1))
				}
				prompt := ctx.FromFloats([]int{beams * (used - 1)}, pos)
				// Random keys and values for the prompt, the same in every
				// layer (what they are does not change the work).
				fill := ctx.FromFloats([]int{beams, used - 1, 3 * width}, optest.RandFloats(rng, beams*(used-1)*3*width, 1))
				kc, vc := make([]compute.Tensor, layers), make([]compute.Tensor, layers)
				for l := range layers {
					kc[l] = ctx.ZerosOf(compute.F16, beams, capacity, width)
					vc[l] = ctx.ZerosOf(compute.F16, beams, capacity, width)
					ctx.SplitQKV(fill, compute.SplitQKVOptions{Heads: heads, Theta: 10000, Pos: prompt,
						MaxPosition: capacity, K: kc[l], V: vc[l]}).Release()
				}
				fill.Release()
				var rows compute.Tensor
				if beams > 1 {
					r := make([]float32, beams*capacity)
					for s := range beams {
						for j := range capacity {
							if j >= used/2 {
								r[s*capacity+j] = float32(s)
							}
						}
					}
					rows = ctx.FromFloats([]int{beams, capacity}, r)
				}
				qkv := ctx.FromFloats([]int{beams, 1, 3 * width}, optest.RandFloats(rng, beams*3*width, 1))
				at := make([]float32, beams)
				for i := range at {
					at[i] = float32(used - 1)
				}
				p := ctx.FromFloats([]int{beams}, at)
				bytes := float64(layers * 2 * beams * used * width * 2)
				optest.BenchRate(b, bytes, "GB/s", func() {
					for l := range layers {
						q := ctx.SplitQKV(qkv, compute.SplitQKVOptions{Heads: heads, Theta: 10000, Pos: p, MaxPosition: capacity,
							K: kc[l], V: vc[l], At: used - 1})
						ctx.Attention(q, kc[l], vc[l], compute.AttentionOptions{Heads: heads, Scale: 0.088, Causal: true,
							KeyLen: used, Rows: rows}).Release()
						q.Release()
					}
				})
			})
		}
	}
}
