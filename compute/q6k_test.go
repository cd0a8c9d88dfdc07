package compute

import (
	"bufio"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// q6kGGMLInputs rebuilds the eight super-blocks testdata/q6k_ggml.c
// quantizes: xorshift32 values in [-1, 1), then one case per super-block.
func q6kGGMLInputs() []float32 {
	state := uint32(2463534242)
	next := func() float32 {
		state ^= state << 13
		state ^= state >> 17
		state ^= state << 5
		return float32(int32(state)) * (1.0 / 2147483648.0)
	}
	x := make([]float32, 8*SuperBlockSize)
	for b := range 8 {
		v := x[b*SuperBlockSize : (b+1)*SuperBlockSize]
		for i := range v {
			u := next()
			switch b {
			case 1:
				v[i] = u * (1.0 / 1024)
			case 2:
				v[i] = float32(u*u) * u
			case 3:
				v[i] = 0
			case 4:
				if i == 77 {
					v[i] = 0.5
				}
			case 5:
				v[i] = float32(math.Abs(float64(u)))
			case 6:
				if i/16 != 3 {
					v[i] = u
				}
			case 7:
				v[i] = u * 1024
			default:
				v[i] = u
			}
		}
	}
	return x
}

// TestQ6KMatchesGGML packs the inputs of testdata/q6k_ggml.c and compares
// every super-block, byte for byte, with llama.cpp's quantize_row_q6_K_ref
// output recorded in testdata/q6k_ggml.hex (random, small, large,
// heavy-tailed and one-signed values, zeros, a lone value, a zero group),
// and the two padding bytes with zero.
func TestQ6KMatchesGGML(t *testing.T) {
	f, err := os.Open("testdata/q6k_ggml.hex")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	words, _, err := Pack(Q6K, []int{8 * SuperBlockSize}, q6kGGMLInputs())
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	names := []string{"random", "small", "heavy-tailed", "zero", "one value", "one sign", "a zero group", "large"}
	b := 0
	for ; sc.Scan(); b++ {
		want, err := hex.DecodeString(sc.Text())
		if err != nil || len(want) != 210 {
			t.Fatalf("line %d of q6k_ggml.hex: %d bytes, %v", b+1, len(want), err)
		}
		blk := words[b*Q6KWords : (b+1)*Q6KWords]
		for i := range 4 * Q6KWords {
			got := uint8(blk[i/4] >> (8 * uint(i%4)))
			w := uint8(0)
			if i < len(want) {
				w = want[i]
			}
			if got != w {
				t.Errorf("super-block %d (%s): byte %d is %#02x, llama.cpp's %#02x", b, names[b], i, got, w)
				break
			}
		}
	}
	if b != 8 {
		t.Fatalf("q6k_ggml.hex has %d super-blocks, want 8", b)
	}
}

// q6kSpecValue decodes element e of a Q6K super-block by following
// llama.cpp's dequantize_row_q6_K loop over bytes: an independent reading
// of the layout to test DequantizeQ6K and Q6KValue against.
func q6kSpecValue(block []uint32, e int) float32 {
	bytes := make([]uint8, 4*Q6KWords)
	for i, w := range block[:Q6KWords] {
		bytes[4*i], bytes[4*i+1], bytes[4*i+2], bytes[4*i+3] = uint8(w), uint8(w>>8), uint8(w>>16), uint8(w>>24)
	}
	d := HalfToFloat32(uint16(bytes[208]) | uint16(bytes[209])<<8)
	for n := 0; n < 256; n += 128 {
		ql, qh, sc := bytes[n/2:], bytes[128+n/4:], bytes[192+n/16:]
		for l := range 32 {
			is := l / 16
			q := [4]int{
				int(ql[l]&0xf|(qh[l]>>0&3)<<4) - 32,
				int(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32,
				int(ql[l]>>4|(qh[l]>>4&3)<<4) - 32,
				int(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32,
			}
			for k := range 4 {
				if n+l+32*k == e {
					return float32(d*float32(int8(sc[is+2*k]))) * float32(q[k])
				}
			}
		}
	}
	panic("element outside the super-block")
}

// TestQ6KDecodeLayout decodes random super-blocks (every value and scale
// bit pattern, a normal d) and compares each element with q6kSpecValue.
func TestQ6KDecodeLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for trial := range 50 {
		block := make([]uint32, Q6KWords)
		for i := range block {
			block[i] = rng.Uint32()
		}
		block[52] = uint32(0x3000 + rng.IntN(0x1000)) // d in [0.125, 2), padding zero
		var got [SuperBlockSize]float32
		DequantizeQ6K(block, &got)
		for e, v := range got {
			if want := q6kSpecValue(block, e); v != want {
				t.Fatalf("trial %d: element %d decodes to %v, want %v", trial, e, v, want)
			}
		}
	}
}

// TestQ6KPack checks Pack's Q6K output on random rows of several scales:
// every value decodes to within half a step (d·|sc|/2) of its input where
// the step's range holds it, the largest group's scale in magnitude is
// −128 (quantize_row_q6_K_ref maps it there exactly), and Unpack gives
// DequantizeQ6K's values.
func TestQ6KPack(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, scale := range []float64{1e-6, 0.02, 1, 300} {
		const n = 4 * SuperBlockSize
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * scale)
		}
		words, scales, err := Pack(Q6K, []int{2, n / 2}, x)
		if err != nil || scales != nil {
			t.Fatalf("Pack: %v, %d scales", err, len(scales))
		}
		got := Unpack(Q6K, []int{2, n / 2}, words, nil)
		for s := range n / SuperBlockSize {
			blk := words[s*Q6KWords : (s+1)*Q6KWords]
			d, sc := Q6KScales(blk)
			var sb [SuperBlockSize]float32
			DequantizeQ6K(blk, &sb)
			if !slices.Contains(sc[:], -128) {
				t.Errorf("scale %g, super-block %d: no group scale at −128 (%v)", scale, s, sc)
			}
			for e, v := range sb {
				i := s*SuperBlockSize + e
				if got[i] != v {
					t.Fatalf("Unpack element %d = %v, DequantizeQ6K %v", i, got[i], v)
				}
				step := math.Abs(float64(d) * float64(sc[e/16]))
				lo, hi := -32*step, 31*step
				if xv := float64(x[i]); xv >= lo && xv <= hi && math.Abs(xv-float64(v)) > step/2*(1+1e-6) {
					t.Errorf("scale %g: element %d = %v decodes to %v, more than half a step (%v) away", scale, i, xv, v, step)
				}
			}
		}
	}
	if _, _, err := Pack(Q6K, []int{2, 128}, make([]float32, 256)); err == nil {
		t.Error("Pack accepted Q6K rows of 128 values")
	}
}

