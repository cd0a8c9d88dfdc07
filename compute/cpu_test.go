package compute

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// The CPU backend against the float64 references in reference_test.go.

func newCPUTest(t *testing.T) (Backend, Context) {
	t.Helper()
	be := NewCPU()
	ctx := be.NewContext()
	t.Cleanup(func() {
		ctx.Close()
		be.Close()
	})
	return be, ctx
}

func upload(t *testing.T, be Backend, dt DType, shape []int, data []float32) Tensor {
	t.Helper()
	w, err := be.Upload(dt, shape, data)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestCPULinear(t *testing.T) {
	be, ctx := newCPUTest(t)
	rng := rand.New(rand.NewPCG(3, 4))
	type shape struct{ m, k, n int }
	// Odd sizes, M on both sides of the fused matrix–vector threshold, N not a
	// multiple of the 4-row block, K that leaves F16 rows unaligned.
	shapes := []shape{{1, 32, 1}, {1, 64, 33}, {2, 96, 7}, {3, 256, 257}, {4, 32, 3}, {5, 64, 9}, {33, 128, 6}, {257, 32, 5}}
	oddK := []shape{{1, 33, 5}, {3, 1, 4}, {7, 3, 9}, {4, 257, 8}}
	for _, dt := range []DType{F32, F16, BF16, Q8, Q4} {
		cases := shapes
		if dt != Q8 && dt != Q4 {
			cases = append(slices.Clone(shapes), oddK...)
		}
		for _, s := range cases {
			for _, withBias := range []bool{false, true} {
				x := randFloats(rng, s.m*s.k, 1)
				wf := randFloats(rng, s.n*s.k, 0.5)
				w := upload(t, be, dt, []int{s.n, s.k}, wf)
				// The reference multiplies by the weights as stored.
				words, scales, _ := Pack(dt, []int{s.n, s.k}, wf)
				wq := Unpack(dt, []int{s.n, s.k}, words, scales)
				var bias []float32
				var bt Tensor
				if withBias {
					bias = randFloats(rng, s.n, 1)
					bt = ctx.FromFloats([]int{s.n}, bias)
				}
				// A leading batch dimension when M allows, to check that
				// all leading dimensions are rows.
				xshape := []int{s.m, s.k}
				if s.m%2 == 1 && s.m > 1 {
					xshape = []int{1, s.m, s.k}
				}
				got := ctx.Linear(ctx.FromFloats(xshape, x), w, bt)
				wantShape := append(slices.Clone(xshape[:len(xshape)-1]), s.n)
				if !slices.Equal(got.Shape(), wantShape) {
					t.Fatalf("%v %v: shape %v, want %v", dt, s, got.Shape(), wantShape)
				}
				want, bound := refLinear(x, s.m, s.k, wq, s.n, bias)
				checkSums(t, dt.String()+" Linear", ctx.Read(got), want, bound, s.k)
			}
		}
	}
}

func TestCPULinearZeroK(t *testing.T) {
	_, ctx := newCPUTest(t)
	w := ctx.Zeros(3, 0)
	b := ctx.FromFloats([]int{3}, []float32{1, 2, 3})
	got := ctx.Read(ctx.Linear(ctx.Zeros(2, 0), w, b))
	if want := []float32{1, 2, 3, 1, 2, 3}; !slices.Equal(got, want) {
		t.Fatalf("Linear with K=0 = %v, want the bias %v", got, want)
	}
}

// TestCPUDeterministicAcrossThreads checks that results do not depend on
// how the work is split: every output is computed in the same order whatever
// the number of goroutines, so GL tests get a stable reference.
func TestCPUDeterministicAcrossThreads(t *testing.T) {
	be, ctx := newCPUTest(t)
	rng := rand.New(rand.NewPCG(5, 6))
	x := ctx.FromFloats([]int{37, 96}, randFloats(rng, 37*96, 1))
	x1 := ctx.FromFloats([]int{1, 96}, randFloats(rng, 96, 1))
	w := upload(t, be, Q8, []int{131, 96}, randFloats(rng, 131*96, 1))
	b := ctx.FromFloats([]int{96, 70}, randFloats(rng, 96*70, 1))
	q := ctx.FromFloats([]int{2, 9, 4 * 8}, randFloats(rng, 2*9*32, 1))
	kv := ctx.FromFloats([]int{2, 11, 2 * 8}, randFloats(rng, 2*11*16, 1))
	ba := ctx.FromFloats([]int{64, 33, 40}, randFloats(rng, 64*33*40, 1))
	bb := ctx.FromFloats([]int{64, 33, 40}, randFloats(rng, 64*33*40, 1))
	run := func() [][]float32 {
		return [][]float32{
			ctx.Read(ctx.Linear(x, w, nil)),
			ctx.Read(ctx.Linear(x1, w, nil)),
			ctx.Read(ctx.MatMul(x, b, false)),
			ctx.Read(ctx.MatMul(ba, bb, true)),
			ctx.Read(ctx.Attention(q, kv, kv, AttentionOptions{Heads: 4, KVHeads: 2, Scale: 0.3, Causal: true})),
		}
	}
	old := runtime.GOMAXPROCS(1)
	one := run()
	runtime.GOMAXPROCS(7)
	many := run()
	runtime.GOMAXPROCS(old)
	for i := range one {
		if !slices.Equal(one[i], many[i]) {
			t.Fatalf("result %d differs between 1 and 7 threads", i)
		}
	}
}

func TestCPUMatMul(t *testing.T) {
	_, ctx := newCPUTest(t)
	rng := rand.New(rand.NewPCG(7, 8))
	tests := []struct {
		name    string
		a, b    []int
		transB  bool
		m, k, n int
		batch   int
		shared  bool // b is 2-D and shared by the batch
	}{
		{"1x1x1", []int{1, 1}, []int{1, 1}, false, 1, 1, 1, 1, false},
		{"3x5 by 5x7", []int{3, 5}, []int{5, 7}, false, 3, 5, 7, 1, false},
		{"wide b crosses column blocks", []int{3, 33}, []int{33, 300}, false, 3, 33, 300, 1, false},
		{"deep k crosses slabs", []int{5, 301}, []int{301, 9}, false, 5, 301, 9, 1, false},
		{"transB", []int{4, 17}, []int{9, 17}, true, 4, 17, 9, 1, false},
		{"batched", []int{2, 3, 33}, []int{2, 33, 5}, false, 3, 33, 5, 2, false},
		{"batched transB 4-D", []int{2, 3, 5, 8}, []int{2, 3, 257, 8}, true, 5, 8, 257, 6, false},
		{"shared b", []int{3, 4, 6}, []int{6, 2}, false, 4, 6, 2, 3, false},
		{"shared b transB", []int{2, 33, 6}, []int{4, 6}, true, 33, 6, 4, 2, true},
		{"many rows", []int{257, 40}, []int{40, 3}, false, 257, 40, 3, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := randFloats(rng, NumElements(tc.a), 1)
			b := randFloats(rng, NumElements(tc.b), 1)
			got := ctx.MatMul(ctx.FromFloats(tc.a, a), ctx.FromFloats(tc.b, b), tc.transB)
			wantShape := append(slices.Clone(tc.a[:len(tc.a)-1]), tc.n)
			if !slices.Equal(got.Shape(), wantShape) {
				t.Fatalf("shape %v, want %v", got.Shape(), wantShape)
			}
			var want, bound []float64
			bsz := tc.k * tc.n
			for i := 0; i < tc.batch; i++ {
				bm := b
				if len(tc.b) > 2 {
					bm = b[i*bsz : (i+1)*bsz]
				}
				if !tc.transB {
					bm = transpose(bm, tc.k, tc.n)
				}
				o, bd := refLinear(a[i*tc.m*tc.k:(i+1)*tc.m*tc.k], tc.m, tc.k, bm, tc.n, nil)
				want, bound = append(want, o...), append(bound, bd...)
			}
			checkSums(t, "MatMul", ctx.Read(got), want, bound, tc.k)
		})
	}
}

