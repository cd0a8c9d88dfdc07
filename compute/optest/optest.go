// Package optest is the one table of operation cases that every compute
// backend runs, as llama.cpp's tests/test-backend-ops.cpp is for ggml's: a
// single list of cases (operation, shapes, dtypes, options, odd sizes,
// broadcasting, masks, causal and KeyLen attention, GQA, quantized weights,
// NaN and ties) checked against float64 references with stated
// tolerances. The backends' tests call Run (compute/cpu, compute/gl), so a new
// backend is tested by one line, and a case added here runs everywhere.
//
// The references are exact float64 computations on the values the kernels
// actually see: weights as packed and widened on the host (Pack, Unpack), so
// the tolerances cover only float32 arithmetic, never quantization. They are
// the same for every backend:
//
//   - sums of k products (Linear, MatMul, Patches as a convolution): a float32
//     sum of k terms in any order lies within γ_k·Σ|terms| of the exact sum
//     (Higham); CheckSums allows 2·(k+2)·2⁻²⁴·Σ|terms|;
//   - Add, Scale, data movement, Embedding, Patches, Read, Argmax, TopK:
//     exact (single IEEE operations, or copies);
//   - activations: 1e-6 absolute + 1e-5 relative (exp, erf, tanh in float32
//     on a GPU; the CPU rounds the float64 value once, which its own test
//     checks exactly);
//   - RoPE: exact against transformers' float32 angles and float32
//     products, within 1e-6 of the same in float64, and within pos·4e-7 of
//     the float64 formula;
//   - norms, log-softmax, attention: the reductions' float32 rounding, stated
//     with each case generator below.
package optest

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"glimpse/compute"
)

// Case is one operation on seeded inputs, checked against a float64
// reference.
type Case struct {
	Op   string // the Context method under test
	Name string // what varies: dtypes, shapes, options
	run  func(e *env)
}

// Cases returns the table, in a fixed order.
func Cases() []Case {
	var cs []Case
	for _, gen := range []func() []Case{
		readCases, movementCases, linearCases, matMulCases, elementwiseCases,
		normCases, logSoftmaxCases, attentionCases, ropeCases, embeddingCases,
		patchesCases, argmaxTopKCases, fusedCases, cacheAttentionCases,
		logitsCases, kernelCases,
	} {
		cs = append(cs, gen()...)
	}
	return cs
}

// Run runs every case on be, each as the subtest Op/Name with its own
// Context and a random source seeded from its name, so that a failing case
// reproduces alone with -run.
func Run(t *testing.T, be compute.Backend) {
	for _, c := range Cases() {
		t.Run(c.Op+"/"+c.Name, func(t *testing.T) {
			ctx := be.NewContext()
			defer ctx.Close()
			h := fnv.New64a()
			h.Write([]byte(c.Op + "/" + c.Name))
			c.run(&env{t: t, be: be, ctx: ctx, rng: rand.New(rand.NewPCG(h.Sum64(), 7))})
		})
	}
}

// env is what a case runs with.
type env struct {
	t   *testing.T
	be  compute.Backend
	ctx compute.Context
	rng *rand.Rand
}

// rand returns n normal values times scale.
func (e *env) rand(n int, scale float64) []float32 { return RandFloats(e.rng, n, scale) }

// floats makes an F32 context tensor.
func (e *env) floats(shape []int, data []float32) compute.Tensor {
	return e.ctx.FromFloats(shape, data)
}

// upload stores data as dt for the length of the case.
func (e *env) upload(dt compute.DType, shape []int, data []float32) compute.Tensor {
	e.t.Helper()
	w, err := e.be.Upload(dt, shape, data)
	if err != nil {
		e.t.Fatalf("upload %v%v: %v", dt, shape, err)
	}
	e.t.Cleanup(w.Release)
	return w
}

// read checks t's shape and returns its values.
func (e *env) read(t compute.Tensor, shape []int) []float32 {
	e.t.Helper()
	if !slices.Equal(t.Shape(), shape) {
		e.t.Fatalf("result shape %v, want %v", t.Shape(), shape)
	}
	return e.ctx.Read(t)
}

// stored returns data as a tensor of dtype dt holds it: packed and widened
// on the host, the values every kernel must compute with.
func stored(t testing.TB, dt compute.DType, shape []int, data []float32) []float32 {
	t.Helper()
	words, scales, err := compute.Pack(dt, shape, data)
	if err != nil {
		t.Fatalf("pack %v%v: %v", dt, shape, err)
	}
	return compute.Unpack(dt, shape, words, scales)
}

