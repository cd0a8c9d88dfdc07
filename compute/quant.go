package compute

import (
	"fmt"
	"math"

	"glimpse/compute/internal/parallel"
)

// This file defines the packed weight formats that both backends share, so
// that a tensor packed on the host is bit-for-bit what the GL shaders and the
// CPU kernels read.
//
// Every format packs the elements of a tensor flat, in row-major order, into
// 32-bit words:
//
//   - F32: word i is the bit pattern of element i.
//   - F16, BF16: element i is the 16-bit value in word i/2, in the low half for
//     even i and the high half for odd i (the last word of an odd-sized tensor
//     has a zero high half).
//   - Q8: element i is the int8 in byte i%4 of word i/4 (byte 0 is the least
//     significant). Each block of BlockSize consecutive elements of a row has
//     one float32 scale; the value is float32(q)*scale.
//   - Q4: element i is the 4-bit field i%8 of word i/8, counting from the least
//     significant nibble, holding q+8 for q in [-8, 7]; the value is
//     float32(nibble-8)*scale with one scale per block as for Q8.
//
//   - Q4K: llama.cpp's Q4_K (block_q4_K), byte for byte on a little-endian
//     machine. Each super-block of SuperBlockSize (256) consecutive row
//     elements takes Q4KWords (36) words, 4.5 bits per weight: word 0 holds
//     the float16 super-scale d (low half) and super-min dmin (high half);
//     words 1–3 hold 12 bytes (byte b in byte b%4 of word 1+b/4) packing the
//     eight sub-blocks' 6-bit scale sc[j] and min m[j]: for j < 4, sc[j] is
//     the low 6 bits of byte j and m[j] those of byte j+4; for j ≥ 4, sc[j]
//     is byte j+4's low nibble plus byte j-4's top two bits as bits 4–5, and
//     m[j] byte j+4's high nibble plus byte j's top two bits. Words 4–35 hold
//     128 bytes of 4-bit values q in [0, 15]: element e of the super-block is
//     in byte 32*(e/64) + e%32 of them, in the low nibble when e%64 < 32 and
//     the high nibble otherwise. With j = e/32 the value is
//     float32(d*sc[j])*q - float32(dmin*m[j]).
//   - Q6K: llama.cpp's Q6_K (block_q6_K, 210 bytes) followed by two zero
//     bytes, so that each super-block of SuperBlockSize row elements takes
//     Q6KWords (53) whole words, 6.625 bits per weight (byte b in byte b%4
//     of word b/4). Bytes 0–127 (ql) hold each value's low four bits, bytes
//     128–191 (qh) its top two, bytes 192–207 sixteen int8 scales sc[j],
//     one per 16 elements, and bytes 208–209 the float16 super-scale d.
//     For element e with h = e/128 and r = e%128, the low bits are
//     ql[64h + r%64] >> 4·(r/64) & 15 and the top ones qh[32h + r%32] >>
//     2·(r/32) & 3; together they make q in [0, 63], and the value is
//     float32(d*sc[e/16])*(q-32).
//
// Q8 and Q4 quantize each block symmetrically around zero: scale is the
// block's largest magnitude divided by 127 (Q8) or 7 (Q4), zero for an all-zero
// block, and q = clamp(round(x/scale)) with ties rounded away from zero. The
// rows of Q8 and Q4 tensors (the last dimension) must be a multiple of
// BlockSize, so that no block straddles two rows.
//
// Q4K quantizes as llama.cpp's quantize_row_q4_K_ref does (without an
// importance matrix), so its error is the published Q4_K error: each
// sub-block's scale and min come from a weighted least-squares search over
// 21 candidate scales (quantizeQ4KSub), the eight scales and mins are then
// quantized to 6 bits against the super-block's largest, and every value is
// re-quantized against the 6-bit scale and min it will be decoded with.
// Q6K quantizes as llama.cpp's quantize_row_q6_K_ref does (without an
// importance matrix): each group of 16 takes the best of 19 candidate
// scales by least squares weighted by x² (quantizeQ6KGroup), the sixteen
// scales are rounded to int8 against the largest in magnitude, and every
// value is re-quantized against the scale it will be decoded with.
// Rows of Q4K and Q6K tensors must be a multiple of SuperBlockSize; the
// model loader stores tensors with other row lengths in another format
// (docs/precision.md).

