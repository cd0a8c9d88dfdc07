package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"glimpse/compute"
	"glimpse/compute/optest"
)

// TestQuantizeBlock8 checks the rounding of x to bytes against its
// definition, computed here in float64: d = max|x| / 127, |x − q·d| ≤ d/2
// (q the nearest integer to x/d), Σx in float32 order, Σq.
func TestQuantizeBlock8(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	tiny := make([]float32, 32)
	tiny[3] = 1e-38 // 127 / 1e-38 overflows float32
	mixed := optest.RandFloats(rng, 32, 1)
	mixed[7] = 0
	cases := []struct {
		name string
		x    []float32
	}{
		{"random", optest.RandFloats(rng, 32, 1)},
		{"large", optest.RandFloats(rng, 32, 3e4)},
		{"small", optest.RandFloats(rng, 32, 1e-20)},
		{"one value", append([]float32{-2.5}, make([]float32, 31)...)},
		{"ties", func() []float32 {
			// max 127 makes d = 1: x/d = k + 0.5 rounds away from zero.
			x := make([]float32, 32)
			x[0] = 127
			for i := 1; i < 32; i++ {
				x[i] = float32(i) - 16.5
			}
			return x
		}()},
		{"with a zero", mixed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := make([]int8, 32)
			d, sum, isum := quantizeBlock8(c.x, q)
			var amax float64
			var wantSum float32
			for _, v := range c.x {
				amax = math.Max(amax, math.Abs(float64(v)))
				wantSum += v
			}
			if want := float32(amax / 127); math.Abs(float64(d)-float64(want)) > float64(want)*1e-7 {
				t.Fatalf("d = %v, want max|x|/127 = %v", d, want)
			}
			if sum != wantSum {
				t.Fatalf("Σx = %v, want %v", sum, wantSum)
			}
			var wantISum int32
			for i, v := range c.x {
				exact := float64(v) / float64(d)
				if e := math.Abs(exact - float64(q[i])); e > 0.5+1e-6 {
					t.Fatalf("x[%d] = %v rounds to %d·%v: %.3g steps away", i, v, q[i], d, e)
				}
				if frac := math.Abs(exact) - math.Floor(math.Abs(exact)); c.name == "ties" && frac == 0.5 &&
					math.Abs(float64(q[i])) != math.Ceil(math.Abs(exact)) {
					t.Fatalf("tie x[%d] = %v rounds to %d, want away from zero", i, v, q[i])
				}
				wantISum += int32(q[i])
			}
			if isum != wantISum {
				t.Fatalf("Σq = %d, want %d", isum, wantISum)
			}
		})
	}

	t.Run("math.Round of x·127/max", func(t *testing.T) {
		// The rounding is ggml's: roundf of x times the float32 inverse
		// scale, ties away from zero. Random blocks over many
		// magnitudes, and values one float32 step either side of ties.
		for range 2000 {
			x := optest.RandFloats(rng, 32, math.Pow(10, rng.Float64()*8-4))
			if rng.IntN(2) == 0 {
				x[0] = 127
				for i := 1; i < 32; i++ {
					x[i] = math.Nextafter32(float32(rng.IntN(254)-127)+0.5, float32(math.Inf(rng.IntN(2)*2-1)))
				}
			}
			q := make([]int8, 32)
			quantizeBlock8(x, q)
			var amax float32
			for _, v := range x {
				amax = float32(math.Max(float64(amax), math.Abs(float64(v))))
			}
			inv := 127 / amax
			for i, v := range x {
				if want := int8(math.Round(float64(v * inv))); q[i] != want {
					t.Fatalf("x[%d] = %v (×%v) rounds to %d, want %d", i, v, inv, q[i], want)
				}
			}
		}
	})
	t.Run("zeros and tiny", func(t *testing.T) {
		for _, x := range [][]float32{make([]float32, 32), tiny} {
			q := make([]int8, 32)
			for i := range q {
				q[i] = 9
			}
			d, _, isum := quantizeBlock8(x, q)
			if d != 0 || isum != 0 || q != nil && q[0] != 0 {
				t.Fatalf("block %v: d = %v, Σq = %d, q[0] = %d; want zeros", x[:4], d, isum, q[0])
			}
		}
	})
	t.Run("not finite", func(t *testing.T) {
		for _, bad := range []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
			x := optest.RandFloats(rng, 32, 1)
			x[5] = bad
			d, _, _ := quantizeBlock8(x, make([]int8, 32))
			if !math.IsNaN(float64(d)) {
				t.Fatalf("block with %v: d = %v, want NaN so that products are NaN", bad, d)
			}
		}
	})
}

