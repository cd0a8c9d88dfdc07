//go:build linux

package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"glimpse/compute"
	"glimpse/compute/optest"
)

// BenchmarkCPUDecodeLayersHuge streams the weights of eight Vicuna-7B
// decoder layers (4096 wide, 11008 inner; 0.9 GB in Q4K, 1.3 GB in Q6K, 1.8 GB in Q8: past
// the L3) through the calls a decoding step makes per layer, with one
// token: the query, key and value products on the normed x, the output
// product with its residual, the gated pair, the down product with its
// residual. Attention is left out
// (its cost is the cache's, not the weights'). The weights sit in huge
// pages, as the model loader places them. GB/s is weight bytes per second:
// beside BenchmarkCPULinearVecDRAMHuge's single large product it shows what
// a step's short products in sequence lose to their starts and ends.
func BenchmarkCPUDecodeLayersHuge(b *testing.B) {
	const layers, d, inner = 8, 4096, 11008
	for _, dt := range []compute.DType{compute.Q4K, compute.Q8, compute.Q6K} {
		b.Run(fmt.Sprintf("Vicuna7B_%dlayers/%v", layers, dt), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(5, 5))
			be := New()
			defer be.Close()
			bytes := 0.0
			upload := func(n, k int) compute.Tensor {
				words, scales := randomPacked(rng, dt, n, k)
				w, err := be.UploadPacked(dt, []int{n, k}, hugeWords(b, words), scales)
				if err != nil {
					b.Fatal(err)
				}
				bytes += optest.WeightBytes(dt, n, k)
				return w
			}
			type layer struct{ q, k, v, o, gate, up, down compute.Tensor }
			ls := make([]layer, layers)
			for i := range ls {
				ls[i] = layer{upload(d, d), upload(d, d), upload(d, d), upload(d, d),
					upload(inner, d), upload(inner, d), upload(d, inner)}
			}
			ctx := be.NewContext()
			defer ctx.Close()
			norm := ctx.FromFloats([]int{d}, optest.RandFloats(rng, d, 1))
			x0 := optest.RandFloats(rng, d, 1)
			optest.BenchRate(b, bytes, "GB/s", func() {
				x := ctx.FromFloats([]int{1, d}, x0)
				for _, l := range ls {
					qkv := ctx.NormLinears(x, norm, 1e-6, l.q, l.k, l.v)
					// x stands in for attention's output.
					h := ctx.LinearAdd(x, l.o, nil, x)
					g := ctx.NormGatedLinear("silu", h, norm, 1e-6, l.gate, l.up)
					next := ctx.LinearAdd(g, l.down, nil, h)
					for _, t := range []compute.Tensor{x, qkv, h, g} {
						t.Release()
					}
					x = next
				}
				x.Release()
			})
		})
	}
}
