package optest

import (
	"fmt"
	"math"
	"slices"

	"glimpse/compute"
)

// Cases of the fused operations (compute/fused.go) and of attention over
// an F16, beam-reordered cache. The references are the float64 formulas
// of what each fuses; the bounds are those of the operations fused.

// fusedShape is a matrix product's size; m on both sides of the GL
// matrix–vector threshold (8 rows), k with and without vector loads.
type fusedShape struct{ m, k, n int }

var fusedShapes = []fusedShape{{1, 64, 33}, {3, 128, 17}, {5, 256, 40}, {8, 96, 9}, {9, 64, 65}, {1, 37, 5}, {2, 512, 70}}

func fusedCases() []Case {
	var cs []Case
	for _, dt := range allDTypes {
		for _, s := range fusedShapes {
			if !fits(dt, s.k) {
				continue
			}
			for _, withBias := range []bool{false, true} {
				name := fmt.Sprintf("%v/m%d_k%d_n%d", dt, s.m, s.k, s.n)
				if withBias {
					name += "_bias"
				}
				cs = append(cs, Case{"LinearAdd", name, func(e *env) {
					x, wf, res := e.rand(s.m*s.k, 1), e.rand(s.n*s.k, 0.5), e.rand(s.m*s.n, 1)
					var bias []float32
					var bt compute.Tensor
					if withBias {
						bias = e.rand(s.n, 1)
						bt = e.floats([]int{s.n}, bias)
					}
					got := e.ctx.LinearAdd(e.floats([]int{s.m, s.k}, x), e.upload(dt, []int{s.n, s.k}, wf), bt,
						e.floats([]int{s.m, s.n}, res))
					want, bound, round := linearRef(e, dt, x, s, wf, bias)
					for i, r := range res {
						want[i] += float64(r)
						bound[i] += math.Abs(float64(r))
					}
					CheckSumsWithin(e.t, "LinearAdd", e.read(got, []int{s.m, s.n}), want, bound, s.k+2, round)
				}})
			}
			for _, act := range []string{"silu", "gelu"} {
				cs = append(cs, Case{"GatedLinear", fmt.Sprintf("%v/%s/m%d_k%d_n%d", dt, act, s.m, s.k, s.n), func(e *env) {
					x, gf, uf := e.rand(s.m*s.k, 1), e.rand(s.n*s.k, 0.3), e.rand(s.n*s.k, 0.3)
					xt := e.floats([]int{1, s.m, s.k}, x)
					got := e.read(e.ctx.GatedLinear(act, xt, e.upload(dt, []int{s.n, s.k}, gf), e.upload(dt, []int{s.n, s.k}, uf)),
						[]int{1, s.m, s.n})
					g, gb, gr := linearRef(e, dt, x, s, gf, nil)
					u, ub, ur := linearRef(e, dt, x, s, uf, nil)
					// Each product is within the float32 sum's bound; the
					// activation's slope is below 1.13 for both, so the
					// result is within |u|·1.13·εg + |act(g)|·εu, plus the
					// roundings of the activation and the product.
					eps := func(b float64) float64 { return 2 * float64(s.k+2) * math.Ldexp(1, -24) * b }
					for i := range got {
						a := refAct(act, g[i])
						want := a * u[i]
						tol := math.Abs(u[i])*1.13*(eps(gb[i])+at(gr, i)) + math.Abs(a)*(eps(ub[i])+at(ur, i)) + 4*math.Ldexp(1, -24)*math.Abs(want) + 1e-30
						if d := math.Abs(float64(got[i]) - want); !(d <= tol) {
							e.t.Fatalf("GatedLinear: element %d = %v, want %v (error %.3g > %.3g)", i, got[i], want, d, tol)
						}
					}
				}})
			}
		}
		for _, ns := range [][]int{{7}, {33, 9}, {24, 8, 8}, {16, 16, 16, 5}} {
			for _, s := range []fusedShape{{1, 64, 0}, {4, 128, 0}, {9, 64, 0}, {2, 33, 0}, {1, 256, 0}, {3, 512, 0}} {
				if !fits(dt, s.k) {
					continue
				}
				dts := make([]compute.DType, len(ns))
				for i := range dts {
					dts[i] = dt
				}
				cs = append(cs, linearsCase(fmt.Sprintf("%v/m%d_k%d_n%v", dt, s.m, s.k, ns), dts, ns, s))
			}
		}
	}
	// Weights of several dtypes in one Linears, as a q4 model's layers mix
	// Q4K and Q8 (and a backend may run them in one loop), each more
	// than 64 rows (more than one CPU task).
	for _, dts := range [][]compute.DType{{compute.Q4K, compute.Q8, compute.Q4K}, {compute.Q8, compute.F16, compute.Q4K}} {
		ns := []int{70, 33, 130}
		for _, s := range []fusedShape{{1, 512, 0}, {5, 256, 0}} {
			cs = append(cs, linearsCase(fmt.Sprintf("%v/m%d_k%d_n%v", dts, s.m, s.k, ns), dts, ns, s))
		}
	}
	return append(append(cs, normFusedCases()...), splitQKVCases()...)
}

