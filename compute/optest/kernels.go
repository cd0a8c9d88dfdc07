package optest

import (
	"fmt"
	"math"
	"slices"

	"glimpse/compute"
)

// Cases at the edges of the fast kernels' blocking: a GPU backend tiles
// products and attention, splits long reductions over work groups and
// combines the pieces in a second pass, and each of those has remainders
// that the model shapes alone would not reach. The shapes are chosen
// against compute/gl's choices (128-column tiles of 64 or 128 rows, slices
// of 16 along K, split K for at most 64 rows and K of 512 or more; query
// tiles of 8 or 16 against key tiles of 16 or 32; split decode attention
// above 256 keys), but every backend runs them, against the same float64
// references as the other cases.
func kernelCases() []Case {
	return append(gemmEdgeCases(), attentionEdgeCases()...)
}

// gemmEdgeCases are products with ragged tiles and short products with a
// long K (split K), in every weight dtype, with and without bias.
func gemmEdgeCases() []Case {
	// bias on a few: it is added in the epilogue of one pass or in the
	// split-K reduction, and which one depends on M and K alone.
	type shape struct {
		m, k, n int
		bias    bool
	}
	shapes := []shape{
		{45, 1024, 130, true},  // prompt prefill: split K, two column tiles, the second ragged
		{64, 512, 128, false},  // exactly one short tile, split into two
		{20, 1000, 33, true},   // K not a multiple of 32: a ragged last slice
		{9, 1030, 40, false},   // K even but rows not 16-byte aligned (F16 word by word)
		{17, 777, 5, false},    // odd K: element-wise loads, split K
		{65, 96, 257, true},    // just above the short tiles: 128-row tiles, ragged both ways
		{129, 48, 129, false},  // one row and one column past a 128×128 tile
		{200, 512, 200, false}, // too many rows to split: one long K loop
	}
	var cs []Case
	for _, dt := range allDTypes {
		for _, s := range shapes {
			if !fits(dt, s.k) {
				continue
			}
			name := fmt.Sprintf("tiles/%v/m%d_k%d_n%d", dt, s.m, s.k, s.n)
			if s.bias {
				name += "_bias"
			}
			cs = append(cs, Case{"Linear", name, func(e *env) {
				x := e.rand(s.m*s.k, 1)
				wf := e.rand(s.n*s.k, 0.5)
				var bias []float32
				var bt compute.Tensor
				if s.bias {
					bias = e.rand(s.n, 1)
					bt = e.floats([]int{s.n}, bias)
				}
				got := e.ctx.Linear(e.floats([]int{s.m, s.k}, x), e.upload(dt, []int{s.n, s.k}, wf), bt)
				want, bound := RefLinear(x, s.m, s.k, stored(e.t, dt, []int{s.n, s.k}, wf), s.n, bias)
				if dt == compute.Q4K {
					bound = q4kLinearBound(e.t, x, s.m, s.k, wf, s.n, bias)
				}
				CheckSumsWithin(e.t, "Linear", e.read(got, []int{s.m, s.n}), want, bound, s.k+1,
					xRounding(e.t, dt, widen(x), s.m, s.k, wf, s.n))
			}})
		}
	}
	// Two weights into one output (columns [0, n) and [n, n+7) of rows of
	// n+7): the split-K reduction must honour ldc and the column offset.
	for _, dt := range []compute.DType{compute.F16, compute.Q8} {
		const m, k, n = 40, 768, 100
		cs = append(cs, Case{"NormLinears", fmt.Sprintf("tiles/%v/m%d_k%d_n%d+7", dt, m, k, n), func(e *env) {
			x, nw := e.rand(m*k, 2), e.rand(k, 1)
			w1, w2 := e.rand(n*k, 0.5), e.rand(7*k, 0.5)
			h := refRMSNorm(x, k, nw, 1e-6)
			a, ab := refLinear64(h, m, k, stored(e.t, dt, []int{n, k}, w1), n)
			b, bb := refLinear64(h, m, k, stored(e.t, dt, []int{7, k}, w2), 7)
			var want, bound []float64
			for r := 0; r < m; r++ {
				want = append(append(want, a[r*n:(r+1)*n]...), b[r*7:(r+1)*7]...)
				bound = append(append(bound, ab[r*n:(r+1)*n]...), bb[r*7:(r+1)*7]...)
			}
			got := e.ctx.NormLinears(e.floats([]int{m, k}, x), e.floats([]int{k}, nw), 1e-6,
				e.upload(dt, []int{n, k}, w1), e.upload(dt, []int{7, k}, w2))
			// The norm's rounding, as in normFusedCases: a bound of 2K terms.
			CheckSumsWithin(e.t, "NormLinears", e.read(got, []int{m, n + 7}), want, bound, 2*k,
				joinColumns(xRounding(e.t, dt, h, m, k, w1, n), xRounding(e.t, dt, h, m, k, w2, 7), m, n, 7))
		}})
	}
	mm := []struct {
		name   string
		a, b   []int
		transB bool
	}{
		{"tiles/short, long K, transB: split K", []int{30, 1024}, []int{200, 1024}, true},
		{"tiles/short, long K: split K", []int{40, 800}, []int{800, 70}, false},
		{"tiles/batched short, long K: no split", []int{3, 45, 600}, []int{3, 600, 20}, false},
		{"tiles/batched transB, odd K", []int{2, 70, 131}, []int{2, 129, 131}, true},
		{"tiles/shared 2-D b, 128-row tiles", []int{2, 130, 36}, []int{36, 129}, false},
	}
	for _, tc := range mm {
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
	return cs
}

// edgeAttn is an attention case of attentionEdgeCases: attnCase's problem,
// with keys and values possibly in an F16 cache read through a Rows index,
// and some batch entries' queries masked entirely.
type edgeAttn struct {
	attnCase
	f16, rows bool
	seqs      int   // sequences k and v hold (rows); 0 means b
	masked    []int // batch entries whose mask is -Inf everywhere
	maskFrom  int   // with mask: keys from here on are -Inf in every entry
}

// attentionEdgeCases are query tiles with remainders, causal tiles that see
// no key, fully masked queries, head sizes on both sides of a tile's
// shared-memory budget, and decoding over long caches (split over work
// groups and combined), with KeyLen, masks, biases, GQA, F16 and Rows.
func attentionEdgeCases() []Case {
	s := func(d int) float32 { return 1 / float32(math.Sqrt(float64(d))) }
	cases := []edgeAttn{
		{attnCase: attnCase{name: "tiles/prompt, 45 queries, causal, KeyLen", b: 1, tq: 45, tk: 64, h: 2, d: 128, scale: s(128), causal: true, keyLen: 45}},
		{attnCase: attnCase{name: "tiles/vit, 37 tokens, head 88", b: 2, tq: 37, tk: 37, h: 2, d: 88, scale: s(88)}},
		{attnCase: attnCase{name: "tiles/head 200, 20 queries", b: 1, tq: 20, tk: 50, h: 2, d: 200, scale: s(200)}},
		{attnCase: attnCase{name: "tiles/causal, 20 queries, 5 keys: whole tiles see none", b: 1, tq: 20, tk: 5, h: 2, d: 16, scale: 0.5, causal: true}},
		{attnCase: attnCase{name: "tiles/gqa, causal chunk offset, mask", b: 2, tq: 18, tk: 70, h: 4, kvh: 2, d: 32, scale: s(32), causal: true, mask: true}},
		{attnCase: attnCase{name: "tiles/t5 bias batched, 33 queries", b: 2, tq: 33, tk: 33, h: 2, d: 64, scale: 1, bias: 4, mask: true}},
		{attnCase: attnCase{name: "tiles/fully masked entry, 19 queries", b: 2, tq: 19, tk: 40, h: 2, d: 16, scale: 0.5, mask: true}, masked: []int{1}},
		{attnCase: attnCase{name: "tiles/f16 cache, rows, 17 queries", b: 2, tq: 17, tk: 40, h: 2, kvh: 1, d: 64, scale: s(64), causal: true, keyLen: 30}, f16: true, rows: true, seqs: 3},
		{attnCase: attnCase{name: "decode/long, KeyLen, gqa", b: 1, tq: 1, tk: 1200, h: 4, kvh: 2, d: 64, scale: s(64), causal: true, keyLen: 1100}},
		{attnCase: attnCase{name: "decode/long f16 cache, rows, beams", b: 3, tq: 1, tk: 700, h: 4, d: 32, scale: s(32), causal: true, keyLen: 600}, f16: true, rows: true, seqs: 3},
		{attnCase: attnCase{name: "decode/long, head 128, 257 keys", b: 1, tq: 1, tk: 300, h: 2, d: 128, scale: s(128), keyLen: 257}},
		{attnCase: attnCase{name: "decode/long, keys past 300 masked: empty splits", b: 2, tq: 1, tk: 1000, h: 2, d: 16, scale: s(16), mask: true}, maskFrom: 300},
		{attnCase: attnCase{name: "decode/long, fully masked entry", b: 2, tq: 1, tk: 900, h: 2, d: 16, scale: s(16), mask: true}, masked: []int{0}},
		{attnCase: attnCase{name: "decode/long, t5 bias shared", b: 1, tq: 1, tk: 600, h: 3, d: 64, scale: 1, bias: 3}},
		{attnCase: attnCase{name: "decode/long, head 200", b: 1, tq: 1, tk: 520, h: 1, d: 200, scale: s(200)}},
	}
	var cs []Case
	for _, c := range cases {
		cs = append(cs, Case{"Attention", c.name, func(e *env) { runEdgeAttn(e, c) }})
	}
	return cs
}

// runEdgeAttn runs c and checks it against refAttention, with
// attentionCases' tolerance.
func runEdgeAttn(e *env, c edgeAttn) {
	kvh := c.kvh
	if kvh == 0 {
		kvh = c.h
	}
	seqs := c.seqs
	if seqs == 0 {
		seqs = c.b
	}
	kw := kvh * c.d
	q := e.rand(c.b*c.tq*c.h*c.d, 1)
	kf, vf := e.rand(seqs*c.tk*kw, 1), e.rand(seqs*c.tk*kw, 1)
	shape := []int{seqs, c.tk, kw}
	var k, v compute.Tensor
	if c.f16 {
		k, v = e.upload(compute.F16, shape, kf), e.upload(compute.F16, shape, vf)
		kf, vf = stored(e.t, compute.F16, shape, kf), stored(e.t, compute.F16, shape, vf)
	} else {
		k, v = e.floats(shape, kf), e.floats(shape, vf)
	}
	opts := compute.AttentionOptions{Heads: c.h, KVHeads: c.kvh, Scale: c.scale, Causal: c.causal, KeyLen: c.keyLen}
	// The reference reads each entry's keys laid out contiguously:
	// sequence rows[b][j]'s row j, or sequence b's.
	seq := make([]int, c.b*c.tk)
	for b := range c.b {
		for j := range c.tk {
			seq[b*c.tk+j] = b
		}
	}
	if c.rows {
		rf := make([]float32, c.b*c.tk)
		for i := range seq {
			seq[i] = e.rng.IntN(seqs)
			rf[i] = float32(seq[i])
		}
		opts.Rows = e.floats([]int{c.b, c.tk}, rf)
	}
	kg, vg := make([]float32, c.b*c.tk*kw), make([]float32, c.b*c.tk*kw)
	for b := range c.b {
		for j := range c.tk {
			src := (seq[b*c.tk+j]*c.tk + j) * kw
			copy(kg[(b*c.tk+j)*kw:], kf[src:src+kw])
			copy(vg[(b*c.tk+j)*kw:], vf[src:src+kw])
		}
	}
	inf := float32(math.Inf(-1))
	var mask, bias []float32
	if c.mask {
		// Padding as models write it (-1e9) and as -Inf, key 0 visible
		// (see attentionCases), then the entries and keys masked entirely.
		mask = make([]float32, c.b*c.tk)
		for i := range mask {
			switch e.rng.IntN(4) {
			case 0:
				mask[i] = -1e9
			case 1:
				mask[i] = inf
			}
			if i%c.tk == 0 {
				mask[i] = 0
			}
			if c.maskFrom > 0 && i%c.tk >= c.maskFrom {
				mask[i] = inf
			}
		}
		for _, b := range c.masked {
			for j := range c.tk {
				mask[b*c.tk+j] = inf
			}
		}
		opts.Mask = e.floats([]int{c.b, c.tk}, mask)
	}
	if c.bias != 0 {
		bshape := []int{c.h, c.tq, c.tk}
		if c.bias == 4 {
			bshape = append([]int{c.b}, bshape...)
		}
		bias = e.rand(compute.NumElements(bshape), 2)
		opts.Bias = e.floats(bshape, bias)
	}
	got := e.read(e.ctx.Attention(e.floats([]int{c.b, c.tq, c.h * c.d}, q), k, v, opts), []int{c.b, c.tq, c.h * c.d})
	want := refAttention(c.attnCase, q, kg, vg, mask, bias)
	CheckClose(e.t, "Attention", got, want, float64(c.tk+c.d)*4e-7, 1e-5)
	// Fully masked queries get exact zeros, not a tolerance's worth.
	for _, b := range c.masked {
		Exact(e.t, "Attention of a fully masked entry", got[b*c.tq*c.h*c.d:(b+1)*c.tq*c.h*c.d], make([]float32, c.tq*c.h*c.d))
	}
}