// intCase is one integer-path dot product: x rounded to bytes, a packed
// weight row, and the product's value and Σ|terms| in float64, computed
// from the format definitions (compute.Q4KSubBlocks for Q4K,
// compute.Q6KScales and compute.Q6KValue for Q6K).
type intCase struct {
	x           qrow
	w           []uint32
	scales      []float32
	want, bound float64
	terms       int
}

// newIntWeights makes a random weight row of nb blocks of 32 in dt,
// starting off words (and scales) into its slices; Q4K super-blocks get
// finite halves for d and dmin, as TestVecKernels's do.
func newIntWeights(rng *rand.Rand, dt compute.DType, nb, off int) (w []uint32, scales []float32) {
	const bs = compute.BlockSize
	words := map[compute.DType]int{compute.Q8: nb * bs / 4, compute.Q4: nb * bs / 8, compute.Q4K: nb / 8 * compute.Q4KWords, compute.Q6K: nb / 8 * compute.Q6KWords}[dt]
	w = make([]uint32, words+off)[off:]
	for i := range w {
		w[i] = rng.Uint32()
	}
	if dt == compute.Q6K {
		// Every bit of the values and scales random; d a normal half
		// (2^-8 to 2^-7) and the padding zero.
		for s := 0; s < len(w)/compute.Q6KWords; s++ {
			w[s*compute.Q6KWords+52] = 0x1c00 | w[s*compute.Q6KWords+52]&0x3ff
		}
		return w, nil
	}
	if dt == compute.Q4K {
		for s := 0; s < len(w)/compute.Q4KWords; s++ {
			w[s*compute.Q4KWords] = w[s*compute.Q4KWords]&0x03ff03ff | 0x1c001c00
		}
		return w, nil
	}
	scales = make([]float32, nb+off)[off:]
	for i := range scales {
		scales[i] = float32(rng.Float64() * 0.02)
	}
	return w, scales
}

