package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"glimpse/compute"
	"glimpse/compute/optest"
)

// gemmTileGo is a micro-kernel in Go with gemmKernel.fn's contract, so
// that the packed product (packing, edges, bias) is tested on every build,
// the purego one and architectures without assembly included.
func gemmTileGo(x *float32, ldx int, b *float32, kc int, c *float32, ldc int, acc int) {
	const mr, nr = 3, 8
	xs := unsafe.Slice(x, (mr-1)*ldx+kc)
	bs := unsafe.Slice(b, kc*nr)
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	for i := range mr {
		for j := range nr {
			var s float32
			for k := range kc {
				s += xs[i*ldx+k] * bs[k*nr+j]
			}
			if acc == 1 {
				s += cs[i*ldc+j]
			}
			cs[i*ldc+j] = s
		}
	}
}

// gemmKernels returns the micro-kernels this processor runs, each also
// with its packing done by the Go transposes, and gemmTileGo.
func gemmKernels() map[string]*gemmKernel {
	ks := map[string]*gemmKernel{"go_3x8": {mr: 3, nr: 8, fn: gemmTileGo}}
	for _, s := range archKernels() {
		if s.gemm != nil {
			ks[fmt.Sprintf("%s_%dx%d", s.name, s.gemm.mr, s.gemm.nr)] = s.gemm
			g := *s.gemm
			g.t8f32, g.t8f16, g.t8bf16, g.t8q8, g.t8q4, g.t8q4k = nil, nil, nil, nil, nil, nil
			ks[fmt.Sprintf("%s_%dx%d_gopack", s.name, s.gemm.mr, s.gemm.nr)] = &g
		}
	}
	return ks
}

// TestGemmMicroKernel runs each micro-kernel alone on one tile, against
// sums in float64, both overwriting and adding to the tile.
func TestGemmMicroKernel(t *testing.T) {
	for name, ker := range gemmKernels() {
		for _, kc := range []int{1, 2, 3, 4, 5, 7, 256} {
			for _, acc := range []int{0, 1} {
				t.Run(fmt.Sprintf("%s/kc=%d/acc=%d", name, kc, acc), func(t *testing.T) {
					mr, nr := ker.mr, ker.nr
					rng := rand.New(rand.NewPCG(uint64(kc), uint64(acc)))
					ldx, ldc := kc+3, nr+5 // rows apart, off alignment
					x := optest.RandFloats(rng, mr*ldx, 1)
					b := optest.RandFloats(rng, kc*nr, 1)
					c := optest.RandFloats(rng, mr*ldc, 1)
					want := make([]float64, mr*nr)
					bound := make([]float64, mr*nr)
					for i := range mr {
						for j := range nr {
							if acc == 1 {
								want[i*nr+j] = float64(c[i*ldc+j])
								bound[i*nr+j] = math.Abs(float64(c[i*ldc+j]))
							}
							for k := range kc {
								p := float64(x[i*ldx+k]) * float64(b[k*nr+j])
								want[i*nr+j] += p
								bound[i*nr+j] += math.Abs(p)
							}
						}
					}
					// Columns beyond nr in each c row are guards: the kernel
					// must leave them alone.
					guard := append([]float32(nil), c...)
					ker.fn(&x[0], ldx, &b[0], kc, &c[0], ldc, acc)
					got := make([]float32, mr*nr)
					for i := range mr {
						copy(got[i*nr:], c[i*ldc:i*ldc+nr])
						for j := nr; j < ldc && i*ldc+j < len(c); j++ {
							if c[i*ldc+j] != guard[i*ldc+j] {
								t.Fatalf("row %d column %d beyond the tile was written", i, j)
							}
						}
					}
					optest.CheckSums(t, "tile", got, want, bound, kc+1)
				})
			}
		}
	}
}

// TestGemmPacked runs the packed product, every micro-kernel, at shapes
// that are not multiples of the tile, the K block or the task width, for
// Linear's packing (w rows of every dtype widened, with and without bias;
// Q4K decoded by compute's definition of the format)
// and MatMul's (a row-major b), against float64 sums of the same widened
// values.
func TestGemmPacked(t *testing.T) {
	shapes := []struct{ M, N, K int }{
		{1, 1, 1}, {5, 17, 3}, {6, 16, 256}, {7, 33, 257}, {13, 65, 300},
		{12, 64, 64}, {25, 129, 513}, {9, 31, 32}, {257, 70, 100},
		{7, 40, 512}, {13, 9, 768},
	}
	for name, ker := range gemmKernels() {
		for _, sh := range shapes {
			for _, dt := range []compute.DType{compute.F32, compute.F16, compute.BF16, compute.Q8, compute.Q4, compute.Q4K} {
				if (dt == compute.Q8 || dt == compute.Q4) && sh.K%compute.BlockSize != 0 ||
					dt == compute.Q4K && sh.K%compute.SuperBlockSize != 0 {
					continue // quantized rows are whole blocks
				}
				for _, withBias := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/%dx%dx%d/%v/bias=%v", name, sh.M, sh.N, sh.K, dt, withBias), func(t *testing.T) {
						testGemmPacked(t, ker, sh.M, sh.N, sh.K, dt, withBias)
					})
				}
			}
			t.Run(fmt.Sprintf("%s/%dx%dx%d/matmul", name, sh.M, sh.N, sh.K), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(sh.M), uint64(sh.K)))
				a := optest.RandFloats(rng, sh.M*sh.K, 1)
				b := optest.RandFloats(rng, sh.K*sh.N, 1)
				want, bound := make([]float64, sh.M*sh.N), make([]float64, sh.M*sh.N)
				for m := range sh.M {
					for n := range sh.N {
						for k := range sh.K {
							p := float64(a[m*sh.K+k]) * float64(b[k*sh.N+n])
							want[m*sh.N+n] += p
							bound[m*sh.N+n] += math.Abs(p)
						}
					}
				}
				got := make([]float32, sh.M*sh.N)
				gemmPacked(ker, a, sh.M, sh.K, packCols(ker, b, sh.K, sh.N), sh.N, nil, got, sh.N)
				optest.CheckSums(t, "matmul", got, want, bound, sh.K)
			})
		}
	}
}