// q8Max and q4Max are the magnitudes a block's absmax maps to.
const (
	q8Max = 127
	q4Max = 7
)

// Q4KWords is the size of one Q4K super-block in 32-bit words (144 bytes,
// llama.cpp's sizeof(block_q4_K)).
const Q4KWords = 36

// PackedWords returns how many 32-bit words a tensor of n elements of dtype
// occupies. For n a whole number of packing units (a word's elements, a Q8/Q4
// block, a Q4K or Q6K super-block) it is also the word offset of element n, which
// is how the backends copy rows.
func PackedWords(dt DType, n int) int {
	switch dt {
	case F32:
		return n
	case F16, BF16:
		return (n + 1) / 2
	case Q8:
		return (n + 3) / 4
	case Q4:
		return (n + 7) / 8
	case Q4K:
		return (n + SuperBlockSize - 1) / SuperBlockSize * Q4KWords
	case Q6K:
		return (n + SuperBlockSize - 1) / SuperBlockSize * Q6KWords
	}
	panic(fmt.Sprintf("compute: PackedWords of unknown dtype %v", dt))
}

// checkPackShape validates shape for dtype and returns the element count.
func checkPackShape(dt DType, shape []int) (int, error) {
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("tensor shape %v has a negative dimension", shape)
		}
	}
	n := NumElements(shape)
	switch dt {
	case F32, F16, BF16:
	case Q8, Q4:
		k := 1
		if len(shape) > 0 {
			k = shape[len(shape)-1]
		}
		if k%BlockSize != 0 {
			return 0, fmt.Errorf("cannot store a tensor of shape %v as %v: its rows (%d values) are not a multiple of the block size %d", shape, dt, k, BlockSize)
		}
	case Q4K, Q6K:
		k := 1
		if len(shape) > 0 {
			k = shape[len(shape)-1]
		}
		if k%SuperBlockSize != 0 {
			return 0, fmt.Errorf("cannot store a tensor of shape %v as %v: its rows (%d values) are not a multiple of the super-block size %d", shape, dt, k, SuperBlockSize)
		}
	default:
		return 0, fmt.Errorf("unknown tensor type %v", dt)
	}
	return n, nil
}

// Pack converts float32 data of the given shape to dtype's packed layout
// (described at the top of quant.go). scales is nil except for Q8 and Q4,
// where it holds one float32 per block of BlockSize row elements
// (len(data)/BlockSize entries); Q4K and Q6K keep theirs inside the words. Pack
// returns an error when len(data) does not match shape, when a dimension is
// negative, when dtype is unknown, or when a Q8/Q4 row length is not a
// multiple of BlockSize (Q4K, Q6K: SuperBlockSize).
func Pack(dt DType, shape []int, data []float32) (words []uint32, scales []float32, err error) {
	n, err := checkPackShape(dt, shape)
	if err != nil {
		return nil, nil, err
	}
	if len(data) != n {
		return nil, nil, fmt.Errorf("tensor of shape %v needs %d values, got %d", shape, n, len(data))
	}
	words = make([]uint32, PackedWords(dt, n))
	if s := PackedScales(dt, n); s > 0 {
		scales = make([]float32, s)
	}
	packInto(dt, n, data, words, scales)
	return words, scales, nil
}

// PackInto is Pack into storage the caller provides: words of
// PackedWords(dt, n) and scales of PackedScales(dt, n) for the n elements
// of shape (the model loader packs into memory outside the Go heap, which
// the CPU engine then reads in place). It overwrites all of both, and gives
// the same words and scales as Pack. It returns Pack's errors, and one
// when a length does not match.
func PackInto(dt DType, shape []int, data []float32, words []uint32, scales []float32) error {
	n, err := checkPackShape(dt, shape)
	if err != nil {
		return err
	}
	if len(data) != n {
		return fmt.Errorf("tensor of shape %v needs %d values, got %d", shape, n, len(data))
	}
	if len(words) != PackedWords(dt, n) || len(scales) != PackedScales(dt, n) {
		return fmt.Errorf("a %v tensor of shape %v packs into %d words and %d scales, got room for %d and %d",
			dt, shape, PackedWords(dt, n), PackedScales(dt, n), len(words), len(scales))
	}
	// The formats OR their fields into words.
	clear(words)
	packInto(dt, n, data, words, scales)
	return nil
}

