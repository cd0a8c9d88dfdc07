package imageproc

import (
	"fmt"
	"math"
)

// Filter is a resampling filter, numbered as PIL numbers them (and as image
// processor configs store them in "resample").
type Filter int

// The filters of PIL's ImagingResample. Nearest neighbour is not one of
// them (PIL handles it elsewhere) and is not supported.
const (
	Lanczos  Filter = 1
	Bilinear Filter = 2
	Bicubic  Filter = 3
	Box      Filter = 4
	Hamming  Filter = 5
)

type kernel struct {
	fn      func(x float64) float64
	support float64
}

var kernels = map[Filter]kernel{
	Box:      {boxFilter, 0.5},
	Bilinear: {bilinearFilter, 1},
	Hamming:  {hammingFilter, 1},
	Bicubic:  {bicubicFilter, 2},
	Lanczos:  {lanczosFilter, 3},
}

func boxFilter(x float64) float64 {
	if x > -0.5 && x <= 0.5 {
		return 1
	}
	return 0
}

func bilinearFilter(x float64) float64 {
	x = math.Abs(x)
	if x < 1 {
		return 1 - x
	}
	return 0
}

func hammingFilter(x float64) float64 {
	x = math.Abs(x)
	if x == 0 {
		return 1
	}
	if x >= 1 {
		return 0
	}
	x *= math.Pi
	// PIL writes the constants as C floats: 0.54f and 0.46f.
	return math.Sin(x) / x * (float64(float32(0.54)) + float64(float32(0.46))*math.Cos(x))
}

