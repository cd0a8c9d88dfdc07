//go:build amd64 && !purego

package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"glimpse/compute"
	"glimpse/compute/optest"
)

// hasAVX2Int reports whether this processor runs qdot_avx2_amd64.s: every
// amd64 kernel set archKernels returns has the AVX2 set's requirements.
var hasAVX2Int = len(archKernels()) > 0

// TestIntKernelsAVX2Extremes checks the AVX2 integer kernels where
// VPMADDUBSW's int16 sums come closest to saturating: Q8 weights of −128
// and 127 against x bytes of ±127 (pairs up to 2·128·127 = 32512), and Q4
// and Q4K nibbles of 15 (and 0) against −127. Random words (TestIntKernels)
// rarely put two such bytes side by side. The results are compared with
// the pure-Go reference kernels, which sum in int32.
func TestIntKernelsAVX2Extremes(t *testing.T) {
	if !hasAVX2Int {
		t.Skip("no AVX2 + FMA + F16C")
	}
	const bs, nb = compute.BlockSize, 24 // 24 blocks: the 4-block loops and 3 Q4K super-blocks
	// x of ±1 in patterns rounds to q = ±127 (d = 1/127) in every block.
	signs := map[string]func(i int) float32{
		"plus":  func(int) float32 { return 1 },
		"minus": func(int) float32 { return -1 },
		"alternating": func(i int) float32 {
			if i%2 == 0 {
				return 1
			}
			return -1
		},
	}
	fills := map[string]uint32{"-128": 0x80808080, "127": 0x7f7f7f7f, "mixed": 0x7f807f80, "15": 0xffffffff, "0": 0}
	for sname, sign := range signs {
		xf := make([]float32, nb*bs)
		for i := range xf {
			xf[i] = sign(i)
		}
		xq := quantizeRows(xf, 1, nb*bs)
		x := xq.row(0)
		for fname, fill := range fills {
			scales := make([]float32, nb)
			for i := range scales {
				scales[i] = 0.5
			}
			check := func(kind string, got, want float32) {
				if math.Abs(float64(got-want)) > 1e-5*math.Abs(float64(want))+1e-6 {
					t.Errorf("%s, weights %s, x %s: AVX2 %v, reference %v", kind, fname, sname, got, want)
				}
			}
			w8 := make([]uint32, nb*bs/4)
			w4 := make([]uint32, nb*bs/8)
			for i := range w8 {
				w8[i] = fill
			}
			for i := range w4 {
				w4[i] = fill
			}
			check("q8", dotQ8iAVX2(x, w8, scales), dotQ8i(x, w8, scales))
			check("q4", dotQ4iAVX2(x, w4, scales), dotQ4i(x, w4, scales))
			wk := make([]uint32, nb/8*compute.Q4KWords)
			for s := 0; s < nb/8; s++ {
				blk := wk[s*compute.Q4KWords : (s+1)*compute.Q4KWords]
				blk[0] = 0x3c003800 // d = 0.5, dmin = 1
				blk[1], blk[2], blk[3] = 0xffffffff, 0x3f3f3f3f, 0xffffffff
				for i := 4; i < len(blk); i++ {
					blk[i] = fill
				}
			}
			check("q4k", dotQ4KiAVX2(x, wk), dotQ4Ki(x, wk))
		}
		qrowsPool.Put(xq)
	}
}