// Exact checks got against want bit for bit (any NaN matches any NaN).
func Exact(t testing.TB, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("%s: element %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// widen returns xs as float64.
func widen(xs []float32) []float64 {
	out := make([]float64, len(xs))
	for i, v := range xs {
		out[i] = float64(v)
	}
	return out
}

var allDTypes = []compute.DType{compute.F32, compute.F16, compute.BF16, compute.Q8, compute.Q4, compute.Q4K, compute.Q6K}

// fits reports whether a tensor whose rows have cols elements can be stored
// as dt (Q8 and Q4 rows are whole blocks, Q4K and Q6K rows whole
// super-blocks).
func fits(dt compute.DType, cols int) bool {
	switch dt {
	case compute.Q8, compute.Q4:
		return cols%compute.BlockSize == 0
	case compute.Q4K, compute.Q6K:
		return cols%compute.SuperBlockSize == 0
	}
	return true
}

// rowWidth is the row length the data-movement cases use for dt: 64, or a
// whole Q4K or Q6K super-block.
func rowWidth(dt compute.DType) int {
	if dt == compute.Q4K || dt == compute.Q6K {
		return compute.SuperBlockSize
	}
	return 64
}

// q4kLinearBound is the error bound's Σ|terms| for a Linear with a Q4K
// weight: kernels may apply a sub-block's scale and min to whole sums
// (scale·Σx·q − min·Σx, as llama.cpp's dot products do), whose float32
// rounding is bounded by the magnitudes of both parts, Σ|x|·(scale·q + min),
// not by Σ|x·w|.
func q4kLinearBound(t testing.TB, x []float32, m, k int, wf []float32, n int, bias []float32) []float64 {
	t.Helper()
	words, _, err := compute.Pack(compute.Q4K, []int{n, k}, wf)
	if err != nil {
		t.Fatalf("pack q4k[%d %d]: %v", n, k, err)
	}
	mag := make([]float32, n*k)
	absx := make([]float32, len(x))
	for i, v := range x {
		absx[i] = float32(math.Abs(float64(v)))
	}
	const sb = compute.SuperBlockSize
	for s := 0; s < n*k/sb; s++ {
		blk := words[s*compute.Q4KWords : (s+1)*compute.Q4KWords]
		scale, mins := compute.Q4KSubBlocks(blk)
		var v [sb]float32
		compute.DequantizeQ4K(blk, &v)
		for e := range v {
			j := e / compute.BlockSize
			// scale·q = v + min, up to the rounding of v.
			mag[s*sb+e] = 2 * (float32(math.Abs(float64(v[e]+mins[j]))) + mins[j] + scale[j])
		}
	}
	_, bound := RefLinear(absx, m, k, mag, n, bias)
	return bound
}

// xRounding returns, for Linear of m rows x (float64, as the normalised
// cases have them) by weights wf [n, k] stored as dt, how far rounding x to
// 8 bits per block may move each product under compute.Linear's contract:
// over every block, d/2 = max|x| / 254 times Σ|integer part of w|, the
// integer part being the stored weight for Q8 and Q6K (whose offset of 32
// multiplies the rounded x: kernels take Σ(q−32)·x in integers), scale·n =
// w + 8·scale for Q4 and scale·n = w + min for Q4K. 1 % more covers the
// roundings of d, of x/d and of the weights' decoding. nil where dt keeps x
// in float32.
func xRounding(t testing.TB, dt compute.DType, x []float64, m, k int, wf []float32, n int) []float64 {
	t.Helper()
	if dt != compute.Q8 && dt != compute.Q4 && dt != compute.Q4K && dt != compute.Q6K {
		return nil
	}
	const bs = compute.BlockSize
	shape := []int{n, k}
	words, scales, err := compute.Pack(dt, shape, wf)
	if err != nil {
		t.Fatalf("pack %v%v: %v", dt, shape, err)
	}
	vals := compute.Unpack(dt, shape, words, scales)
	nb := k / bs
	magBlock := make([]float64, n*nb) // Σ|integer part| per weight block
	for i, v := range vals {
		mag := math.Abs(float64(v))
		switch dt {
		case compute.Q4:
			mag = math.Abs(float64(v) + 8*float64(scales[i/bs]))
		case compute.Q4K:
			const sb = compute.SuperBlockSize
			s := i / sb
			_, mins := compute.Q4KSubBlocks(words[s*compute.Q4KWords : (s+1)*compute.Q4KWords])
			mag = math.Abs(float64(v) + float64(mins[i%sb/bs]))
		}
		magBlock[i/bs] += mag
	}
	out := make([]float64, m*n)
	for r := 0; r < m; r++ {
		for b := 0; b < nb; b++ {
			var amax float64
			for _, v := range x[r*k+b*bs : r*k+(b+1)*bs] {
				amax = math.Max(amax, math.Abs(v))
			}
			for j := 0; j < n; j++ {
				out[r*n+j] += 1.01 * amax / 254 * magBlock[j*nb+b]
			}
		}
	}
	return out
}

// joinColumns lays out per row the na columns of a and then the nb of b,
// as an output of two products side by side; nil if both are nil.
func joinColumns(a, b []float64, m, na, nb int) []float64 {
	if a == nil && b == nil {
		return nil
	}
	out := make([]float64, 0, m*(na+nb))
	for r := 0; r < m; r++ {
		out = append(append(out, a[r*na:(r+1)*na]...), b[r*nb:(r+1)*nb]...)
	}
	return out
}

// seq returns 0, 1, …, n-1.
func seq(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(i)
	}
	return s
}

// rowsOf returns rows idx of a row-major matrix with rows of re elements.
func rowsOf(d []float32, re int, idx ...int) []float32 {
	out := []float32{}
	for _, r := range idx {
		out = append(out, d[r*re:(r+1)*re]...)
	}
	return out
}

// --- uploads and reads ---

func readCases() []Case {
	var cs []Case
	for _, dt := range allDTypes {
		for _, shape := range [][]int{{1}, {3, 5}, {7, 33}, {2, 3, 64}, {0, 4}, {3, 64}, {2, 256}, {2, 3, 512}, {0, 256}} {
			if !fits(dt, shape[len(shape)-1]) {
				continue
			}
			cs = append(cs, Case{"Read", fmt.Sprintf("upload_%v%v", dt, shape), func(e *env) {
				data := e.rand(compute.NumElements(shape), 2)
				w := e.upload(dt, shape, data)
				Exact(e.t, "Read", e.read(w, shape), stored(e.t, dt, shape, data))
			}})
		}
	}
	cs = append(cs,
		Case{"FromFloats", "copies the caller's slice", func(e *env) {
			src := seq(24)
			x := e.floats([]int{4, 2, 3}, src)
			src[0] = 99
			Exact(e.t, "FromFloats", e.read(x, []int{4, 2, 3}), seq(24))
		}},
		Case{"Zeros", "[2 3] and [3 5]", func(e *env) {
			Exact(e.t, "Zeros", e.read(e.ctx.Zeros(2, 3), []int{2, 3}), make([]float32, 6))
			Exact(e.t, "Zeros", e.read(e.ctx.Zeros(3, 5), []int{3, 5}), make([]float32, 15))
		}},
	)
	return cs
}

// --- data movement ---

func movementCases() []Case {
	// A [4, 2, 3] sequence: rows of 6 F32 values (odd sizes, 3-D).
	x := func(e *env) compute.Tensor { return e.floats([]int{4, 2, 3}, seq(24)) }
	cs := []Case{
		{"Rows", "f32[4 2 3] rows 1-2", func(e *env) {
			Exact(e.t, "Rows", e.read(e.ctx.Rows(x(e), 1, 2), []int{2, 2, 3}), seq(24)[6:18])
		}},
		{"Rows", "f32[4 2 3] none at the end", func(e *env) {
			Exact(e.t, "Rows", e.read(e.ctx.Rows(x(e), 4, 0), []int{0, 2, 3}), []float32{})
		}},
		{"Concat", "f32 rows 3 and 0", func(e *env) {
			xt := x(e)
			got := e.ctx.Concat(e.ctx.Rows(xt, 3, 1), e.ctx.Rows(xt, 0, 1))
			Exact(e.t, "Concat", e.read(got, []int{2, 2, 3}), append(seq(24)[18:24:24], seq(6)...))
		}},
		{"Gather", "f32 repeated index", func(e *env) {
			got := e.ctx.Gather(x(e), []int32{2, 2, 0})
			Exact(e.t, "Gather", e.read(got, []int{3, 2, 3}), rowsOf(seq(24), 6, 2, 2, 0))
		}},
		{"Reshape", "f32[4 2 3] to [8 3]", func(e *env) {
			Exact(e.t, "Reshape", e.read(e.ctx.Reshape(x(e), 8, 3), []int{8, 3}), seq(24))
		}},
		{"SetRows", "f32 dim 1 of a cache, dim 0 through a view", func(e *env) {
			// SetRows along dim 1 of a [B, maxT, C] cache, read through a
			// view: views share storage.
			cache := e.ctx.Zeros(2, 4, 3)
			view := e.ctx.Reshape(cache, 24)
			e.ctx.SetRows(cache, 1, 2, e.floats([]int{2, 1, 3}, []float32{1, 2, 3, 4, 5, 6}))
			want := make([]float32, 24)
			copy(want[6:9], []float32{1, 2, 3})
			copy(want[18:21], []float32{4, 5, 6})
			Exact(e.t, "SetRows dim 1 through a view", e.read(view, []int{24}), want)
			e.ctx.SetRows(view, 0, 22, e.floats([]int{2}, []float32{7, 8}))
			want[22], want[23] = 7, 8
			Exact(e.t, "SetRows dim 0", e.read(cache, []int{2, 4, 3}), want)
		}},
	}
	for _, dt := range allDTypes {
		// Two tensors of rowWidth-wide rows in dt: every dtype moves whole rows.
		c := rowWidth(dt)
		ab := func(e *env) (a, b compute.Tensor, ad, bd []float32) {
			a0, b0 := e.rand(6*c, 1), e.rand(3*c, 1)
			return e.upload(dt, []int{6, c}, a0), e.upload(dt, []int{3, c}, b0),
				stored(e.t, dt, []int{6, c}, a0), stored(e.t, dt, []int{3, c}, b0)
		}
		name := fmt.Sprintf("%v[6 %d]", dt, c)
		cs = append(cs,
			Case{"Rows", name + " rows 2-4", func(e *env) {
				a, _, ad, _ := ab(e)
				Exact(e.t, "Rows", e.read(e.ctx.Rows(a, 2, 3), []int{3, c}), rowsOf(ad, c, 2, 3, 4))
			}},
			Case{"Rows", name + " of a reshaped view", func(e *env) {
				a, _, ad, _ := ab(e)
				got := e.ctx.Rows(e.ctx.Reshape(a, 3, 2*c), 1, 2)
				Exact(e.t, "Rows of Reshape", e.read(got, []int{2, 2 * c}), rowsOf(ad, c, 2, 3, 4, 5))
			}},
			Case{"Concat", name + " a, b, a", func(e *env) {
				a, b, ad, bd := ab(e)
				want := slices.Concat(ad, bd, ad)
				Exact(e.t, "Concat", e.read(e.ctx.Concat(a, b, a), []int{15, c}), want)
			}},
			Case{"Gather", name + " reordered, repeated", func(e *env) {
				a, _, ad, _ := ab(e)
				got := e.ctx.Gather(a, []int32{5, 0, 1, 2, 2, 4})
				Exact(e.t, "Gather", e.read(got, []int{6, c}), rowsOf(ad, c, 5, 0, 1, 2, 2, 4))
			}},
			Case{"Reshape", name + " to [2 3 c]", func(e *env) {
				a, _, ad, _ := ab(e)
				Exact(e.t, "Reshape", e.read(e.ctx.Reshape(a, 2, 3, c), []int{2, 3, c}), ad)
			}},
			Case{"SetRows", dt.String() + " KV-cache appends along dim 1, prompt rows along dim 0", func(e *env) {
				// The destination is an uploaded tensor so that every dtype
				// has one; context tensors are F32.
				cache := e.upload(dt, []int{2, 10, c}, make([]float32, 2*10*c))
				step0 := e.rand(2*3*c, 1)
				step := e.upload(dt, []int{2, 3, c}, step0)
				sd := stored(e.t, dt, []int{2, 3, c}, step0)
				e.ctx.SetRows(cache, 1, 4, step)
				// Rows 0 and 1 of the steps, as [2, 1, c], at position 9.
				e.ctx.SetRows(cache, 1, 9, e.ctx.Reshape(e.ctx.Rows(e.ctx.Reshape(step, 6, c), 0, 2), 2, 1, c))
				want := make([]float32, 2*10*c)
				for b := range 2 {
					copy(want[(b*10+4)*c:(b*10+7)*c], sd[b*3*c:(b+1)*3*c])
					copy(want[(b*10+9)*c:(b*10+10)*c], sd[b*c:(b+1)*c])
				}
				Exact(e.t, "SetRows dim 1", e.read(cache, []int{2, 10, c}), want)
				rows0 := e.rand(4*c, 1)
				e.ctx.SetRows(e.ctx.Reshape(cache, 20, c), 0, 13, e.upload(dt, []int{4, c}, rows0))
				copy(want[13*c:17*c], stored(e.t, dt, []int{4, c}, rows0))
				Exact(e.t, "SetRows dim 0", e.read(cache, []int{2, 10, c}), want)
			}},
		)
	}
	cs = append(cs, Case{"SetRows", "f32[6 10 8] dim 0, [2 10 8] dim 1", func(e *env) {
		bigD := e.rand(480, 1)
		big := e.floats([]int{6, 10, 8}, bigD)
		rows := e.rand(4*80, 1)
		e.ctx.SetRows(big, 0, 1, e.floats([]int{4, 10, 8}, rows))
		want := slices.Clone(bigD)
		copy(want[80:400], rows)
		Exact(e.t, "SetRows dim 0", e.read(big, []int{6, 10, 8}), want)
	}})
	return cs
}

// --- linear algebra ---

func linearCases() []Case {
	type shape struct{ m, k, n int }
	// M on both sides of every kernel threshold (the CPU's fused
	// matrix–vector path below 4 rows, the GL matrix–vector kernel up to 8),
	// N not a multiple of any block, tiles with ragged edges, and scaled-down
	// model shapes: Vicuna's MLP up-projection (1/16), a beam-search step,
	// ViT-g's MLP (1/16, 33 tokens).
	shapes := []shape{{1, 32, 1}, {1, 64, 33}, {2, 96, 7}, {3, 256, 257}, {4, 32, 3}, {5, 64, 9}, {33, 128, 6}, {257, 32, 5},
		{1, 64, 40}, {1, 96, 33}, {3, 128, 17}, {8, 160, 70}, {9, 64, 65}, {70, 96, 130}, {1, 256, 688}, {5, 256, 256}, {33, 88, 352},
		{1, 512, 33}, {2, 768, 9}, {9, 512, 65}, {40, 256, 70}}
	// Odd K: F16/BF16 rows that start mid-word, no vectorised loads.
	oddK := []shape{{1, 33, 5}, {3, 1, 4}, {7, 3, 9}, {4, 257, 8}, {1, 37, 9}, {12, 37, 9}}
	var cs []Case
	for _, dt := range allDTypes {
		for _, s := range append(slices.Clone(shapes), oddK...) {
			if !fits(dt, s.k) {
				continue
			}
			for _, withBias := range []bool{false, true} {
				name := fmt.Sprintf("%v/m%d_k%d_n%d", dt, s.m, s.k, s.n)
				if withBias {
					name += "_bias"
				}
				cs = append(cs, Case{"Linear", name, func(e *env) {
					x := e.rand(s.m*s.k, 1)
					wf := e.rand(s.n*s.k, 0.5)
					w := e.upload(dt, []int{s.n, s.k}, wf)
					var bias []float32
					var bt compute.Tensor
					if withBias {
						bias = e.rand(s.n, 1)
						bt = e.floats([]int{s.n}, bias)
					}
					// A leading batch dimension for odd M: every leading
					// dimension is rows.
					xshape := []int{s.m, s.k}
					if s.m%2 == 1 && s.m > 1 {
						xshape = []int{1, s.m, s.k}
					}
					got := e.ctx.Linear(e.floats(xshape, x), w, bt)
					want, bound := RefLinear(x, s.m, s.k, stored(e.t, dt, []int{s.n, s.k}, wf), s.n, bias)
					if dt == compute.Q4K {
						bound = q4kLinearBound(e.t, x, s.m, s.k, wf, s.n, bias)
					}
					CheckSumsWithin(e.t, "Linear", e.read(got, append(slices.Clone(xshape[:len(xshape)-1]), s.n)), want, bound, s.k+1,
						xRounding(e.t, dt, widen(x), s.m, s.k, wf, s.n))
				}})
			}
		}
	}
	cs = append(cs,
		Case{"Linear", "f16/x[2 3 64]_w[24 64]", func(e *env) {
			x, wf := e.rand(2*3*64, 1), e.rand(24*64, 0.2)
			got := e.ctx.Linear(e.floats([]int{2, 3, 64}, x), e.upload(compute.F16, []int{24, 64}, wf), nil)
			want, bound := RefLinear(x, 6, 64, stored(e.t, compute.F16, []int{24, 64}, wf), 24, nil)
			CheckSums(e.t, "Linear", e.read(got, []int{2, 3, 24}), want, bound, 64)
		}},
		Case{"Linear", "K=0 gives the bias", func(e *env) {
			b := e.floats([]int{3}, []float32{1, 2, 3})
			got := e.ctx.Linear(e.ctx.Zeros(2, 0), e.ctx.Zeros(3, 0), b)
			Exact(e.t, "Linear with K=0", e.read(got, []int{2, 3}), []float32{1, 2, 3, 1, 2, 3})
			got = e.ctx.Linear(e.ctx.Zeros(2, 0), e.ctx.Zeros(3, 0), nil)
			Exact(e.t, "Linear with K=0, no bias", e.read(got, []int{2, 3}), make([]float32, 6))
		}},
	)
	return cs
}

func matMulCases() []Case {
	tests := []struct {
		name   string
		a, b   []int
		transB bool
	}{
		{"1x1x1", []int{1, 1}, []int{1, 1}, false},
		{"3x5 by 5x7", []int{3, 5}, []int{5, 7}, false},
		{"5x7 by 7x9", []int{5, 7}, []int{7, 9}, false},
		{"wide b crosses column blocks", []int{3, 33}, []int{33, 300}, false},
		{"deep k crosses slabs", []int{5, 301}, []int{301, 9}, false},
		{"transB", []int{4, 17}, []int{9, 17}, true},
		{"transB ragged tiles", []int{65, 130}, []int{67, 130}, true},
		{"batched", []int{2, 3, 33}, []int{2, 33, 5}, false},
		{"batched tiles", []int{2, 70, 64}, []int{2, 64, 3}, false},
		{"batched transB", []int{3, 17, 33}, []int{3, 65, 33}, true},
		{"batched transB 4-D", []int{2, 3, 5, 8}, []int{2, 3, 257, 8}, true},
		{"one decoding query's scores", []int{2, 4, 1, 16}, []int{2, 4, 20, 16}, true},
		{"shared 2-D b", []int{3, 4, 6}, []int{6, 2}, false},
		{"shared 2-D b, wider", []int{3, 6, 10}, []int{10, 12}, false},
		{"shared 2-D b transB", []int{2, 33, 6}, []int{4, 6}, true},
		{"many rows", []int{257, 40}, []int{40, 3}, false},
	}
	var cs []Case
	for _, tc := range tests {
		cs = append(cs, Case{"MatMul", tc.name, func(e *env) {
			na, nb := len(tc.a), len(tc.b)
			m, k := tc.a[na-2], tc.a[na-1]
			n := tc.b[nb-1]
			if tc.transB {
				n = tc.b[nb-2]
			}
			batch := compute.NumElements(tc.a[:na-2])
			a, b := e.rand(compute.NumElements(tc.a), 1), e.rand(compute.NumElements(tc.b), 1)
			got := e.ctx.MatMul(e.floats(tc.a, a), e.floats(tc.b, b), tc.transB)
			var want, bound []float64
			for i := 0; i < batch; i++ {
				bm := b
				if nb > 2 {
					bm = b[i*k*n : (i+1)*k*n]
				}
				if !tc.transB {
					bm = transpose(bm, k, n)
				}
				o, bd := RefLinear(a[i*m*k:(i+1)*m*k], m, k, bm, n, nil)
				want, bound = append(want, o...), append(bound, bd...)
			}
			CheckSums(e.t, "MatMul", e.read(got, append(slices.Clone(tc.a[:na-1]), n)), want, bound, k)
		}})
	}
	cs = append(cs, Case{"MatMul", "K=0 gives zeros", func(e *env) {
		Exact(e.t, "MatMul", e.read(e.ctx.MatMul(e.ctx.Zeros(2, 0), e.ctx.Zeros(0, 3), false), []int{2, 3}), make([]float32, 6))
	}})
	return cs
}

// --- element-wise ---

func elementwiseCases() []Case {
	geluF := func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
	geluTanhF := func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}
	siluF := func(x float64) float64 { return x / (1 + math.Exp(-x)) }
	reluF := func(x float64) float64 { return math.Max(x, 0) }
	acts := []struct {
		name string
		f    func(float64) float64
		run  func(c compute.Context, a, b compute.Tensor) compute.Tensor
		gate bool
	}{
		{"GELU", geluF, func(c compute.Context, a, _ compute.Tensor) compute.Tensor { return c.GELU(a) }, false},
		{"GELUTanh", geluTanhF, func(c compute.Context, a, _ compute.Tensor) compute.Tensor { return c.GELUTanh(a) }, false},
		{"SiLU", siluF, func(c compute.Context, a, _ compute.Tensor) compute.Tensor { return c.SiLU(a) }, false},
		{"Gated", siluF, func(c compute.Context, a, b compute.Tensor) compute.Tensor { return c.Gated("silu", a, b) }, true},
		{"Gated", geluF, func(c compute.Context, a, b compute.Tensor) compute.Tensor { return c.Gated("gelu", a, b) }, true},
		{"Gated", geluTanhF, func(c compute.Context, a, b compute.Tensor) compute.Tensor { return c.Gated("gelu_tanh", a, b) }, true},
		{"Gated", reluF, func(c compute.Context, a, b compute.Tensor) compute.Tensor { return c.Gated("relu", a, b) }, true},
	}
	gatedNames := []string{"silu", "gelu", "gelu_tanh", "relu"}
	var cs []Case
	// 2·4096·256+3 elements go round the GL grid-stride loop more than
	// twice; 70000 is more than one CPU chunk.
	for _, shape := range [][]int{{1}, {3, 7}, {3, 33}, {2, 5, 257}, {257, 88}, {70000}, {2*4096*256 + 3}} {
		n := compute.NumElements(shape)
		cols := shape[len(shape)-1]
		sh := fmt.Sprint(shape)
		// Wide inputs (scale 4) reach the tails of erf, tanh and exp.
		ab := func(e *env) (a, b []float32, at, bt compute.Tensor) {
			a, b = e.rand(n, 4), e.rand(n, 1)
			return a, b, e.floats(shape, a), e.floats(shape, b)
		}
		exactOp := func(op, name string, f func(e *env, at, bt compute.Tensor, a, b []float32) (compute.Tensor, []float32)) {
			cs = append(cs, Case{op, name + sh, func(e *env) {
				a, b, at, bt := ab(e)
				got, want := f(e, at, bt, a, b)
				Exact(e.t, op, e.read(got, shape), want)
			}})
		}
		exactOp("Add", "", func(e *env, at, bt compute.Tensor, a, b []float32) (compute.Tensor, []float32) {
			want := make([]float32, n)
			for i := range want {
				want[i] = a[i] + b[i]
			}
			return e.ctx.Add(at, bt), want
		})
		for _, rowShape := range [][]int{{cols}, {1, cols}} {
			exactOp("Add", fmt.Sprintf("row %v over ", rowShape), func(e *env, at, _ compute.Tensor, a, _ []float32) (compute.Tensor, []float32) {
				row := e.rand(cols, 1)
				want := make([]float32, n)
				for i := range want {
					want[i] = a[i] + row[i%cols]
				}
				return e.ctx.Add(at, e.floats(rowShape, row)), want
			})
		}
		exactOp("Scale", "by -0.37 ", func(e *env, at, _ compute.Tensor, a, _ []float32) (compute.Tensor, []float32) {
			want := make([]float32, n)
			for i := range want {
				want[i] = a[i] * -0.37
			}
			return e.ctx.Scale(at, -0.37), want
		})
		g := 0
		for _, act := range acts {
			name := sh
			if act.gate {
				name = gatedNames[g] + sh
				g++
			}
			cs = append(cs, Case{act.name, name, func(e *env) {
				a, b, at, bt := ab(e)
				want := make([]float64, n)
				for i := range want {
					want[i] = act.f(float64(a[i]))
					if act.gate {
						want[i] *= float64(b[i])
					}
				}
				CheckClose(e.t, act.name, e.read(act.run(e.ctx, at, bt), shape), want, 1e-6, 1e-5)
			}})
		}
	}
	cs = append(cs, Case{"Add", "b of a's size in another shape", func(e *env) {
		a, b := e.rand(6, 1), e.rand(6, 1)
		want := make([]float32, 6)
		for i := range want {
			want[i] = a[i] + b[i]
		}
		Exact(e.t, "Add", e.read(e.ctx.Add(e.floats([]int{2, 3}, a), e.floats([]int{3, 2}, b)), []int{2, 3}), want)
	}})
	return cs
}

