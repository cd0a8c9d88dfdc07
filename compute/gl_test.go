package compute

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The GL backend against the CPU backend: every operation, every weight
// dtype, on seeded random inputs, with shapes that do not divide the work
// groups and scaled-down shapes of the real models. On a machine without a
// GPU these run on Mesa's llvmpipe through EGL; a missing GL context is a
// failure, not a skip (CI has llvmpipe).
//
// Both backends read the same packed weights (compute.Pack), so F16, BF16,
// Q8 and Q4 weights give the same float32 values on both, and the
// tolerances below cover only the order of float32 operations and the
// transcendental functions:
//
//   - sums of k products (Linear, MatMul, attention scores): the GL and CPU
//     results each lie within γ_k·Σ|terms| of the exact sum, so they differ by
//     at most 2·(k+2)·2⁻²⁴·Σ|terms| (glSumTol), for every weight dtype alike;
//   - element-wise ops: 1e-6 absolute + 1e-5 relative (exp, erf, tanh in
//     float32 on the GPU, float64 rounded once on the CPU; erf's
//     approximation is within 1.2e-7);
//   - norms, softmax, attention outputs: 1e-5 absolute + 1e-4 relative
//     (reductions in a different order);
//   - data movement, RoPE, embedding, patches, argmax, top-k: exact.

// glShared is one GL backend for the whole test binary: contexts are cheap,
// shader compilation is not (0.2–0.6 s per kernel on llvmpipe).
var glShared struct {
	once sync.Once
	b    *glBackend
	err  error
}

func testGL(t testing.TB) *glBackend {
	t.Helper()
	glShared.once.Do(func() {
		b, err := newGL(glOptions{debug: true})
		if err == nil {
			glShared.b = b.(*glBackend)
		}
		glShared.err = err
	})
	if glShared.err != nil {
		t.Fatalf("no OpenGL 4.3 context (CI provides Mesa llvmpipe through EGL): %v", glShared.err)
	}
	return glShared.b
}

// both holds the same tensor on the GL (0) and CPU (1) backends.
type both [2]Tensor

// glPair runs the same operations on a GL and a CPU context.
type glPair struct {
	t   *testing.T
	rng *rand.Rand
	be  [2]Backend
	ctx [2]Context
}

// eachGL runs f with a GL/CPU pair for every kernel variant this machine
// has: the fast variants in use by default and, where there are any, the
// portable kernels too (a second backend with variants turned off).
func eachGL(t *testing.T, seed uint64, f func(t *testing.T, p *glPair)) {
	t.Helper()
	g := testGL(t)
	variants := g.Info().Variants
	if len(variants) == 1 {
		f(t, newGLPairOn(t, seed, g))
		return
	}
	t.Run(strings.Join(variants, "+"), func(t *testing.T) { f(t, newGLPairOn(t, seed, g)) })
	t.Run("portable", func(t *testing.T) { f(t, newGLPairOn(t, seed, testPortableGL(t))) })
}

// glPortable is a backend restricted to the portable kernels, made only on
// machines whose default backend uses faster variants.
var glPortable struct {
	once sync.Once
	b    *glBackend
	err  error
}

func testPortableGL(t testing.TB) *glBackend {
	t.Helper()
	glPortable.once.Do(func() {
		b, err := newGL(glOptions{debug: true, noVariants: true})
		if err == nil {
			glPortable.b = b.(*glBackend)
		}
		glPortable.err = err
	})
	if glPortable.err != nil {
		t.Fatalf("no OpenGL 4.3 context for the portable kernels: %v", glPortable.err)
	}
	return glPortable.b
}

func newGLPairOn(t *testing.T, seed uint64, g Backend) *glPair {
	cpu := NewCPU()
	p := &glPair{t: t, rng: rand.New(rand.NewPCG(seed, 7)), be: [2]Backend{g, cpu}}
	p.ctx = [2]Context{g.NewContext(), cpu.NewContext()}
	t.Cleanup(func() {
		p.ctx[0].Close()
		p.ctx[1].Close()
		cpu.Close()
	})
	return p
}

// rand returns n normal values times scale.
func (p *glPair) rand(n int, scale float64) []float32 { return randFloats(p.rng, n, scale) }

// floats makes an F32 context tensor on both backends.
func (p *glPair) floats(shape []int, data []float32) both {
	return both{p.ctx[0].FromFloats(shape, data), p.ctx[1].FromFloats(shape, data)}
}

// randT makes a random F32 context tensor on both backends.
func (p *glPair) randT(scale float64, shape ...int) both {
	return p.floats(shape, p.rand(NumElements(shape), scale))
}

// upload uploads the same data in dtype to both backends.
func (p *glPair) upload(dt DType, shape []int, data []float32) both {
	p.t.Helper()
	var r both
	for i := range r {
		w, err := p.be[i].Upload(dt, shape, data)
		if err != nil {
			p.t.Fatalf("upload %v%v: %v", dt, shape, err)
		}
		r[i] = w
	}
	p.t.Cleanup(func() { r[0].Release(); r[1].Release() })
	return r
}