// intWant returns x·w in float64 from the definitions of dt and of the
// rounded x, and Σ|terms|: each block's Σ|n·q| times its scales (kernels
// scale partial sums of a block, lane by lane), and its Σx term. For Q8, kernels may offset
// the weights by 128 (VPDPBUSD multiplies unsigned bytes) and take
// 128·scale·d·Σq back, so those terms count too: 128·|q| for every
// element, twice.
func intWant(dt compute.DType, x qrow, w []uint32, scales []float32) (want, bound float64) {
	const bs = compute.BlockSize
	for b := range len(x.d) {
		var iacc, iabs int64      // Σ n·q and Σ|n·q|
		var scale, offset float64 // value = scale·d·Σ n·q − offset·Σx
		switch dt {
		case compute.Q8:
			for i := range bs {
				e := b*bs + i
				p := int64(int8(w[e/4]>>(8*uint(e%4)))) * int64(x.q[e])
				iacc, iabs = iacc+p, iabs+max(p, -p)
			}
			scale = float64(scales[b])
		case compute.Q4:
			for i := range bs {
				e := b*bs + i
				p := int64(w[e/8]>>(4*uint(e%8))&15) * int64(x.q[e])
				iacc, iabs = iacc+p, iabs+max(p, -p)
			}
			scale, offset = float64(scales[b]), 8*float64(scales[b])
		case compute.Q4K:
			s, j := b/8, b%8
			blk := w[s*compute.Q4KWords : (s+1)*compute.Q4KWords]
			sc, mins := compute.Q4KSubBlocks(blk)
			for i := range bs {
				// Element i of sub-block j: chunk j/2's byte i, low or
				// high nibble.
				byteAt := blk[4+8*(j/2)+i/4] >> (8 * uint(i%4))
				p := int64(byteAt>>(4*uint(j%2))&15) * int64(x.q[b*bs+i])
				iacc, iabs = iacc+p, iabs+max(p, -p)
			}
			scale, offset = float64(sc[j]), float64(mins[j])
		case compute.Q6K:
			// Two groups of 16 with their own scales: fold each
			// group's d·sc into its terms, so that scale is 1.
			s := b / 8
			blk := w[s*compute.Q6KWords : (s+1)*compute.Q6KWords]
			d6, sc := compute.Q6KScales(blk)
			var fsum, fabs, qabs float64
			for i := range bs {
				e := b%8*bs + i
				g := float64(d6) * float64(sc[e/16])
				p := g * float64(int64(compute.Q6KValue(blk, e))-32) * float64(x.q[b*bs+i])
				fsum, fabs = fsum+p, fabs+math.Abs(p)
				qabs += math.Abs(g) * math.Abs(float64(x.q[b*bs+i]))
			}
			dx := float64(x.d[b])
			want += dx * fsum
			// Kernels may hold Σ q·x and 32·Σx apart (unsigned bytes)
			// until their lanes are scaled.
			bound += math.Abs(dx) * (fabs + 2*32*qabs)
			continue
		}
		d := float64(x.d[b])
		want += scale*d*float64(iacc) - offset*float64(x.sum[b])
		// Kernels round partial sums of the block (their lanes), each
		// within scale·d·Σ|n·q| of its part.
		bound += math.Abs(scale*d)*float64(iabs) + math.Abs(offset*float64(x.sum[b]))
		if dt == compute.Q8 {
			// The lanes' partial sums hold 128·q each, whatever Σq.
			var qabs float64
			for _, v := range x.q[b*bs : (b+1)*bs] {
				qabs += math.Abs(float64(v))
			}
			bound += 2 * 128 * math.Abs(scale*d) * qabs
		}
	}
	return want, bound
}

// newIntCase builds a random row of nb blocks of 32, starting off elements
// into its slices.
func newIntCase(rng *rand.Rand, dt compute.DType, nb, off int) *intCase {
	const bs = compute.BlockSize
	xq := quantizeRows(optest.RandFloats(rng, nb*bs, 1), 1, nb*bs)
	r := xq.row(0)
	c := &intCase{x: qrow{
		q:    append(make([]int8, off), r.q...)[off:],
		d:    append(make([]float32, off), r.d...)[off:],
		sum:  append(make([]float32, off), r.sum...)[off:],
		isum: append(make([]int32, off), r.isum...)[off:],
	}}
	qrowsPool.Put(xq)
	c.w, c.scales = newIntWeights(rng, dt, nb, off)
	c.want, c.bound = intWant(dt, c.x, c.w, c.scales)
	c.terms = nb + 4
	return c
}

