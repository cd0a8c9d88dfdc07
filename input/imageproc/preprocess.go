package imageproc

import (
	"fmt"
	"image"

	"glimpse/checkpoint/config"
)

// Preprocess turns an image into pixel values as BlipImageProcessor does
// in transformers 5.17: convert to RGB, resize to the configured size with
// the configured filter (Transformers arithmetic), multiply by RescaleFactor, subtract Mean and divide by Std. The
// result is channel-major [3, Height, Width] float32.
func Preprocess(img image.Image, s config.ImageProcessor) ([]float32, error) {
	rgb := FromImage(img)
	if rgb.Width <= 0 || rgb.Height <= 0 {
		return nil, fmt.Errorf("the image has no pixels (%d×%d)", rgb.Width, rgb.Height)
	}
	if s.DoResize && (rgb.Width != s.Width || rgb.Height != s.Height) {
		var err error
		rgb, err = Resize(rgb, s.Width, s.Height, Filter(s.Resample), Transformers)
		if err != nil {
			return nil, err
		}
	}
	w, h := rgb.Width, rgb.Height
	if w != s.Width || h != s.Height {
		return nil, fmt.Errorf("the image is %d×%d but the model needs %d×%d and resizing is off", w, h, s.Width, s.Height)
	}
	out := make([]float32, 3*w*h)
	for c := 0; c < 3; c++ {
		// One table per channel: every byte value maps to one float, which
		// is also what makes the arithmetic identical for every pixel.
		var lut [256]float32
		for v := range lut {
			x := float64(v)
			if s.DoRescale {
				x *= s.RescaleFactor
			}
			if s.DoNormalize {
				x = (x - s.Mean[c]) / s.Std[c]
			}
			lut[v] = float32(x)
		}
		plane := out[c*w*h : (c+1)*w*h]
		for i := range plane {
			plane[i] = lut[rgb.Pix[3*i+c]]
		}
	}
	return out, nil
}
