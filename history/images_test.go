package history

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

func TestImageFormatsAndThumbnails(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 600, 300))
	for y := range 300 {
		for x := range 600 {
			src.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	encode := func(f func(*bytes.Buffer) error) []byte {
		var buf bytes.Buffer
		if err := f(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	webp, err := os.ReadFile(filepath.Join("testdata", "gopher.webp"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		data          []byte
		format        string
		width, height int
		thumbW        int
		thumbH        int
		thumbFormat   string
	}{
		{"png", encode(func(b *bytes.Buffer) error { return png.Encode(b, src) }), "png", 600, 300, 256, 128, "jpeg"},
		{"jpeg", encode(func(b *bytes.Buffer) error { return jpeg.Encode(b, src, nil) }), "jpeg", 600, 300, 256, 128, "jpeg"},
		{"gif", encode(func(b *bytes.Buffer) error { return gif.Encode(b, src, nil) }), "gif", 600, 300, 256, 128, "jpeg"},
		{"bmp", encode(func(b *bytes.Buffer) error { return bmp.Encode(b, src) }), "bmp", 600, 300, 256, 128, "jpeg"},
		{"tiff", encode(func(b *bytes.Buffer) error { return tiff.Encode(b, src, nil) }), "tiff", 600, 300, 256, 128, "jpeg"},
		{"webp", webp, "webp", 0, 0, 0, 0, ""}, // sizes checked against the decoder below
		{"transparent png keeps a png thumbnail", fixture(t, "alpha.png"), "png", 0, 0, 0, 0, "png"},
		{"tall grayscale jpeg", fixture(t, "gray.jpg"), "jpeg", 0, 0, 0, 0, "jpeg"},
		{"small image is not enlarged", fixture(t, "tiny.png"), "png", 16, 9, 16, 9, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := image.DecodeConfig(bytes.NewReader(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			p, err := prepareImage(Image{Name: tt.name, Data: tt.data})
			if err != nil {
				t.Fatal(err)
			}
			if p.format != tt.format || p.width != cfg.Width || p.height != cfg.Height {
				t.Errorf("format %s %d×%d, want %s %d×%d", p.format, p.width, p.height, tt.format, cfg.Width, cfg.Height)
			}
			if tt.width != 0 && (p.width != tt.width || p.height != tt.height) {
				t.Errorf("size %d×%d, want %d×%d", p.width, p.height, tt.width, tt.height)
			}
			thumb, tfmt, err := image.Decode(bytes.NewReader(p.thumb))
			if err != nil {
				t.Fatalf("thumbnail does not decode: %v", err)
			}
			if tfmt != p.tfmt || (tt.thumbFormat != "" && tfmt != tt.thumbFormat) {
				t.Errorf("thumbnail is %s, recorded %s, want %s", tfmt, p.tfmt, tt.thumbFormat)
			}
			tb := thumb.Bounds()
			if tt.thumbW != 0 && (tb.Dx() != tt.thumbW || tb.Dy() != tt.thumbH) {
				t.Errorf("thumbnail %d×%d, want %d×%d", tb.Dx(), tb.Dy(), tt.thumbW, tt.thumbH)
			}
			// Whatever the input, the thumbnail fits the box, touches it
			// (unless the image is smaller) and keeps the aspect ratio.
			longest := max(tb.Dx(), tb.Dy())
			if longest != min(ThumbSize, max(cfg.Width, cfg.Height)) {
				t.Errorf("thumbnail %d×%d for a %d×%d image", tb.Dx(), tb.Dy(), cfg.Width, cfg.Height)
			}
			ratio := float64(cfg.Width) / float64(cfg.Height)
			if got := float64(tb.Dx()) / float64(tb.Dy()); got/ratio < 0.95 || got/ratio > 1.05 {
				t.Errorf("aspect ratio %.3f became %.3f", ratio, got)
			}
		})
	}
}

// FuzzPrepareImage feeds arbitrary bytes to the image pipeline: it must
// return an error or a thumbnail, never panic.
func FuzzPrepareImage(f *testing.F) {
	f.Add(pngImage(3, 2, 1))
	f.Add([]byte("GIF89a"))
	f.Add([]byte("II*\x00"))
	f.Add([]byte("BM"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8L"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := prepareImage(Image{Data: data})
		if err == nil && len(p.thumb) == 0 {
			t.Error("no error and no thumbnail")
		}
	})
}

// TestPrepareImageSurvivesCorruption damages valid files of every format
// (flipped bytes, truncation) and checks each comes back as an image or an
// error, never a panic; FuzzPrepareImage explores further under -fuzz.
func TestPrepareImageSurvivesCorruption(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 13)
	}
	webp, err := os.ReadFile(filepath.Join("testdata", "gopher.webp"))
	if err != nil {
		t.Fatal(err)
	}
	valid := map[string][]byte{"webp": webp}
	for name, enc := range map[string]func(*bytes.Buffer) error{
		"png":  func(b *bytes.Buffer) error { return png.Encode(b, src) },
		"jpeg": func(b *bytes.Buffer) error { return jpeg.Encode(b, src, nil) },
		"gif":  func(b *bytes.Buffer) error { return gif.Encode(b, src, nil) },
		"bmp":  func(b *bytes.Buffer) error { return bmp.Encode(b, src) },
		"tiff": func(b *bytes.Buffer) error { return tiff.Encode(b, src, &tiff.Options{Compression: tiff.Deflate}) },
	} {
		var buf bytes.Buffer
		if err := enc(&buf); err != nil {
			t.Fatal(err)
		}
		valid[name] = buf.Bytes()
	}
	for _, name := range slices.Sorted(maps.Keys(valid)) {
		data := valid[name]
		rng := rand.New(rand.NewPCG(3, uint64(len(name)))) // the same damage every run
		t.Run(name, func(t *testing.T) {
			decoded := 0
			for range 200 {
				bad := bytes.Clone(data)
				for range 1 + rng.IntN(4) {
					bad[rng.IntN(len(bad))] = byte(rng.IntN(256))
				}
				if rng.IntN(3) == 0 {
					bad = bad[:rng.IntN(len(bad))]
				}
				p, err := prepareImage(Image{Data: bad})
				if err == nil {
					decoded++
					if len(p.thumb) == 0 {
						t.Fatal("accepted without a thumbnail")
					}
				}
			}
			t.Logf("%d of 200 damaged %s files still decoded", decoded, name)
		})
	}
}
