package compute

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// packSerial packs data one block (Q4K, Q6K: one super-block) after another on
// the calling goroutine, in element order: the reference that Pack's split
// over goroutines must reproduce bit for bit.
func packSerial(dt DType, data []float32) (words []uint32, scales []float32) {
	n := len(data)
	words = make([]uint32, PackedWords(dt, n))
	if dt == Q4K {
		for s := 0; s < n/SuperBlockSize; s++ {
			quantizeQ4K(data[s*SuperBlockSize:(s+1)*SuperBlockSize], words[s*Q4KWords:(s+1)*Q4KWords])
		}
		return words, nil
	}
	if dt == Q6K {
		for s := 0; s < n/SuperBlockSize; s++ {
			quantizeQ6K(data[s*SuperBlockSize:(s+1)*SuperBlockSize], words[s*Q6KWords:(s+1)*Q6KWords])
		}
		return words, nil
	}
	if dt == Q8 || dt == Q4 {
		scales = make([]float32, n/BlockSize)
	}
	packRange(dt, data, 0, words, scales)
	return words, scales
}

// TestPackParallelMatchesSerial packs tensors of odd shapes, large enough
// for Pack to split them into several chunks (Q4K: more than 64
// super-blocks; the other formats: more than 4096 blocks of 32), under
// several GOMAXPROCS settings, and checks that the words and scales equal a
// serial pass bit for bit: the split must never change a weight's
// conversion, whatever the machine's core count.
func TestPackParallelMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	gaussian := func(n int) []float32 {
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(rng.NormFloat64())
		}
		// Blocks that take the quantizers' special paths: all zero, all
		// positive, one huge outlier, subnormal-sized values.
		clear(data[:min(n, 32)])
		for i := 32; i < min(n, 64); i++ {
			data[i] = float32(math.Abs(float64(data[i]))) + 2
		}
		if n > 100 {
			data[100] = 3e4
		}
		for i := 128; i < min(n, 160); i++ {
			data[i] *= 1e-30
		}
		return data
	}
	cases := []struct {
		dt    DType
		shape []int
	}{
		{Q4K, []int{1, 256}},
		{Q4K, []int{3, 2304}},
		{Q4K, []int{67, 768}},   // 201 super-blocks: 4 chunks of 64, the last short
		{Q4K, []int{129, 1280}}, // 645 super-blocks
		{Q6K, []int{67, 768}},   // as Q4K: 201 super-blocks
		{Q8, []int{37, 4160}},   // 4810 blocks: 2 chunks, the last short
		{Q8, []int{4099, 96}},   // 12297 blocks
		{Q4, []int{37, 4160}},
		{F16, []int{4097, 33}}, // an odd element count: the last word's high half stays zero
		{F16, []int{3, 5}},
		{BF16, []int{4097, 33}},
		{F32, []int{4099, 33}},
	}
	for _, procs := range []int{1, 2, 3, 7} {
		prev := runtime.GOMAXPROCS(procs)
		for _, c := range cases {
			data := gaussian(NumElements(c.shape))
			wantW, wantS := packSerial(c.dt, data)
			gotW, gotS, err := Pack(c.dt, c.shape, data)
			if err != nil {
				t.Fatalf("GOMAXPROCS %d, %v%v: %v", procs, c.dt, c.shape, err)
			}
			if i := firstDiff(gotW, wantW); i >= 0 {
				t.Errorf("GOMAXPROCS %d, %v%v: %d words, word %d = %#x, serially %d words, %#x",
					procs, c.dt, c.shape, len(gotW), i, at(gotW, i), len(wantW), at(wantW, i))
			}
			gotSB := make([]uint32, len(gotS))
			for i, s := range gotS {
				gotSB[i] = math.Float32bits(s)
			}
			wantSB := make([]uint32, len(wantS))
			for i, s := range wantS {
				wantSB[i] = math.Float32bits(s)
			}
			if i := firstDiff(gotSB, wantSB); i >= 0 {
				t.Errorf("GOMAXPROCS %d, %v%v: %d scales, scale %d bits %#x, serially %d scales, %#x",
					procs, c.dt, c.shape, len(gotSB), i, at(gotSB, i), len(wantSB), at(wantSB, i))
			}
		}
		runtime.GOMAXPROCS(prev)
	}
}

// firstDiff returns the first index where a and b differ (or where the
// shorter ends), or -1 when they are equal.
func firstDiff(a, b []uint32) int {
	if slices.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// at returns s[i], or 0 past its end.
func at(s []uint32, i int) uint32 {
	if i < len(s) {
		return s[i]
	}
	return 0
}

// TestPackInto checks that packing into storage the caller provides, even
// storage holding old values, gives Pack's words and scales, and that
// storage of the wrong size is refused.
func TestPackInto(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	cases := []struct {
		dt            DType
		shape         []int
		words, scales int // the room given; -1: the right amount
		ok            bool
	}{
		{Q4K, []int{3, 512}, -1, -1, true},
		{Q8, []int{5, 96}, -1, -1, true},
		{Q4, []int{2, 64}, -1, -1, true},
		{F16, []int{3, 5}, -1, -1, true},
		{BF16, []int{4, 8}, -1, -1, true},
		{F32, []int{7}, -1, -1, true},
		{Q8, []int{5, 96}, -1, 14, false},    // 15 scales needed
		{Q4K, []int{3, 512}, 215, -1, false}, // 216 words needed
		{F16, []int{3, 5}, 9, -1, false},     // 8 words needed
		{Q8, []int{5, 100}, 125, 15, false},  // rows not a multiple of 32
		{Q4K, []int{1, 300}, 36, -1, false},  // rows not a multiple of 256
	}
	for _, c := range cases {
		n := NumElements(c.shape)
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(rng.NormFloat64())
		}
		nw, ns := c.words, c.scales
		if nw < 0 {
			nw = PackedWords(c.dt, n)
		}
		if ns < 0 {
			ns = PackedScales(c.dt, n)
		}
		words, scales := make([]uint32, nw), make([]float32, ns)
		for i := range words {
			words[i] = 0xdeadbeef // what a reused buffer might hold
		}
		err := PackInto(c.dt, c.shape, data, words, scales)
		if !c.ok {
			if err == nil {
				t.Errorf("%v%v into %d words and %d scales succeeded", c.dt, c.shape, nw, ns)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v%v: %v", c.dt, c.shape, err)
		}
		wantW, wantS := packSerial(c.dt, data)
		if i := firstDiff(words, wantW); i >= 0 {
			t.Errorf("%v%v: word %d = %#x, Pack gives %#x", c.dt, c.shape, i, at(words, i), at(wantW, i))
		}
		if !slices.Equal(scales, wantS) && !(len(scales) == 0 && len(wantS) == 0) {
			t.Errorf("%v%v: scales %v, Pack gives %v", c.dt, c.shape, scales, wantS)
		}
	}
}