// TestIntKernels checks the reference integer kernels and every SIMD set's
// against float64 values of the formats' definitions, at lengths around
// the kernels' strides and off alignment.
func TestIntKernels(t *testing.T) {
	sets := []vecKernels{{name: "reference", q8i: dotQ8i, q4i: dotQ4i, q4ki: dotQ4Ki, q6ki: dotQ6Ki}}
	for _, k := range archKernels() {
		if k.q8i != nil || k.q4i != nil || k.q4ki != nil || k.q6ki != nil {
			sets = append(sets, k)
		}
	}
	t.Logf("integer kernel sets: %d (the reference and this processor's)", len(sets))
	rng := rand.New(rand.NewPCG(21, 34))
	runs := 0
	for _, dt := range []compute.DType{compute.Q8, compute.Q4, compute.Q4K, compute.Q6K} {
		blocks := []int{0, 1, 2, 3, 5, 128, 129, 344}
		if dt == compute.Q4K || dt == compute.Q6K {
			blocks = []int{0, 8, 16, 24, 128, 344}
		}
		for _, nb := range blocks {
			for _, off := range []int{0, 1, 3} {
				c := newIntCase(rng, dt, nb, off)
				for _, k := range sets {
					var got float32
					switch {
					case dt == compute.Q8 && k.q8i != nil:
						got = k.q8i(c.x, c.w, c.scales)
					case dt == compute.Q4 && k.q4i != nil:
						got = k.q4i(c.x, c.w, c.scales)
					case dt == compute.Q4K && k.q4ki != nil:
						got = k.q4ki(c.x, c.w)
					case dt == compute.Q6K && k.q6ki != nil:
						got = k.q6ki(c.x, c.w)
					default:
						continue
					}
					runs++
					t.Run(fmt.Sprintf("%s/%v/%d/off%d", k.name, dt, nb, off), func(t *testing.T) {
						optest.CheckSums(t, "integer dot", []float32{got}, []float64{c.want}, []float64{c.bound}, c.terms)
					})
				}
			}
		}
	}
	if runs == 0 {
		t.Fatal("no integer kernel ran")
	}
}

// TestIntKernelsx4 checks the four-row integer kernels against the
// definitions, on rows m..m+3 of six rounded rows.
func TestIntKernelsx4(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 55))
	runs := 0
	for _, k := range archKernels() {
		type x4 struct {
			dt  compute.DType
			run func(x *qrows, m int, w []uint32, scales []float32, out *[4]float32)
		}
		var kernels []x4
		if k.q4kix4 != nil {
			kernels = append(kernels, x4{compute.Q4K, func(x *qrows, m int, w []uint32, _ []float32, out *[4]float32) { k.q4kix4(x, m, w, out) }})
		}
		if k.q8ix4 != nil {
			kernels = append(kernels, x4{compute.Q8, k.q8ix4})
		}
		if k.q6kix4 != nil {
			kernels = append(kernels, x4{compute.Q6K, func(x *qrows, m int, w []uint32, _ []float32, out *[4]float32) { k.q6kix4(x, m, w, out) }})
		}
		for _, kr := range kernels {
			dt, run := kr.dt, kr.run
			blocks := []int{1, 2, 3, 129, 344}
			if dt == compute.Q4K || dt == compute.Q6K {
				blocks = []int{8, 16, 128, 344}
			}
			for _, nb := range blocks {
				const rows = 6
				kk := nb * compute.BlockSize
				xq := quantizeRows(optest.RandFloats(rng, rows*kk, 1), rows, kk)
				w, scales := newIntWeights(rng, dt, nb, 1)
				for m := 0; m+4 <= rows; m++ {
					var got [4]float32
					run(xq, m, w, scales, &got)
					runs++
					for r := range 4 {
						want, bound := intWant(dt, xq.row(m+r), w, scales)
						optest.CheckSums(t, fmt.Sprintf("%s %v x4 %d blocks, row %d of %d", k.name, dt, nb, r, m), got[r:r+1], []float64{want}, []float64{bound}, nb+4)
					}
				}
				func() {
					defer func() {
						if recover() == nil {
							t.Errorf("%s: %v x4 with rows past x's end did not panic", k.name, dt)
						}
					}()
					var out [4]float32
					run(xq, rows-3, w, scales, &out)
				}()
			}
		}
	}
	t.Logf("%d x4 runs", runs)
}