// packInto packs n checked elements into zeroed words and scales of the
// right lengths.
func packInto(dt DType, n int, data []float32, words []uint32, scales []float32) {
	if dt == Q6K {
		// As Q4K: a search per group, one super-block per unit of work.
		parallel.For(n/SuperBlockSize, 64, func(s0, s1 int) {
			for s := s0; s < s1; s++ {
				quantizeQ6K(data[s*SuperBlockSize:(s+1)*SuperBlockSize], words[s*Q6KWords:(s+1)*Q6KWords])
			}
		})
		return
	}
	if dt == Q4K {
		// The search costs a few hundred operations per weight: worth
		// every core, one super-block per unit of work. Each super-block
		// is quantized on its own into its own words, so the split over
		// goroutines never changes the result (pack_parallel_test.go).
		parallel.For(n/SuperBlockSize, 64, func(s0, s1 int) {
			for s := s0; s < s1; s++ {
				quantizeQ4K(data[s*SuperBlockSize:(s+1)*SuperBlockSize], words[s*Q4KWords:(s+1)*Q4KWords])
			}
		})
		return
	}
	// Checkpoints hold billions of weights: pack word ranges in parallel.
	// Chunks are whole blocks, so no two goroutines write the same word.
	blocks := (n + BlockSize - 1) / BlockSize
	parallel.For(blocks, 1<<12, func(b0, b1 int) {
		packRange(dt, data[b0*BlockSize:min(b1*BlockSize, n)], b0*BlockSize, words, scales)
	})
}

// packRange packs data, elements [start, start+len(data)) of a tensor, into
// words and scales. start is a multiple of BlockSize.
func packRange(dt DType, data []float32, start int, words []uint32, scales []float32) {
	switch dt {
	case F32:
		for j, v := range data {
			words[start+j] = math.Float32bits(v)
		}
	case F16:
		for j, v := range data {
			i := start + j
			words[i/2] |= uint32(Float32ToHalf(v)) << (16 * uint(i&1))
		}
	case BF16:
		for j, v := range data {
			i := start + j
			words[i/2] |= uint32(Float32ToBF16(v)) << (16 * uint(i&1))
		}
	case Q8:
		for b := 0; b < len(data)/BlockSize; b++ {
			blk := data[b*BlockSize : (b+1)*BlockSize]
			s := blockScale(blk, q8Max)
			scales[start/BlockSize+b] = s
			for j, v := range blk {
				q := quantize(v, s, -q8Max, q8Max)
				i := start + b*BlockSize + j
				words[i/4] |= uint32(uint8(int8(q))) << (8 * uint(i&3))
			}
		}
	case Q4:
		for b := 0; b < len(data)/BlockSize; b++ {
			blk := data[b*BlockSize : (b+1)*BlockSize]
			s := blockScale(blk, q4Max)
			scales[start/BlockSize+b] = s
			for j, v := range blk {
				q := quantize(v, s, -8, q4Max)
				i := start + b*BlockSize + j
				words[i/8] |= uint32(q+8) << (4 * uint(i&7))
			}
		}
	}
}

// blockScale returns absmax(blk)/qmax, the Q8/Q4 scale of one block.
func blockScale(blk []float32, qmax float32) float32 {
	var m float32
	for _, v := range blk {
		if a := float32(math.Abs(float64(v))); a > m {
			m = a
		}
	}
	return m / qmax
}

// quantize returns clamp(round(v/scale), lo, hi), rounding ties away from
// zero; a zero scale (all-zero block) and NaN give 0.
func quantize(v, scale float32, lo, hi int) int {
	if scale == 0 {
		return 0
	}
	r := math.Round(float64(v / scale))
	switch {
	case r != r:
		return 0
	case r < float64(lo):
		return lo
	case r > float64(hi):
		return hi
	}
	return int(r)
}