func TestCPUElementwise(t *testing.T) {
	_, ctx := newCPUTest(t)
	rng := rand.New(rand.NewPCG(9, 10))
	for _, shape := range [][]int{{1}, {3, 33}, {2, 5, 257}, {70000}} {
		n := NumElements(shape)
		cols := shape[len(shape)-1]
		a := randFloats(rng, n, 3)
		b := randFloats(rng, n, 3)
		row := randFloats(rng, cols, 3)
		at, bt, rt := ctx.FromFloats(shape, a), ctx.FromFloats(shape, b), ctx.FromFloats([]int{1, cols}, row)
		// exact holds float32 operations whose result must be bit-exact;
		// the activations are evaluated in float64 and rounded once, so they
		// must be within one float32 ulp of the float64 formula.
		exact := []struct {
			name string
			got  Tensor
			f    func(i int) float32
		}{
			{"Add", ctx.Add(at, bt), func(i int) float32 { return a[i] + b[i] }},
			{"Add row", ctx.Add(at, rt), func(i int) float32 { return a[i] + row[i%cols] }},
			{"Mul", ctx.Mul(at, bt), func(i int) float32 { return a[i] * b[i] }},
			{"Mul row", ctx.Mul(at, rt), func(i int) float32 { return a[i] * row[i%cols] }},
			{"Scale", ctx.Scale(at, 0.37), func(i int) float32 { return a[i] * 0.37 }},
		}
		for _, e := range exact {
			got := ctx.Read(e.got)
			if !slices.Equal(e.got.Shape(), shape) {
				t.Fatalf("%s shape %v, want %v", e.name, e.got.Shape(), shape)
			}
			for i := range got {
				if got[i] != e.f(i) {
					t.Fatalf("%s %v: element %d = %v, want %v", e.name, shape, i, got[i], e.f(i))
				}
			}
		}
		geluF := func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
		geluTanhF := func(x float64) float64 {
			return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		}
		siluF := func(x float64) float64 { return x / (1 + math.Exp(-x)) }
		reluF := func(x float64) float64 { return math.Max(x, 0) }
		acts := []struct {
			name string
			got  Tensor
			f    func(float64) float64
			gate bool
		}{
			{"GELU", ctx.GELU(at), geluF, false},
			{"GELUTanh", ctx.GELUTanh(at), geluTanhF, false},
			{"SiLU", ctx.SiLU(at), siluF, false},
			{"Gated silu", ctx.Gated("silu", at, bt), siluF, true},
			{"Gated gelu", ctx.Gated("gelu", at, bt), geluF, true},
			{"Gated gelu_tanh", ctx.Gated("gelu_tanh", at, bt), geluTanhF, true},
			{"Gated relu", ctx.Gated("relu", at, bt), reluF, true},
		}
		for _, e := range acts {
			want := make([]float64, n)
			for i := range want {
				v := float64(float32(e.f(float64(a[i]))))
				if e.gate {
					v = float64(float32(v) * b[i])
				}
				want[i] = v
			}
			checkClose(t, e.name, ctx.Read(e.got), want, 0, 0)
		}
	}
}