// --- normalisation ---

// refNorm is LayerNorm (layer true, b may be nil) or RMSNorm of the rows of
// x in float64.
func refNorm(layer bool, x []float32, cols int, w, b []float32, eps float32) []float64 {
	out := make([]float64, len(x))
	for r := 0; r < len(x)/cols; r++ {
		row := x[r*cols : (r+1)*cols]
		var mean, ss float64
		if layer {
			for _, v := range row {
				mean += float64(v)
			}
			mean /= float64(cols)
		}
		for _, v := range row {
			ss += (float64(v) - mean) * (float64(v) - mean)
		}
		ss /= float64(cols)
		for i, v := range row {
			y := (float64(v) - mean) / math.Sqrt(ss+float64(eps)) * float64(w[i])
			if b != nil {
				y += float64(b[i])
			}
			out[r*cols+i] = y
		}
	}
	return out
}

func normCases() []Case {
	// Rows of values near an offset: a one-pass variance would lose its
	// precision to the offset, the two-pass one must not. The float32 mean
	// of values near m carries an absolute error of a few ulps of m that
	// depends on the summation order; it passes into every (x−mean)/σ·w
	// unscaled, so the absolute tolerance grows with m: 2e-5 for m = 5 and
	// 1e-4 for m = 30 (|w| ≤ 4, σ ≈ 1). RMSNorm has no subtraction: its error
	// is the mean square's relative error, below 2e-5.
	type nc struct {
		shape  []int
		offset float32
	}
	cases := []nc{{[]int{1, 1}, 5}, {[]int{3, 33}, 5}, {[]int{2, 4, 257}, 5}, {[]int{1, 1408}, 5},
		{[]int{1, 5}, 30}, {[]int{7, 88}, 30}, {[]int{2, 3, 300}, 30}, {[]int{3, 4096}, 30}}
	var cs []Case
	for _, c := range cases {
		cols := c.shape[len(c.shape)-1]
		lnAbs := 2e-5
		if c.offset > 5 {
			lnAbs = 1e-4
		}
		input := func(e *env) (x, w, b []float32, xt, wt, bt compute.Tensor) {
			x = e.rand(compute.NumElements(c.shape), 1)
			for i := range x {
				x[i] += c.offset
			}
			w, b = e.rand(cols, 1), e.rand(cols, 1)
			return x, w, b, e.floats(c.shape, x), e.floats([]int{cols}, w), e.floats([]int{cols}, b)
		}
		// A large eps as well, so that where eps enters is checked.
		for _, eps := range []float32{1e-6, 1e-5, 4} {
			for _, withBias := range []bool{false, true} {
				name := fmt.Sprintf("%v+%v eps %v", c.shape, c.offset, eps)
				if withBias {
					name += " bias"
				}
				cs = append(cs, Case{"LayerNorm", name, func(e *env) {
					x, w, b, xt, wt, bt := input(e)
					if !withBias {
						b, bt = nil, nil
					}
					got := e.ctx.LayerNorm(xt, wt, bt, eps)
					CheckClose(e.t, "LayerNorm", e.read(got, c.shape), refNorm(true, x, cols, w, b, eps), lnAbs, 2e-5)
				}})
			}
		}
		for _, eps := range []float32{1e-6, 9} {
			cs = append(cs, Case{"RMSNorm", fmt.Sprintf("%v+%v eps %v", c.shape, c.offset, eps), func(e *env) {
				x, w, _, xt, wt, _ := input(e)
				got := e.ctx.RMSNorm(xt, wt, eps)
				CheckClose(e.t, "RMSNorm", e.read(got, c.shape), refNorm(false, x, cols, w, nil, eps), 1e-5, 2e-5)
			}})
		}
	}
	return cs
}

