package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"glimpse/compute"
	"glimpse/compute/optest"
)

// vecLengths are the row lengths the kernels are tested at: empty, shorter
// than one vector, around the unrolled loops' strides, and long and odd.
// For F32 they count elements, for F16 words (two halves), for Q8 and Q4
// blocks.
var vecLengths = []int{0, 1, 7, 31, 33, 255, 257, 4096 + 13}

// vecOffsets start the slices off their allocations' alignment, as rows in
// the middle of a weight and views of activations are.
var vecOffsets = []int{0, 1, 3}

// vecCase is one dot product in every format, with its float64 value and
// Σ|terms|, from which CheckSums's tolerance comes.
type vecCase struct {
	x            []float32
	w            []uint32  // packed F16, Q8 or Q4 words
	wf           []float32 // F32 weights
	scales       []float32 // Q8, Q4 block scales
	want, bound  float64
	accumulating int // terms summed, for the tolerance

	// Four x rows, ldx apart, for the x4 kernels, and their products.
	deq           []float32 // Q4K weights, dequantized
	x4            []float32
	ldx           int
	want4, bound4 [4]float64
}

// newVecCase builds a random case of n elements starting off at element
// off of their slices. decode gives element i of the packed weight row.
func newVecCase(rng *rand.Rand, n, words, blocks, off int, decode func(c *vecCase, i int) (v, mag float64)) *vecCase {
	c := &vecCase{
		x:      optest.RandFloats(rng, n+off, 1)[off:],
		wf:     optest.RandFloats(rng, n+off, 1)[off:],
		w:      make([]uint32, words+off)[off:],
		scales: make([]float32, blocks+off)[off:],
	}
	for i := range c.w {
		c.w[i] = rng.Uint32()
	}
	for i := range c.scales {
		c.scales[i] = float32(rng.Float64() * 0.02)
	}
	// Rows of x4 are a few elements longer than a row, so that three of
	// them start off alignment whatever off is.
	c.ldx = n + 3
	c.x4 = optest.RandFloats(rng, 3*c.ldx+n+off, 1)[off:]
	for i := 0; i < n; i++ {
		v, mag := decode(c, i)
		c.want += float64(c.x[i]) * v
		c.bound += math.Abs(float64(c.x[i])) * mag
		for r := range 4 {
			xr := float64(c.x4[r*c.ldx+i])
			c.want4[r] += xr * v
			c.bound4[r] += math.Abs(xr) * mag
		}
	}
	c.accumulating = n + 2 // the block scales add a product and a sum
	return c
}

// plain is a weight's value with the magnitude its error is bounded by.
func plain(v float64) (float64, float64) { return v, math.Abs(v) }

// decodeQ4K returns element i of a random Q4K row, making each super-block
// valid on its first element: random words are any 6-bit scales and mins
// and nibbles, but the float16 d and dmin must be finite, so they are set
// to small normal halves. The magnitude is optest's Q4K bound: kernels may
// scale whole sums of x·q and subtract min·Σx, whose rounding is bounded by
// both parts.
func decodeQ4K(c *vecCase, i int) (float64, float64) {
	const sb, sw = compute.SuperBlockSize, compute.Q4KWords
	s := i / sb
	if i%sb == 0 {
		blk := c.w[s*sw : (s+1)*sw]
		blk[0] = blk[0]&0x00ff00ff | 0x1c001c00 // d, dmin in [2^-8, 2^-7)
		if c.deq == nil {
			c.deq = make([]float32, len(c.w)/sw*sb)
		}
		compute.DequantizeQ4K(blk, (*[sb]float32)(c.deq[s*sb:]))
	}
	scale, mins := compute.Q4KSubBlocks(c.w[s*sw : (s+1)*sw])
	j := i % sb / compute.BlockSize
	v := c.deq[i]
	return float64(v), 2 * (math.Abs(float64(v+mins[j])) + float64(mins[j]) + float64(scale[j]))
}