// linearsCase is Linears of x [s.m, 1, s.k] by weights of ns[i] rows in
// dtype dts[i].
func linearsCase(name string, dts []compute.DType, ns []int, s fusedShape) Case {
	return Case{"Linears", name, func(e *env) {
		x := e.rand(s.m*s.k, 1)
		total := 0
		for _, n := range ns {
			total += n
		}
		var ws []compute.Tensor
		want, bound, round := make([]float64, s.m*total), make([]float64, s.m*total), make([]float64, s.m*total)
		col := 0
		for i, n := range ns {
			wf := e.rand(n*s.k, 0.5)
			ws = append(ws, e.upload(dts[i], []int{n, s.k}, wf))
			w, b, r := linearRef(e, dts[i], x, fusedShape{s.m, s.k, n}, wf, nil)
			for m := 0; m < s.m; m++ {
				copy(want[m*total+col:m*total+col+n], w[m*n:(m+1)*n])
				copy(bound[m*total+col:m*total+col+n], b[m*n:(m+1)*n])
				if r != nil {
					copy(round[m*total+col:m*total+col+n], r[m*n:(m+1)*n])
				}
			}
			col += n
		}
		got := e.ctx.Linears(e.floats([]int{s.m, 1, s.k}, x), ws...)
		CheckSumsWithin(e.t, "Linears", e.read(got, []int{s.m, 1, total}), want, bound, s.k+2, round)
	}}
}