// --- log-softmax ---

func logSoftmaxCases() []Case {
	inf := float32(math.Inf(-1))
	var cs []Case
	for _, shape := range [][]int{{1, 1}, {3, 7}, {3, 33}, {2, 3, 257}, {5, 300}, {2, 32000}, {1, 32064}} {
		cs = append(cs, Case{"LogSoftmax", fmt.Sprint(shape), func(e *env) {
			cols := shape[len(shape)-1]
			rows := compute.NumElements(shape) / cols
			x := e.rand(rows*cols, 4)
			if cols > 1 {
				// A -Inf score (a masked token) stays -Inf.
				x[0] = inf
			}
			want := make([]float64, 0, rows*cols)
			for r := 0; r < rows; r++ {
				row := widen(x[r*cols : (r+1)*cols])
				m := math.Inf(-1)
				for _, v := range row {
					m = math.Max(m, v)
				}
				var s float64
				for _, v := range row {
					s += math.Exp(v - m)
				}
				for _, v := range row {
					want = append(want, v-m-math.Log(s))
				}
			}
			// exp is rounded per element and the sum is float32 over cols
			// terms of at most 1: log(Σ) is off by at most about cols·2⁻²³.
			CheckClose(e.t, "LogSoftmax", e.read(e.ctx.LogSoftmax(e.floats(shape, x)), shape), want, float64(cols+4)*1.2e-7, 4e-7)
		}})
	}
	cs = append(cs, Case{"LogSoftmax", "a row of -Inf stays -Inf", func(e *env) {
		x := []float32{inf, inf, inf, 1, 2, 3}
		got := e.read(e.ctx.LogSoftmax(e.floats([]int{2, 3}, x)), []int{2, 3})
		for i := range 3 {
			if !math.IsInf(float64(got[i]), -1) {
				e.t.Fatalf("LogSoftmax of an all -Inf row = %v, want -Inf", got[:3])
			}
		}
		CheckClose(e.t, "LogSoftmax", got[3:], []float64{-2.40760596444438, -1.40760596444438, -0.40760596444438}, 1e-6, 1e-6)
	}})
	return cs
}