// bicubicFilter is the Keys cubic with a = -0.5, as PIL uses.
func bicubicFilter(x float64) float64 {
	const a = -0.5
	x = math.Abs(x)
	if x < 1 {
		return ((a+2)*x-(a+3))*x*x + 1
	}
	if x < 2 {
		return (((x-5)*x+8)*x - 4) * a
	}
	return 0
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

func lanczosFilter(x float64) float64 {
	if -3 <= x && x < 3 {
		return sinc(x) * sinc(x/3)
	}
	return 0
}

// Arithmetic selects whose fixed-point resampling Resize reproduces. Both
// compute the same antialiased filter weights in float64 and resample
// horizontally then vertically, rounding and clipping to bytes after each
// pass; they differ in how many fractional bits the integer weights keep.
type Arithmetic int

const (
	// Transformers is what transformers 5.17's BlipImageProcessor runs:
	// torchvision's resize on uint8 tensors, whose antialiased CPU kernels
	// (a port of Pillow-SIMD) store weights as int16 with, per pass, the
	// most fractional bits (at most 22) that keep the largest weight below
	// 2^15. It reproduces the fixtures' pixel values exactly. torchvision
	// has such kernels for bilinear and bicubic only; other filters use
	// PIL's arithmetic.
	Transformers Arithmetic = iota
	// PIL is Pillow's ImagingResample for 8-bit images: 22 fractional bits.
	// It differs from Transformers by one level on a few pixels.
	PIL
)

// pilPrecision is PIL's fixed-point precision for 8-bit images: 32 bits
// less 8 for the result and 2 for the overflow of negative lobes.
const pilPrecision = 32 - 8 - 2

// coeffs are one pass's integer weights: for output index i, input
// indices start[i] … start[i]+count[i]-1 with weights k[i*ksize:].
type coeffs struct {
	ksize        int
	start, count []int
	k            []int32
	precision    uint
}

// precompute ports PIL's precompute_coeffs (which torch's
// _compute_indices_min_size_weights_aa mirrors): the filter is stretched by
// the scale when shrinking (antialiasing) and each output's weights are
// normalised to sum to one in float64. The weights are then rounded to
// fixed point as the chosen arithmetic does (normalize_coeffs_8bpc in PIL,
// _compute_index_ranges_int16_weights in torch).
func precompute(inSize, outSize int, kern kernel, a Arithmetic) coeffs {
	scale := float64(inSize) / float64(outSize)
	filterscale := math.Max(scale, 1)
	support := kern.support * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := coeffs{ksize: ksize, start: make([]int, outSize), count: make([]int, outSize), k: make([]int32, outSize*ksize)}
	w := make([]float64, outSize*ksize)
	wmax := 0.0
	for xx := 0; xx < outSize; xx++ {
		center := (float64(xx) + 0.5) * scale
		ss := 1 / filterscale
		// C's (int) cast truncates toward zero, as Go's conversion does.
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		k := w[xx*ksize : xx*ksize+xmax]
		ww := 0.0
		for x := range k {
			k[x] = kern.fn((float64(x+xmin) - center + 0.5) * ss)
			ww += k[x]
		}
		for x := range k {
			if ww != 0 {
				k[x] /= ww
			}
			wmax = math.Max(wmax, k[x])
		}
		c.start[xx], c.count[xx] = xmin, xmax
	}
	c.precision = pilPrecision
	if a == Transformers {
		for c.precision = 0; c.precision < 22; c.precision++ {
			if int(0.5+wmax*float64(int64(1)<<(c.precision+1))) >= 1<<15 {
				break
			}
		}
	}
	one := float64(int64(1) << c.precision)
	for i, v := range w {
		if v < 0 {
			c.k[i] = int32(-0.5 + v*one)
		} else {
			c.k[i] = int32(0.5 + v*one)
		}
	}
	return c
}

// clip8 takes a fixed-point sum back to a byte, as PIL's clip8 lookup does.
func (c *coeffs) clip8(ss int32) uint8 {
	v := ss >> c.precision
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// Resize resamples img to w×h with the given filter and arithmetic (see
// Arithmetic): a horizontal pass rounded and clipped to bytes, then a
// vertical pass, each skipped when its size does not change, with the
// filter widened by the scale factor when shrinking.
func Resize(img *RGB, w, h int, f Filter, a Arithmetic) (*RGB, error) {
	kern, ok := kernels[f]
	if !ok {
		return nil, fmt.Errorf("resampling filter %d is not supported (use bicubic, bilinear, lanczos, box or hamming)", f)
	}
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("cannot resize to %d×%d", w, h)
	}
	if img.Width <= 0 || img.Height <= 0 {
		return nil, fmt.Errorf("cannot resize an empty %d×%d image", img.Width, img.Height)
	}
	if f != Bicubic && f != Bilinear {
		a = PIL
	}
	cur := img
	if w != img.Width {
		cur = resampleHorizontal(cur, w, precompute(img.Width, w, kern, a))
	}
	if h != img.Height {
		cur = resampleVertical(cur, h, precompute(img.Height, h, kern, a))
	}
	if cur == img {
		cur = &RGB{Width: img.Width, Height: img.Height, Pix: append([]uint8(nil), img.Pix...)}
	}
	return cur, nil
}

func resampleHorizontal(in *RGB, w int, c coeffs) *RGB {
	out := NewRGB(w, in.Height)
	half := int32(1) << (c.precision - 1)
	for y := 0; y < in.Height; y++ {
		row := in.Pix[y*in.Width*3 : (y+1)*in.Width*3]
		dst := out.Pix[y*w*3 : (y+1)*w*3]
		for xx := 0; xx < w; xx++ {
			k := c.k[xx*c.ksize : xx*c.ksize+c.count[xx]]
			src := row[c.start[xx]*3:]
			ss0, ss1, ss2 := half, half, half
			for x, kx := range k {
				ss0 += int32(src[x*3]) * kx
				ss1 += int32(src[x*3+1]) * kx
				ss2 += int32(src[x*3+2]) * kx
			}
			dst[xx*3], dst[xx*3+1], dst[xx*3+2] = c.clip8(ss0), c.clip8(ss1), c.clip8(ss2)
		}
	}
	return out
}

func resampleVertical(in *RGB, h int, c coeffs) *RGB {
	out := NewRGB(in.Width, h)
	stride := in.Width * 3
	half := int32(1) << (c.precision - 1)
	for yy := 0; yy < h; yy++ {
		k := c.k[yy*c.ksize : yy*c.ksize+c.count[yy]]
		base := c.start[yy] * stride
		dst := out.Pix[yy*stride : (yy+1)*stride]
		for i := 0; i < stride; i++ {
			ss := half
			for y, ky := range k {
				ss += int32(in.Pix[base+y*stride+i]) * ky
			}
			dst[i] = c.clip8(ss)
		}
	}
	return out
}
