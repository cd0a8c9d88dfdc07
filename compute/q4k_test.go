package compute

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// q4kSpecValue decodes element e of a Q4K super-block by reading the bit
// fields exactly as quant.go's format comment states them, byte by byte:
// an independent reading of the layout to test the decoder against.
func q4kSpecValue(block []uint32, e int) float32 {
	bytes := make([]uint8, 4*Q4KWords)
	for i, w := range block[:Q4KWords] {
		bytes[4*i], bytes[4*i+1], bytes[4*i+2], bytes[4*i+3] = uint8(w), uint8(w>>8), uint8(w>>16), uint8(w>>24)
	}
	d := HalfToFloat32(uint16(bytes[0]) | uint16(bytes[1])<<8)
	dmin := HalfToFloat32(uint16(bytes[2]) | uint16(bytes[3])<<8)
	sb := bytes[4:16]
	j := e / 32
	var sc, m uint8
	if j < 4 {
		sc, m = sb[j]&63, sb[j+4]&63
	} else {
		sc = sb[j+4]&15 | (sb[j-4]>>6)<<4
		m = sb[j+4]>>4 | (sb[j]>>6)<<4
	}
	qb := bytes[16+32*(e/64)+e%32]
	q := qb & 15
	if e%64 >= 32 {
		q = qb >> 4
	}
	return float32(d*float32(sc))*float32(q) - dmin*float32(m)
}

// TestQ4KDecodeLayout decodes hand-made super-blocks (every scale, min and
// value bit pattern exercised) and compares each element with the format's
// definition read independently.
func TestQ4KDecodeLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 50; trial++ {
		block := make([]uint32, Q4KWords)
		// A normal d and dmin (halves 0x3000–0x3fff: 0.125 to 2).
		block[0] = uint32(0x3000+rng.IntN(0x1000)) | uint32(0x3000+rng.IntN(0x1000))<<16
		for i := 1; i < Q4KWords; i++ {
			block[i] = rng.Uint32()
		}
		var got [SuperBlockSize]float32
		DequantizeQ4K(block, &got)
		for e, v := range got {
			if want := q4kSpecValue(block, e); v != want {
				t.Fatalf("trial %d: element %d decodes to %v, want %v", trial, e, v, want)
			}
		}
	}
}

// TestQ4KPack checks Pack's Q4K output on random rows: every value is the
// nearest representable one to its input unless the input lies outside
// the sub-block's range [−min, 15·scale − min] (then it is clamped to an
// end), and the root-mean-square error is below both symmetric Q4's on the
// same data and a stated 0.09 of the data's standard deviation (4-bit
// asymmetric steps of a Gaussian block's range give about 0.075σ).
func TestQ4KPack(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, shape := range [][]int{{256}, {3, 512}, {40, 4096}} {
		n := NumElements(shape)
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(rng.NormFloat64())
		}
		clear(data[32:64])                  // an all-zero sub-block
		for i := 64; i < 96 && i < n; i++ { // an all-positive one
			data[i] = float32(math.Abs(float64(data[i]))) + 1
		}
		words, scales, err := Pack(Q4K, shape, data)
		if err != nil {
			t.Fatal(err)
		}
		if scales != nil || len(words) != n/SuperBlockSize*Q4KWords {
			t.Fatalf("%v: %d words and %d scales, want %d and none", shape, len(words), len(scales), n/SuperBlockSize*Q4KWords)
		}
		back := Unpack(Q4K, shape, words, nil)
		var se, sq4 float64
		for s := 0; s < n/SuperBlockSize; s++ {
			block := words[s*Q4KWords : (s+1)*Q4KWords]
			d, m := Q4KSubBlocks(block)
			for e := 0; e < SuperBlockSize; e++ {
				i := s*SuperBlockSize + e
				x, j := data[i], e/BlockSize
				if want := q4kSpecValue(block, e); back[i] != want {
					t.Fatalf("%v: element %d unpacks to %v, the format says %v", shape, i, back[i], want)
				}
				lo, hi := -float64(m[j]), 15*float64(d[j])-float64(m[j])
				xc := math.Max(lo, math.Min(hi, float64(x)))
				if diff := math.Abs(float64(back[i]) - xc); diff > 0.5001*float64(d[j])+1e-6 {
					t.Fatalf("%v: element %d = %v decodes to %v, more than half a step %v from %v", shape, i, x, back[i], d[j], xc)
				}
				se += (float64(back[i]) - float64(x)) * (float64(back[i]) - float64(x))
			}
		}
		w4, s4, _ := Pack(Q4, shape, data)
		for i, v := range Unpack(Q4, shape, w4, s4) {
			sq4 += (float64(v) - float64(data[i])) * (float64(v) - float64(data[i]))
		}
		rmse, rmse4 := math.Sqrt(se/float64(n)), math.Sqrt(sq4/float64(n))
		t.Logf("%v: Q4K RMSE %.4f, Q4 RMSE %.4f (σ = 1)", shape, rmse, rmse4)
		if rmse > 0.09 || rmse >= rmse4 {
			t.Errorf("%v: Q4K RMSE %.4f, want below 0.09 and below Q4's %.4f", shape, rmse, rmse4)
		}
	}
}

// TestQ4KUnpackRange checks that unaligned ranges decode as the whole
// tensor does (Read of a view, Embedding rows).
func TestQ4KUnpackRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	data := make([]float32, 3*512)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	words, _, err := Pack(Q4K, []int{3, 512}, data)
	if err != nil {
		t.Fatal(err)
	}
	all := Unpack(Q4K, []int{3, 512}, words, nil)
	for _, r := range [][2]int{{0, 1}, {5, 300}, {255, 2}, {700, 836}} {
		out := make([]float32, r[1])
		unpackRange(Q4K, words, nil, r[0], out)
		for i, v := range out {
			if v != all[r[0]+i] {
				t.Fatalf("range %v: element %d = %v, want %v", r, i, v, all[r[0]+i])
			}
		}
	}
}

// TestQ4KPackErrors checks the row-length rule.
func TestQ4KPackErrors(t *testing.T) {
	for _, shape := range [][]int{{2, 128}, {1408}, {4, 32}} {
		_, _, err := Pack(Q4K, shape, make([]float32, NumElements(shape)))
		if err == nil || !strings.Contains(err.Error(), "not a multiple of the super-block size 256") {
			t.Errorf("Pack(Q4K, %v) error = %v, want the super-block rule", shape, err)
		}
	}
}