// --- attention ---

func attentionCases() []Case {
	s := func(d int) float32 { return 1 / float32(math.Sqrt(float64(d))) }
	cases := []attnCase{
		{name: "self one head", b: 1, tq: 1, tk: 1, h: 1, d: 1, scale: 1},
		{name: "self", b: 2, tq: 7, tk: 7, h: 4, d: 16, scale: s(16)},
		{name: "vit-like", b: 2, tq: 33, tk: 33, h: 3, d: 8, scale: s(8)},
		{name: "vit-g head", b: 1, tq: 17, tk: 17, h: 2, d: 88, scale: s(88)},
		{name: "head dim 88, 257 tokens", b: 1, tq: 257, tk: 257, h: 2, d: 88, scale: s(88)},
		{name: "head above a GL work group", b: 1, tq: 2, tk: 140, h: 1, d: 200, scale: s(200)},
		{name: "cross", b: 2, tq: 5, tk: 17, h: 2, d: 6, scale: 0.4},
		{name: "cross, padding mask", b: 2, tq: 5, tk: 32, h: 4, d: 16, scale: s(16), mask: true},
		{name: "causal", b: 2, tq: 9, tk: 9, h: 2, d: 4, scale: 0.5, causal: true},
		{name: "causal prompt", b: 1, tq: 13, tk: 13, h: 4, d: 32, scale: s(32), causal: true},
		{name: "causal decode offset", b: 3, tq: 1, tk: 10, h: 4, d: 8, scale: 0.35, causal: true},
		{name: "causal chunk offset", b: 1, tq: 4, tk: 11, h: 2, d: 4, scale: 0.5, causal: true},
		{name: "causal, more queries than keys: the first see none", b: 1, tq: 4, tk: 2, h: 1, d: 8, scale: 1, causal: true},
		{name: "key length", b: 2, tq: 3, tk: 16, h: 2, d: 4, scale: 0.5, causal: true, keyLen: 7},
		{name: "key length, no causal, mask of Tk", b: 2, tq: 3, tk: 16, h: 2, d: 4, scale: 0.5, keyLen: 9, mask: true},
		{name: "key length, mask of KeyLen", b: 2, tq: 2, tk: 16, h: 2, d: 4, scale: 0.5, keyLen: 9, mask: true, maskLen: 9},
		{name: "long keys, KeyLen, mask of KeyLen, gqa", b: 1, tq: 3, tk: 1000, h: 2, kvh: 1, d: 64, scale: s(64), keyLen: 777, mask: true, maskLen: 777},
		{name: "gqa", b: 2, tq: 5, tk: 5, h: 8, kvh: 2, d: 4, scale: 0.5, causal: true},
		{name: "gqa decode, KeyLen", b: 3, tq: 1, tk: 300, h: 8, kvh: 2, d: 16, scale: s(16), causal: true, keyLen: 290},
		{name: "padding mask", b: 3, tq: 6, tk: 6, h: 2, d: 5, scale: 0.45, mask: true},
		{name: "self, mask", b: 2, tq: 9, tk: 9, h: 2, d: 32, scale: s(32), mask: true},
		{name: "t5 bias shared", b: 2, tq: 4, tk: 7, h: 3, d: 4, scale: 1, bias: 3},
		{name: "t5 bias shared, mask", b: 2, tq: 6, tk: 6, h: 4, d: 16, scale: 1, bias: 3, mask: true},
		{name: "t5 bias batched, causal", b: 2, tq: 3, tk: 11, h: 2, d: 8, scale: 1, bias: 4, causal: true},
		{name: "t5 bias batched, causal, mask", b: 2, tq: 7, tk: 7, h: 3, d: 4, scale: 1, bias: 4, causal: true, mask: true},
		{name: "bias of KeyLen", b: 1, tq: 3, tk: 12, h: 2, d: 4, scale: 1, bias: 3, keyLen: 5, biasLen: 5, causal: true},
		// Sixteen queries and more: the CPU multiplies whole heads.
		{name: "many queries: causal, gqa, mask", b: 2, tq: 20, tk: 20, h: 4, kvh: 2, d: 16, scale: s(16), causal: true, mask: true},
		{name: "many queries: t5 bias batched, causal, mask", b: 2, tq: 18, tk: 18, h: 2, d: 8, scale: 1, bias: 4, causal: true, mask: true},
		{name: "many queries: key length, causal offset, bias of KeyLen", b: 1, tq: 16, tk: 40, h: 2, d: 8, scale: 0.5, causal: true, keyLen: 30, bias: 3, biasLen: 30},
		{name: "many queries: mask of KeyLen", b: 2, tq: 17, tk: 32, h: 2, d: 8, scale: 0.5, keyLen: 21, mask: true, maskLen: 21},
		{name: "many queries: more than keys, causal: the first see none", b: 1, tq: 20, tk: 20, h: 1, d: 8, scale: 1, causal: true, keyLen: 12},
	}
	var cs []Case
	for _, c := range cases {
		cs = append(cs, Case{"Attention", c.name, func(e *env) {
			kvh := c.kvh
			if kvh == 0 {
				kvh = c.h
			}
			q := e.rand(c.b*c.tq*c.h*c.d, 1)
			k := e.rand(c.b*c.tk*kvh*c.d, 1)
			v := e.rand(c.b*c.tk*kvh*c.d, 1)
			opts := compute.AttentionOptions{Heads: c.h, KVHeads: c.kvh, Scale: c.scale, Causal: c.causal, KeyLen: c.keyLen}
			var mask, bias []float32
			if c.mask {
				ml := c.maskLen
				if ml == 0 {
					ml = c.tk
				}
				// Padding as models write it (-1e9) and as -Inf.
				mask = make([]float32, c.b*ml)
				for i := range mask {
					switch e.rng.IntN(4) {
					case 0:
						mask[i] = -1e9
					case 1:
						mask[i] = float32(math.Inf(-1))
					}
				}
				// Key 0, which every query sees, stays visible in each batch
				// entry: a row of nothing but -1e9 is uniform in float32
				// (the scores vanish next to 1e9) but not in float64. Fully
				// masked queries have their own case.
				for b := range c.b {
					mask[b*ml] = 0
				}
				opts.Mask = e.floats([]int{c.b, ml}, mask)
			}
			if c.bias != 0 {
				bl := c.biasLen
				if bl == 0 {
					bl = c.tk
				}
				shape := []int{c.h, c.tq, bl}
				if c.bias == 4 {
					shape = append([]int{c.b}, shape...)
				}
				bias = e.rand(compute.NumElements(shape), 2)
				opts.Bias = e.floats(shape, bias)
			}
			got := e.ctx.Attention(e.floats([]int{c.b, c.tq, c.h * c.d}, q),
				e.floats([]int{c.b, c.tk, kvh * c.d}, k), e.floats([]int{c.b, c.tk, kvh * c.d}, v), opts)
			want := refAttention(c, q, k, v, mask, bias)
			// Softmax weights carry relative errors of a few ulps per key
			// (float32 exp and sum), and outputs are convex combinations of
			// O(1) values.
			CheckClose(e.t, "Attention", e.read(got, []int{c.b, c.tq, c.h * c.d}), want, float64(c.tk+c.d)*4e-7, 1e-5)
		}})
	}
	cs = append(cs,
		Case{"Attention", "a query masked entirely by -Inf gets zeros", func(e *env) {
			inf := float32(math.Inf(-1))
			q := e.floats([]int{2, 1, 2}, []float32{1, 2, 3, 4})
			kv := e.floats([]int{2, 2, 2}, []float32{1, 1, 1, 1, 1, 1, 1, 1})
			mask := e.floats([]int{2, 2}, []float32{0, 0, inf, inf})
			got := e.ctx.Attention(q, kv, kv, compute.AttentionOptions{Heads: 1, Scale: 1, Mask: mask})
			Exact(e.t, "Attention", e.read(got, []int{2, 1, 2}), []float32{1, 1, 0, 0})
		}},
		Case{"Attention", "no keys gives zeros", func(e *env) {
			q := e.floats([]int{1, 2, 8}, e.rand(16, 1))
			kv := e.ctx.Zeros(1, 0, 8)
			got := e.ctx.Attention(q, kv, kv, compute.AttentionOptions{Heads: 2, Scale: 1})
			Exact(e.t, "Attention", e.read(got, []int{1, 2, 8}), make([]float32, 16))
		}},
	)
	return cs
}