// normFusedCases are NormLinears and NormGatedLinear: the same products of
// RMSNorm(x). The norm's rounding (the sum of squares over K terms, then
// the scale and the weight) adds up to about K/2 + 3 units in the last
// place of every normalised value, all of one sign for the scale, so the
// sums are checked with a bound of 2K terms.
func normFusedCases() []Case {
	var cs []Case
	for _, dt := range allDTypes {
		for _, s := range fusedShapes {
			if !fits(dt, s.k) {
				continue
			}
			cs = append(cs, Case{"NormLinears", fmt.Sprintf("%v/m%d_k%d_n%d+7", dt, s.m, s.k, s.n), func(e *env) {
				x, nw := e.rand(s.m*s.k, 2), e.rand(s.k, 1)
				w1, w2 := e.rand(s.n*s.k, 0.5), e.rand(7*s.k, 0.5)
				h := refRMSNorm(x, s.k, nw, 1e-6)
				a, ab := refLinear64(h, s.m, s.k, stored(e.t, dt, []int{s.n, s.k}, w1), s.n)
				b, bb := refLinear64(h, s.m, s.k, stored(e.t, dt, []int{7, s.k}, w2), 7)
				if dt == compute.Q4K {
					ab, bb = q4kNormBound(e, h, s.m, s.k, w1, s.n), q4kNormBound(e, h, s.m, s.k, w2, 7)
				}
				want, bound := make([]float64, 0, s.m*(s.n+7)), make([]float64, 0, s.m*(s.n+7))
				for m := 0; m < s.m; m++ {
					want = append(append(want, a[m*s.n:(m+1)*s.n]...), b[m*7:(m+1)*7]...)
					bound = append(append(bound, ab[m*s.n:(m+1)*s.n]...), bb[m*7:(m+1)*7]...)
				}
				got := e.ctx.NormLinears(e.floats([]int{s.m, s.k}, x), e.floats([]int{s.k}, nw), 1e-6,
					e.upload(dt, []int{s.n, s.k}, w1), e.upload(dt, []int{7, s.k}, w2))
				CheckSumsWithin(e.t, "NormLinears", e.read(got, []int{s.m, s.n + 7}), want, bound, 2*s.k,
					joinColumns(xRounding(e.t, dt, h, s.m, s.k, w1, s.n), xRounding(e.t, dt, h, s.m, s.k, w2, 7), s.m, s.n, 7))
			}})
			cs = append(cs, Case{"NormGatedLinear", fmt.Sprintf("%v/m%d_k%d_n%d", dt, s.m, s.k, s.n), func(e *env) {
				x, nw := e.rand(s.m*s.k, 2), e.rand(s.k, 1)
				gf, uf := e.rand(s.n*s.k, 0.3), e.rand(s.n*s.k, 0.3)
				h := refRMSNorm(x, s.k, nw, 1e-6)
				g, gb := refLinear64(h, s.m, s.k, stored(e.t, dt, []int{s.n, s.k}, gf), s.n)
				u, ub := refLinear64(h, s.m, s.k, stored(e.t, dt, []int{s.n, s.k}, uf), s.n)
				if dt == compute.Q4K {
					gb, ub = q4kNormBound(e, h, s.m, s.k, gf, s.n), q4kNormBound(e, h, s.m, s.k, uf, s.n)
				}
				got := e.read(e.ctx.NormGatedLinear("silu", e.floats([]int{s.m, s.k}, x), e.floats([]int{s.k}, nw), 1e-6,
					e.upload(dt, []int{s.n, s.k}, gf), e.upload(dt, []int{s.n, s.k}, uf)), []int{s.m, s.n})
				gr, ur := xRounding(e.t, dt, h, s.m, s.k, gf, s.n), xRounding(e.t, dt, h, s.m, s.k, uf, s.n)
				eps := func(b float64) float64 { return 2 * float64(2*s.k) * math.Ldexp(1, -24) * b }
				for i := range got {
					a := refAct("silu", g[i])
					want := a * u[i]
					tol := math.Abs(u[i])*1.13*(eps(gb[i])+at(gr, i)) + math.Abs(a)*(eps(ub[i])+at(ur, i)) + 4*math.Ldexp(1, -24)*math.Abs(want) + 1e-30
					if d := math.Abs(float64(got[i]) - want); !(d <= tol) {
						e.t.Fatalf("NormGatedLinear: element %d = %v, want %v (error %.3g > %.3g)", i, got[i], want, d, tol)
					}
				}
			}})
		}
	}
	return cs
}

// refRMSNorm is RMSNorm in float64: x·(mean(x²) + eps)^(-1/2)·w per row.
func refRMSNorm(x []float32, k int, w []float32, eps float64) []float64 {
	h := make([]float64, len(x))
	for r := 0; r < len(x)/k; r++ {
		var ss float64
		for _, v := range x[r*k : (r+1)*k] {
			ss += float64(v) * float64(v)
		}
		inv := 1 / math.Sqrt(ss/float64(k)+eps)
		for i := 0; i < k; i++ {
			h[r*k+i] = float64(x[r*k+i]) * inv * float64(w[i])
		}
	}
	return h
}

// refLinear64 is h·wᵀ in float64 for float64 h, with Σ|terms| as the bound.
func refLinear64(h []float64, m, k int, w []float32, n int) (out, bound []float64) {
	out, bound = make([]float64, m*n), make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, a float64
			for e := 0; e < k; e++ {
				p := h[i*k+e] * float64(w[j*k+e])
				s += p
				a += math.Abs(p)
			}
			out[i*n+j], bound[i*n+j] = s, a
		}
	}
	return out, bound
}

// q4kNormBound is q4kLinearBound for the normalised rows h.
func q4kNormBound(e *env, h []float64, m, k int, wf []float32, n int) []float64 {
	h32 := make([]float32, len(h))
	for i, v := range h {
		h32[i] = float32(v)
	}
	b := q4kLinearBound(e.t, h32, m, k, wf, n, nil)
	for i := range b {
		b[i] *= 1.001 // h rounded to float32 on the way
	}
	return b
}

// linearRef is RefLinear of the weights as dt stores them, with Q4K's
// wider bound and the allowance for rounding x (xRounding).
func linearRef(e *env, dt compute.DType, x []float32, s fusedShape, wf, bias []float32) (want, bound, round []float64) {
	want, bound = RefLinear(x, s.m, s.k, stored(e.t, dt, []int{s.n, s.k}, wf), s.n, bias)
	if dt == compute.Q4K {
		bound = q4kLinearBound(e.t, x, s.m, s.k, wf, s.n, bias)
	}
	return want, bound, xRounding(e.t, dt, widen(x), s.m, s.k, wf, s.n)
}

