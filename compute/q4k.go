package compute

import (
	"math"
)

// Q4K quantization and decoding (the layout is described at the top of
// quant.go). The numerics follow llama.cpp's quantize_row_q4_K_ref and
// dequantize_row_q4_K, so that a Q4K tensor has Q4_K's published error.

// q4kSub is the number of sub-blocks in a super-block.
const q4kSub = SuperBlockSize / BlockSize

// nearestInt rounds to the nearest integer, ties to even, as ggml's
// nearest_int does (its magic-number addition rounds in the FPU's default
// mode), so that ties quantize as they do in llama.cpp.
func nearestInt(f float32) int {
	return int(math.RoundToEven(float64(f)))
}

// quantizeQ4KSub finds the scale and min of one 32-element sub-block with
// 4-bit values, minimising Σ w·(scale·l + min − x)² over the values l, as
// ggml's make_qkx2_quants does with nmax 15, rmin −1, rdelta 0.1 and 20
// steps: start from the range [min(x, 0), max(x)] split into 15 steps, then
// try 21 stretched step counts (14 to 16), each fitting scale and min by
// weighted least squares to the values it rounds to, and keep the best.
// The returned min is the magnitude subtracted (≥ 0), as the format stores
// it.
func quantizeQ4KSub(x, w []float32) (scale, negMin float32) {
	const nmax = 15
	lo, hi := x[0], x[0]
	sumW := w[0]
	sumX := w[0] * x[0]
	for i := 1; i < len(x); i++ {
		lo = min(lo, x[i])
		hi = max(hi, x[i])
		sumW += w[i]
		sumX += w[i] * x[i]
	}
	// The min only ever subtracts, so a block of positive values starts
	// its range at zero (llama.cpp's choice, kept for its error).
	lo = min(lo, 0)
	if hi == lo {
		return 0, -lo
	}
	iscale := nmax / (hi - lo)
	scale = 1 / iscale
	var bestErr float32
	for i, v := range x {
		l := max(0, min(nmax, nearestInt(iscale*(v-lo))))
		d := scale*float32(l) + lo - v
		bestErr += w[i] * d * d
	}
	var laux [BlockSize]int
	for is := 0; is <= 20; is++ {
		iscale := (-1 + 0.1*float32(is) + nmax) / (hi - lo)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := max(0, min(nmax, nearestInt(iscale*(v-lo))))
			laux[i] = l
			fl := float32(l)
			sumL += w[i] * fl
			sumL2 += w[i] * fl * fl
			sumXL += w[i] * fl * v
		}
		det := sumW*sumL2 - sumL*sumL
		if det <= 0 {
			continue
		}
		s := (sumW*sumXL - sumX*sumL) / det
		m := (sumL2*sumX - sumL*sumXL) / det
		if m > 0 {
			// A positive offset cannot be stored: refit the scale alone.
			m = 0
			s = sumXL / sumL2
		}
		var e float32
		for i, v := range x {
			d := s*float32(laux[i]) + m - v
			e += w[i] * d * d
		}
		if e < bestErr {
			bestErr, scale, lo = e, s, m
		}
	}
	return scale, -lo
}

// quantizeQ4K packs one super-block of 256 values into 36 words.
func quantizeQ4K(x []float32, out []uint32) {
	var scales, mins [q4kSub]float32
	var weights [BlockSize]float32
	var maxScale, maxMin float32
	for j := range scales {
		sub := x[j*BlockSize : (j+1)*BlockSize]
		// Weights favour large values, relative to the sub-block's RMS:
		// llama.cpp's choice without an importance matrix.
		var sumX2 float32
		for _, v := range sub {
			sumX2 += v * v
		}
		av := float32(math.Sqrt(float64(sumX2 / BlockSize)))
		for l, v := range sub {
			weights[l] = av + float32(math.Abs(float64(v)))
		}
		scales[j], mins[j] = quantizeQ4KSub(sub, weights[:])
		maxScale = max(maxScale, scales[j])
		maxMin = max(maxMin, mins[j])
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	var sb [12]uint8
	for j := range scales {
		ls := uint8(min(63, nearestInt(invScale*scales[j])))
		lm := uint8(min(63, nearestInt(invMin*mins[j])))
		if j < 4 {
			sb[j] = ls
			sb[j+4] = lm
		} else {
			sb[j+4] = ls&0xf | (lm&0xf)<<4
			sb[j-4] |= ls >> 4 << 6
			sb[j] |= lm >> 4 << 6
		}
	}
	dh, mh := Float32ToHalf(maxScale/63), Float32ToHalf(maxMin/63)
	out[0] = uint32(dh) | uint32(mh)<<16
	for b, v := range sb {
		out[1+b/4] |= uint32(v) << (8 * uint(b%4))
	}
	// Re-quantize every value against the scale and min it will be decoded
	// with (the 6-bit ones), not the searched ones.
	var q [SuperBlockSize]uint8
	d, m := Q4KSubBlocks(out)
	for j := range scales {
		if d[j] == 0 {
			continue // the values stay 0; they decode to −m[j]
		}
		for i := j * BlockSize; i < (j+1)*BlockSize; i++ {
			q[i] = uint8(max(0, min(15, nearestInt((x[i]+m[j])/d[j]))))
		}
	}
	for e := 0; e < SuperBlockSize; e++ {
		b := 32*(e/64) + e%32
		shift := 8*uint(b%4) + 4*uint(e%64/32)
		out[4+b/4] |= uint32(q[e]) << shift
	}
}

// Q4KSubBlocks decodes the eight sub-block scales and mins of one Q4K
// super-block (Q4KWords words): element e of the super-block is
// scale[e/32]·q − min[e/32], each product rounded to float32. The kernels
// use it to scale whole sub-blocks of integer-weighted sums at once.
func Q4KSubBlocks(block []uint32) (scale, minv [q4kSub]float32) {
	d := HalfToFloat32(uint16(block[0]))
	dmin := HalfToFloat32(uint16(block[0] >> 16))
	var sb [12]uint8
	for b := range sb {
		sb[b] = uint8(block[1+b/4] >> (8 * uint(b%4)))
	}
	for j := 0; j < q4kSub; j++ {
		var sc, m uint8
		if j < 4 {
			sc, m = sb[j]&63, sb[j+4]&63
		} else {
			sc = sb[j+4]&0xf | sb[j-4]>>6<<4
			m = sb[j+4]>>4 | sb[j]>>6<<4
		}
		scale[j] = d * float32(sc)
		minv[j] = dmin * float32(m)
	}
	return scale, minv
}

// DequantizeQ4K expands one Q4K super-block (Q4KWords words) into out.
func DequantizeQ4K(block []uint32, out *[SuperBlockSize]float32) {
	d, m := Q4KSubBlocks(block)
	qs := block[4:Q4KWords]
	for e := range out {
		b := 32*(e/64) + e%32
		q := qs[b/4] >> (8*uint(b%4) + 4*uint(e%64/32)) & 15
		j := e / BlockSize
		// The conversion keeps the product from fusing into the
		// subtraction, so every platform rounds as llama.cpp's C does.
		out[e] = float32(d[j]*float32(q)) - m[j]
	}
}