// --- RoPE ---

func ropeCases() []Case {
	tests := []struct {
		b, t, h, d int
		theta      float32
		maxPos     int
	}{
		{1, 1, 1, 2, 10000, 5},
		{2, 3, 2, 128, 10000, 2048},
		{1, 33, 3, 6, 500, 100},
		{2, 5, 3, 16, 10000, 2100},
		{1, 9, 4, 128, 10000, 2100},
	}
	var cs []Case
	for _, tc := range tests {
		cs = append(cs, Case{"RoPE", fmt.Sprintf("b%d_t%d_h%d_d%d_theta%v_pos<%d", tc.b, tc.t, tc.h, tc.d, tc.theta, tc.maxPos), func(e *env) {
			n := tc.b * tc.t * tc.h * tc.d
			x := e.rand(n, 1)
			pos := make([]int32, tc.b*tc.t)
			for i := range pos {
				pos[i] = int32(e.rng.IntN(tc.maxPos))
			}
			got := e.read(e.ctx.RoPE(e.floats([]int{tc.b, tc.t, tc.h * tc.d}, x), pos, tc.h, tc.theta), []int{tc.b, tc.t, tc.h * tc.d})
			half := tc.d / 2
			// transformers' angles: inv_freq and pos·inv_freq in float32,
			// and the rotation with every product rounded to float32 (no
			// fused multiply-adds): what every device must compute, bit for
			// bit.
			exact := make([]float32, n)
			want32 := make([]float64, n)
			// The formula in float64: angles differ from the float32 ones by
			// up to pos·2⁻²⁴, so this only bounds gross errors.
			want64 := make([]float64, n)
			for r, p := range pos {
				for h := 0; h < tc.h; h++ {
					base := (r*tc.h + h) * tc.d
					for i := 0; i < half; i++ {
						inv := 1 / float32(math.Pow(float64(tc.theta), float64(float32(2*i)/float32(tc.d))))
						a32 := float64(float32(p) * inv)
						a64 := float64(p) * math.Pow(float64(tc.theta), -2*float64(i)/float64(tc.d))
						x1, x2 := float64(x[base+i]), float64(x[base+i+half])
						c32, s32 := float64(float32(math.Cos(a32))), float64(float32(math.Sin(a32)))
						f1, f2, fc, fs := x[base+i], x[base+i+half], float32(c32), float32(s32)
						exact[base+i] = float32(f1*fc) - float32(f2*fs)
						exact[base+i+half] = float32(f2*fc) + float32(f1*fs)
						want32[base+i] = x1*c32 - x2*s32
						want32[base+i+half] = x2*c32 + x1*s32
						want64[base+i] = x1*math.Cos(a64) - x2*math.Sin(a64)
						want64[base+i+half] = x2*math.Cos(a64) + x1*math.Sin(a64)
					}
				}
			}
			Exact(e.t, "RoPE (float32 products)", got, exact)
			CheckClose(e.t, "RoPE (float32 angles)", got, want32, 1e-6, 1e-6)
			CheckClose(e.t, "RoPE (float64 formula)", got, want64, float64(tc.maxPos)*4e-7, 0)
		}})
	}
	return cs
}

