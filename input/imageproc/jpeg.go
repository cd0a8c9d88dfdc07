package imageproc

import "image"

// libjpeg's fixed-point YCbCr→RGB tables (jdcolor.c, build_ycc_rgb_table):
// 16 fractional bits, constants rounded to nearest.
var (
	crR, cbB [256]int32
	crG, cbG [256]int32
)

const yccScaleBits = 16

func init() {
	fix := func(x float64) int32 { return int32(x*(1<<yccScaleBits) + 0.5) }
	const half = 1 << (yccScaleBits - 1)
	for i := 0; i < 256; i++ {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + half) >> yccScaleBits
		cbB[i] = (fix(1.77200)*x + half) >> yccScaleBits
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + half
	}
}

func rangeLimit(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// YCbCrToRGB converts a decoded JPEG's planes to RGB the way libjpeg(-turbo)
// does with its default settings, which is what PIL, and so transformers,
// sees: chroma subsampled 2× horizontally and/or vertically is upsampled
// with libjpeg's "fancy" triangular filter (jdsample.c: h2v1, h1v2 and h2v2
// fancy upsampling, edges replicated), other ratios by replication, and the
// colours converted with libjpeg's fixed-point tables (jdcolor.c).
// Go's image/jpeg instead repeats chroma samples and rounds differently,
// which on noisy photos differs from PIL by about 10 levels on average.
func YCbCrToRGB(m *image.YCbCr) *RGB {
	if m.Rect.Min != (image.Point{}) {
		m = rebase(m)
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := NewRGB(w, h)
	if w == 0 || h == 0 {
		return out
	}
	cb := upsampleChroma(m, m.Cb)
	cr := upsampleChroma(m, m.Cr)
	for y := 0; y < h; y++ {
		yrow := m.Y[y*m.YStride:]
		for x := 0; x < w; x++ {
			yy := int32(yrow[x])
			cbv, crv := cb[y*w+x], cr[y*w+x]
			i := (y*w + x) * 3
			out.Pix[i] = rangeLimit(yy + crR[crv])
			out.Pix[i+1] = rangeLimit(yy + ((cbG[cbv] + crG[crv]) >> yccScaleBits))
			out.Pix[i+2] = rangeLimit(yy + cbB[cbv])
		}
	}
	return out
}

// chromaFactors returns how many luma samples one chroma sample covers.
func chromaFactors(r image.YCbCrSubsampleRatio) (hf, vf int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 2, 1
	case image.YCbCrSubsampleRatio420:
		return 2, 2
	case image.YCbCrSubsampleRatio440:
		return 1, 2
	case image.YCbCrSubsampleRatio411:
		return 4, 1
	case image.YCbCrSubsampleRatio410:
		return 4, 2
	}
	return 1, 1
}

// upsampleChroma returns a full-resolution w×h copy of one chroma plane.
func upsampleChroma(m *image.YCbCr, plane []uint8) []uint8 {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	hf, vf := chromaFactors(m.SubsampleRatio)
	// libjpeg's downsampled_width/height: ceil(size / factor). Go's planes
	// hold at least that many valid samples.
	cw, ch := (w+hf-1)/hf, (h+vf-1)/vf
	in := make([][]uint8, ch)
	for y := range in {
		off := y * m.CStride
		in[y] = plane[off : off+cw]
	}
	// Each upsampler writes factor× the chroma size, which may exceed the
	// image by one column or row; crop afterwards.
	ow, oh := cw*hf, ch*vf
	out := make([]uint8, ow*oh)
	switch {
	case hf == 1 && vf == 1:
		for y := 0; y < ch; y++ {
			copy(out[y*ow:], in[y])
		}
	case hf == 2 && vf == 1:
		for y := 0; y < ch; y++ {
			h2v1Fancy(in[y], out[y*ow:(y+1)*ow])
		}
	case hf == 2 && vf == 2:
		for y := 0; y < ch; y++ {
			above, below := in[max(y-1, 0)], in[min(y+1, ch-1)]
			h2v2Fancy(in[y], above, out[(2*y)*ow:(2*y+1)*ow])
			h2v2Fancy(in[y], below, out[(2*y+1)*ow:(2*y+2)*ow])
		}
	case hf == 1 && vf == 2:
		for y := 0; y < ch; y++ {
			above, below := in[max(y-1, 0)], in[min(y+1, ch-1)]
			for x := 0; x < cw; x++ {
				out[(2*y)*ow+x] = uint8((3*int(in[y][x]) + int(above[x]) + 1) >> 2)
				out[(2*y+1)*ow+x] = uint8((3*int(in[y][x]) + int(below[x]) + 2) >> 2)
			}
		}
	default: // libjpeg's int_upsample: plain replication
		for y := 0; y < oh; y++ {
			src := in[y/vf]
			for x := 0; x < ow; x++ {
				out[y*ow+x] = src[x/hf]
			}
		}
	}
	if ow == w && oh == h {
		return out
	}
	cropped := make([]uint8, w*h)
	for y := 0; y < h; y++ {
		copy(cropped[y*w:(y+1)*w], out[y*ow:y*ow+w])
	}
	return cropped
}

// h2v1Fancy is libjpeg's h2v1_fancy_upsample for one row: each output is
// 3/4 of the nearer input plus 1/4 of the further one, with alternating
// rounding biases; the ends are copied.
func h2v1Fancy(in, out []uint8) {
	n := len(in)
	if n == 1 {
		out[0], out[1] = in[0], in[0]
		return
	}
	out[0] = in[0]
	out[1] = uint8((3*int(in[0]) + int(in[1]) + 2) >> 2)
	for i := 1; i < n-1; i++ {
		v := 3 * int(in[i])
		out[2*i] = uint8((v + int(in[i-1]) + 1) >> 2)
		out[2*i+1] = uint8((v + int(in[i+1]) + 2) >> 2)
	}
	out[2*n-2] = uint8((3*int(in[n-1]) + int(in[n-2]) + 1) >> 2)
	out[2*n-1] = in[n-1]
}

// h2v2Fancy is one output row of libjpeg's h2v2_fancy_upsample: near is
// the chroma row this output row lies in, far the neighbouring row (above
// for the upper output row, below for the lower; the image's first and
// last rows stand in for themselves). Weights 9/16, 3/16, 3/16, 1/16.
func h2v2Fancy(near, far, out []uint8) {
	n := len(near)
	col := func(i int) int { return 3*int(near[i]) + int(far[i]) }
	this := col(0)
	if n == 1 {
		out[0] = uint8((this*4 + 8) >> 4)
		out[1] = uint8((this*4 + 7) >> 4)
		return
	}
	next := col(1)
	out[0] = uint8((this*4 + 8) >> 4)
	out[1] = uint8((this*3 + next + 7) >> 4)
	last := this
	this = next
	for i := 1; i < n-1; i++ {
		next = col(i + 1)
		out[2*i] = uint8((this*3 + last + 8) >> 4)
		out[2*i+1] = uint8((this*3 + next + 7) >> 4)
		last, this = this, next
	}
	out[2*n-2] = uint8((this*3 + last + 8) >> 4)
	out[2*n-1] = uint8((this*4 + 7) >> 4)
}

// rebase copies a sub-image into planes that start at the origin, so the
// upsamplers can index chroma rows from zero.
func rebase(m *image.YCbCr) *image.YCbCr {
	r := m.Rect
	n := image.NewYCbCr(image.Rect(0, 0, r.Dx(), r.Dy()), m.SubsampleRatio)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			n.Y[n.YOffset(x-r.Min.X, y-r.Min.Y)] = m.Y[m.YOffset(x, y)]
			ci, co := n.COffset(x-r.Min.X, y-r.Min.Y), m.COffset(x, y)
			n.Cb[ci], n.Cr[ci] = m.Cb[co], m.Cr[co]
		}
	}
	return n
}