// TestVecKernels checks every SIMD kernel set this processor runs, and the
// dispatched set, against float64 values and against the pure-Go kernels.
func TestVecKernels(t *testing.T) {
	sets := append([]vecKernels{vec}, archKernels()...)
	t.Logf("dispatched kernels: %s; this processor runs %d SIMD set(s)", vec.name, len(sets)-1)
	formats := []struct {
		name string
		// elements, words and blocks of a row of length l
		size   func(l int) (n, words, blocks int)
		decode func(c *vecCase, i int) (v, mag float64)
		run    func(k vecKernels, c *vecCase) float32
		// run4 runs the x4 kernel, reporting false where k has none.
		run4 func(k vecKernels, c *vecCase, out *[4]float32) bool
	}{
		{"f32", func(l int) (int, int, int) { return l, 0, 0 },
			func(c *vecCase, i int) (float64, float64) { return plain(float64(c.wf[i])) },
			func(k vecKernels, c *vecCase) float32 { return k.f32(c.x, c.wf) },
			func(k vecKernels, c *vecCase, out *[4]float32) bool {
				if k.f32x4 == nil {
					return false
				}
				k.f32x4(c.x4, c.ldx, c.wf, out)
				return true
			}},
		{"f16", func(l int) (int, int, int) { return 2 * l, l, 0 },
			func(c *vecCase, i int) (float64, float64) {
				// Random words are halves of any value: keep them finite
				// by making every half a normal number below 2.
				h := uint16(c.w[i/2]>>(16*uint(i&1)))&0x83ff | 0x3800
				c.w[i/2] = c.w[i/2]&^(0xffff<<(16*uint(i&1))) | uint32(h)<<(16*uint(i&1))
				return plain(float64(compute.HalfToFloat32(h)))
			},
			func(k vecKernels, c *vecCase) float32 { return k.f16(c.x, c.w) },
			func(k vecKernels, c *vecCase, out *[4]float32) bool {
				if k.f16x4 == nil {
					return false
				}
				k.f16x4(c.x4, c.ldx, c.w, out)
				return true
			}},
		{"bf16", func(l int) (int, int, int) { return 2 * l, l, 0 },
			func(c *vecCase, i int) (float64, float64) {
				// Random words are bfloat16s of any value: keep them finite
				// by making every one a normal number of magnitude below 4.
				h := uint16(c.w[i/2]>>(16*uint(i&1)))&0x807f | 0x3f00
				c.w[i/2] = c.w[i/2]&^(0xffff<<(16*uint(i&1))) | uint32(h)<<(16*uint(i&1))
				return plain(float64(compute.BF16ToFloat32(h)))
			},
			func(k vecKernels, c *vecCase) float32 { return k.bf16(c.x, c.w) },
			func(k vecKernels, c *vecCase, out *[4]float32) bool {
				if k.bf16x4 == nil {
					return false
				}
				k.bf16x4(c.x4, c.ldx, c.w, out)
				return true
			}},
		{"q8", func(l int) (int, int, int) { return l * compute.BlockSize, l * compute.BlockSize / 4, l },
			func(c *vecCase, i int) (float64, float64) {
				q := int8(c.w[i/4] >> (8 * uint(i%4)))
				return plain(float64(q) * float64(c.scales[i/compute.BlockSize]))
			},
			func(k vecKernels, c *vecCase) float32 { return k.q8(c.x, c.w, c.scales) },
			func(k vecKernels, c *vecCase, out *[4]float32) bool {
				if k.q8x4 == nil {
					return false
				}
				k.q8x4(c.x4, c.ldx, c.w, c.scales, out)
				return true
			}},
		{"q4", func(l int) (int, int, int) { return l * compute.BlockSize, l * compute.BlockSize / 8, l },
			func(c *vecCase, i int) (float64, float64) {
				q := int(c.w[i/8]>>(4*uint(i%8))&15) - 8
				return plain(float64(q) * float64(c.scales[i/compute.BlockSize]))
			},
			func(k vecKernels, c *vecCase) float32 { return k.q4(c.x, c.w, c.scales) },
			func(k vecKernels, c *vecCase, out *[4]float32) bool {
				if k.q4x4 == nil {
					return false
				}
				k.q4x4(c.x4, c.ldx, c.w, c.scales, out)
				return true
			}},
		{"q4k", func(l int) (int, int, int) {
			return l * compute.SuperBlockSize, l * compute.Q4KWords, 0
		},
			decodeQ4K,
			func(k vecKernels, c *vecCase) float32 { return k.q4k(c.x, c.w) },
			func(k vecKernels, c *vecCase, out *[4]float32) bool {
				if k.q4kx4 == nil {
					return false
				}
				k.q4kx4(c.x4, c.ldx, c.w, out)
				return true
			}},
	}
	rng := rand.New(rand.NewPCG(13, 13))
	u := math.Ldexp(1, -24)
	x4Runs := 0
	for _, f := range formats {
		for _, l := range vecLengths {
			for _, off := range vecOffsets {
				n, words, blocks := f.size(l)
				c := newVecCase(rng, n, words, blocks, off, f.decode)
				ref := f.run(pureGoKernels, c)
				for _, k := range sets {
					t.Run(fmt.Sprintf("%s/%s/len%d/off%d", k.name, f.name, l, off), func(t *testing.T) {
						got := f.run(k, c)
						optest.CheckSums(t, "dot", []float32{got}, []float64{c.want}, []float64{c.bound}, c.accumulating)
						// Both are within CheckSums's tolerance of the
						// exact value, so within twice it of each other.
						tol := 4*float64(c.accumulating+2)*u*c.bound + 1e-30
						if d := math.Abs(float64(got) - float64(ref)); !(d <= tol) {
							t.Errorf("%s = %v, pure Go gives %v (difference %.3g > %.3g)", k.name, got, ref, d, tol)
						}
						var got4 [4]float32
						if f.run4(k, c, &got4) {
							x4Runs++
							optest.CheckSums(t, "x4 dot", got4[:], c.want4[:], c.bound4[:], c.accumulating)
						}
					})
				}
			}
		}
	}
	t.Logf("%d x4 kernel runs checked", x4Runs)
}

