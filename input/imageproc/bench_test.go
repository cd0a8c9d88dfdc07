package imageproc

import (
	"bytes"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"testing"
)

// benchJPEG is a 12-megapixel (4000×3000) phone-sized photo of noise.
func benchJPEG(b *testing.B) []byte {
	b.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4000, 3000))
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkDecodeJPEG12MP(b *testing.B) {
	data := benchJPEG(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := DecodeBytes(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPreprocess12MP(b *testing.B) {
	img, _, err := DecodeBytes(benchJPEG(b))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Preprocess(img, fixtureSettings); err != nil {
			b.Fatal(err)
		}
	}
}