func TestCPUNorms(t *testing.T) {
	_, ctx := newCPUTest(t)
	rng := rand.New(rand.NewPCG(11, 12))
	for _, shape := range [][]int{{1, 1}, {3, 33}, {2, 4, 257}, {1, 1408}} {
		rows, cols := NumElements(shape)/shape[len(shape)-1], shape[len(shape)-1]
		x := randFloats(rng, rows*cols, 2)
		for i := range x {
			x[i] += 5 // an offset that a one-pass variance would lose precision on
		}
		w := randFloats(rng, cols, 1)
		b := randFloats(rng, cols, 1)
		xt := ctx.FromFloats(shape, x)
		wt := ctx.FromFloats([]int{cols}, w)
		bt := ctx.FromFloats([]int{cols}, b)
		// A large eps as well, so that where eps enters is checked.
		for _, eps := range []float32{1e-6, 4} {
			withBias := eps > 1
			var bias Tensor
			if withBias {
				bias = bt
			}
			want := make([]float64, rows*cols)
			for r := 0; r < rows; r++ {
				row := x[r*cols : (r+1)*cols]
				var mean, vr float64
				for _, v := range row {
					mean += float64(v)
				}
				mean /= float64(cols)
				for _, v := range row {
					vr += (float64(v) - mean) * (float64(v) - mean)
				}
				vr /= float64(cols)
				for i, v := range row {
					y := (float64(v) - mean) / math.Sqrt(vr+float64(eps)) * float64(w[i])
					if withBias {
						y += float64(b[i])
					}
					want[r*cols+i] = y
				}
			}
			// The float32 mean and variance carry relative errors of about
			// cols·2⁻²⁴; normalised values are O(1) times |w|.
			checkClose(t, "LayerNorm", ctx.Read(ctx.LayerNorm(xt, wt, bias, eps)), want, 2e-5, 2e-5)
		}
		for _, eps := range []float32{1e-6, 9} {
			want := make([]float64, rows*cols)
			for r := 0; r < rows; r++ {
				row := x[r*cols : (r+1)*cols]
				var ms float64
				for _, v := range row {
					ms += float64(v) * float64(v)
				}
				ms /= float64(cols)
				for i, v := range row {
					want[r*cols+i] = float64(v) / math.Sqrt(ms+float64(eps)) * float64(w[i])
				}
			}
			checkClose(t, "RMSNorm", ctx.Read(ctx.RMSNorm(xt, wt, eps)), want, 1e-5, 2e-5)
		}
	}
}

func TestCPUSoftmax(t *testing.T) {
	_, ctx := newCPUTest(t)
	rng := rand.New(rand.NewPCG(13, 14))
	inf := float32(math.Inf(-1))
	for _, shape := range [][]int{{1, 1}, {3, 33}, {2, 3, 257}, {1, 32064}} {
		rows, cols := NumElements(shape)/shape[len(shape)-1], shape[len(shape)-1]
		x := randFloats(rng, rows*cols, 4)
		full := randFloats(rng, rows*cols, 1)
		row := make([]float32, cols)
		for i := range row {
			if i%3 == 1 {
				row[i] = -1e9 // padding, as attention masks write it
			}
		}
		if rows > 1 {
			// A row masked entirely by -Inf must come out as zeros, not NaN.
			for i := 0; i < cols; i++ {
				full[cols+i] = inf
			}
			full[2*cols-1+0] = inf
		}
		tests := []struct {
			name string
			mask Tensor
			add  func(r, i int) float32
		}{
			{"no mask", nil, func(r, i int) float32 { return 0 }},
			{"full mask", ctx.FromFloats(shape, full), func(r, i int) float32 { return full[r*cols+i] }},
			{"row mask", ctx.FromFloats([]int{cols}, row), func(r, i int) float32 { return row[i] }},
		}
		for _, tc := range tests {
			var want []float64
			for r := 0; r < rows; r++ {
				s := make([]float64, cols)
				for i := range s {
					s[i] = float64(x[r*cols+i] + tc.add(r, i))
				}
				want = append(want, refSoftmax(s)...)
			}
			// exp is rounded per element and the sum is float32 over cols
			// terms of at most 1.
			checkClose(t, "Softmax "+tc.name, ctx.Read(ctx.Softmax(ctx.FromFloats(shape, x), tc.mask)), want, 1e-7, float64(cols+4)*1.2e-7)
		}
		want := make([]float64, 0, rows*cols)
		for r := 0; r < rows; r++ {
			m := math.Inf(-1)
			for _, v := range x[r*cols : (r+1)*cols] {
				m = math.Max(m, float64(v))
			}
			var s float64
			for _, v := range x[r*cols : (r+1)*cols] {
				s += math.Exp(float64(v) - m)
			}
			for _, v := range x[r*cols : (r+1)*cols] {
				want = append(want, float64(v)-m-math.Log(s))
			}
		}
		checkClose(t, "LogSoftmax", ctx.Read(ctx.LogSoftmax(ctx.FromFloats(shape, x))), want, float64(cols+4)*1.2e-7, 4e-7)
	}
	got := ctx.Read(ctx.LogSoftmax(ctx.FromFloats([]int{1, 2}, []float32{inf, inf})))
	if !math.IsInf(float64(got[0]), -1) || !math.IsInf(float64(got[1]), -1) {
		t.Fatalf("LogSoftmax of an all -Inf row = %v, want -Inf", got)
	}
}

