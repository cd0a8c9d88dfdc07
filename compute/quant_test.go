package compute

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

// halfValue decodes a half from its fields with float64 arithmetic, a
// reference independent of the bit tricks in quant.go.
func halfValue(h uint16) float64 {
	s := 1.0
	if h&0x8000 != 0 {
		s = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0x1f:
		if m != 0 {
			return math.NaN()
		}
		return s * math.Inf(1)
	case 0:
		return s * math.Ldexp(m, -24)
	}
	return s * math.Ldexp(1+m/1024, e-15)
}

func TestQuantHalfToFloat32Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got := float64(HalfToFloat32(h))
		want := halfValue(h)
		if math.IsNaN(want) {
			if !math.IsNaN(got) {
				t.Fatalf("HalfToFloat32(%#04x) = %v, want NaN", h, got)
			}
			continue
		}
		if got != want || math.Signbit(got) != math.Signbit(want) {
			t.Fatalf("HalfToFloat32(%#04x) = %v, want %v", h, got, want)
		}
		// Every half survives the round trip (NaNs become quiet NaNs).
		back := Float32ToHalf(float32(got))
		if back != h {
			t.Fatalf("Float32ToHalf(HalfToFloat32(%#04x)) = %#04x", h, back)
		}
	}
}

// refHalf rounds f to the nearest half, ties to even, by searching the
// ordered positive halves: a reference for Float32ToHalf that shares none of
// its code. Past the largest half the next step up is Inf, which rounding
// treats as if it were 65536 (IEEE 754 overflow rule).
func refHalf(f float32) uint16 {
	v := float64(f)
	sign := uint16(0)
	if math.Signbit(v) {
		sign = 0x8000
		v = -v
	}
	if math.IsNaN(v) {
		panic("refHalf of NaN")
	}
	if math.IsInf(v, 1) {
		return sign | 0x7c00
	}
	val := func(h uint16) float64 {
		if h == 0x7c00 {
			return 65536
		}
		return halfValue(h)
	}
	// The largest h in [0, 0x7c00] with val(h) <= v.
	n := sort.Search(0x7c01, func(i int) bool { return val(uint16(i)) > v })
	lo := uint16(n - 1)
	if lo == 0x7c00 || val(lo) == v {
		return sign | lo
	}
	hi := lo + 1
	dl, dh := v-val(lo), val(hi)-v
	switch {
	case dl < dh:
		return sign | lo
	case dh < dl:
		return sign | hi
	case lo&1 == 0:
		return sign | lo
	}
	return sign | hi
}

// conversionInputs returns float32 values that probe rounding: a strided
// sweep over all bit patterns, and for every value of a 16-bit format (given
// as float32 bits by toBits) the value, its float32 neighbours, and the
// midpoints to the next value with their neighbours.
func conversionInputs(toBits func(h uint16) (uint32, bool)) []float32 {
	var in []float32
	for b := uint64(0); b < 1<<32; b += 65521 {
		in = append(in, math.Float32frombits(uint32(b)))
	}
	add := func(bits uint32) {
		for _, d := range []int32{-1, 0, 1} {
			in = append(in, math.Float32frombits(uint32(int32(bits)+d)))
		}
	}
	for i := 0; i < 1<<16; i++ {
		b, ok := toBits(uint16(i))
		if !ok {
			continue
		}
		add(b)
		nb, ok := toBits(uint16(i + 1))
		if !ok || (i+1)&0x7fff == 0 {
			continue
		}
		mid := (float64(math.Float32frombits(b)) + float64(math.Float32frombits(nb))) / 2
		if m32 := float32(mid); float64(m32) == mid {
			add(math.Float32bits(m32))
		}
	}
	return in
}