// at returns a[i], or 0 for a nil allowance.
func at(a []float64, i int) float64 {
	if a == nil {
		return 0
	}
	return a[i]
}

// refAct is the activation in float64.
func refAct(act string, x float64) float64 {
	switch act {
	case "silu":
		return x / (1 + math.Exp(-x))
	case "gelu":
		return x / 2 * (1 + math.Erf(x/math.Sqrt2))
	}
	panic("optest: no reference for activation " + act)
}

// ropeExact is RoPE in transformers' float32 arithmetic (see ropeCases):
// what every device computes bit for bit. x holds heads of d values.
func ropeExact(x []float32, d int, pos int32, theta float32) []float32 {
	out := make([]float32, len(x))
	half := d / 2
	for h := 0; h < len(x)/d; h++ {
		base := h * d
		for i := 0; i < half; i++ {
			inv := 1 / float32(math.Pow(float64(theta), float64(float32(2*i)/float32(d))))
			a := float64(float32(pos) * inv)
			c, s := float32(math.Cos(a)), float32(math.Sin(a))
			x1, x2 := x[base+i], x[base+i+half]
			out[base+i] = float32(x1*c) - float32(x2*s)
			out[base+i+half] = float32(x2*c) + float32(x1*s)
		}
	}
	return out
}

func splitQKVCases() []Case {
	tests := []struct {
		b, t, h, kvh, d, seqs, capacity, at, offset int
		theta                                       float32
		cache                                       compute.DType
	}{
		{1, 1, 2, 2, 8, 1, 4, 0, 0, 10000, compute.F32},
		{2, 3, 4, 2, 16, 3, 9, 2, 0, 10000, compute.F32},
		{3, 1, 4, 4, 32, 5, 40, 17, 17, 10000, compute.F16},
		{2, 5, 2, 1, 128, 2, 8, 3, 100, 500, compute.F16},
		{2, 2, 3, 3, 6, 2, 4, 1, 0, 0, compute.F16},
		{1, 4, 2, 2, 4, 1, 4, 0, 0, 0, compute.F32},
	}
	var cs []Case
	for _, tc := range tests {
		name := fmt.Sprintf("b%d_t%d_h%d_kvh%d_d%d_%v_cache_s%d_c%d_at%d_theta%v", tc.b, tc.t, tc.h, tc.kvh, tc.d, tc.cache,
			tc.seqs, tc.capacity, tc.at, tc.theta)
		cs = append(cs, Case{"SplitQKV", name, func(e *env) {
			qw, kw := tc.h*tc.d, tc.kvh*tc.d
			rows := tc.b * tc.t
			x := e.rand(rows*(qw+2*kw), 1)
			pos := make([]float32, rows)
			for i := range pos {
				pos[i] = float32(e.rng.IntN(50))
			}
			kc := e.ctx.ZerosOf(tc.cache, tc.seqs, tc.capacity, kw)
			vc := e.ctx.ZerosOf(tc.cache, tc.seqs, tc.capacity, kw)
			o := compute.SplitQKVOptions{Heads: tc.h, KVHeads: tc.kvh, Theta: tc.theta, PosOffset: tc.offset,
				MaxPosition: 50 + tc.offset, K: kc, V: vc, At: tc.at}
			if tc.theta > 0 {
				o.Pos = e.floats([]int{rows}, pos)
			}
			q := e.read(e.ctx.SplitQKV(e.floats([]int{tc.b, tc.t, qw + 2*kw}, x), o), []int{tc.b, tc.t, qw})
			wantQ := make([]float32, rows*qw)
			wantK := make([]float32, tc.seqs*tc.capacity*kw)
			wantV := make([]float32, len(wantK))
			round := func(v []float32) []float32 {
				if tc.cache == compute.F16 {
					return stored(e.t, compute.F16, []int{len(v)}, v)
				}
				return v
			}
			for r := 0; r < rows; r++ {
				in := x[r*(qw+2*kw) : (r+1)*(qw+2*kw)]
				qr, kr, vr := slices.Clone(in[:qw]), slices.Clone(in[qw:qw+kw]), in[qw+kw:]
				if tc.theta > 0 {
					p := int32(pos[r]) + int32(tc.offset)
					qr, kr = ropeExact(qr, tc.d, p, tc.theta), ropeExact(kr, tc.d, p, tc.theta)
				}
				copy(wantQ[r*qw:], qr)
				at := ((r/tc.t)*tc.capacity + tc.at + r%tc.t) * kw
				copy(wantK[at:], round(kr))
				copy(wantV[at:], round(vr))
			}
			Exact(e.t, "SplitQKV queries", q, wantQ)
			// The rest of the caches stays zero.
			Exact(e.t, "SplitQKV key cache", e.read(kc, []int{tc.seqs, tc.capacity, kw}), wantK)
			Exact(e.t, "SplitQKV value cache", e.read(vc, []int{tc.seqs, tc.capacity, kw}), wantV)
		}})
	}
	return cs
}