// TestQ4KScalesMins checks the kernels' decoder of Q4K scales and mins
// against the format's definition, bit for bit, on random super-blocks.
func TestQ4KScalesMins(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 19))
	blk := make([]uint32, compute.Q4KWords)
	for range 1000 {
		for i := range blk {
			blk[i] = rng.Uint32()
		}
		var sm [16]float32
		q4kScalesMins(blk, &sm)
		scale, mins := compute.Q4KSubBlocks(blk)
		want := append(scale[:], mins[:]...)
		for i, v := range sm {
			// Random halves include NaNs, which compare by their bits.
			if math.Float32bits(v) != math.Float32bits(want[i]) {
				t.Fatalf("block %08x: element %d = %v, Q4KSubBlocks gives %v", blk[:4], i, v, want[i])
			}
		}
	}
}

// TestVecKernelsShortSlices checks that the SIMD kernels panic, as the
// pure-Go ones do, when a slice is shorter than the row, instead of
// reading past its end (each short slice ends at its capacity, so that
// reslicing cannot reach beyond it).
func TestVecKernelsShortSlices(t *testing.T) {
	x := make([]float32, 64)
	w := make([]uint32, 16)
	scales := make([]float32, 2)
	for _, k := range append([]vecKernels{pureGoKernels}, archKernels()...) {
		tests := []struct {
			name string
			f    func()
		}{
			{"f32 short w", func() { k.f32(x, make([]float32, 63)) }},
			{"f16 short x", func() { k.f16(x[:31:31], w) }},
			{"bf16 short x", func() { k.bf16(x[:31:31], w) }},
			{"q8 short x", func() { k.q8(x[:63:63], w, scales) }},
			{"q8 short w", func() { k.q8(x, w[:15:15], scales) }},
			{"q4 short x", func() { k.q4(x[:63:63], w[:8], scales) }},
			{"q4 short w", func() { k.q4(x, w[:7:7], scales) }},
			{"q4k short x", func() { k.q4k(make([]float32, 255), make([]uint32, compute.Q4KWords)) }},
		}
		for _, tc := range tests {
			t.Run(k.name+"/"+tc.name, func(t *testing.T) {
				optest.MustPanic(t, tc.name, tc.f)
			})
		}
	}
}

