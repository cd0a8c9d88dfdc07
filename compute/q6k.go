package compute

import "math"

// Q6K quantization and decoding (the layout is described at the top of
// quant.go). The numerics follow llama.cpp's quantize_row_q6_K_ref and
// dequantize_row_q6_K, so that a Q6K tensor has Q6_K's published error:
// Q4_K_M, the mix model.Q4 copies, stores its most sensitive tensors in it.

// Q6KWords is the size of one Q6K super-block in 32-bit words: llama.cpp's
// block_q6_K (210 bytes) and two zero bytes, so that super-blocks stay
// word-aligned.
const Q6KWords = 53

// q6kGroup is the number of elements that share one Q6K scale.
const q6kGroup = 16

// groupMaxEps is ggml's GROUP_MAX_EPS: a group (or super-block) whose
// largest magnitude is below it quantizes to zeros.
const groupMaxEps = 1e-15

// quantizeQ6KGroup is ggml's make_qx_quants with n 16, nmax 32 and
// rmse_type 1 (weights x²): the scale of one group of 16 values with
// 6-bit values l in [−32, 31], the best of 19 candidate step counts by
// weighted least squares. It writes each value's l+32 to L (later
// overwritten wherever the group's stored scale is not zero).
func quantizeQ6KGroup(x []float32, L []uint8) float32 {
	const nmax = 32
	var maxv, amax float32
	for _, v := range x {
		if av := float32(math.Abs(float64(v))); av > amax {
			amax, maxv = av, v
		}
	}
	if amax < groupMaxEps {
		clear(L[:len(x)])
		return 0
	}
	// sums fits scale against the values candidate iscale rounds x to;
	// the conversions round every product as ggml's C does (no fused
	// multiply-add), so every platform chooses the same scale.
	sums := func(iscale float32, store bool) (sumlx, suml2 float32) {
		for i, v := range x {
			l := max(-nmax, min(nmax-1, nearestInt(iscale*v)))
			if store {
				L[i] = uint8(l + nmax)
			}
			w := float32(v * v)
			fl := float32(l)
			sumlx += float32(float32(w*v) * fl)
			suml2 += float32(float32(w*fl) * fl)
		}
		return sumlx, suml2
	}
	iscale := -nmax / maxv
	sumlx, suml2 := sums(iscale, true)
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := float32(scale * sumlx)
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale := -(nmax + float32(0.1*float32(is))) / maxv
		sumlx, suml2 := sums(iscale, false)
		if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
			sums(iscale, true)
			scale = sumlx / suml2
			best = float32(scale * sumlx)
		}
	}
	return scale
}

// quantizeQ6K packs one super-block of 256 values into Q6KWords words
// (zeroed by the caller), as quantize_row_q6_K_ref does: each group's
// scale by quantizeQ6KGroup, the sixteen scales rounded to int8 against
// the largest in magnitude (which maps to −128), and every value
// re-quantized against the scale it will be decoded with.
func quantizeQ6K(x []float32, out []uint32) {
	var scales [SuperBlockSize / q6kGroup]float32
	var L [SuperBlockSize]uint8
	var maxScale, maxAbs float32
	for j := range scales {
		scales[j] = quantizeQ6KGroup(x[j*q6kGroup:(j+1)*q6kGroup], L[j*q6kGroup:])
		if a := float32(math.Abs(float64(scales[j]))); a > maxAbs {
			maxAbs, maxScale = a, scales[j]
		}
	}
	if maxAbs < groupMaxEps {
		return // every byte zero, d included
	}
	iscale := -128 / maxScale
	dh := Float32ToHalf(1 / iscale)
	d := HalfToFloat32(dh)
	var sc [SuperBlockSize / q6kGroup]int8
	for j := range sc {
		sc[j] = int8(min(127, nearestInt(iscale*scales[j])))
		dj := float32(d * float32(sc[j]))
		if dj == 0 {
			continue
		}
		for i := j * q6kGroup; i < (j+1)*q6kGroup; i++ {
			L[i] = uint8(max(-32, min(31, nearestInt(x[i]/dj))) + 32)
		}
	}
	var b [4 * Q6KWords]uint8
	ql, qh := b[0:128], b[128:192]
	for h := 0; h < 2; h++ {
		for l := 0; l < 32; l++ {
			e := 128*h + l
			ql[64*h+l] = L[e]&15 | (L[e+64]&15)<<4
			ql[64*h+l+32] = L[e+32]&15 | (L[e+96]&15)<<4
			qh[32*h+l] = L[e]>>4 | L[e+32]>>4<<2 | L[e+64]>>4<<4 | L[e+96]>>4<<6
		}
	}
	for j, s := range sc {
		b[192+j] = uint8(s)
	}
	b[208], b[209] = uint8(dh), uint8(dh>>8)
	for i := range out[:Q6KWords] {
		out[i] = uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24
	}
}

// Q6KScales decodes the sixteen group scales of one Q6K super-block
// (Q6KWords words): element e is scale[e/16]·(q − 32), the product
// rounded to float32. d·sc is exact in float32 (an 11-bit half times an
// 8-bit integer), so kernels may also scale integer sums by sc first and
// by d after.
func Q6KScales(block []uint32) (d float32, sc [SuperBlockSize / q6kGroup]int8) {
	for j := range sc {
		sc[j] = int8(block[48+j/4] >> (8 * uint(j%4)))
	}
	return HalfToFloat32(uint16(block[52])), sc
}

// Q6KValue returns the 6-bit value q in [0, 63] of element e of one Q6K
// super-block; the element is d·sc[e/16]·(q − 32).
func Q6KValue(block []uint32, e int) uint32 {
	h, r := e/128, e%128
	lb := 64*h + r%64
	low := block[lb/4] >> (8*uint(lb%4) + 4*uint(r/64)) & 15
	hb := 128 + 32*h + r%32
	high := block[hb/4] >> (8*uint(hb%4) + 2*uint(r/32)) & 3
	return low | high<<4
}

// DequantizeQ6K expands one Q6K super-block (Q6KWords words) into out.
func DequantizeQ6K(block []uint32, out *[SuperBlockSize]float32) {
	d, sc := Q6KScales(block)
	for e := range out {
		// The conversion keeps d·sc from fusing into the product, as
		// llama.cpp's (d·sc)·q rounds.
		out[e] = float32(d*float32(sc[e/q6kGroup])) * float32(int(Q6KValue(block, e))-32)
	}
}