// TestQ6KError checks Q6K's root-mean-square error on Gaussian rows
// against the formats around it on the same data: above Q8's (8 bits per
// 32 values), below Q4K's, and below a stated 0.025σ (6-bit symmetric
// steps over a 16-value group's range give about 0.016σ).
func TestQ6KError(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	shape := []int{40, 4096}
	n := NumElements(shape)
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	rmse := map[DType]float64{}
	for _, dt := range []DType{Q8, Q6K, Q4K} {
		words, scales, err := Pack(dt, shape, data)
		if err != nil {
			t.Fatal(err)
		}
		var se float64
		for i, v := range Unpack(dt, shape, words, scales) {
			se += (float64(v) - float64(data[i])) * (float64(v) - float64(data[i]))
		}
		rmse[dt] = math.Sqrt(se / float64(n))
	}
	t.Logf("RMSE (σ = 1): Q8 %.4f, Q6K %.4f, Q4K %.4f", rmse[Q8], rmse[Q6K], rmse[Q4K])
	if !(rmse[Q8] < rmse[Q6K] && rmse[Q6K] < rmse[Q4K] && rmse[Q6K] < 0.025) {
		t.Errorf("Q6K RMSE %.4f, want between Q8's %.4f and Q4K's %.4f, and below 0.025", rmse[Q6K], rmse[Q8], rmse[Q4K])
	}
}