// run applies f to the GL and the CPU tensors and reads both results,
// checking that the shapes agree.
func (p *glPair) run(f func(c Context, in []Tensor) Tensor, ins ...both) (gl, cpu []float32) {
	p.t.Helper()
	var out [2][]float32
	var shapes [2][]int
	for i := range 2 {
		args := make([]Tensor, len(ins))
		for j, in := range ins {
			args[j] = in[i]
		}
		r := f(p.ctx[i], args)
		shapes[i] = r.Shape()
		out[i] = p.ctx[i].Read(r)
	}
	if !equalInts(shapes[0], shapes[1]) {
		p.t.Fatalf("GL result shape %v, CPU %v", shapes[0], shapes[1])
	}
	return out[0], out[1]
}

// near compares GL values with CPU values within abs + rel·|cpu|.
func near(t *testing.T, what string, gl, cpu []float32, abs, rel float64) {
	t.Helper()
	if len(gl) != len(cpu) {
		t.Fatalf("%s: GL gave %d values, CPU %d", what, len(gl), len(cpu))
	}
	for i := range gl {
		g, c := float64(gl[i]), float64(cpu[i])
		if math.IsNaN(c) || math.IsInf(c, 0) {
			if g != c && !(math.IsNaN(g) && math.IsNaN(c)) {
				t.Fatalf("%s: element %d: GL %v, CPU %v", what, i, g, c)
			}
			continue
		}
		if d := math.Abs(g - c); !(d <= abs+rel*math.Abs(c)) {
			t.Fatalf("%s: element %d: GL %v, CPU %v (difference %.3g > %.3g)", what, i, g, c, d, abs+rel*math.Abs(c))
		}
	}
}

// glSumTol is the tolerance between two float32 sums of k terms whose
// magnitudes add up to bound.
func glSumTol(k int, bound float64) float64 {
	return 2*float64(k+2)*math.Ldexp(1, -24)*bound + 1e-30
}

// nearSums compares results of sums of k products against the CPU's, with
// bound[i] = Σ|terms| of element i.
func nearSums(t *testing.T, what string, gl, cpu []float32, bound []float64, k int) {
	t.Helper()
	if len(gl) != len(cpu) || len(gl) != len(bound) {
		t.Fatalf("%s: GL gave %d values, CPU %d, bounds %d", what, len(gl), len(cpu), len(bound))
	}
	for i := range gl {
		tol := 2 * glSumTol(k, bound[i])
		if d := math.Abs(float64(gl[i]) - float64(cpu[i])); !(d <= tol) {
			t.Fatalf("%s: element %d: GL %v, CPU %v (difference %.3g > %.3g)", what, i, gl[i], cpu[i], d, tol)
		}
	}
}

func exact(t *testing.T, what string, gl, cpu []float32) {
	t.Helper()
	near(t, what, gl, cpu, 0, 0)
}

var allDTypes = []DType{F32, F16, BF16, Q8, Q4}

func TestGLInfo(t *testing.T) {
	b := testGL(t)
	info := b.Info()
	if info.Name != "gl" || info.Device == "" || info.Version == "" {
		t.Fatalf("Info = %+v: want name gl, a renderer and a version", info)
	}
	if len(info.Variants) == 0 || info.Variants[0] != "portable" {
		t.Fatalf("variants %v: want portable first", info.Variants)
	}
	for _, k := range []string{"max_ssbo_bytes", "max_shared_bytes", "max_invocations", "max_ssbo_bindings"} {
		if info.Limits[k] <= 0 {
			t.Fatalf("limit %s = %d", k, info.Limits[k])
		}
	}
	t.Logf("%s, %s, variants %v, limits %v", info.Device, info.Version, info.Variants, info.Limits)
}

func TestGLUploadRead(t *testing.T) {
	eachGL(t, 1, func(t *testing.T, p *glPair) {
		shapes := [][]int{{1}, {3, 5}, {7, 33}, {2, 3, 64}, {0, 4}}
		for _, dt := range allDTypes {
			for _, shape := range shapes {
				if (dt == Q8 || dt == Q4) && shape[len(shape)-1]%BlockSize != 0 {
					continue
				}
				data := p.rand(NumElements(shape), 2)
				w := p.upload(dt, shape, data)
				g, c := p.run(func(ctx Context, in []Tensor) Tensor { return in[0] }, w)
				exact(t, fmt.Sprintf("%v%v", dt, shape), g, c)
			}
		}
	})
}

