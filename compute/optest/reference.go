package optest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// Straightforward float64 references for the operations, written for
// clarity rather than speed, and the comparisons that state each case's
// tolerance. Every backend is tested against them.

// RandFloats returns n normally distributed values times scale, seeded so
// that failures reproduce.
func RandFloats(rng *rand.Rand, n int, scale float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64() * scale)
	}
	return out
}

// RefLinear returns x·wᵀ + bias in float64 with its error bound: bound[i] is
// Σ|x_k·w_k| (+|bias|), which a float32 accumulation's error is measured
// against.
func RefLinear(x []float32, m, k int, w []float32, n int, bias []float32) (out, bound []float64) {
	out = make([]float64, m*n)
	bound = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, a float64
			for e := 0; e < k; e++ {
				p := float64(x[i*k+e]) * float64(w[j*k+e])
				s += p
				a += math.Abs(p)
			}
			if bias != nil {
				s += float64(bias[j])
				a += math.Abs(float64(bias[j]))
			}
			out[i*n+j], bound[i*n+j] = s, a
		}
	}
	return out, bound
}

// transpose returns the [c, r] transpose of an [r, c] matrix.
func transpose(a []float32, r, c int) []float32 {
	out := make([]float32, r*c)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[j*r+i] = a[i*c+j]
		}
	}
	return out
}

// CheckSums compares float32 results of accumulations of length k with
// float64 references: the error of a float32 sum of k terms is within about
// k·2⁻²⁴·Σ|terms| (Higham's γ_k), and we allow twice that plus a tiny
// absolute slack for zero bounds.
func CheckSums(t testing.TB, what string, got []float32, want, bound []float64, k int) {
	t.Helper()
	CheckSumsWithin(t, what, got, want, bound, k, nil)
}

// CheckSumsWithin is CheckSums with allowance[i] (nil: none) added to
// element i's tolerance: the rounding of x that compute.Linear allows for
// quantized weights (see xRounding).
func CheckSumsWithin(t testing.TB, what string, got []float32, want, bound []float64, k int, allowance []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	u := math.Ldexp(1, -24)
	for i := range got {
		tol := 2*float64(k+2)*u*bound[i] + 1e-30
		if allowance != nil {
			tol += allowance[i]
		}
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol) {
			t.Fatalf("%s: element %d = %v, want %v (error %.3g > tolerance %.3g)", what, i, got[i], want[i], d, tol)
		}
	}
}

// CheckClose compares got with want element-wise within abs + rel·|want|.
func CheckClose(t testing.TB, what string, got []float32, want []float64, abs, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := float64(got[i]), want[i]
		if math.IsInf(w, 0) || math.IsNaN(w) {
			if g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
				t.Fatalf("%s: element %d = %v, want %v", what, i, g, w)
			}
			continue
		}
		if d := math.Abs(g - w); !(d <= abs+rel*math.Abs(w)) {
			t.Fatalf("%s: element %d = %v, want %v (error %.3g > %.3g)", what, i, g, w, d, abs+rel*math.Abs(w))
		}
	}
}

// refSoftmax is the float64 softmax of xs; all -Inf gives zeros.
func refSoftmax(xs []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range xs {
		m = math.Max(m, v)
	}
	out := make([]float64, len(xs))
	if math.IsInf(m, -1) {
		return out
	}
	var s float64
	for i, v := range xs {
		out[i] = math.Exp(v - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// attnCase describes one naive attention problem.
type attnCase struct {
	name                 string
	b, tq, tk, h, kvh, d int
	scale                float32
	causal               bool
	keyLen               int
	mask                 bool // [B, maskLen] with some -1e9 and some -Inf entries
	maskLen              int  // 0 means Tk
	bias                 int  // 0 none, 3 for [H, Tq, L], 4 for [B, H, Tq, L]
	biasLen              int  // 0 means Tk
}

// refAttention computes softmax(scale·q·kᵀ + mask + bias)·v per head in
// float64, leaving out keys beyond keyLen and, if causal, keys after
// i + keys - tq. It returns [B, Tq, H*D].
func refAttention(c attnCase, q, k, v, mask, bias []float32) []float64 {
	kvh := c.kvh
	if kvh == 0 {
		kvh = c.h
	}
	keys := c.tk
	if c.keyLen > 0 {
		keys = c.keyLen
	}
	maskLen, biasLen := c.maskLen, c.biasLen
	if maskLen == 0 {
		maskLen = c.tk
	}
	if biasLen == 0 {
		biasLen = c.tk
	}
	out := make([]float64, c.b*c.tq*c.h*c.d)
	for b := 0; b < c.b; b++ {
		for h := 0; h < c.h; h++ {
			kh := h / (c.h / kvh)
			for i := 0; i < c.tq; i++ {
				var s []float64
				for j := 0; j < keys; j++ {
					if c.causal && j > i+keys-c.tq {
						break
					}
					var dot float64
					for e := 0; e < c.d; e++ {
						dot += float64(q[(b*c.tq+i)*c.h*c.d+h*c.d+e]) * float64(k[(b*c.tk+j)*kvh*c.d+kh*c.d+e])
					}
					sc := float64(c.scale) * dot
					if mask != nil {
						sc += float64(mask[b*maskLen+j])
					}
					switch c.bias {
					case 3:
						sc += float64(bias[(h*c.tq+i)*biasLen+j])
					case 4:
						sc += float64(bias[((b*c.h+h)*c.tq+i)*biasLen+j])
					}
					s = append(s, sc)
				}
				p := refSoftmax(s)
				for j, pj := range p {
					for e := 0; e < c.d; e++ {
						out[(b*c.tq+i)*c.h*c.d+h*c.d+e] += pj * float64(v[(b*c.tk+j)*kvh*c.d+kh*c.d+e])
					}
				}
			}
		}
	}
	return out
}

// MustPanic runs f and checks it panics with a message containing every
// string in want (shapes named in the message).
func MustPanic(t testing.TB, what string, f func(), want ...string) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("%s: no panic", what)
		}
		msg := fmt.Sprint(r)
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Fatalf("%s: panic %q does not mention %q", what, msg, w)
			}
		}
	}()
	f()
}

// BenchRate runs step once untimed (shader compilation, first-touch of
// buffers), then times b.N runs and reports work per run, in units of 1e9
// (GB, GFLOP), per second.
func BenchRate(b *testing.B, work float64, unit string, step func()) {
	b.Helper()
	step()
	b.ResetTimer()
	for range b.N {
		step()
	}
	b.ReportMetric(work*float64(b.N)/b.Elapsed().Seconds()/1e9, unit)
}