// TestIntKernelsShortSlices checks that the wrappers refuse x rows shorter
// than the weights instead of reading past them.
func TestIntKernelsShortSlices(t *testing.T) {
	for _, k := range archKernels() {
		if k.q8i == nil {
			continue
		}
		short := qrow{q: make([]int8, 31), d: make([]float32, 1), sum: make([]float32, 1), isum: make([]int32, 1)}
		cases := map[string]func(){
			"q8":  func() { k.q8i(short, make([]uint32, 8), make([]float32, 1)) },
			"q4":  func() { k.q4i(short, make([]uint32, 4), make([]float32, 1)) },
			"q4k": func() { k.q4ki(short, make([]uint32, compute.Q4KWords)) },
		}
		if k.q6ki != nil {
			cases["q6k"] = func() { k.q6ki(short, make([]uint32, compute.Q6KWords)) }
		}
		for name, f := range cases {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s %s: no panic with a short x", k.name, name)
					}
				}()
				f()
			}()
		}
	}
}

// TestIntKernelsRows checks the many-weight-row integer kernels (one x
// row against consecutive weight rows) against the definitions, at block
// counts that end the two-block loop on either parity.
func TestIntKernelsRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 71))
	runs := 0
	for _, k := range archKernels() {
		type rowsKernel struct {
			dt  compute.DType
			run func(x qrow, w []uint32, scales []float32, out []float32)
		}
		var kernels []rowsKernel
		if k.q8irows != nil {
			kernels = append(kernels, rowsKernel{compute.Q8, k.q8irows})
		}
		if k.q4irows != nil {
			kernels = append(kernels, rowsKernel{compute.Q4, k.q4irows})
		}
		if k.q4kirows != nil {
			kernels = append(kernels, rowsKernel{compute.Q4K, func(x qrow, w []uint32, _ []float32, out []float32) { k.q4kirows(x, w, out) }})
		}
		if k.q6kirows != nil {
			kernels = append(kernels, rowsKernel{compute.Q6K, func(x qrow, w []uint32, _ []float32, out []float32) { k.q6kirows(x, w, out) }})
		}
		for _, kr := range kernels {
			blocks := []int{1, 2, 3, 129}
			if kr.dt == compute.Q4K || kr.dt == compute.Q6K {
				blocks = []int{8, 16, 344}
			}
			for _, nb := range blocks {
				for _, nrows := range []int{1, 3, 5} {
					c := newIntCase(rng, kr.dt, nb, 1)
					var w []uint32
					var scales []float32
					var rowsW [][]uint32
					var rowsS [][]float32
					for range nrows {
						rw, rs := newIntWeights(rng, kr.dt, nb, 0)
						rowsW, rowsS = append(rowsW, rw), append(rowsS, rs)
						w, scales = append(w, rw...), append(scales, rs...)
					}
					out := make([]float32, nrows)
					kr.run(c.x, w, scales, out)
					runs++
					for r := range nrows {
						want, bound := intWant(kr.dt, c.x, rowsW[r], rowsS[r])
						optest.CheckSums(t, fmt.Sprintf("%s %v rows: %d blocks, row %d of %d", k.name, kr.dt, nb, r, nrows),
							out[r:r+1], []float64{want}, []float64{bound}, nb+4)
					}
					func() {
						defer func() {
							if recover() == nil {
								t.Errorf("%s %v rows: weights of a row and a half did not panic", k.name, kr.dt)
							}
						}()
						kr.run(c.x, w[:len(w)-1], scales, out)
						if kr.dt != compute.Q4K && kr.dt != compute.Q6K {
							kr.run(c.x, w, scales[:len(scales)-1], out)
						}
					}()
				}
			}
		}
	}
	t.Logf("%d rows runs", runs)
}

// BenchmarkCPUQuantizeRows times the rounding of one x row to bytes, done
// once per integer product before its parallel loop (on one core): the
// rows of Vicuna-7B's products, 4096 and 11008 wide.
func BenchmarkCPUQuantizeRows(b *testing.B) {
	for _, k := range []int{4096, 11008} {
		b.Run(fmt.Sprint(k), func(b *testing.B) {
			x := optest.RandFloats(rand.New(rand.NewPCG(3, 3)), k, 1)
			for range b.N {
				qrowsPool.Put(quantizeRows(x, 1, k))
			}
		})
	}
}