func TestCPUAttention(t *testing.T) {
	_, ctx := newCPUTest(t)
	rng := rand.New(rand.NewPCG(15, 16))
	cases := []attnCase{
		{name: "self one head", b: 1, tq: 1, tk: 1, h: 1, d: 1, scale: 1},
		{name: "vit-like", b: 2, tq: 33, tk: 33, h: 3, d: 8, scale: 1 / float32(math.Sqrt(8))},
		{name: "cross", b: 2, tq: 5, tk: 17, h: 2, d: 6, scale: 0.4},
		{name: "causal", b: 2, tq: 9, tk: 9, h: 2, d: 4, scale: 0.5, causal: true},
		{name: "causal decode offset", b: 3, tq: 1, tk: 10, h: 4, d: 8, scale: 0.35, causal: true},
		{name: "causal chunk offset", b: 1, tq: 4, tk: 11, h: 2, d: 4, scale: 0.5, causal: true},
		{name: "causal, more queries than keys: the first see none", b: 1, tq: 4, tk: 2, h: 1, d: 8, scale: 1, causal: true},
		{name: "key length", b: 2, tq: 3, tk: 16, h: 2, d: 4, scale: 0.5, causal: true, keyLen: 7},
		{name: "key length, no causal, mask of Tk", b: 2, tq: 3, tk: 16, h: 2, d: 4, scale: 0.5, keyLen: 9, mask: true},
		{name: "key length, mask of KeyLen", b: 2, tq: 2, tk: 16, h: 2, d: 4, scale: 0.5, keyLen: 9, mask: true, maskLen: 9},
		{name: "gqa", b: 2, tq: 5, tk: 5, h: 8, kvh: 2, d: 4, scale: 0.5, causal: true},
		{name: "padding mask", b: 3, tq: 6, tk: 6, h: 2, d: 5, scale: 0.45, mask: true},
		{name: "t5 bias shared", b: 2, tq: 4, tk: 7, h: 3, d: 4, scale: 1, bias: 3},
		{name: "t5 bias batched, causal, mask", b: 2, tq: 7, tk: 7, h: 3, d: 4, scale: 1, bias: 4, causal: true, mask: true},
		{name: "bias of KeyLen", b: 1, tq: 3, tk: 12, h: 2, d: 4, scale: 1, bias: 3, keyLen: 5, biasLen: 5, causal: true},
		{name: "head dim 88, 257 tokens", b: 1, tq: 257, tk: 257, h: 2, d: 88, scale: 1 / float32(math.Sqrt(88))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kvh := c.kvh
			if kvh == 0 {
				kvh = c.h
			}
			q := randFloats(rng, c.b*c.tq*c.h*c.d, 1)
			k := randFloats(rng, c.b*c.tk*kvh*c.d, 1)
			v := randFloats(rng, c.b*c.tk*kvh*c.d, 1)
			opts := AttentionOptions{Heads: c.h, KVHeads: c.kvh, Scale: c.scale, Causal: c.causal, KeyLen: c.keyLen}
			var mask, bias []float32
			if c.mask {
				ml := c.maskLen
				if ml == 0 {
					ml = c.tk
				}
				mask = make([]float32, c.b*ml)
				for i := range mask {
					switch rng.IntN(4) {
					case 0:
						mask[i] = -1e9
					case 1:
						mask[i] = float32(math.Inf(-1))
					}
				}
				mask[0] = 0 // at least one visible key in batch 0
				opts.Mask = ctx.FromFloats([]int{c.b, ml}, mask)
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
				bias = randFloats(rng, NumElements(shape), 2)
				opts.Bias = ctx.FromFloats(shape, bias)
			}
			got := ctx.Attention(ctx.FromFloats([]int{c.b, c.tq, c.h * c.d}, q),
				ctx.FromFloats([]int{c.b, c.tk, kvh * c.d}, k), ctx.FromFloats([]int{c.b, c.tk, kvh * c.d}, v), opts)
			if want := []int{c.b, c.tq, c.h * c.d}; !slices.Equal(got.Shape(), want) {
				t.Fatalf("shape %v, want %v", got.Shape(), want)
			}
			want := refAttention(c, q, k, v, mask, bias)
			// Softmax weights carry relative errors of a few ulp per key and
			// outputs are convex combinations of O(1) values.
			keys := c.tk
			checkClose(t, "Attention", ctx.Read(got), want, float64(keys+c.d)*4e-7, 1e-5)
		})
	}
}

