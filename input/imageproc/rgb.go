package imageproc

import (
	"image"
	"image/color"
)

// RGB is an 8-bit RGB image, three bytes per pixel, rows top to bottom:
// what PIL holds after Image.convert("RGB"). It implements image.Image so
// that it can be shown as is.
type RGB struct {
	Width, Height int
	Pix           []uint8 // len 3*Width*Height
}

// NewRGB allocates a black w×h image.
func NewRGB(w, h int) *RGB {
	return &RGB{Width: w, Height: h, Pix: make([]uint8, 3*w*h)}
}

// ColorModel implements image.Image.
func (m *RGB) ColorModel() color.Model { return color.RGBAModel }

// Bounds implements image.Image.
func (m *RGB) Bounds() image.Rectangle { return image.Rect(0, 0, m.Width, m.Height) }

// At implements image.Image.
func (m *RGB) At(x, y int) color.Color {
	if x < 0 || y < 0 || x >= m.Width || y >= m.Height {
		return color.RGBA{}
	}
	i := (y*m.Width + x) * 3
	return color.RGBA{m.Pix[i], m.Pix[i+1], m.Pix[i+2], 255}
}

// FromImage converts any image to RGB the way PIL's convert("RGB") does:
// alpha is dropped without compositing (a transparent pixel keeps its
// stored colour), palettes are looked up, grey is replicated, 16-bit
// samples keep their high byte. A *image.YCbCr is taken to come from a
// JPEG and is converted as libjpeg does (see YCbCrToRGB); other images
// with premultiplied alpha are un-premultiplied first.
func FromImage(img image.Image) *RGB {
	if m, ok := img.(*RGB); ok {
		return m
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := NewRGB(w, h)
	set := func(x, y int, r, g, bl uint8) {
		i := (y*w + x) * 3
		out.Pix[i], out.Pix[i+1], out.Pix[i+2] = r, g, bl
	}
	switch m := img.(type) {
	case *image.YCbCr:
		return YCbCrToRGB(m)
	case *image.NYCbCrA:
		return YCbCrToRGB(&m.YCbCr)
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[(y)*m.Stride : (y)*m.Stride+4*w]
			for x := 0; x < w; x++ {
				set(x, y, row[4*x], row[4*x+1], row[4*x+2])
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				if row[4*x+3] == 255 {
					set(x, y, row[4*x], row[4*x+1], row[4*x+2])
				} else {
					c := colorRGB(color.RGBA{row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]})
					set(x, y, c[0], c[1], c[2])
				}
			}
		}
	case *image.NRGBA64:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+8*w]
			for x := 0; x < w; x++ {
				set(x, y, row[8*x], row[8*x+2], row[8*x+4])
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				set(x, y, v, v, v)
			}
		}
	case *image.Gray16:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+2*w]
			for x := 0; x < w; x++ {
				v := row[2*x]
				set(x, y, v, v, v)
			}
		}
	case *image.Paletted:
		lut := paletteRGB(m.Palette)
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, idx := range row {
				c := lut[idx]
				set(x, y, c[0], c[1], c[2])
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := colorRGB(img.At(b.Min.X+x, b.Min.Y+y))
				set(x, y, c[0], c[1], c[2])
			}
		}
	}
	return out
}

// paletteRGB resolves a palette to stored colours; indices past the
// palette are black, as PIL pads palettes.
func paletteRGB(p color.Palette) [256][3]uint8 {
	var lut [256][3]uint8
	for i, c := range p {
		if i == 256 {
			break
		}
		lut[i] = colorRGB(c)
	}
	return lut
}

// colorRGB returns a colour's stored (non-premultiplied) RGB.
func colorRGB(c color.Color) [3]uint8 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]uint8{c.R, c.G, c.B}
	case color.NRGBA64:
		return [3]uint8{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8)}
	case color.Gray:
		return [3]uint8{c.Y, c.Y, c.Y}
	case color.Gray16:
		return [3]uint8{uint8(c.Y >> 8), uint8(c.Y >> 8), uint8(c.Y >> 8)}
	}
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]uint8{n.R, n.G, n.B}
}