// BenchmarkCPUIntKernelsAVX2 times the AVX2 integer kernels beside the
// VNNI ones (where this processor has them) and the float AVX2 kernels
// (x in float32) that run without either, in ns per weight: over one
// 4096-wide row that stays in cache (the kernel's own speed), and over
// Vicuna-7B's 11008×4096 MLP matrix (what memory allows). Linear picks the
// best set, so BenchmarkCPULinearVec alone never times the AVX2 kernels
// on an AVX-512 VNNI machine. Run with
//
//	go test -run '^$' -bench CPUIntKernelsAVX2 ./compute/cpu/
func BenchmarkCPUIntKernelsAVX2(b *testing.B) {
	if !hasAVX2Int {
		b.Skip("no AVX2 + FMA + F16C")
	}
	const k = 4096
	rng := rand.New(rand.NewPCG(9, 9))
	xf := optest.RandFloats(rng, 4*k, 1)
	xq := quantizeRows(xf, 4, k)
	x := xq.row(0)
	for _, shape := range []struct {
		name string
		rows int
	}{{"row4096", 1}, {"mat11008x4096", 11008}} {
		for _, dt := range []compute.DType{compute.Q8, compute.Q4, compute.Q4K} {
			nb := shape.rows * k / compute.BlockSize
			w, scales := newIntWeights(rng, dt, nb, 0)
			wpr := len(w) / shape.rows // words per row
			kerns := map[string]func(r int) float32{}
			kernsx4 := map[string]func(r int, out *[4]float32){}
			spr := k / compute.BlockSize
			switch dt {
			case compute.Q8:
				kerns["avx2-int"] = func(r int) float32 { return dotQ8iAVX2(x, w[r*wpr:(r+1)*wpr], scales[r*spr:(r+1)*spr]) }
				kerns["avx2-float"] = func(r int) float32 { return dotQ8AVX2(xf[:k], w[r*wpr:(r+1)*wpr], scales[r*spr:(r+1)*spr]) }
				if hasVNNI {
					kerns["vnni"] = func(r int) float32 { return dotQ8VNNI(x, w[r*wpr:(r+1)*wpr], scales[r*spr:(r+1)*spr]) }
				}
			case compute.Q4:
				kerns["avx2-int"] = func(r int) float32 { return dotQ4iAVX2(x, w[r*wpr:(r+1)*wpr], scales[r*spr:(r+1)*spr]) }
				kerns["avx2-float"] = func(r int) float32 { return dotQ4AVX2(xf[:k], w[r*wpr:(r+1)*wpr], scales[r*spr:(r+1)*spr]) }
				if hasVNNI {
					kerns["vnni"] = func(r int) float32 { return dotQ4VNNI(x, w[r*wpr:(r+1)*wpr], scales[r*spr:(r+1)*spr]) }
				}
			case compute.Q4K:
				kerns["avx2-int"] = func(r int) float32 { return dotQ4KiAVX2(x, w[r*wpr:(r+1)*wpr]) }
				kerns["avx2-float"] = func(r int) float32 { return dotQ4KAVX2(xf[:k], w[r*wpr:(r+1)*wpr]) }
				kernsx4["avx2-int-x4"] = func(r int, out *[4]float32) { dotQ4Kx4iAVX2(xq, 0, w[r*wpr:(r+1)*wpr], out) }
				kernsx4["avx2-float-x4"] = func(r int, out *[4]float32) { dotQ4Kx4AVX2(xf, k, w[r*wpr:(r+1)*wpr], out) }
				if hasVNNI {
					kerns["vnni"] = func(r int) float32 { return dotQ4KVNNI(x, w[r*wpr:(r+1)*wpr]) }
					kernsx4["vnni-x4"] = func(r int, out *[4]float32) { dotQ4Kx4VNNI(xq, 0, w[r*wpr:(r+1)*wpr], out) }
				}
			}
			weights := float64(shape.rows * k)
			for _, name := range []string{"avx2-int", "vnni", "avx2-float"} {
				fn, ok := kerns[name]
				if !ok {
					continue
				}
				b.Run(fmt.Sprintf("%s/%v/%s", shape.name, dt, name), func(b *testing.B) {
					var sink float32
					for b.Loop() {
						for r := range shape.rows {
							sink += fn(r)
						}
					}
					benchSink = sink
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/weights, "ns/weight")
				})
			}
			// The x4 kernels: ns per weight and row of x, so that four
			// rows for the price of one reads as a quarter.
			for _, name := range []string{"avx2-int-x4", "vnni-x4", "avx2-float-x4"} {
				fn, ok := kernsx4[name]
				if !ok {
					continue
				}
				b.Run(fmt.Sprintf("%s/%v/%s", shape.name, dt, name), func(b *testing.B) {
					var out [4]float32
					for b.Loop() {
						for r := range shape.rows {
							fn(r, &out)
						}
					}
					benchSink = out[0]
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/weights/4, "ns/weight/row")
				})
			}
		}
	}
	qrowsPool.Put(xq)
}

// benchSink keeps the benchmarked results alive.
var benchSink float32