// cacheAttentionCases read keys and values from an F16 cache and through a
// Rows index, as a decoding step after beam reordering does.
func cacheAttentionCases() []Case {
	tests := []struct {
		name              string
		b, seqs, tq, tk   int
		h, kvh, d, keyLen int
		f16, rows, causal bool
	}{
		{"f16 decode", 2, 2, 1, 12, 4, 2, 16, 9, true, false, true},
		{"f16 prompt, more sequences than queries", 2, 5, 6, 16, 2, 2, 8, 6, true, false, true},
		{"rows, f32", 5, 3, 1, 20, 4, 4, 8, 13, false, true, true},
		{"rows, f16, gqa", 5, 2, 1, 40, 8, 2, 32, 33, false, true, true},
		{"rows, f16, two queries", 3, 3, 2, 10, 2, 1, 64, 10, true, true, true},
	}
	var cs []Case
	for _, tc := range tests {
		cs = append(cs, Case{"Attention", "cache/" + tc.name, func(e *env) {
			kw := tc.kvh * tc.d
			q := e.rand(tc.b*tc.tq*tc.h*tc.d, 1)
			kf, vf := e.rand(tc.seqs*tc.tk*kw, 1), e.rand(tc.seqs*tc.tk*kw, 1)
			shape := []int{tc.seqs, tc.tk, kw}
			var k, v compute.Tensor
			if tc.f16 {
				k, v = e.upload(compute.F16, shape, kf), e.upload(compute.F16, shape, vf)
				kf, vf = stored(e.t, compute.F16, shape, kf), stored(e.t, compute.F16, shape, vf)
			} else {
				k, v = e.floats(shape, kf), e.floats(shape, vf)
			}
			opts := compute.AttentionOptions{Heads: tc.h, KVHeads: tc.kvh, Scale: 1 / float32(math.Sqrt(float64(tc.d))),
				Causal: tc.causal, KeyLen: tc.keyLen}
			// The reference attends over each entry's keys laid out
			// contiguously: sequence rows[b][j]'s row j, or sequence b's.
			seq := make([]int, tc.b*tc.tk)
			for b := 0; b < tc.b; b++ {
				for j := 0; j < tc.tk; j++ {
					seq[b*tc.tk+j] = b
				}
			}
			if tc.rows {
				rf := make([]float32, tc.b*tc.tk)
				for i := range seq {
					seq[i] = e.rng.IntN(tc.seqs)
					rf[i] = float32(seq[i])
				}
				opts.Rows = e.floats([]int{tc.b, tc.tk}, rf)
			}
			kg, vg := make([]float32, tc.b*tc.tk*kw), make([]float32, tc.b*tc.tk*kw)
			for b := 0; b < tc.b; b++ {
				for j := 0; j < tc.tk; j++ {
					src := (seq[b*tc.tk+j]*tc.tk + j) * kw
					copy(kg[(b*tc.tk+j)*kw:], kf[src:src+kw])
					copy(vg[(b*tc.tk+j)*kw:], vf[src:src+kw])
				}
			}
			got := e.ctx.Attention(e.floats([]int{tc.b, tc.tq, tc.h * tc.d}, q), k, v, opts)
			c := attnCase{b: tc.b, tq: tc.tq, tk: tc.tk, h: tc.h, kvh: tc.kvh, d: tc.d, scale: opts.Scale,
				causal: tc.causal, keyLen: tc.keyLen}
			want := refAttention(c, q, kg, vg, nil, nil)
			CheckClose(e.t, "Attention", e.read(got, []int{tc.b, tc.tq, tc.h * tc.d}), want, float64(tc.tk+tc.d)*4e-7, 1e-5)
		}})
	}
	return cs
}
