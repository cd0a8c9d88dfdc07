package imageproc

import (
	"errors"
	"image"
	"image/color"
	"image/gif"
	"io"
)

// decodeGIF returns the first frame on the full logical screen, as PIL
// opens a GIF: areas the frame does not cover take the background colour.
// Go's decoder replaces the transparent palette entry with transparent
// black; PIL keeps the colour stored there, which convert("RGB") shows, so
// the stored colour is read back from the file and restored.
func decodeGIF(r io.Reader) (image.Image, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	g, err := gif.DecodeAll(bytesReader(data))
	if err != nil {
		return nil, err
	}
	if len(g.Image) == 0 {
		return nil, errors.New("gif: no frames")
	}
	frame := g.Image[0]
	if idx, c, ok := gifTransparentColour(data); ok && idx < len(frame.Palette) {
		pal := append(color.Palette(nil), frame.Palette...)
		pal[idx] = c
		frame.Palette = pal
	}
	screen := image.Rect(0, 0, g.Config.Width, g.Config.Height)
	if screen.Empty() || frame.Rect == screen {
		return frame, nil
	}
	canvas := image.NewPaletted(screen, frame.Palette)
	if int(g.BackgroundIndex) < len(frame.Palette) {
		for i := range canvas.Pix {
			canvas.Pix[i] = g.BackgroundIndex
		}
	}
	r2 := frame.Rect.Intersect(screen)
	for y := r2.Min.Y; y < r2.Max.Y; y++ {
		for x := r2.Min.X; x < r2.Max.X; x++ {
			canvas.SetColorIndex(x, y, frame.ColorIndexAt(x, y))
		}
	}
	return canvas, nil
}

// gifTransparentColour walks a GIF's blocks up to the first image and
// returns the transparent index of its graphic control extension with the
// colour its palette (local, else global) stores there.
func gifTransparentColour(d []byte) (int, color.RGBA, bool) {
	if len(d) < 13 {
		return 0, color.RGBA{}, false
	}
	tableSize := func(packed byte) int { return 3 << ((packed & 7) + 1) }
	var global []byte
	i := 13
	if d[10]&0x80 != 0 {
		n := tableSize(d[10])
		if i+n > len(d) {
			return 0, color.RGBA{}, false
		}
		global, i = d[i:i+n], i+n
	}
	trans := -1
	for i < len(d) {
		switch d[i] {
		case 0x21: // extension: label, then sub-blocks
			if i+2 > len(d) {
				return 0, color.RGBA{}, false
			}
			if d[i+1] == 0xf9 && i+7 < len(d) && d[i+2] == 4 {
				trans = -1
				if d[i+3]&1 != 0 {
					trans = int(d[i+6])
				}
			}
			i += 2
			for i < len(d) && d[i] != 0 {
				i += int(d[i]) + 1
			}
			i++
		case 0x2c: // the first image descriptor
			if trans < 0 || i+10 > len(d) {
				return 0, color.RGBA{}, false
			}
			table := global
			if packed := d[i+9]; packed&0x80 != 0 {
				n := tableSize(packed)
				if i+10+n > len(d) {
					return 0, color.RGBA{}, false
				}
				table = d[i+10 : i+10+n]
			}
			if 3*trans+3 > len(table) {
				return 0, color.RGBA{}, false
			}
			return trans, color.RGBA{table[3*trans], table[3*trans+1], table[3*trans+2], 255}, true
		default:
			return 0, color.RGBA{}, false
		}
	}
	return 0, color.RGBA{}, false
}