// TestCPUAttentionMaskedQuery checks that a query that sees no key (fully
// masked by -Inf) gets zeros instead of NaN.
func TestCPUAttentionMaskedQuery(t *testing.T) {
	_, ctx := newCPUTest(t)
	inf := float32(math.Inf(-1))
	q := ctx.FromFloats([]int{2, 1, 2}, []float32{1, 2, 3, 4})
	kv := ctx.FromFloats([]int{2, 2, 2}, []float32{1, 1, 1, 1, 1, 1, 1, 1})
	mask := ctx.FromFloats([]int{2, 2}, []float32{0, 0, inf, inf})
	got := ctx.Read(ctx.Attention(q, kv, kv, AttentionOptions{Heads: 1, Scale: 1, Mask: mask}))
	if want := []float32{1, 1, 0, 0}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestCPURoPE(t *testing.T) {
	_, ctx := newCPUTest(t)
	rng := rand.New(rand.NewPCG(17, 18))
	tests := []struct {
		name       string
		b, t, h, d int
		theta      float32
		maxPos     int
	}{
		{"one head of 2", 1, 1, 1, 2, 10000, 5},
		{"vicuna head", 2, 3, 2, 128, 10000, 2048},
		{"odd heads", 1, 33, 3, 6, 500, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.b * tc.t * tc.h * tc.d
			x := randFloats(rng, n, 1)
			pos := make([]int32, tc.b*tc.t)
			for i := range pos {
				pos[i] = int32(rng.IntN(tc.maxPos))
			}
			got := ctx.Read(ctx.RoPE(ctx.FromFloats([]int{tc.b, tc.t, tc.h * tc.d}, x), pos, tc.h, tc.theta))
			half := tc.d / 2
			// transformers' angles: inv_freq and pos·inv_freq in float32.
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
						want32[base+i] = x1*c32 - x2*s32
						want32[base+i+half] = x2*c32 + x1*s32
						want64[base+i] = x1*math.Cos(a64) - x2*math.Sin(a64)
						want64[base+i+half] = x2*math.Cos(a64) + x1*math.Sin(a64)
					}
				}
			}
			checkClose(t, "RoPE (float32 angles)", got, want32, 1e-6, 1e-6)
			checkClose(t, "RoPE (float64 formula)", got, want64, float64(tc.maxPos)*4e-7, 0)
		})
	}
}

func TestCPUEmbedding(t *testing.T) {
	be, ctx := newCPUTest(t)
	rng := rand.New(rand.NewPCG(19, 20))
	for _, dt := range []DType{F32, F16, BF16, Q8, Q4} {
		for _, c := range []int{32, 96} {
			if dt != Q8 && dt != Q4 {
				c++ // odd rows: unaligned halves
			}
			const v = 11
			data := randFloats(rng, v*c, 1)
			table := upload(t, be, dt, []int{v, c}, data)
			words, scales, _ := Pack(dt, []int{v, c}, data)
			stored := Unpack(dt, []int{v, c}, words, scales)
			ids := []int32{3, 0, 10, 3}
			got := ctx.Embedding(table, ids)
			if want := []int{len(ids), c}; !slices.Equal(got.Shape(), want) {
				t.Fatalf("%v shape %v, want %v", dt, got.Shape(), want)
			}
			g := ctx.Read(got)
			for i, id := range ids {
				if !slices.Equal(g[i*c:(i+1)*c], stored[int(id)*c:(int(id)+1)*c]) {
					t.Fatalf("%v c=%d: row %d (id %d) differs from the stored row", dt, c, i, id)
				}
			}
			// Read widens the whole table the same way.
			if !slices.Equal(ctx.Read(table), stored) {
				t.Fatalf("%v: Read of the table differs from Unpack", dt)
			}
		}
	}
	mustPanic(t, "Embedding id out of range", func() {
		ctx.Embedding(ctx.Zeros(4, 2), []int32{4})
	}, "4", "[4 2]")
}