// BenchmarkCPUVecKernels times each kernel set on one row of 4096 weights
// that stays in cache, so that it measures the kernels' arithmetic rather
// than memory (BenchmarkCPULinearVec measures the matrix–vector product as
// a whole), in ns per weight (per weight and x row for the x4 kernels).
func BenchmarkCPUVecKernels(b *testing.B) {
	const k = 4096
	rng := rand.New(rand.NewPCG(17, 17))
	x := optest.RandFloats(rng, 4*k, 1)
	wf := optest.RandFloats(rng, k, 1)
	words := make([]uint32, k/2)
	for i := range words {
		words[i] = uint32(compute.Float32ToHalf(wf[2*i])) | uint32(compute.Float32ToHalf(wf[2*i+1]))<<16
	}
	scales := make([]float32, k/compute.BlockSize)
	for i := range scales {
		scales[i] = 0.01
	}
	q4k, _, err := compute.Pack(compute.Q4K, []int{1, k}, wf)
	if err != nil {
		b.Fatal(err)
	}
	var out [4]float32
	var sink float32
	for _, ks := range append([]vecKernels{pureGoKernels}, archKernels()...) {
		kernels := []struct {
			name string
			rows int
			f    func()
		}{
			{"f32", 1, func() { sink += ks.f32(x[:k], wf) }},
			{"f16", 1, func() { sink += ks.f16(x[:k], words) }},
			{"bf16", 1, func() { sink += ks.bf16(x[:k], words) }},
			{"q8", 1, func() { sink += ks.q8(x[:k], words, scales) }},
			{"q4", 1, func() { sink += ks.q4(x[:k], words[:k/8], scales) }},
			{"q4k", 1, func() { sink += ks.q4k(x[:k], q4k) }},
			{"f32x4", 4, func() { ks.f32x4(x, k, wf, &out) }},
			{"f16x4", 4, func() { ks.f16x4(x, k, words, &out) }},
			{"bf16x4", 4, func() {
				if ks.bf16x4 != nil {
					ks.bf16x4(x, k, words, &out)
				}
			}},
			{"q8x4", 4, func() { ks.q8x4(x, k, words, scales, &out) }},
			{"q4x4", 4, func() { ks.q4x4(x, k, words[:k/8], scales, &out) }},
			{"q4kx4", 4, func() { ks.q4kx4(x, k, q4k, &out) }},
		}
		for _, kn := range kernels {
			if kn.rows == 4 && (ks.f32x4 == nil || ks.f16x4 == nil || ks.q8x4 == nil || ks.q4x4 == nil || ks.q4kx4 == nil) {
				continue // this set has no x4 kernels: Linear calls its one-row ones
			}
			b.Run(ks.name+"/"+kn.name, func(b *testing.B) {
				for b.Loop() {
					kn.f()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(k*kn.rows), "ns/weight")
			})
		}
	}
	_ = sink
}

