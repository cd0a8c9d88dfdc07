package imageproc

import (
	"math"
	"path/filepath"
	"testing"

	"glimpse/checkpoint/config"
	"glimpse/checkpoint/safetensors"
)

const fixtureImages = "../../../shared/fixtures/images"

// fixtureSettings are the processor settings in images.json, which both
// tiny models' processor_config.json also carry.
var fixtureSettings = config.ImageProcessor{Width: 224, Height: 224, DoResize: true, Resample: config.ResampleBicubic,
	DoRescale: true, RescaleFactor: 0.00392156862745098, DoNormalize: true,
	Mean: [3]float64{0.48145466, 0.4578275, 0.40821073}, Std: [3]float64{0.26862954, 0.26130258, 0.27577711},
	DoConvertRGB: true}

// TestPixelValuesMatchTransformers compares the whole pipeline with the
// processor output transformers produced for each fixture image. The
// limits are the issue's; in fact every byte matches, so only float32
// rounding of the normalization remains (exact below).
func TestPixelValuesMatchTransformers(t *testing.T) {
	ref, err := safetensors.Open(filepath.Join(fixtureImages, "pixel_values.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	cases := []struct {
		image        string
		maxAbs, mean float64 // tolerances in normalized units
	}{
		{"shapes.png", 0.04, 0.001},
		{"alpha.png", 0.04, 0.001},
		{"palette.png", 0.04, 0.001},
		{"tiny.png", 0.04, 0.001},
		{"gray.jpg", 0.06, 0.002},
		{"noise.jpg", 0.06, 0.002},
	}
	for _, c := range cases {
		t.Run(c.image, func(t *testing.T) {
			want, err := ref.Float32(c.image + ".slow")
			if err != nil {
				t.Fatal(err)
			}
			img, _, err := DecodeFile(filepath.Join(fixtureImages, c.image))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Preprocess(img, fixtureSettings)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d values, want %d", len(got), len(want))
			}
			var maxAbs, sum float64
			diffLevels := 0
			for i := range got {
				d := math.Abs(float64(got[i] - want[i]))
				maxAbs = math.Max(maxAbs, d)
				sum += d
				if d > 1e-5 {
					diffLevels++
				}
			}
			mean := sum / float64(len(got))
			t.Logf("%s: max abs diff %.5f, mean abs diff %.6f, %d of %d values differ", c.image, maxAbs, mean, diffLevels, len(got))
			if diffLevels > 0 {
				t.Errorf("%s: %d values differ by more than float32 rounding", c.image, diffLevels)
			}
			if maxAbs > c.maxAbs || mean > c.mean {
				t.Errorf("%s: max %.5f (limit %.3f), mean %.6f (limit %.4f)", c.image, maxAbs, c.maxAbs, mean, c.mean)
			}
		})
	}
}