// TestCPUPatches checks the layout directly and that Linear over the
// patches with a flattened Conv2d weight is the stride-p convolution.
func TestCPUPatches(t *testing.T) {
	_, ctx := newCPUTest(t)
	rng := rand.New(rand.NewPCG(21, 22))
	tests := []struct{ b, c, h, w, p int }{{1, 1, 2, 2, 1}, {2, 3, 6, 9, 3}, {1, 3, 14, 14, 14}, {1, 2, 7, 5, 2}}
	for _, tc := range tests {
		img := randFloats(rng, tc.b*tc.c*tc.h*tc.w, 1)
		it := ctx.FromFloats([]int{tc.b, tc.c, tc.h, tc.w}, img)
		pt := ctx.Patches(it, tc.p)
		gh, gw, plen := tc.h/tc.p, tc.w/tc.p, tc.c*tc.p*tc.p
		if want := []int{tc.b, gh * gw, plen}; !slices.Equal(pt.Shape(), want) {
			t.Fatalf("%+v: shape %v, want %v", tc, pt.Shape(), want)
		}
		got := ctx.Read(pt)
		for n := 0; n < tc.b; n++ {
			for py := 0; py < gh; py++ {
				for px := 0; px < gw; px++ {
					for ci := 0; ci < tc.c; ci++ {
						for y := 0; y < tc.p; y++ {
							for x := 0; x < tc.p; x++ {
								g := got[((n*gh+py)*gw+px)*plen+(ci*tc.p+y)*tc.p+x]
								w := img[((n*tc.c+ci)*tc.h+py*tc.p+y)*tc.w+px*tc.p+x]
								if g != w {
									t.Fatalf("%+v: patch (%d,%d,%d) element (%d,%d,%d) = %v, want %v", tc, n, py, px, ci, y, x, g, w)
								}
							}
						}
					}
				}
			}
		}
		// Convolution with 2 output channels, computed directly.
		const out = 2
		kern := randFloats(rng, out*plen, 1)
		conv := ctx.Read(ctx.Linear(pt, ctx.FromFloats([]int{out, plen}, kern), nil))
		for n := 0; n < tc.b; n++ {
			for py := 0; py < gh; py++ {
				for px := 0; px < gw; px++ {
					for o := 0; o < out; o++ {
						var s, a float64
						for ci := 0; ci < tc.c; ci++ {
							for y := 0; y < tc.p; y++ {
								for x := 0; x < tc.p; x++ {
									p := float64(kern[((o*tc.c+ci)*tc.p+y)*tc.p+x]) * float64(img[((n*tc.c+ci)*tc.h+py*tc.p+y)*tc.w+px*tc.p+x])
									s += p
									a += math.Abs(p)
								}
							}
						}
						i := ((n*gh+py)*gw+px)*out + o
						checkSums(t, "conv", conv[i:i+1], []float64{s}, []float64{a}, plen)
					}
				}
			}
		}
	}
}

func TestCPUArgmaxTopK(t *testing.T) {
	_, ctx := newCPUTest(t)
	nan := float32(math.NaN())
	x := ctx.FromFloats([]int{3, 6}, []float32{
		1, 5, 3, 5, -2, 4, // tie for the max: lower index first
		nan, -1, -1, 7, nan, -3, // NaN never beats a number
		-8, -8, -8, -8, -8, -8, // all equal
	})
	if got, want := ctx.Argmax(x), []int32{1, 3, 0}; !slices.Equal(got, want) {
		t.Fatalf("Argmax = %v, want %v", got, want)
	}
	tests := []struct {
		k    int
		vals []float32
		idx  []int32
	}{
		{0, []float32{}, []int32{}},
		{1, []float32{5, 7, -8}, []int32{1, 3, 0}},
		{3, []float32{5, 5, 4, 7, -1, -1, -8, -8, -8}, []int32{1, 3, 5, 3, 1, 2, 0, 1, 2}},
	}
	for _, tc := range tests {
		vals, idx := ctx.TopK(x, tc.k)
		if !slices.Equal(vals, tc.vals) || !slices.Equal(idx, tc.idx) {
			t.Fatalf("TopK %d = %v %v, want %v %v", tc.k, vals, idx, tc.vals, tc.idx)
		}
	}
	// Random rows against a full stable sort.
	rng := rand.New(rand.NewPCG(23, 24))
	for _, cols := range []int{1, 7, 257, 32064} {
		const rows = 3
		data := make([]float32, rows*cols)
		for i := range data {
			data[i] = float32(rng.IntN(50)) // many ties
		}
		for _, k := range []int{1, min(5, cols), cols} {
			vals, idx := ctx.TopK(ctx.FromFloats([]int{rows, cols}, data), k)
			for r := 0; r < rows; r++ {
				order := make([]int32, cols)
				for i := range order {
					order[i] = int32(i)
				}
				row := data[r*cols : (r+1)*cols]
				slices.SortStableFunc(order, func(a, b int32) int {
					switch {
					case row[a] > row[b]:
						return -1
					case row[a] < row[b]:
						return 1
					}
					return 0
				})
				if !slices.Equal(idx[r*k:(r+1)*k], order[:k]) {
					t.Fatalf("TopK %d of %d: row %d indices %v, want %v", k, cols, r, idx[r*k:(r+1)*k], order[:k])
				}
				for j, i := range order[:k] {
					if vals[r*k+j] != row[i] {
						t.Fatalf("TopK %d of %d: row %d value %d = %v, want %v", k, cols, r, j, vals[r*k+j], row[i])
					}
				}
			}
			if k == 1 {
				am := ctx.Argmax(ctx.FromFloats([]int{rows, cols}, data))
				if !slices.Equal(am, idx) {
					t.Fatalf("Argmax %v differs from TopK 1 %v", am, idx)
				}
			}
		}
	}
}