func TestQuantFloat32ToHalf(t *testing.T) {
	inputs := conversionInputs(func(h uint16) (uint32, bool) {
		v := halfValue(h)
		if math.IsNaN(v) {
			return 0, false
		}
		if math.IsInf(v, 0) {
			// The midpoint between 65504 and the overflow threshold's
			// "65536" is 65520: probe it.
			return math.Float32bits(float32(math.Copysign(65536, v))), true
		}
		return math.Float32bits(float32(v)), true
	})
	inputs = append(inputs, 65519.996, 65520, -65520, 1e-8, -1e-8, 0x1p-25, 0x1p-25+0x1p-40, 0x3p-25, 5.960464477539063e-08)
	for _, f := range inputs {
		got := Float32ToHalf(f)
		if f != f {
			if got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Fatalf("Float32ToHalf(NaN %#08x) = %#04x, want a NaN", math.Float32bits(f), got)
			}
			continue
		}
		if want := refHalf(f); got != want {
			t.Fatalf("Float32ToHalf(%g = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
	t.Logf("checked %d float32 values", len(inputs))
}

// refBF16 rounds f to the nearest bfloat16 by comparing the two candidates
// around it in float64, ties to even.
func refBF16(f float32) uint16 {
	b := math.Float32bits(f)
	lo := b & 0xffff0000
	if lo == b {
		return uint16(b >> 16)
	}
	val := func(bits uint32) float64 {
		v := float64(math.Float32frombits(bits))
		if math.IsInf(v, 0) {
			return math.Copysign(0x1p128, v) // the overflow rule, as for halves
		}
		return v
	}
	hi := lo + 0x10000
	dl := math.Abs(float64(f) - val(lo))
	dh := math.Abs(val(hi) - float64(f))
	switch {
	case dl < dh:
		return uint16(lo >> 16)
	case dh < dl:
		return uint16(hi >> 16)
	case (lo>>16)&1 == 0:
		return uint16(lo >> 16)
	}
	return uint16(hi >> 16)
}

func TestQuantFloat32ToBF16(t *testing.T) {
	inputs := conversionInputs(func(h uint16) (uint32, bool) {
		b := uint32(h) << 16
		if b&0x7fffffff > 0x7f800000 {
			return 0, false
		}
		return b, true
	})
	inputs = append(inputs, math.MaxFloat32, -math.MaxFloat32)
	for _, f := range inputs {
		got := Float32ToBF16(f)
		if f != f {
			if got&0x7fff != 0x7fc0 || got&0x8000 != uint16(math.Float32bits(f)>>16)&0x8000 {
				t.Fatalf("Float32ToBF16(NaN %#08x) = %#04x, want signed 0x7fc0", math.Float32bits(f), got)
			}
			continue
		}
		if want := refBF16(f); got != want {
			t.Fatalf("Float32ToBF16(%g = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
	// Every bfloat16 but NaN survives the round trip.
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		if f := BF16ToFloat32(h); f == f && Float32ToBF16(f) != h {
			t.Fatalf("Float32ToBF16(BF16ToFloat32(%#04x)) = %#04x", h, Float32ToBF16(f))
		}
	}
}

func TestQuantPackErrors(t *testing.T) {
	tests := []struct {
		name  string
		dt    DType
		shape []int
		n     int
		want  string
	}{
		{"short data", F32, []int{2, 3}, 5, "needs 6 values"},
		{"long data", F16, []int{4}, 5, "needs 4 values"},
		{"negative dim", BF16, []int{-1, 4}, 0, "negative"},
		{"q8 row not multiple of block", Q8, []int{2, 48}, 96, "not a multiple of the block size"},
		{"q4 row not multiple of block", Q4, []int{64, 3}, 192, "not a multiple of the block size"},
		{"q8 scalar", Q8, nil, 1, "not a multiple"},
		{"unknown dtype", DType(9), []int{4}, 4, "unknown tensor type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Pack(tc.dt, tc.shape, make([]float32, tc.n))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Pack(%v, %v, %d values) error = %v, want one containing %q", tc.dt, tc.shape, tc.n, err, tc.want)
			}
		})
	}
}

// TestQuantPackLayout pins the bit layout that the GL shaders decode.
func TestQuantPackLayout(t *testing.T) {
	ramp := func(n int, f func(i int) float32) []float32 {
		d := make([]float32, n)
		for i := range d {
			d[i] = f(i)
		}
		return d
	}
	// Block 0 has absmax 127 (scale 1) and holds the ramp 0, -1, 2, -3, …;
	// block 1 is all zeros (scale 0); block 2 probes ties (±2.5 → ±3).
	q8data := ramp(96, func(i int) float32 {
		switch {
		case i < 32:
			v := float32(i)
			if i%2 == 1 {
				v = -v
			}
			if i == 31 {
				v = -127
			}
			return v
		case i < 64:
			return 0
		case i == 64:
			return 127
		case i == 65:
			return 2.5
		case i == 66:
			return -2.5
		case i == 67:
			return 126.49
		}
		return 0
	})
	tests := []struct {
		name       string
		dt         DType
		shape      []int
		data       []float32
		words      []uint32
		wordsAt    []int // indices of words to check
		scales     []float32
		roundTrips bool
	}{
		{"f32", F32, []int{3}, []float32{1, -2, 0.5}, []uint32{0x3f800000, 0xc0000000, 0x3f000000}, []int{0, 1, 2}, nil, true},
		{"f16 odd count", F16, []int{3}, []float32{1, -2, 65504}, []uint32{0xc0003c00, 0x00007bff}, []int{0, 1}, nil, true},
		{"bf16", BF16, []int{2, 1}, []float32{1, -2}, []uint32{0xc0003f80}, []int{0}, nil, true},
		{"q8", Q8, []int{3, 32}, q8data, []uint32{0xfd02ff00, 0x00000000, 0x7efd037f}, []int{0, 8, 16}, []float32{1, 0, 1}, false},
		{"q4", Q4, []int{1, 32}, ramp(32, func(i int) float32 { return float32(i%15 - 7) }),
			// Elements 0..7 are -7..0 → nibbles 1..8; 8..14 are 1..7 → 9..f;
			// element 15 wraps to -7 → 1.
			[]uint32{0x87654321, 0x1fedcba9}, []int{0, 1}, []float32{1}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			words, scales, err := Pack(tc.dt, tc.shape, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if len(words) != PackedWords(tc.dt, len(tc.data)) {
				t.Fatalf("got %d words, want %d", len(words), PackedWords(tc.dt, len(tc.data)))
			}
			for j, at := range tc.wordsAt {
				if words[at] != tc.words[j] {
					t.Errorf("word %d = %#08x, want %#08x", at, words[at], tc.words[j])
				}
			}
			if !slices.Equal(scales, tc.scales) {
				t.Errorf("scales = %v, want %v", scales, tc.scales)
			}
			back := Unpack(tc.dt, tc.shape, words, scales)
			if tc.roundTrips && !slices.Equal(back, tc.data) {
				t.Errorf("Unpack = %v, want %v", back, tc.data)
			}
		})
	}
}

// TestQuantPackRoundTrip checks, for random data of several shapes, that
// Unpack(Pack(x)) is the scalar conversion of each element (F16, BF16) or
// within half a quantization step of it (Q8, Q4), and that the quantized
// values reproduce the documented formula.
func TestQuantPackRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// The last shape is large enough that Pack splits it over goroutines.
	shapes := [][]int{{32}, {1, 64}, {3, 96}, {5, 2, 32}, {33, 256}, {3, 65568}}
	for _, dt := range []DType{F32, F16, BF16, Q8, Q4} {
		for _, shape := range shapes {
			n := NumElements(shape)
			data := make([]float32, n)
			for i := range data {
				data[i] = float32(rng.NormFloat64()) * float32(math.Pow(10, float64(rng.IntN(5)-2)))
			}
			if n >= 64 {
				clear(data[32:64]) // an all-zero block
			}
			words, scales, err := Pack(dt, shape, data)
			if err != nil {
				t.Fatal(err)
			}
			back := Unpack(dt, shape, words, scales)
			for i, x := range data {
				var want float32
				switch dt {
				case F32:
					want = x
				case F16:
					want = HalfToFloat32(Float32ToHalf(x))
				case BF16:
					want = BF16ToFloat32(Float32ToBF16(x))
				case Q8, Q4:
					qmax := float32(q8Max)
					if dt == Q4 {
						qmax = q4Max
					}
					blk := data[i/BlockSize*BlockSize:][:BlockSize]
					var am float32
					for _, v := range blk {
						am = max(am, float32(math.Abs(float64(v))))
					}
					s := am / qmax
					if scales[i/BlockSize] != s {
						t.Fatalf("%v %v: scale %d = %v, want %v", dt, shape, i/BlockSize, scales[i/BlockSize], s)
					}
					if s != 0 {
						want = float32(math.Round(float64(x/s))) * s
					}
					if math.Abs(float64(back[i]-x)) > float64(s)*0.5001 {
						t.Fatalf("%v %v: element %d = %v dequantizes to %v, more than half a step %v away", dt, shape, i, x, back[i], s)
					}
				}
				if back[i] != want {
					t.Fatalf("%v %v: element %d = %v unpacks to %v, want %v", dt, shape, i, x, back[i], want)
				}
			}
		}
	}
}

// TestQuantUnpackPanics checks that mismatched buffers are caught.
func TestQuantUnpackPanics(t *testing.T) {
	tests := []struct {
		name   string
		dt     DType
		words  int
		scales int
	}{
		{"f16 words", F16, 3, 0},
		{"q8 scales", Q8, 16, 1},
		{"q4 words", Q4, 7, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			Unpack(tc.dt, []int{2, 32}, make([]uint32, tc.words), make([]float32, tc.scales))
		})
	}
}