func testGemmPacked(t *testing.T, ker *gemmKernel, M, N, K int, dt compute.DType, withBias bool) {
	rng := rand.New(rand.NewPCG(uint64(M*N), uint64(K)))
	data := optest.RandFloats(rng, N*K, 1)
	w := &weightRows{dt: dt, k: K, f: data}
	if dt != compute.F32 {
		words, scales, err := compute.Pack(dt, []int{N, K}, data)
		if err != nil {
			t.Fatal(err)
		}
		w = &weightRows{dt: dt, k: K, words: words, scales: scales}
	}
	// The expected values come from the stored weights, decoded one
	// element at a time by the format's definition (compute's converters),
	// not by the row widening that the packing uses.
	wv := make([]float64, N*K)
	for n := range N {
		for k := range K {
			wv[n*K+k] = decodeWeight(t, w, n, k)
		}
	}
	x := optest.RandFloats(rng, M*K, 1)
	var bias []float32
	if withBias {
		bias = optest.RandFloats(rng, N, 1)
	}
	// Output rows wider than N, as when Linear writes into a view.
	ldo := N + 3
	got := make([]float32, M*ldo)
	for i := range got {
		got[i] = 7 // guards, between the rows
	}
	gemmPacked(ker, x, M, K, packRows(ker, w, K), N, bias, got, ldo)
	want, bound := make([]float64, M*N), make([]float64, M*N)
	rows := make([]float32, M*N)
	for m := range M {
		copy(rows[m*N:], got[m*ldo:m*ldo+N])
		for j := N; j < ldo && m*ldo+j < len(got); j++ {
			if got[m*ldo+j] != 7 {
				t.Fatalf("row %d: column %d beyond N was written", m, j)
			}
		}
		for n := range N {
			if bias != nil {
				want[m*N+n] = float64(bias[n])
				bound[m*N+n] = math.Abs(float64(bias[n]))
			}
			for k := range K {
				p := float64(x[m*K+k]) * wv[n*K+k]
				want[m*N+n] += p
				bound[m*N+n] += math.Abs(p)
			}
		}
	}
	optest.CheckSums(t, "linear", rows, want, bound, K+1)
}

// decodeWeight is element (n, k) of w, decoded from its stored words.
func decodeWeight(t *testing.T, w *weightRows, n, k int) float64 {
	i := n*w.k + k
	switch w.dt {
	case compute.F32:
		return float64(w.f[i])
	case compute.F16:
		return float64(compute.HalfToFloat32(uint16(w.words[i/2] >> (16 * uint(i&1)))))
	case compute.BF16:
		return float64(compute.BF16ToFloat32(uint16(w.words[i/2] >> (16 * uint(i&1)))))
	case compute.Q8:
		return float64(int8(w.words[i/4]>>(8*uint(i%4)))) * float64(w.scales[i/compute.BlockSize])
	case compute.Q4:
		return float64(int(w.words[i/8]>>(4*uint(i%8))&15)-8) * float64(w.scales[i/compute.BlockSize])
	case compute.Q4K:
		var sb [compute.SuperBlockSize]float32
		s := i / compute.SuperBlockSize
		compute.DequantizeQ4K(w.words[s*compute.Q4KWords:(s+1)*compute.Q4KWords], &sb)
		return float64(sb[i%compute.SuperBlockSize])
	}
	t.Fatalf("no decoder for %v", w.dt)
	return 0
}

// BenchmarkCPUGemmKernel runs each micro-kernel alone on one tile whose x
// rows and panel (kc = gemmKC) stay in L1, one core: the ceiling of the
// packed product on this processor, in GFLOP/s.
func BenchmarkCPUGemmKernel(b *testing.B) {
	for name, ker := range gemmKernels() {
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			x := optest.RandFloats(rng, ker.mr*gemmKC, 1)
			p := optest.RandFloats(rng, gemmKC*ker.nr, 1)
			c := make([]float32, ker.mr*ker.nr)
			optest.BenchRate(b, float64(2*ker.mr*ker.nr*gemmKC), "GFLOP/s", func() {
				ker.fn(&x[0], gemmKC, &p[0], gemmKC, &c[0], ker.nr, 1)
			})
		})
	}
}