func TestCPUDataMovement(t *testing.T) {
	be, ctx := newCPUTest(t)
	seq := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(i)
		}
		return s
	}
	src := seq(24)
	x := ctx.FromFloats([]int{4, 2, 3}, src)
	src[0] = 99 // FromFloats copied
	if got := ctx.Read(x)[0]; got != 0 {
		t.Fatalf("FromFloats kept the caller's slice: element 0 = %v", got)
	}
	if z := ctx.Read(ctx.Zeros(2, 3)); !slices.Equal(z, make([]float32, 6)) {
		t.Fatalf("Zeros = %v", z)
	}
	tests := []struct {
		name  string
		got   Tensor
		shape []int
		want  []float32
	}{
		{"Rows", ctx.Rows(x, 1, 2), []int{2, 2, 3}, seq(24)[6:18]},
		{"Rows empty", ctx.Rows(x, 4, 0), []int{0, 2, 3}, []float32{}},
		{"Concat", ctx.Concat(ctx.Rows(x, 3, 1), ctx.Rows(x, 0, 1)), []int{2, 2, 3}, append(seq(24)[18:24:24], seq(6)...)},
		{"Gather", ctx.Gather(x, []int32{2, 2, 0}), []int{3, 2, 3}, append(append(seq(24)[12:18:18], seq(24)[12:18]...), seq(6)...)},
		{"Reshape", ctx.Reshape(x, 8, 3), []int{8, 3}, seq(24)},
	}
	for _, tc := range tests {
		if !slices.Equal(tc.got.Shape(), tc.shape) || !slices.Equal(ctx.Read(tc.got), tc.want) {
			t.Fatalf("%s = %v %v, want %v %v", tc.name, tc.got.Shape(), ctx.Read(tc.got), tc.shape, tc.want)
		}
	}

	// SetRows along dim 1 of a [B, maxT, C] cache, seen through a view:
	// views share storage.
	cache := ctx.Zeros(2, 4, 3)
	view := ctx.Reshape(cache, 24)
	ctx.SetRows(cache, 1, 2, ctx.FromFloats([]int{2, 1, 3}, []float32{1, 2, 3, 4, 5, 6}))
	want := make([]float32, 24)
	copy(want[6:9], []float32{1, 2, 3})
	copy(want[18:21], []float32{4, 5, 6})
	if got := ctx.Read(view); !slices.Equal(got, want) {
		t.Fatalf("SetRows dim 1 through a view = %v, want %v", got, want)
	}
	ctx.SetRows(view, 0, 22, ctx.FromFloats([]int{2}, []float32{7, 8}))
	want[22], want[23] = 7, 8
	if got := ctx.Read(cache); !slices.Equal(got, want) {
		t.Fatalf("SetRows dim 0 = %v, want %v", got, want)
	}

	// Copy widens a packed source.
	data := []float32{0.1, -2, 3.3, 65504}
	h := upload(t, be, F16, []int{2, 2}, data)
	dst := ctx.Zeros(4)
	ctx.Copy(dst, h)
	for i, v := range ctx.Read(dst) {
		if v != HalfToFloat32(Float32ToHalf(data[i])) {
			t.Fatalf("Copy from f16: element %d = %v", i, v)
		}
	}

	mustPanic(t, "Rows out of range", func() { ctx.Rows(x, 3, 2) }, "[4 2 3]")
	mustPanic(t, "Concat mismatch", func() { ctx.Concat(x, ctx.Zeros(1, 3, 2)) }, "[4 2 3]", "[1 3 2]")
	mustPanic(t, "Gather out of range", func() { ctx.Gather(x, []int32{4}) }, "[4 2 3]")
	mustPanic(t, "SetRows overflow", func() { ctx.SetRows(cache, 1, 3, ctx.Zeros(2, 2, 3)) }, "[2 4 3]", "[2 2 3]")
	mustPanic(t, "Reshape size", func() { ctx.Reshape(x, 5, 5) }, "[4 2 3]", "[5 5]")
	mustPanic(t, "Copy size", func() { ctx.Copy(dst, x) }, "[4]", "[4 2 3]")
}

