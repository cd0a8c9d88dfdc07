package imageproc

import "image"

// WebPYCbCrToRGB converts the planes of a lossy WebP (4:2:0, as
// golang.org/x/image/webp returns them) to RGB the way libwebp's default
// decoder does, which is what PIL sees: "fancy" chroma upsampling
// (io_dec.c EmitFancyRGB with upsampling.c's UpsampleRgbLinePair) and
// libwebp's 14-bit fixed-point BT.601 conversion (dsp/yuv.h), in which Y
// is limited-range (16–235). Go's own YCbCr colour model is full-range
// JFIF and would wash such images out.
func WebPYCbCrToRGB(m *image.YCbCr) *RGB {
	if m.Rect.Min != (image.Point{}) {
		m = rebase(m)
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := NewRGB(w, h)
	if w == 0 || h == 0 {
		return out
	}
	if m.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		// Lossy WebP is always 4:2:0; anything else did not come from a
		// WebP decoder, so convert it as a JPEG.
		return YCbCrToRGB(m)
	}
	uvw, uvh := (w+1)/2, (h+1)/2
	row := func(plane []uint8, y int) []uint8 { return plane[y*m.CStride : y*m.CStride+uvw] }
	emit := func(y int, top, cur int, nearTop bool) {
		webpUpsampleRow(m.Y[y*m.YStride:y*m.YStride+w], row(m.Cb, top), row(m.Cr, top),
			row(m.Cb, cur), row(m.Cr, cur), nearTop, out.Pix[y*w*3:(y+1)*w*3])
	}
	// Row 0 mirrors the chroma at the top edge; then each pair of rows
	// 2k-1, 2k lies between chroma rows k-1 and k; an even height ends
	// with a row that mirrors the last chroma row.
	emit(0, 0, 0, true)
	for k := 1; 2*k-1 < h; k++ {
		if k < uvh {
			emit(2*k-1, k-1, k, true)
			if 2*k < h {
				emit(2*k, k-1, k, false)
			}
		} else {
			emit(2*k-1, k-1, k-1, true)
		}
	}
	return out
}

// webpUpsampleRow is one output row of UpsampleRgbLinePair: the row is the
// top one of the pair (nearer the chroma row tu/tv) or the bottom one
// (nearer cu/cv). Weights 9/16, 3/16, 3/16, 1/16 with libwebp's rounding.
func webpUpsampleRow(y, tu, tv, cu, cv []uint8, nearTop bool, dst []uint8) {
	n := len(y)
	put := func(x int, u, v int) {
		yy := int(y[x])
		dst[3*x] = webpClip8(multHi(yy, 19077) + multHi(v, 26149) - 14234)
		dst[3*x+1] = webpClip8(multHi(yy, 19077) - multHi(u, 6419) - multHi(v, 13320) + 8708)
		dst[3*x+2] = webpClip8(multHi(yy, 19077) + multHi(u, 33050) - 17685)
	}
	edge := func(tl, l int) int {
		if nearTop {
			return (3*tl + l + 2) >> 2
		}
		return (3*l + tl + 2) >> 2
	}
	tlu, tlv, lu, lv := int(tu[0]), int(tv[0]), int(cu[0]), int(cv[0])
	put(0, edge(tlu, lu), edge(tlv, lv))
	last := (n - 1) >> 1
	for x := 1; x <= last; x++ {
		tU, tV, cU, cV := int(tu[x]), int(tv[x]), int(cu[x]), int(cv[x])
		pair := func(tl, t, l, c int) (int, int) {
			avg := tl + t + l + c + 8
			d12 := (avg + 2*(t+l)) >> 3
			d03 := (avg + 2*(tl+c)) >> 3
			if nearTop {
				return (d12 + tl) >> 1, (d03 + t) >> 1
			}
			return (d03 + l) >> 1, (d12 + c) >> 1
		}
		u0, u1 := pair(tlu, tU, lu, cU)
		v0, v1 := pair(tlv, tV, lv, cV)
		put(2*x-1, u0, v0)
		put(2*x, u1, v1)
		tlu, tlv, lu, lv = tU, tV, cU, cV
	}
	if n&1 == 0 {
		put(n-1, edge(tlu, lu), edge(tlv, lv))
	}
}

func multHi(v, coeff int) int { return (v * coeff) >> 8 }

// webpClip8 is libwebp's VP8Clip8: 6 fractional bits, clamped to a byte.
func webpClip8(v int) uint8 {
	const mask = (256 << 6) - 1
	if v&^mask == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}