// --- lookups ---

func embeddingCases() []Case {
	var cs []Case
	for _, dt := range allDTypes {
		// Odd rows for F32/F16/BF16: rows start mid-word.
		for _, tc := range []struct {
			v, c int
			ids  []int32
		}{{11, 32, []int32{3, 0, 10, 3}}, {11, 33, []int32{3, 0, 10, 3}}, {11, 96, []int32{3, 0, 10, 3}}, {11, 97, []int32{3, 0, 10, 3}},
			{50, 64, []int32{0, 49, 7, 7, 23}}, {50, 64, []int32{}}, {11, 256, []int32{3, 0, 10, 3}}, {9, 768, []int32{8, 1, 1}}} {
			if !fits(dt, tc.c) {
				continue
			}
			cs = append(cs, Case{"Embedding", fmt.Sprintf("%v[%d %d] ids %v", dt, tc.v, tc.c, tc.ids), func(e *env) {
				data := e.rand(tc.v*tc.c, 1)
				table := e.upload(dt, []int{tc.v, tc.c}, data)
				st := stored(e.t, dt, []int{tc.v, tc.c}, data)
				want := []float32{}
				for _, id := range tc.ids {
					want = append(want, st[int(id)*tc.c:(int(id)+1)*tc.c]...)
				}
				Exact(e.t, "Embedding", e.read(e.ctx.Embedding(table, tc.ids), []int{len(tc.ids), tc.c}), want)
			}})
		}
	}
	return cs
}