func TestGLLinear(t *testing.T) {
	eachGL(t, 2, func(t *testing.T, p *glPair) {
		cases := []struct {
			m, k, n int
			bias    bool
		}{
			{1, 64, 40, false},
			{1, 96, 33, true},
			{3, 128, 17, true},
			{8, 160, 70, false},  // the most rows of the matrix–vector kernel
			{9, 64, 65, true},    // the first of the tiled kernel
			{70, 96, 130, false}, // tiles with ragged edges
			{1, 256, 688, false}, // Vicuna's MLP up-projection, 1/16 scale
			{5, 256, 256, true},  // beam-search decoding step
			{33, 88, 352, true},  // ViT-g's MLP (1408→6144), 1/16 scale, 33 tokens
			{1, 37, 9, true},     // odd K: no vectorised loads (F32/F16/BF16)
			{12, 37, 9, false},
		}
		for _, dt := range allDTypes {
			for _, tc := range cases {
				if (dt == Q8 || dt == Q4) && tc.k%BlockSize != 0 {
					continue
				}
				name := fmt.Sprintf("%v/m%d_k%d_n%d_bias%v", dt, tc.m, tc.k, tc.n, tc.bias)
				x := p.rand(tc.m*tc.k, 1)
				wd := p.rand(tc.n*tc.k, 0.2)
				w := p.upload(dt, []int{tc.n, tc.k}, wd)
				ins := []both{p.floats([]int{tc.m, tc.k}, x), w}
				var bias []float32
				if tc.bias {
					bias = p.rand(tc.n, 1)
					ins = append(ins, p.floats([]int{tc.n}, bias))
				}
				g, c := p.run(func(ctx Context, in []Tensor) Tensor {
					if len(in) == 3 {
						return ctx.Linear(in[0], in[1], in[2])
					}
					return ctx.Linear(in[0], in[1], nil)
				}, ins...)
				// Bounds from the weights as stored (dequantized).
				_, bound := refLinear(x, tc.m, tc.k, p.ctx[1].Read(w[1]), tc.n, bias)
				nearSums(t, name, g, c, bound, tc.k+1)
			}
		}
	})
}

func TestGLLinearBatchedShape(t *testing.T) {
	eachGL(t, 3, func(t *testing.T, p *glPair) {
		x := p.randT(1, 2, 3, 64)
		w := p.upload(F16, []int{24, 64}, p.rand(24*64, 0.2))
		g, c := p.run(func(ctx Context, in []Tensor) Tensor { return ctx.Linear(in[0], in[1], nil) }, x, w)
		near(t, "[2,3,64]·[24,64]ᵀ", g, c, 1e-5, 1e-4)
	})
}

func TestGLMatMul(t *testing.T) {
	eachGL(t, 4, func(t *testing.T, p *glPair) {
		cases := []struct {
			aShape, bShape []int
			transB         bool
		}{
			{[]int{5, 7}, []int{7, 9}, false},
			{[]int{3, 17, 33}, []int{3, 65, 33}, true},
			{[]int{2, 70, 64}, []int{2, 64, 3}, false},
			{[]int{2, 4, 1, 16}, []int{2, 4, 20, 16}, true}, // scores of one decoding query
			{[]int{3, 6, 10}, []int{10, 12}, false},         // 2-D b shared by the batch
			{[]int{65, 130}, []int{67, 130}, true},
		}
		for _, tc := range cases {
			a, b := p.randT(1, tc.aShape...), p.randT(1, tc.bShape...)
			g, c := p.run(func(ctx Context, in []Tensor) Tensor { return ctx.MatMul(in[0], in[1], tc.transB) }, a, b)
			k := tc.aShape[len(tc.aShape)-1]
			// Each term is a product of two N(0,1) values: bound the sums by
			// k·max|a|·max|b| computed from the operands.
			ad, bd := p.ctx[1].Read(a[1]), p.ctx[1].Read(b[1])
			bound := make([]float64, len(c))
			for i := range bound {
				bound[i] = float64(k) * maxAbs(ad) * maxAbs(bd)
			}
			nearSums(t, fmt.Sprintf("%v·%v transB %v", tc.aShape, tc.bShape, tc.transB), g, c, bound, k)
		}
	})
}