func TestCPUMisuse(t *testing.T) {
	be, ctx := newCPUTest(t)
	x := ctx.Zeros(2, 32)
	w := upload(t, be, Q8, []int{4, 32}, make([]float32, 128))
	tests := []struct {
		name string
		f    func()
		want []string
	}{
		{"Linear K mismatch", func() { ctx.Linear(ctx.Zeros(2, 3), w, nil) }, []string{"[2 3]", "q8[4 32]"}},
		{"Linear bias", func() { ctx.Linear(x, w, ctx.Zeros(3)) }, []string{"[3]"}},
		{"Linear x not f32", func() { ctx.Linear(w, w, nil) }, []string{"q8[4 32]"}},
		{"MatMul inner", func() { ctx.MatMul(ctx.Zeros(2, 3), ctx.Zeros(4, 5), false) }, []string{"[2 3]", "[4 5]"}},
		{"Add shapes", func() { ctx.Add(x, ctx.Zeros(3)) }, []string{"[2 32]", "[3]"}},
		{"Gated shapes", func() { ctx.Gated("silu", x, ctx.Zeros(32)) }, []string{"[2 32]", "[32]"}},
		{"Gated act", func() { ctx.Gated("tanh", x, x) }, []string{"tanh"}},
		{"LayerNorm weight", func() { ctx.LayerNorm(x, ctx.Zeros(31), nil, 1e-5) }, []string{"[31]"}},
		{"RoPE positions", func() { ctx.RoPE(ctx.Zeros(1, 2, 8), []int32{0}, 2, 1e4) }, []string{"[1 2 8]"}},
		{"Attention heads", func() {
			ctx.Attention(ctx.Zeros(1, 2, 8), ctx.Zeros(1, 2, 8), ctx.Zeros(1, 2, 8), AttentionOptions{Heads: 3})
		}, []string{"[1 2 8]"}},
		{"Attention mask", func() {
			ctx.Attention(ctx.Zeros(1, 2, 8), ctx.Zeros(1, 2, 8), ctx.Zeros(1, 2, 8), AttentionOptions{Heads: 2, Mask: ctx.Zeros(1, 3)})
		}, []string{"[1 3]"}},
		{"TopK too many", func() { ctx.TopK(x, 33) }, []string{"[2 32]"}},
		{"Reshape q8 rows", func() { ctx.Reshape(w, 8, 16) }, []string{"[8 16]"}},
		{"Patches rank", func() { ctx.Patches(x, 2) }, []string{"[2 32]"}},
	}
	for _, tc := range tests {
		mustPanic(t, tc.name, tc.f, tc.want...)
	}
	if _, err := be.Upload(Q4, []int{2, 3}, make([]float32, 6)); err == nil {
		t.Fatal("Upload of a Q4 tensor with rows of 3 succeeded")
	}
	if _, err := be.Upload(F32, []int{2, 3}, make([]float32, 5)); err == nil {
		t.Fatal("Upload with too few values succeeded")
	}
}

func TestCPURelease(t *testing.T) {
	be := NewCPU()
	w := upload(t, be, F16, []int{2, 2}, []float32{1, 2, 3, 4})
	ctx := be.NewContext()
	x := ctx.FromFloats([]int{1, 2}, []float32{1, 1})
	v := ctx.Reshape(x, 2)
	x.Release()
	mustPanic(t, "use after Release", func() { ctx.Read(x) }, "after Release", "[1 2]")
	// Releasing one handle leaves the view's storage alive.
	if got := ctx.Read(v); !slices.Equal(got, []float32{1, 1}) {
		t.Fatalf("view after releasing its base = %v", got)
	}
	y := ctx.Linear(v, w, nil)
	ctx.Close()
	mustPanic(t, "use after Context.Close", func() { be.NewContext().Read(y) }, "after Release")
	mustPanic(t, "op on a closed context", func() { ctx.Zeros(1) }, "after Close")
	ctx2 := be.NewContext()
	if got := ctx2.Read(w); !slices.Equal(got, []float32{1, 2, 3, 4}) {
		t.Fatalf("uploaded weight after a context closed = %v", got)
	}
	be.Close()
	mustPanic(t, "weight after Backend.Close", func() { ctx2.Read(w) }, "after Release")
	mustPanic(t, "NewContext after Backend.Close", func() { be.NewContext() }, "closed")
	if info := NewCPU().Info(); info.Name != "cpu" || info.Device == "" || info.Version == "" {
		t.Fatalf("Info = %+v", info)
	}
}

// TestCPUConcurrentContexts runs contexts of one backend from several
// goroutines at once, sharing an uploaded weight while uploading more (run
// with -race to check the sharing).
func TestCPUConcurrentContexts(t *testing.T) {
	be, _ := newCPUTest(t)
	rng := rand.New(rand.NewPCG(25, 26))
	wd := randFloats(rng, 64*96, 1)
	w := upload(t, be, Q4, []int{64, 96}, wd)
	x := randFloats(rng, 5*96, 1)
	ref := be.NewContext()
	want := ref.Read(ref.Linear(ref.FromFloats([]int{5, 96}, x), w, nil))
	ref.Close()
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			ctx := be.NewContext()
			defer ctx.Close()
			if _, err := be.Upload(BF16, []int{8, 2}, make([]float32, 16)); err != nil {
				errs <- err
				return
			}
			for range 20 {
				got := ctx.Read(ctx.Linear(ctx.FromFloats([]int{5, 96}, x), w, nil))
				if !slices.Equal(got, want) {
					errs <- fmt.Errorf("goroutine %d: Linear differs from the single-threaded result", g)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