func patchesCases() []Case {
	var cs []Case
	for _, tc := range []struct{ b, c, h, w, p int }{
		{1, 1, 2, 2, 1}, {2, 3, 6, 9, 3}, {1, 3, 14, 14, 14}, {1, 2, 7, 5, 2},
		{2, 3, 28, 30, 14}, {1, 3, 8, 8, 2}, {1, 1, 5, 5, 5},
	} {
		cs = append(cs, Case{"Patches", fmt.Sprintf("[%d %d %d %d] p%d", tc.b, tc.c, tc.h, tc.w, tc.p), func(e *env) {
			img := e.rand(tc.b*tc.c*tc.h*tc.w, 1)
			pt := e.ctx.Patches(e.floats([]int{tc.b, tc.c, tc.h, tc.w}, img), tc.p)
			gh, gw, plen := tc.h/tc.p, tc.w/tc.p, tc.c*tc.p*tc.p
			at := func(n, py, px, ci, y, x int) float32 {
				return img[((n*tc.c+ci)*tc.h+py*tc.p+y)*tc.w+px*tc.p+x]
			}
			want := make([]float32, 0, tc.b*gh*gw*plen)
			for n := 0; n < tc.b; n++ {
				for py := 0; py < gh; py++ {
					for px := 0; px < gw; px++ {
						for ci := 0; ci < tc.c; ci++ {
							for y := 0; y < tc.p; y++ {
								for x := 0; x < tc.p; x++ {
									want = append(want, at(n, py, px, ci, y, x))
								}
							}
						}
					}
				}
			}
			Exact(e.t, "Patches", e.read(pt, []int{tc.b, gh * gw, plen}), want)
			// Linear over the patches with a flattened Conv2d weight [2, C,
			// p, p] is the stride-p convolution, computed here directly.
			const out = 2
			kern := e.rand(out*plen, 1)
			conv := e.read(e.ctx.Linear(pt, e.floats([]int{out, plen}, kern), nil), []int{tc.b, gh * gw, out})
			var wantC, bound []float64
			for n := 0; n < tc.b; n++ {
				for py := 0; py < gh; py++ {
					for px := 0; px < gw; px++ {
						for o := 0; o < out; o++ {
							var s, a float64
							for ci := 0; ci < tc.c; ci++ {
								for y := 0; y < tc.p; y++ {
									for x := 0; x < tc.p; x++ {
										p := float64(kern[((o*tc.c+ci)*tc.p+y)*tc.p+x]) * float64(at(n, py, px, ci, y, x))
										s += p
										a += math.Abs(p)
									}
								}
							}
							wantC, bound = append(wantC, s), append(bound, a)
						}
					}
				}
			}
			CheckSums(e.t, "convolution", conv, wantC, bound, plen)
		}})
	}
	return cs
}

// --- reductions returning host values ---

// refOrder returns the indices of row from best to worst: larger values
// first, NaN below every number, ties in ascending index order.
func refOrder(row []float32) []int32 {
	order := make([]int32, len(row))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		va, vb := row[a], row[b]
		switch na, nb := va != va, vb != vb; {
		case na && nb:
			return 0
		case na:
			return 1
		case nb:
			return -1
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	return order
}

// checkTopK compares Argmax, or TopK with k, of x [rows, cols] with the
// reference order.
func checkTopK(e *env, data []float32, rows, cols int, ks ...int) {
	e.t.Helper()
	x := e.floats([]int{rows, cols}, data)
	am := e.ctx.Argmax(x)
	if len(am) != rows {
		e.t.Fatalf("Argmax gave %d indices for %d rows", len(am), rows)
	}
	for r := 0; r < rows; r++ {
		row := data[r*cols : (r+1)*cols]
		if want := refOrder(row)[0]; am[r] != want {
			e.t.Fatalf("Argmax of [%d %d] row %d = %d, want %d", rows, cols, r, am[r], want)
		}
	}
	for _, k := range ks {
		vals, idx := e.ctx.TopK(x, k)
		if len(vals) != rows*k || len(idx) != rows*k {
			e.t.Fatalf("TopK %d of [%d %d] gave %d values and %d indices", k, rows, cols, len(vals), len(idx))
		}
		for r := 0; r < rows; r++ {
			row := data[r*cols : (r+1)*cols]
			order := refOrder(row)[:k]
			if !slices.Equal(idx[r*k:(r+1)*k], order) {
				e.t.Fatalf("TopK %d of [%d %d] row %d: indices %v, want %v", k, rows, cols, r, idx[r*k:(r+1)*k], order)
			}
			want := make([]float32, k)
			for j, i := range order {
				want[j] = row[i]
			}
			Exact(e.t, fmt.Sprintf("TopK %d row %d values", k, r), vals[r*k:(r+1)*k], want)
		}
	}
}

func argmaxTopKCases() []Case {
	nan := float32(math.NaN())
	cs := []Case{
		{"TopK", "ties, NaN, equal rows", func(e *env) {
			checkTopK(e, []float32{
				1, 5, 3, 5, -2, 4, // tie for the max: lower index first
				nan, -1, -1, 7, nan, -3, // NaN never beats a number
				-8, -8, -8, -8, -8, -8, // all equal
			}, 3, 6, 0, 1, 3, 6)
		}},
		{"Argmax", "single rows: ties, NaN, only NaN, close values", func(e *env) {
			for _, row := range [][]float32{
				{1, 3, 3, 2},
				{nan, -1, -5, nan},
				{-2, -2, -2, -2},
				{nan, nan, nan, nan}, // only NaN: index 0
				{0.5, 7, -1, 7.0000005},
				{1, 5, nan, 5, 2, 5},
			} {
				checkTopK(e, row, 1, len(row), len(row)/2)
			}
		}},
		{"Argmax", "ties at the end of a long row", func(e *env) {
			checkTopK(e, append(e.rand(997, 1), 10, 10, 3), 1, 1000, 1, 4)
		}},
		{"TopK", "[5 32000] logits", func(e *env) {
			checkTopK(e, e.rand(5*32000, 1), 5, 32000, 0, 1, 10)
		}},
	}
	// Rows with many ties against a full stable sort.
	for _, cols := range []int{1, 7, 257, 32064} {
		cs = append(cs, Case{"TopK", fmt.Sprintf("[3 %d] many ties", cols), func(e *env) {
			data := make([]float32, 3*cols)
			for i := range data {
				data[i] = float32(e.rng.IntN(50))
			}
			checkTopK(e, data, 3, cols, 1, min(5, cols), cols)
		}})
	}
	return cs
}