// Unpack is the inverse of Pack: it expands packed words (and, for Q8 and Q4,
// the per-block scales) of a tensor of the given shape back to float32. It
// panics when the lengths of words or scales do not match shape, which means
// the caller mixed up tensors.
func Unpack(dt DType, shape []int, words []uint32, scales []float32) []float32 {
	n := NumElements(shape)
	if len(words) != PackedWords(dt, n) {
		panic(fmt.Sprintf("compute: Unpack %v shape %v: got %d words, want %d", dt, shape, len(words), PackedWords(dt, n)))
	}
	if (dt == Q8 || dt == Q4) && len(scales) != n/BlockSize {
		panic(fmt.Sprintf("compute: Unpack %v shape %v: got %d scales, want %d", dt, shape, len(scales), n/BlockSize))
	}
	out := make([]float32, n)
	unpackRange(dt, words, scales, 0, out)
	return out
}

// unpackRange expands len(out) elements starting at element start. For Q8 and
// Q4, start and len(out) need not be block-aligned.
func unpackRange(dt DType, words []uint32, scales []float32, start int, out []float32) {
	switch dt {
	case F32:
		for j := range out {
			out[j] = math.Float32frombits(words[start+j])
		}
	case F16:
		for j := range out {
			i := start + j
			out[j] = halfTable[uint16(words[i/2]>>(16*uint(i&1)))]
		}
	case BF16:
		for j := range out {
			i := start + j
			out[j] = BF16ToFloat32(uint16(words[i/2] >> (16 * uint(i&1))))
		}
	case Q8:
		for j := range out {
			i := start + j
			out[j] = float32(int8(words[i/4]>>(8*uint(i&3)))) * scales[i/BlockSize]
		}
	case Q4:
		for j := range out {
			i := start + j
			out[j] = float32(int(words[i/8]>>(4*uint(i&7))&15)-8) * scales[i/BlockSize]
		}
	case Q4K:
		var sb [SuperBlockSize]float32
		for j := 0; j < len(out); {
			i := start + j
			s := i / SuperBlockSize
			DequantizeQ4K(words[s*Q4KWords:(s+1)*Q4KWords], &sb)
			j += copy(out[j:], sb[i%SuperBlockSize:])
		}
	case Q6K:
		var sb [SuperBlockSize]float32
		for j := 0; j < len(out); {
			i := start + j
			s := i / SuperBlockSize
			DequantizeQ6K(words[s*Q6KWords:(s+1)*Q6KWords], &sb)
			j += copy(out[j:], sb[i%SuperBlockSize:])
		}
	default:
		panic(fmt.Sprintf("compute: unpack of unknown dtype %v", dt))
	}
}

// Float32ToHalf converts f to IEEE binary16, rounding to nearest even.
// Magnitudes that round above the largest half (65504) become ±Inf,
// magnitudes below half the smallest subnormal (2^-25) become ±0, and NaN
// stays a (quiet) NaN with the sign kept.
func Float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00 | uint16(man>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // the biased half exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half (or zero): the value is man24 * 2^(exp-150) and a
		// subnormal half counts units of 2^-24, so drop 14-e bits.
		if e < -10 {
			return sign
		}
		man |= 0x800000
		shift := uint(14 - e)
		h := man >> shift
		rem := man & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	// A carry out of the mantissa bumps the exponent, and out of the largest
	// exponent gives 0x7c00, Inf: both are the right rounding.
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}

// HalfToFloat32 widens an IEEE binary16 value to float32 (exactly).
func HalfToFloat32(h uint16) float32 {
	return halfTable[h]
}

// halfTable holds the float32 value of every half: a table load is cheaper
// than decoding the fields.
var halfTable = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = halfToFloat32Slow(uint16(i))
	}
	return &t
}()

// halfToFloat32Slow decodes a half from its fields.
func halfToFloat32Slow(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		// Zero or subnormal: man * 2^-24, exact in float32.
		v := float32(man) * (1.0 / (1 << 24))
		return math.Float32frombits(sign | math.Float32bits(v))
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// Float32ToBF16 converts f to bfloat16 (the upper 16 bits of a float32),
// rounding to nearest even as PyTorch does. NaN becomes the quiet NaN 0x7fc0
// (sign kept); magnitudes that round past the largest bfloat16 become ±Inf.
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16)&0x8000 | 0x7fc0
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// BF16ToFloat32 widens a bfloat16 value to float32 (exactly).
func BF16ToFloat32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}