// TestFloatRows checks the four-weight-row float kernels of every set that
// has them against float64 sums, at lengths around their step, with rows
// off alignment, and with the four weight rows neighbours or s rows apart
// (Linear's tasks take rows a quarter of the task apart).
func TestFloatRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 21))
	runs := 0
	for _, ks := range archKernels() {
		fr := ks.rows4
		if fr == nil {
			continue
		}
		for _, dt := range []compute.DType{compute.F32, compute.F16, compute.BF16} {
			for _, k := range []int{fr.step, 3 * fr.step, 4096 + fr.step} {
				for _, c := range []struct{ off, s int }{{0, 1}, {1, 1}, {0, 3}, {1, 5}} {
					// x rows k+7 apart; weight rows 0, s, 2s and 3s.
					const ldx = 7
					off, s, rows := c.off, c.s, 3*c.s+1
					x := optest.RandFloats(rng, 3*(k+ldx)+k+off, 1)[off:]
					wf := optest.RandFloats(rng, rows*k, 1)
					words, _, err := compute.Pack(dt, []int{rows, k}, wf)
					if err != nil {
						t.Fatal(err)
					}
					vals := compute.Unpack(dt, []int{rows, k}, words, nil)
					w := &weightRows{dt: dt, k: k, f: vals, words: append(make([]uint32, off), words...)[off:]}
					if dt == compute.F32 {
						w.f = append(make([]float32, off), vals...)[off:]
					}
					var o4 [4]float32
					var o16 [16]float32
					w.dotRows4(fr, x[:k], 0, s, &o4)
					w.dot4Rows4(fr, x, k+ldx, 0, s, &o16)
					runs++
					for r := range 4 {
						for j := range 4 {
							var want, bound float64
							for i := range k {
								p := float64(x[r*(k+ldx)+i]) * float64(vals[j*s*k+i])
								want, bound = want+p, bound+math.Abs(p)
							}
							what := fmt.Sprintf("%s %v k=%d off=%d: x row %d, weight row %d of stride %d", ks.name, dt, k, off, r, j*s, s)
							optest.CheckSums(t, what, o16[4*r+j:4*r+j+1], []float64{want}, []float64{bound}, k)
							if r == 0 {
								optest.CheckSums(t, what+" (one x row)", o4[j:j+1], []float64{want}, []float64{bound}, k)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d multi-row runs", runs)
}

// TestAxpy checks attention's accumulation kernels (dst += a·v, F32 and
// F16 v) of every set against float64, at lengths around their strides.
func TestAxpy(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 40))
	u := math.Ldexp(1, -24)
	for _, ks := range append([]vecKernels{pureGoKernels}, archKernels()...) {
		for _, n := range []int{0, 2, 8, 30, 64, 88, 128, 130} {
			for _, f16 := range []bool{false, true} {
				dst := optest.RandFloats(rng, n, 1)
				v := optest.RandFloats(rng, n, 1)
				words, _, err := compute.Pack(compute.F16, []int{n}, v)
				if err != nil {
					t.Fatal(err)
				}
				if f16 {
					v = compute.Unpack(compute.F16, []int{n}, words, nil)
				}
				a := float32(rng.Float64()*2 - 1)
				got := append([]float32(nil), dst...)
				if f16 {
					ks.axpyF16(got, a, words)
				} else {
					ks.axpy(got, a, v)
				}
				for i := range got {
					want := float64(dst[i]) + float64(a)*float64(v[i])
					tol := 2*u*(math.Abs(float64(dst[i]))+math.Abs(float64(a)*float64(v[i]))) + 1e-30
					if d := math.Abs(float64(got[i]) - want); !(d <= tol) {
						t.Fatalf("%s axpy (f16 %v) n=%d: element %d = %v, want %v", ks.name, f16, n, i, got[i], want)
					}
				}
			}
		}
	}
}

// TestHalves checks every set's float32 → F16 packing against
// compute.Float32ToHalf bit for bit: random bit patterns (NaNs,
// infinities and subnormals among them); at every exponent that a half can
// hold or round into, 256 random values with the bits below the rounding
// point set to a tie, either side of it, zero and random; and the edges of
// its range, at lengths around the kernels' strides.
func TestHalves(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 50))
	var vals []float32
	for range 1 << 16 {
		vals = append(vals, math.Float32frombits(rng.Uint32()))
	}
	// Exponents 102 to 143 run from half's smallest subnormal (2^-24, whose
	// halfway point is 2^-25) to past its largest finite value (65504 <
	// 2^16). A half keeps 10 of float32's 23 mantissa bits, and fewer
	// where it is subnormal (exponents below 113): there the rounding
	// point moves up one bit per exponent, to the implicit bit at 102.
	for e := uint32(102); e <= 143; e++ {
		shift := uint32(13) // the bits below the rounding point
		if e < 113 {
			shift += 113 - e
		}
		mid := uint32(1) << (shift - 1) // a tie
		for range 256 {
			m := rng.Uint32() & 0x7fffff
			for _, low := range []uint32{mid - 1, mid, mid + 1, 0, m & (1<<shift - 1)} {
				// At e = 102 the tie is the implicit bit itself: mid is
				// then outside the mantissa, and the tie is m = 0.
				b := e<<23 | (m&^(1<<shift-1)|low)&0x7fffff
				vals = append(vals, math.Float32frombits(b), math.Float32frombits(b|1<<31))
			}
		}
	}
	for _, f := range []float32{0, 65504, 65519.996, 65520, 0x1p-24, 0x1p-25, 0x1.fffffep-26, 0x1.8p-25, 0x1p-14, 0x1.ffcp-15} {
		vals = append(vals, f, -f)
	}
	vals = append(vals, float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0x7f800001), math.Float32frombits(0xffc00000|0x2345))
	if len(vals)%2 == 1 {
		vals = vals[:len(vals)-1]
	}
	for _, ks := range append([]vecKernels{pureGoKernels}, archKernels()...) {
		got := make([]uint32, len(vals)/2)
		ks.halves(got, vals)
		for i, w := range got {
			for j, h := range []uint16{uint16(w), uint16(w >> 16)} {
				f := vals[2*i+j]
				if want := compute.Float32ToHalf(f); h != want {
					t.Fatalf("%s halves: %#08x (%g) → %#04x, want %#04x", ks.name, math.Float32bits(f), f, h, want)
				}
			}
		}
		// Short lengths exercise the tails and must not write past dst.
		for n := 0; n <= 40; n++ {
			dst := make([]uint32, n+1)
			dst[n] = 0xdeadbeef
			src := vals[100 : 100+2*n]
			ks.halves(dst[:n], src)
			for i := range n {
				want := uint32(compute.Float32ToHalf(src[2*i])) | uint32(compute.Float32ToHalf(src[2*i+1]))<<16
				if dst[i] != want {
					t.Fatalf("%s halves n=%d: word %d = %#08x, want %#08x", ks.name, n, i, dst[i], want)
				}
			}
			if dst[n] != 0xdeadbeef {
				t.Fatalf("%s halves n=%d wrote past its end", ks.name, n)
			}
		}
	}
}

// TestHeadKernels checks attention's kernels over a block of heads
// against the same set's one-head kernels (f16 scaled, axpyF16) bit for
// bit, as Attention's results must not depend on the path: head sizes
// that are multiples of the step, with and without a 64-value main loop,
// and strided scores.
func TestHeadKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 60))
	for _, ks := range append([]vecKernels{pureGoKernels}, archKernels()...) {
		hk := ks.heads
		if hk == nil {
			if strings.HasPrefix(ks.name, "avx") {
				t.Fatalf("set %s has no head kernels", ks.name)
			}
			continue
		}
		// 128 and 144 are multiples of every set's step (8 or 16).
		for _, d := range []int{hk.step, 4 * hk.step, 128, 144} {
			for _, heads := range []int{1, 3, 16} {
				const stride = 7
				q := optest.RandFloats(rng, heads*d, 1)
				kf := optest.RandFloats(rng, heads*d, 1)
				k, _, err := compute.Pack(compute.F16, []int{heads * d}, kf)
				if err != nil {
					t.Fatal(err)
				}
				scale := float32(rng.Float64())
				out := make([]float32, (heads-1)*stride+1)
				hk.dotF16(q, k, d, scale, out, stride)
				p := make([]float32, len(out))
				for h := range heads {
					want := scale * ks.f16(q[h*d:(h+1)*d], k[h*d/2:(h+1)*d/2])
					if got := out[h*stride]; math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("%s dotF16 heads d=%d of %d: head %d = %v, want %v", ks.name, d, heads, h, got, want)
					}
					p[h*stride] = float32(rng.Float64()*2 - 1)
				}
				dst := optest.RandFloats(rng, heads*d, 1)
				want := append([]float32(nil), dst...)
				hk.axpyF16(dst, p, stride, k, d)
				for h := range heads {
					ks.axpyF16(want[h*d:(h+1)*d], p[h*stride], k[h*d/2:(h+1)*d/2])
				}
				for i := range dst {
					if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s axpyF16 heads d=%d of %d: element %d = %v, want %v", ks.name, d, heads, i, dst[i], want[i])
					}
				}
			}
		}
	}
}