func maxAbs(xs []float32) float64 {
	m := 0.0
	for _, x := range xs {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return m
}

func TestGLElementwise(t *testing.T) {
	eachGL(t, 5, func(t *testing.T, p *glPair) {
		// 2·4096·256+3 elements go round the grid-stride loop more than twice.
		sizes := [][]int{{1}, {3, 7}, {257, 88}, {2*4096*256 + 3}}
		ops := []struct {
			name   string
			binary bool
			f      func(c Context, a, b Tensor) Tensor
		}{
			{"Add", true, func(c Context, a, b Tensor) Tensor { return c.Add(a, b) }},
			{"Mul", true, func(c Context, a, b Tensor) Tensor { return c.Mul(a, b) }},
			{"Scale", false, func(c Context, a, _ Tensor) Tensor { return c.Scale(a, -0.37) }},
			{"GELU", false, func(c Context, a, _ Tensor) Tensor { return c.GELU(a) }},
			{"GELUTanh", false, func(c Context, a, _ Tensor) Tensor { return c.GELUTanh(a) }},
			{"SiLU", false, func(c Context, a, _ Tensor) Tensor { return c.SiLU(a) }},
			{"Gated/silu", true, func(c Context, a, b Tensor) Tensor { return c.Gated("silu", a, b) }},
			{"Gated/gelu", true, func(c Context, a, b Tensor) Tensor { return c.Gated("gelu", a, b) }},
			{"Gated/gelu_tanh", true, func(c Context, a, b Tensor) Tensor { return c.Gated("gelu_tanh", a, b) }},
			{"Gated/relu", true, func(c Context, a, b Tensor) Tensor { return c.Gated("relu", a, b) }},
		}
		for _, shape := range sizes {
			// Wide inputs reach the tails of erf, tanh and exp.
			a := p.randT(4, shape...)
			b := p.randT(1, shape...)
			row := p.randT(1, shape[len(shape)-1])
			for _, op := range ops {
				g, c := p.run(func(ctx Context, in []Tensor) Tensor { return op.f(ctx, in[0], in[1]) }, a, b)
				near(t, fmt.Sprintf("%s%v", op.name, shape), g, c, 1e-6, 1e-5)
				if op.name == "Add" || op.name == "Mul" {
					g, c = p.run(func(ctx Context, in []Tensor) Tensor { return op.f(ctx, in[0], in[1]) }, a, row)
					near(t, fmt.Sprintf("%s%v broadcast row", op.name, shape), g, c, 1e-6, 1e-5)
				}
			}
		}
	})
}

func TestGLNorms(t *testing.T) {
	eachGL(t, 6, func(t *testing.T, p *glPair) {
		// The mean of a row of values near 30 carries an absolute error of a few
		// ulps of 30 (≈1e-6 each) that depends on the summation order; it passes
		// into every (x-mean)/σ·w unscaled by the output's size.
		const lnAbs = 1e-4
		for _, shape := range [][]int{{1, 5}, {7, 88}, {2, 3, 300}, {3, 4096}} {
			cols := shape[len(shape)-1]
			xd := p.rand(NumElements(shape), 1)
			for i := range xd {
				xd[i] += 30 // a large mean tests the two-pass variance
			}
			x := p.floats(shape, xd)
			w, b := p.randT(1, cols), p.randT(1, cols)
			g, c := p.run(func(ctx Context, in []Tensor) Tensor { return ctx.LayerNorm(in[0], in[1], in[2], 1e-6) }, x, w, b)
			near(t, fmt.Sprintf("LayerNorm%v", shape), g, c, lnAbs, 1e-4)
			g, c = p.run(func(ctx Context, in []Tensor) Tensor { return ctx.LayerNorm(in[0], in[1], nil, 1e-5) }, x, w)
			near(t, fmt.Sprintf("LayerNorm%v no bias", shape), g, c, lnAbs, 1e-4)
			g, c = p.run(func(ctx Context, in []Tensor) Tensor { return ctx.RMSNorm(in[0], in[1], 1e-6) }, x, w)
			near(t, fmt.Sprintf("RMSNorm%v", shape), g, c, 1e-5, 1e-4)
		}
	})
}

func TestGLSoftmax(t *testing.T) {
	eachGL(t, 7, func(t *testing.T, p *glPair) {
		inf := float32(math.Inf(-1))
		for _, shape := range [][]int{{1, 1}, {3, 7}, {5, 300}, {2, 32000}} {
			rows, cols := NumElements(shape)/shape[len(shape)-1], shape[len(shape)-1]
			x := p.randT(3, shape...)
			full := p.rand(rows*cols, 1)
			full[0] = -1e9 // padding
			row := make([]float32, cols)
			if cols > 2 {
				row[cols-1] = inf
			}
			masks := map[string]both{"full": p.floats(shape, full), "row": p.floats([]int{1, cols}, row)}
			g, c := p.run(func(ctx Context, in []Tensor) Tensor { return ctx.Softmax(in[0], nil) }, x)
			near(t, fmt.Sprintf("Softmax%v", shape), g, c, 1e-6, 1e-4)
			for name, m := range masks {
				g, c := p.run(func(ctx Context, in []Tensor) Tensor { return ctx.Softmax(in[0], in[1]) }, x, m)
				near(t, fmt.Sprintf("Softmax%v mask %s", shape, name), g, c, 1e-6, 1e-4)
			}
			g, c = p.run(func(ctx Context, in []Tensor) Tensor { return ctx.LogSoftmax(in[0]) }, x)
			// log(Σ exp) of up to 32000 terms summed in another order.
			near(t, fmt.Sprintf("LogSoftmax%v", shape), g, c, 1e-4, 1e-5)
		}
		// A row of nothing but -Inf gives zeros on both.
		allInf := make([]float32, 6)
		for i := range allInf {
			allInf[i] = inf
		}
		g, c := p.run(func(ctx Context, in []Tensor) Tensor { return ctx.Softmax(in[0], nil) }, p.floats([]int{1, 6}, allInf))
		exact(t, "Softmax of -Inf", g, c)
	})
}

func TestGLAttention(t *testing.T) {
	eachGL(t, 8, func(t *testing.T, p *glPair) {
		type tc struct {
			name                 string
			b, tq, tk, h, kvh, d int
			causal               bool
			keyLen               int
			mask                 bool
			bias                 int // 0 none, 3 [H,Tq,Tk], 4 [B,H,Tq,Tk]
		}
		cases := []tc{
			{name: "self", b: 2, tq: 7, tk: 7, h: 4, d: 16},
			{name: "self-mask", b: 2, tq: 9, tk: 9, h: 2, d: 32, mask: true},
			{name: "causal-prompt", b: 1, tq: 13, tk: 13, h: 4, kvh: 4, d: 32, causal: true},
			{name: "gqa-decode", b: 3, tq: 1, tk: 300, h: 8, kvh: 2, d: 16, causal: true, keyLen: 290},
			{name: "cross", b: 2, tq: 5, tk: 32, h: 4, d: 16, mask: true},
			{name: "t5-bias", b: 2, tq: 6, tk: 6, h: 4, d: 16, bias: 3, mask: true},
			{name: "t5-bias-batched", b: 2, tq: 3, tk: 11, h: 2, d: 8, bias: 4, causal: true},
			{name: "vit-g-head", b: 1, tq: 17, tk: 17, h: 2, d: 88},
			{name: "head-above-wg", b: 1, tq: 2, tk: 140, h: 1, d: 200},
			{name: "long-keys-tiles", b: 1, tq: 3, tk: 1000, h: 2, kvh: 1, d: 64, keyLen: 777, mask: true},
		}
		for _, c := range cases {
			kvh := c.kvh
			if kvh == 0 {
				kvh = c.h
			}
			q := p.randT(1, c.b, c.tq, c.h*c.d)
			k := p.randT(1, c.b, c.tk, kvh*c.d)
			v := p.randT(1, c.b, c.tk, kvh*c.d)
			ins := []both{q, k, v}
			keys := c.tk
			if c.keyLen > 0 {
				keys = c.keyLen
			}
			var hasMask, hasBias bool
			if c.mask {
				md := make([]float32, c.b*keys)
				for i := range md {
					if p.rng.IntN(4) == 0 {
						md[i] = -1e9
					}
				}
				ins = append(ins, p.floats([]int{c.b, keys}, md))
				hasMask = true
			}
			switch c.bias {
			case 3:
				ins = append(ins, p.randT(1, c.h, c.tq, keys))
				hasBias = true
			case 4:
				ins = append(ins, p.randT(1, c.b, c.h, c.tq, keys))
				hasBias = true
			}
			o := AttentionOptions{Heads: c.h, KVHeads: c.kvh, Scale: float32(1 / math.Sqrt(float64(c.d))), Causal: c.causal, KeyLen: c.keyLen}
			g, cpu := p.run(func(ctx Context, in []Tensor) Tensor {
				oo := o
				i := 3
				if hasMask {
					oo.Mask = in[i]
					i++
				}
				if hasBias {
					oo.Bias = in[i]
				}
				return ctx.Attention(in[0], in[1], in[2], oo)
			}, ins...)
			near(t, c.name, g, cpu, 1e-5, 1e-4)
		}
	})
}

func TestGLAttentionNoKeys(t *testing.T) {
	// Query 0 of a causal call with more queries than keys sees no key:
	// zeros, as on the CPU.
	eachGL(t, 9, func(t *testing.T, p *glPair) {
		q, k, v := p.randT(1, 1, 4, 8), p.randT(1, 1, 2, 8), p.randT(1, 1, 2, 8)
		g, c := p.run(func(ctx Context, in []Tensor) Tensor {
			return ctx.Attention(in[0], in[1], in[2], AttentionOptions{Heads: 1, Scale: 1, Causal: true})
		}, q, k, v)
		near(t, "causal with Tq > Tk", g, c, 1e-6, 1e-5)
	})
}

func TestGLRoPE(t *testing.T) {
	eachGL(t, 10, func(t *testing.T, p *glPair) {
		for _, tc := range []struct{ b, tt, h, d int }{{1, 1, 1, 2}, {2, 5, 3, 16}, {1, 9, 4, 128}} {
			x := p.randT(1, tc.b, tc.tt, tc.h*tc.d)
			pos := make([]int32, tc.b*tc.tt)
			for i := range pos {
				pos[i] = int32(p.rng.IntN(2100))
			}
			g, c := p.run(func(ctx Context, in []Tensor) Tensor { return ctx.RoPE(in[0], pos, tc.h, 10000) }, x)
			exact(t, fmt.Sprintf("RoPE b%d t%d h%d d%d", tc.b, tc.tt, tc.h, tc.d), g, c)
		}
	})
}

func TestGLEmbedding(t *testing.T) {
	eachGL(t, 11, func(t *testing.T, p *glPair) {
		for _, dt := range allDTypes {
			table := p.upload(dt, []int{50, 64}, p.rand(50*64, 1))
			ids := []int32{0, 49, 7, 7, 23}
			g, c := p.run(func(ctx Context, in []Tensor) Tensor { return ctx.Embedding(in[0], ids) }, table)
			exact(t, fmt.Sprintf("Embedding %v", dt), g, c)
		}
	})
}

func TestGLPatches(t *testing.T) {
	eachGL(t, 12, func(t *testing.T, p *glPair) {
		for _, tc := range []struct {
			shape []int
			p     int
		}{{[]int{2, 3, 28, 30}, 14}, {[]int{1, 3, 8, 8}, 2}, {[]int{1, 1, 5, 5}, 5}} {
			img := p.randT(1, tc.shape...)
			g, c := p.run(func(ctx Context, in []Tensor) Tensor { return ctx.Patches(in[0], tc.p) }, img)
			exact(t, fmt.Sprintf("Patches%v p%d", tc.shape, tc.p), g, c)
		}
	})
}

func TestGLArgmaxTopK(t *testing.T) {
	eachGL(t, 13, func(t *testing.T, p *glPair) {
		nan := float32(math.NaN())
		rows := [][]float32{
			{1, 3, 3, 2},                      // tie: lower index
			{nan, -1, -5, nan},                // NaN never wins
			{-2, -2, -2, -2},                  // all equal
			{nan, nan, nan, nan},              // only NaN: index 0
			{0.5, 7, -1, 7.0000005},           // close values
			append(p.rand(997, 1), 10, 10, 3), // ties at the end of a long row
		}
		for i, r := range rows {
			x := p.floats([]int{1, len(r)}, r)
			got, want := p.ctx[0].Argmax(x[0]), p.ctx[1].Argmax(x[1])
			if got[0] != want[0] {
				t.Fatalf("Argmax row %d: GL %d, CPU %d", i, got[0], want[0])
			}
		}
		x := p.randT(1, 5, 32000)
		got, want := p.ctx[0].Argmax(x[0]), p.ctx[1].Argmax(x[1])
		for r := range want {
			if got[r] != want[r] {
				t.Fatalf("Argmax of [5, 32000] row %d: GL %d, CPU %d", r, got[r], want[r])
			}
		}
		for _, k := range []int{0, 1, 10} {
			gv, gi := p.ctx[0].TopK(x[0], k)
			cv, ci := p.ctx[1].TopK(x[1], k)
			exact(t, fmt.Sprintf("TopK %d values", k), gv, cv)
			for i := range ci {
				if gi[i] != ci[i] {
					t.Fatalf("TopK %d index %d: GL %d, CPU %d", k, i, gi[i], ci[i])
				}
			}
		}
		tie := p.floats([]int{1, 6}, []float32{1, 5, nan, 5, 2, 5})
		gv, gi := p.ctx[0].TopK(tie[0], 4)
		cv, ci := p.ctx[1].TopK(tie[1], 4)
		exact(t, "TopK ties", gv, cv)
		if fmt.Sprint(gi) != fmt.Sprint(ci) {
			t.Fatalf("TopK ties: GL %v, CPU %v", gi, ci)
		}
	})
}

func TestGLDataMovement(t *testing.T) {
	eachGL(t, 14, func(t *testing.T, p *glPair) {
		id := func(ctx Context, in []Tensor) Tensor { return in[0] }
		for _, dt := range []DType{F32, F16, Q8} {
			a := p.upload(dt, []int{6, 64}, p.rand(6*64, 1))
			b := p.upload(dt, []int{3, 64}, p.rand(3*64, 1))
			ad, bd := p.ctx[0].Read(a[0]), p.ctx[0].Read(b[0])
			rowsOf := func(d []float32, idx ...int) []float32 {
				var out []float32
				for _, r := range idx {
					out = append(out, d[r*64:(r+1)*64]...)
				}
				return out
			}
			steps := []struct {
				name string
				f    func(ctx Context, in []Tensor) Tensor
				want []float32 // for packed dtypes, which the CPU backend moves only as F32
			}{
				{"Rows", func(ctx Context, in []Tensor) Tensor { return ctx.Rows(in[0], 2, 3) }, rowsOf(ad, 2, 3, 4)},
				{"Concat", func(ctx Context, in []Tensor) Tensor { return ctx.Concat(in[0], in[1], in[0]) },
					append(append(append([]float32(nil), ad...), bd...), ad...)},
				{"Gather", func(ctx Context, in []Tensor) Tensor { return ctx.Gather(in[0], []int32{5, 0, 1, 2, 2, 4}) }, rowsOf(ad, 5, 0, 1, 2, 2, 4)},
				{"Reshape", func(ctx Context, in []Tensor) Tensor { return ctx.Reshape(in[0], 2, 3, 64) }, ad},
				{"Rows of Reshape", func(ctx Context, in []Tensor) Tensor { return ctx.Rows(ctx.Reshape(in[0], 3, 128), 1, 2) }, rowsOf(ad, 2, 3, 4, 5)},
			}
			for _, s := range steps {
				name := fmt.Sprintf("%s %v", s.name, dt)
				if dt != F32 {
					exact(t, name, p.ctx[0].Read(s.f(p.ctx[0], []Tensor{a[0], b[0]})), s.want)
					continue
				}
				g, c := p.run(s.f, a, b)
				exact(t, name, g, c)
			}
		}
		// In-place writes: KV-cache appends along dimension 1, prompt rows along
		// dimension 0, whole copies.
		cache := p.floats([]int{2, 10, 8}, make([]float32, 160))
		step := p.randT(1, 2, 3, 8)
		rows := p.randT(1, 4, 10, 8)
		for i := range 2 {
			p.ctx[i].SetRows(cache[i], 1, 4, step[i])
			p.ctx[i].SetRows(cache[i], 1, 9, p.ctx[i].Reshape(p.ctx[i].Rows(p.ctx[i].Reshape(step[i], 6, 8), 0, 2), 2, 1, 8))
		}
		g, c := p.run(id, cache)
		exact(t, "SetRows dim 1", g, c)
		big := p.floats([]int{6, 10, 8}, p.rand(480, 1))
		for i := range 2 {
			p.ctx[i].SetRows(big[i], 0, 1, rows[i])
		}
		g, c = p.run(id, big)
		exact(t, "SetRows dim 0", g, c)
		for i := range 2 {
			p.ctx[i].Copy(cache[i], p.ctx[i].Rows(big[i], 3, 2))
		}
		g, c = p.run(id, cache)
		exact(t, "Copy", g, c)
		g, c = p.run(func(ctx Context, _ []Tensor) Tensor { return ctx.Zeros(3, 5) })
		exact(t, "Zeros", g, c)
	})
}

// TestGLChain runs a small transformer block without reading in between,
// so every kernel reads buffers the previous dispatch wrote: it fails if a
// memory barrier is missing (and pooled buffers are reused as it goes).
func TestGLChain(t *testing.T) {
	eachGL(t, 15, func(t *testing.T, p *glPair) {
		const T, C, H = 11, 64, 4
		wqkv := p.upload(F16, []int{3 * C, C}, p.rand(3*C*C, 0.1))
		wo := p.upload(Q8, []int{C, C}, p.rand(C*C, 0.1))
		w1 := p.upload(Q4, []int{4 * C, C}, p.rand(4*C*C, 0.1))
		w2 := p.upload(BF16, []int{C, 4 * C}, p.rand(4*C*C, 0.1))
		ln := p.randT(1, C)
		x := p.randT(1, 1, T, C)
		pos := make([]int32, T)
		for i := range pos {
			pos[i] = int32(i)
		}
		g, c := p.run(func(ctx Context, in []Tensor) Tensor {
			x := in[0]
			for range 3 {
				h := ctx.RMSNorm(x, in[1], 1e-6)
				qkv := ctx.Linear(h, in[2], nil)
				q := ctx.Reshape(ctx.Rows(ctx.Reshape(qkv, T, 3, C), 0, T), T, 3*C)
				_ = q
				flat := ctx.Reshape(qkv, T*3, C)
				idxQ, idxK, idxV := make([]int32, T), make([]int32, T), make([]int32, T)
				for i := range T {
					idxQ[i], idxK[i], idxV[i] = int32(3*i), int32(3*i+1), int32(3*i+2)
				}
				qq := ctx.RoPE(ctx.Reshape(ctx.Gather(flat, idxQ), 1, T, C), pos, H, 10000)
				kk := ctx.RoPE(ctx.Reshape(ctx.Gather(flat, idxK), 1, T, C), pos, H, 10000)
				vv := ctx.Reshape(ctx.Gather(flat, idxV), 1, T, C)
				a := ctx.Attention(qq, kk, vv, AttentionOptions{Heads: H, Scale: 0.25, Causal: true})
				x = ctx.Add(x, ctx.Linear(a, in[3], nil))
				h = ctx.LayerNorm(x, in[1], nil, 1e-5)
				x = ctx.Add(x, ctx.Linear(ctx.Gated("silu", ctx.Linear(h, in[4], nil), ctx.Linear(h, in[4], nil)), in[5], nil))
			}
			return ctx.Scale(x, 0.5)
		}, x, ln, wqkv, wo, w1, w2)
		near(t, "three blocks", g, c, 1e-4, 1e-3)
	})
}

// TestGLSplit uploads tensors larger than a lowered buffer limit, so they
// split into row chunks, and runs every operation that takes split tensors.
func TestGLSplit(t *testing.T) {
	g, err := newGL(glOptions{maxBlock: 1024, debug: true, cacheDir: "-"})
	if err != nil {
		t.Fatalf("no OpenGL 4.3 context: %v", err)
	}
	defer g.Close()
	p := newGLPairOn(t, 16, g)
	for _, dt := range allDTypes {
		for _, shape := range [][]int{{37, 64}, {21, 160}} {
			n, k := shape[0], shape[1]
			data := p.rand(n*k, 1)
			w := p.upload(dt, shape, data)
			gt := w[0].(*glTensor)
			if len(gt.st.chunks) < 2 {
				t.Fatalf("%v%v: %d chunk(s) under a 1024-byte limit", dt, shape, len(gt.st.chunks))
			}
			name := fmt.Sprintf("%v%v in %d chunks", dt, shape, len(gt.st.chunks))
			gr, cr := p.run(func(ctx Context, in []Tensor) Tensor { return in[0] }, w)
			exact(t, name+" Read", gr, cr)
			whole := cr
			for _, m := range []int{1, 3, 11} {
				x := p.randT(1, m, k)
				gr, cr = p.run(func(ctx Context, in []Tensor) Tensor { return ctx.Linear(in[0], in[1], nil) }, x, w)
				_, bound := refLinear(p.ctx[1].Read(x[1]), m, k, p.ctx[1].Read(w[1]), n, nil)
				nearSums(t, fmt.Sprintf("%s Linear m%d", name, m), gr, cr, bound, k)
			}
			ids := []int32{0, int32(n - 1), 12, 13, 5}
			gr, cr = p.run(func(ctx Context, in []Tensor) Tensor { return ctx.Embedding(in[0], ids) }, w)
			exact(t, name+" Embedding", gr, cr)
			// The CPU backend moves only F32 rows: compare with the host slice.
			rows := p.ctx[0].Read(p.ctx[0].Rows(w[0], 5, n-9))
			exact(t, name+" Rows across chunks", rows, whole[5*k:(n-4)*k])
		}
	}
	if _, err := g.Upload(F32, []int{2, 512}, make([]float32, 1024)); err == nil {
		t.Fatal("a row larger than the buffer limit uploaded without error")
	}
}

func TestGLProgramCache(t *testing.T) {
	dir := t.TempDir()
	run := func() []float32 {
		b, err := newGL(glOptions{cacheDir: dir, debug: true})
		if err != nil {
			t.Fatalf("no OpenGL 4.3 context: %v", err)
		}
		defer b.Close()
		ctx := b.NewContext()
		defer ctx.Close()
		return ctx.Read(ctx.Softmax(ctx.FromFloats([]int{2, 3}, []float32{1, 2, 3, 0, 0, 0}), nil))
	}
	first := run()
	files, _ := filepath.Glob(filepath.Join(dir, "*.bin"))
	formats := testGL(t).Info().Limits["program_binary_formats"]
	if formats > 0 && len(files) != 1 {
		t.Fatalf("%d program binary formats but %d cached binaries, want 1", formats, len(files))
	}
	if formats == 0 && len(files) != 0 {
		t.Fatalf("no program binary formats but %d cached binaries", len(files))
	}
	second := run() // from the cached binary where there is one
	exact(t, "softmax through the cache", second, first)
	for _, f := range files {
		// A corrupt binary is dropped and the kernel rebuilt.
		if err := os.WriteFile(f, []byte("not a program binary"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exact(t, "softmax after a corrupt cache", run(), first)
}

func TestGLConcurrentContexts(t *testing.T) {
	b := testGL(t)
	w, err := b.Upload(F16, []int{33, 64}, randFloats(rand.New(rand.NewPCG(1, 1)), 33*64, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Release()
	x := randFloats(rand.New(rand.NewPCG(2, 2)), 2*64, 1)
	ref := func() []float32 {
		c := b.NewContext()
		defer c.Close()
		return c.Read(c.Linear(c.FromFloats([]int{2, 64}, x), w, nil))
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for range 20 {
				c := b.NewContext()
				got := c.Read(c.SiLU(c.Linear(c.FromFloats([]int{2, 64}, x), w, nil)))
				want := c.Read(c.SiLU(c.FromFloats([]int{2, 33}, ref)))
				c.Close()
				for i := range got {
					if got[i] != want[i] {
						errs <- fmt.Errorf("element %d: %v, want %v", i, got[i], want[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestGLPoolAndRelease(t *testing.T) {
	b := testGL(t)
	c := b.NewContext()
	x := c.Zeros(1000)
	y := c.Scale(x, 2)
	c.Read(y)
	y.Release()
	mustPanic(t, "use after Release", func() { c.Read(y) }, "released")
	c.Close()
	var pooled int
	b.call(func() { pooled = b.pooled })
	if pooled < 2*4096 {
		t.Fatalf("pool holds %d bytes after Close, want the context's buffers", pooled)
	}
	// The next context reuses them.
	c2 := b.NewContext()
	defer c2.Close()
	var before int
	b.call(func() { before = len(b.live) })
	c2.Read(c2.Zeros(1000))
	var after int
	b.call(func() { after = len(b.live) })
	if after != before {
		t.Fatalf("a same-sized tensor allocated a new buffer (%d → %d live)", before, after)
	}
	mustPanic(t, "bad shapes", func() { c2.Add(c2.Zeros(3, 4), c2.Zeros(5)) }, "[3 4]", "[5]")
}

// TestGLViewLifetime checks that storage lives while any handle on it does,
// as on the CPU backend: a view outlives its owner's Release and the close
// of the context that made the owner.
func TestGLViewLifetime(t *testing.T) {
	b := testGL(t)
	a, c := b.NewContext(), b.NewContext()
	defer c.Close()
	x := a.FromFloats([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	v := c.Reshape(x, 3, 2)
	w := a.Reshape(x, 6)
	x.Release()
	exact(t, "view after its owner's Release", c.Read(v), []float32{1, 2, 3, 4, 5, 6})
	a.Close() // drops w, the last handle a made
	mustPanic(t, "a closed context's view", func() { c.Read(w) }, "released")
	exact(t, "view after the owner's context closed", c.Read(c.Scale(v, 2)), []float32{2, 4, 6, 8, 10, 12})
	st := v.(*glTensor).st
	v.Release()
	if !st.freed.Load() {
		t.Fatal("storage not freed after its last handle was released")
	}
}
