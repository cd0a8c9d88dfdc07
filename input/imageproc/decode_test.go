package imageproc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// readPNGRGB loads a reference PNG (written by dwebp, djpeg+convert or
// ImageMagick) as stored RGB.
func readPNGRGB(t *testing.T, path string) *RGB {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return FromImage(img)
}

func diffRGB(a, b *RGB) (maxAbs int, mean float64) {
	sum := 0
	for i := range a.Pix {
		d := int(a.Pix[i]) - int(b.Pix[i])
		if d < 0 {
			d = -d
		}
		sum += d
		maxAbs = max(maxAbs, d)
	}
	return maxAbs, float64(sum) / float64(len(a.Pix))
}

// TestDecodersMatchReferenceDecoders compares decoded pixels with what the
// C libraries PIL uses produce for the same files (testdata/*.png were
// written by libwebp's dwebp and libjpeg-turbo 2.1's djpeg). Both match
// exactly, for every chroma subsampling, progressive and restart-marker
// JPEGs and greyscale; the log shows how far Go's own decoder is.
func TestDecodersMatchReferenceDecoders(t *testing.T) {
	cases := []struct {
		file    string
		maxAbs  int
		maxMean float64
	}{
		{"lossy.webp", 0, 0},
		{"alpha.webp", 0, 0},
		{"lossless.webp", 0, 0},
		{"noise_1x1.jpg", 0, 0},
		{"noise_2x1.jpg", 0, 0},
		{"noise_1x2.jpg", 0, 0},
		{"noise_2x2.jpg", 0, 0},
		{"progressive.jpg", 0, 0},
		{"restart.jpg", 0, 0},
		{"gray.jpg", 0, 0},
		{"rgb.jpg", 0, 0}, // components coded as R, G, B: no colour conversion
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got, _, err := DecodeFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			want := readPNGRGB(t, filepath.Join("testdata", c.file+".png"))
			if got.Width != want.Width || got.Height != want.Height {
				t.Fatalf("size %d×%d, want %d×%d", got.Width, got.Height, want.Width, want.Height)
			}
			maxAbs, mean := diffRGB(got, want)
			msg := ""
			if strings.HasSuffix(c.file, ".jpg") {
				b, _ := os.ReadFile(filepath.Join("testdata", c.file))
				goImg, _ := jpeg.Decode(bytes.NewReader(b))
				naive := NewRGB(want.Width, want.Height)
				for y := 0; y < want.Height; y++ {
					for x := 0; x < want.Width; x++ {
						r, g, bl, _ := goImg.At(x, y).RGBA()
						i := (y*want.Width + x) * 3
						naive.Pix[i], naive.Pix[i+1], naive.Pix[i+2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
					}
				}
				nm, nmean := diffRGB(naive, want)
				msg = fmt.Sprintf(" (Go's own conversion: max %d, mean %.4f)", nm, nmean)
			}
			t.Logf("%s: max abs diff %d levels, mean %.4f%s", c.file, maxAbs, mean, msg)
			if maxAbs > c.maxAbs || mean > c.maxMean {
				t.Errorf("max %d (limit %d), mean %.4f (limit %.4f)", maxAbs, c.maxAbs, mean, c.maxMean)
			}
		})
	}
}

// pngChunk builds a PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	b := make([]byte, 8, 12+len(data))
	binary.BigEndian.PutUint32(b, uint32(len(data)))
	copy(b[4:], typ)
	b = append(b, data...)
	crc := crc32.ChecksumIEEE(b[4:])
	return binary.BigEndian.AppendUint32(b, crc)
}

// pngHeaderOnly is a PNG signature and IHDR claiming w×h RGB pixels, with
// no image data: enough for DecodeConfig, never for Decode.
func pngHeaderOnly(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	return append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// jpegHeaderOnly is a JPEG whose SOF0 claims w×h with three components,
// followed by the start of a scan with no data. With jfif it has the JFIF
// APP0 segment, else an Exif APP1 as camera files do.
func jpegHeaderOnly(w, h uint16, jfif bool) []byte {
	app := []byte{0xff, 0xe1, 0, 8, 'E', 'x', 'i', 'f', 0, 0}
	if jfif {
		app = []byte{0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	}
	sof := []byte{0xff, 0xc0, 0, 17, 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3,
		1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1}
	sos := []byte{0xff, 0xda, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0}
	b := append([]byte{0xff, 0xd8}, app...)
	return append(append(b, sof...), sos...)
}

func TestDecodeRejectsBadInput(t *testing.T) {
	good := encodePNG(t, image.NewRGBA(image.Rect(0, 0, 8, 8)))
	goodJPEG := encodeJPEG(t, image.NewRGBA(image.Rect(0, 0, 64, 64)))
	gifScreen := func(w, h uint16) []byte {
		b := []byte("GIF89a")
		b = binary.LittleEndian.AppendUint16(b, w)
		b = binary.LittleEndian.AppendUint16(b, h)
		return append(b, 0, 0, 0, 0x3b)
	}
	cases := []struct {
		name string
		data []byte
		want string
		is   error
	}{
		{"empty", nil, "empty", ErrNotImage},
		{"text", []byte("this is a note, not a picture"), "not a supported image", ErrNotImage},
		{"PDF", []byte("%PDF-1.7\n..."), "not a supported image", ErrNotImage},
		{"truncated PNG", good[:len(good)/2], "png", nil},
		{"truncated JPEG", goodJPEG[:len(goodJPEG)/2], "truncated", nil},
		{"PNG signature only", good[:8], "png", nil},
		{"zero-width PNG", pngHeaderOnly(0, 10), "png", nil},
		{"zero-height GIF", gifScreen(10, 0), "no pixels", nil},
		{"50000×50000 PNG", pngHeaderOnly(50000, 50000), "over the limit", ErrTooLarge},
		{"50000×50000 JFIF JPEG", jpegHeaderOnly(50000, 50000, true), "over the limit", ErrTooLarge},
		{"50000×50000 camera JPEG", jpegHeaderOnly(50000, 50000, false), "over the limit", ErrTooLarge},
		{"JPEG with no scan data", jpegHeaderOnly(16, 16, true), "jpeg", nil},
		{"65535×65535 GIF", gifScreen(65535, 65535), "over the limit", ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			img, _, err := DecodeBytes(c.data)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("decoded a %d×%d image from bad input", img.Width, img.Height)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q is not %v", err, c.is)
			}
			// Refusing a huge header must not allocate its pixels first.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
				t.Errorf("allocated %d MiB before failing", grew>>20)
			}
		})
	}
}

func TestDecodeFileErrors(t *testing.T) {
	if _, _, err := DecodeFile(filepath.Join(t.TempDir(), "missing.png")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	p := filepath.Join(t.TempDir(), "note.png")
	os.WriteFile(p, []byte("hello"), 0o644)
	if _, _, err := DecodeFile(p); err == nil || !strings.Contains(err.Error(), "note.png") {
		t.Errorf("error %v should name the file", err)
	}
}

// TestConvertRGB checks PIL's convert("RGB") semantics on each kind of
// image the decoders return.
func TestConvertRGB(t *testing.T) {
	pal := color.Palette{color.RGBA{1, 2, 3, 255}, color.NRGBA{200, 100, 50, 0}, color.RGBA{9, 8, 7, 255}}
	paletted := image.NewPaletted(image.Rect(0, 0, 3, 1), pal)
	paletted.Pix = []uint8{0, 1, 2}
	nrgba := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	copy(nrgba.Pix, []uint8{10, 20, 30, 0, 40, 50, 60, 128})
	rgba := image.NewRGBA(image.Rect(0, 0, 2, 1))
	copy(rgba.Pix, []uint8{10, 20, 30, 255, 20, 10, 0, 128})
	gray16 := image.NewGray16(image.Rect(0, 0, 1, 1))
	gray16.SetGray16(0, 0, color.Gray16{Y: 0xabcd})
	nrgba64 := image.NewNRGBA64(image.Rect(0, 0, 1, 1))
	nrgba64.SetNRGBA64(0, 0, color.NRGBA64{R: 0x1234, G: 0x5678, B: 0x9abc, A: 0})
	cmyk := image.NewCMYK(image.Rect(0, 0, 1, 1))
	cmyk.SetCMYK(0, 0, color.CMYK{C: 0, M: 255, Y: 255, K: 0})
	sub := image.NewGray(image.Rect(0, 0, 4, 4))
	sub.SetGray(2, 3, color.Gray{Y: 77})
	cases := []struct {
		name string
		img  image.Image
		want []uint8
	}{
		{"palette keeps the colour of a transparent entry", paletted, []uint8{1, 2, 3, 200, 100, 50, 9, 8, 7}},
		{"alpha dropped, not composited", nrgba, []uint8{10, 20, 30, 40, 50, 60}},
		// Go's un-premultiplying truncates: 20/128×255 = 39.8 → 39.
		{"premultiplied alpha undone", rgba, []uint8{10, 20, 30, 39, 19, 0}},
		{"16-bit grey keeps its high byte", gray16, []uint8{0xab, 0xab, 0xab}},
		{"16-bit colour keeps high bytes", nrgba64, []uint8{0x12, 0x56, 0x9a}},
		{"CMYK", cmyk, []uint8{255, 0, 0}},
		{"sub-image", sub.SubImage(image.Rect(2, 3, 3, 4)), []uint8{77, 77, 77}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := FromImage(c.img)
			if !bytes.Equal(got.Pix, c.want) {
				t.Errorf("got %v, want %v", got.Pix, c.want)
			}
		})
	}
}

// quadrants is a 4×2 image whose pixels are all different, so every
// orientation gives a different result.
func quadrants() *RGB {
	img := NewRGB(4, 2)
	for i := range img.Pix {
		img.Pix[i] = uint8(i / 3 * 10)
	}
	return img
}

func TestOrient(t *testing.T) {
	// Pixel values (first channel) of the 4×2 test image:
	//   0 10 20 30
	//  40 50 60 70
	cases := []struct {
		orientation int
		w, h        int
		want        []uint8
	}{
		{1, 4, 2, []uint8{0, 10, 20, 30, 40, 50, 60, 70}},
		{2, 4, 2, []uint8{30, 20, 10, 0, 70, 60, 50, 40}},
		{3, 4, 2, []uint8{70, 60, 50, 40, 30, 20, 10, 0}},
		{4, 4, 2, []uint8{40, 50, 60, 70, 0, 10, 20, 30}},
		{5, 2, 4, []uint8{0, 40, 10, 50, 20, 60, 30, 70}},
		{6, 2, 4, []uint8{40, 0, 50, 10, 60, 20, 70, 30}},
		{7, 2, 4, []uint8{70, 30, 60, 20, 50, 10, 40, 0}},
		{8, 2, 4, []uint8{30, 70, 20, 60, 10, 50, 0, 40}},
		{9, 4, 2, []uint8{0, 10, 20, 30, 40, 50, 60, 70}}, // invalid: unchanged
	}
	for _, c := range cases {
		got := Orient(quadrants(), c.orientation)
		var first []uint8
		for i := 0; i < len(got.Pix); i += 3 {
			first = append(first, got.Pix[i])
		}
		if got.Width != c.w || got.Height != c.h || !bytes.Equal(first, c.want) {
			t.Errorf("orientation %d: %d×%d %v, want %d×%d %v", c.orientation, got.Width, got.Height, first, c.w, c.h, c.want)
		}
	}
}

// exifTIFF builds a minimal EXIF/TIFF structure with one Orientation entry.
func exifTIFF(bo binary.AppendByteOrder, orientation uint16) []byte {
	b := []byte("II*\x00")
	if bo == binary.BigEndian {
		b = []byte("MM\x00*")
	}
	b = bo.AppendUint32(b, 8)
	b = bo.AppendUint16(b, 2) // two entries: an unrelated tag, then Orientation
	b = bo.AppendUint16(b, 0x010f)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint32(b, 1)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint16(b, 0x0112)
	b = bo.AppendUint16(b, 3)
	b = bo.AppendUint32(b, 1)
	b = bo.AppendUint16(b, orientation)
	b = bo.AppendUint16(b, 0)
	return bo.AppendUint32(b, 0)
}

// withJPEGExif inserts an APP1 Exif segment after SOI.
func withJPEGExif(jpg, tiffData []byte) []byte {
	seg := append([]byte("Exif\x00\x00"), tiffData...)
	app1 := []byte{0xff, 0xe1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, app1...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// withPNGExif inserts an eXIf chunk after IHDR.
func withPNGExif(p, tiffData []byte) []byte {
	ihdrEnd := 8 + 8 + 13 + 4
	out := append([]byte{}, p[:ihdrEnd]...)
	out = append(out, pngChunk("eXIf", tiffData)...)
	return append(out, p[ihdrEnd:]...)
}

// TestEXIFOrientationApplied decodes files that carry an orientation and
// checks that the picture comes out upright: a wide image tagged
// "rotate 90° clockwise" becomes tall, its top-left block on the top right.
func TestEXIFOrientationApplied(t *testing.T) {
	// 32×16: left half red, right half blue, in 8×8 blocks so JPEG keeps them.
	src := image.NewRGBA(image.Rect(0, 0, 32, 16))
	for y := 0; y < 16; y++ {
		for x := 0; x < 32; x++ {
			c := color.RGBA{255, 0, 0, 255}
			if x >= 16 {
				c = color.RGBA{0, 0, 255, 255}
			}
			src.Set(x, y, c)
		}
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"JPEG little-endian EXIF", withJPEGExif(encodeJPEG(t, src), exifTIFF(binary.LittleEndian, 6))},
		{"JPEG big-endian EXIF", withJPEGExif(encodeJPEG(t, src), exifTIFF(binary.BigEndian, 6))},
		{"PNG eXIf chunk", withPNGExif(encodePNG(t, src), exifTIFF(binary.BigEndian, 6))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if o := Orientation(c.data); o != OrientRotate90 {
				t.Fatalf("Orientation = %d, want 6", o)
			}
			img, _, err := DecodeBytes(c.data)
			if err != nil {
				t.Fatal(err)
			}
			if img.Width != 16 || img.Height != 32 {
				t.Fatalf("size %d×%d, want 16×32 (rotated)", img.Width, img.Height)
			}
			// Rotated clockwise, the red left half is now the top half.
			top, bottom := img.At(8, 4).(color.RGBA), img.At(8, 28).(color.RGBA)
			if top.R < 200 || top.B > 50 || bottom.B < 200 || bottom.R > 50 {
				t.Errorf("top %v, bottom %v; want red above blue", top, bottom)
			}
		})
	}
	// Broken or absent metadata never stops the image from loading.
	for _, bad := range [][]byte{
		withJPEGExif(encodeJPEG(t, src), []byte("II*\x00\xff\xff\xff\xff")),
		withJPEGExif(encodeJPEG(t, src), exifTIFF(binary.LittleEndian, 42)),
		withJPEGExif(encodeJPEG(t, src), []byte("garbage")),
		encodeJPEG(t, src),
	} {
		img, _, err := DecodeBytes(bad)
		if err != nil || img.Width != 32 {
			t.Errorf("with broken EXIF: %v, %v", img, err)
		}
	}
}

func TestOrientationFromTIFFAndWebP(t *testing.T) {
	tf := exifTIFF(binary.BigEndian, 8)
	riff := func(chunks ...[]byte) []byte {
		var body []byte
		for _, c := range chunks {
			body = append(body, c...)
		}
		b := []byte("RIFF")
		b = binary.LittleEndian.AppendUint32(b, uint32(4+len(body)))
		return append(append(b, "WEBP"...), body...)
	}
	chunk := func(typ string, data []byte) []byte {
		b := append([]byte(typ), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
		b = append(b, data...)
		if len(data)%2 == 1 {
			b = append(b, 0)
		}
		return b
	}
	cases := []struct {
		name string
		data []byte
		want int
	}{
		{"TIFF file", tf, 8},
		{"WebP EXIF chunk", riff(chunk("VP8X", make([]byte, 10)), chunk("ICCP", []byte{1}), chunk("EXIF", tf)), 8},
		{"WebP EXIF with JPEG prefix", riff(chunk("EXIF", append([]byte("Exif\x00\x00"), tf...))), 8},
		{"WebP without EXIF", riff(chunk("VP8X", make([]byte, 10))), 1},
		{"truncated TIFF", tf[:12], 1},
	}
	for _, c := range cases {
		if got := Orientation(c.data); got != c.want {
			t.Errorf("%s: Orientation = %d, want %d", c.name, got, c.want)
		}
	}
}

// TestOtherFormats round-trips small images through the Go encoders of
// each format and checks the exact colours PIL would give.
func TestOtherFormats(t *testing.T) {
	pal := color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 255, 0, 255}, color.RGBA{0, 0, 255, 255}}
	p := image.NewPaletted(image.Rect(0, 0, 3, 2), pal)
	p.Pix = []uint8{0, 1, 2, 2, 1, 0}
	want := []uint8{255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255, 0, 255, 0, 255, 0, 0}
	enc := map[string]func() []byte{
		"gif": func() []byte {
			var b bytes.Buffer
			if err := gif.Encode(&b, p, nil); err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		},
		"bmp": func() []byte {
			var b bytes.Buffer
			if err := bmp.Encode(&b, p); err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		},
		"tiff": func() []byte {
			var b bytes.Buffer
			if err := tiff.Encode(&b, p, &tiff.Options{Compression: tiff.Deflate}); err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		},
		"png": func() []byte { return encodePNG(t, p) },
	}
	for name, f := range enc {
		t.Run(name, func(t *testing.T) {
			img, format, err := DecodeBytes(f())
			if err != nil {
				t.Fatal(err)
			}
			if format != name || !bytes.Equal(img.Pix, want) {
				t.Errorf("format %q, pixels %v; want %q %v", format, img.Pix, name, want)
			}
		})
	}
}

// TestCMYKJPEG decodes an Adobe CMYK JPEG (written by ImageMagick from
// testdata/n45.png): the colours must come back close to the original.
func TestCMYKJPEG(t *testing.T) {
	got, _, err := DecodeFile(filepath.Join("testdata", "cmyk.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	want := readPNGRGB(t, filepath.Join("testdata", "n45.png"))
	maxAbs, mean := diffRGB(got, want)
	t.Logf("CMYK JPEG vs original: max %d, mean %.2f levels", maxAbs, mean)
	if mean > 4 {
		t.Errorf("CMYK JPEG colours are off by %.2f levels on average", mean)
	}
}

// TestGIFTransparentEntryKeepsItsColour checks that a pixel using the
// transparent palette index shows the colour stored in the palette, as
// PIL's convert("RGB") does, not Go's transparent black.
func TestGIFTransparentEntryKeepsItsColour(t *testing.T) {
	pal := color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{}, color.RGBA{0, 0, 255, 255}, color.RGBA{1, 1, 1, 255}}
	p := image.NewPaletted(image.Rect(0, 0, 3, 1), pal)
	p.Pix = []uint8{0, 1, 2}
	var b bytes.Buffer
	if err := gif.Encode(&b, p, nil); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	if data[10]&0x80 == 0 {
		t.Fatal("expected a global colour table")
	}
	// Go's encoder writes the transparent entry as black; store a colour
	// there, as other encoders do.
	copy(data[13+3:], []byte{200, 100, 50})
	img, _, err := DecodeBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint8{255, 0, 0, 200, 100, 50, 0, 0, 255}; !bytes.Equal(img.Pix, want) {
		t.Errorf("pixels %v, want %v", img.Pix, want)
	}
	for _, bad := range [][]byte{data[:12], data[:20], append(append([]byte{}, data[:13+12]...), 0x21)} {
		if _, _, ok := gifTransparentColour(bad); ok {
			t.Errorf("found a transparent colour in %d truncated bytes", len(bad))
		}
	}
}

// TestGIFFirstFrameOnScreen checks that a first frame smaller than the
// logical screen is placed on it, as PIL shows it.
func TestGIFFirstFrameOnScreen(t *testing.T) {
	pal := color.Palette{color.RGBA{0, 0, 0, 255}, color.RGBA{255, 255, 255, 255}}
	frame := image.NewPaletted(image.Rect(2, 1, 4, 2), pal)
	frame.Pix = []uint8{1, 1}
	second := image.NewPaletted(image.Rect(0, 0, 5, 3), pal)
	var b bytes.Buffer
	err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{frame, second}, Delay: []int{0, 0},
		Config: image.Config{ColorModel: pal, Width: 5, Height: 3}})
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := DecodeBytes(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if img.Width != 5 || img.Height != 3 {
		t.Fatalf("size %d×%d, want the 5×3 screen", img.Width, img.Height)
	}
	if img.Pix[(1*5+2)*3] != 255 || img.Pix[(1*5+3)*3] != 255 || img.Pix[0] != 0 {
		t.Errorf("frame not placed at (2,1): %v", img.Pix)
	}
}

func TestResizeEdgeCases(t *testing.T) {
	flat := NewRGB(7, 5)
	for i := range flat.Pix {
		flat.Pix[i] = 123
	}
	for _, f := range []Filter{Bicubic, Bilinear, Lanczos, Box, Hamming} {
		for _, a := range []Arithmetic{Transformers, PIL} {
			for _, size := range [][2]int{{224, 224}, {3, 2}, {7, 9}, {1, 1}} {
				got, err := Resize(flat, size[0], size[1], f, a)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range got.Pix {
					if v != 123 {
						t.Fatalf("filter %d arithmetic %d to %v: a flat image changed to %d", f, a, size, v)
					}
				}
			}
		}
	}
	same, err := Resize(flat, 7, 5, Bicubic, PIL)
	if err != nil || &same.Pix[0] == &flat.Pix[0] || !bytes.Equal(same.Pix, flat.Pix) {
		t.Error("resize to the same size must return an equal copy")
	}
	for _, bad := range []struct {
		w, h int
		f    Filter
	}{{0, 5, Bicubic}, {5, -1, Bicubic}, {5, 5, 0}, {5, 5, 9}} {
		if _, err := Resize(flat, bad.w, bad.h, bad.f, PIL); err == nil {
			t.Errorf("Resize to %d×%d with filter %d succeeded", bad.w, bad.h, bad.f)
		}
	}
}

// TestPILArithmeticNearFixtures checks that Pillow's own arithmetic is as
// close to transformers as the tolerances say PIL itself is.
func TestPILArithmeticNearFixtures(t *testing.T) {
	for _, name := range []string{"shapes.png", "palette.png", "tiny.png"} {
		img, _, err := DecodeFile(filepath.Join(fixtureImages, name))
		if err != nil {
			t.Fatal(err)
		}
		a, _ := Resize(img, 224, 224, Bicubic, Transformers)
		b, _ := Resize(img, 224, 224, Bicubic, PIL)
		maxAbs, mean := diffRGB(a, b)
		t.Logf("%s: PIL vs transformers arithmetic: max %d levels, mean %.4f", name, maxAbs, mean)
		if maxAbs > 2 || mean > 0.05 {
			t.Errorf("%s: PIL arithmetic differs by max %d, mean %.4f", name, maxAbs, mean)
		}
	}
}

func TestPreprocessErrors(t *testing.T) {
	s := fixtureSettings
	s.DoResize = false
	if _, err := Preprocess(NewRGB(10, 10), s); err == nil || !strings.Contains(err.Error(), "resizing is off") {
		t.Errorf("got %v", err)
	}
	if _, err := Preprocess(NewRGB(0, 0), fixtureSettings); err == nil {
		t.Error("an empty image was accepted")
	}
	s = fixtureSettings
	s.Resample = 0 // nearest: not a PIL resampling filter here
	if _, err := Preprocess(NewRGB(10, 10), s); err == nil {
		t.Error("nearest-neighbour resampling was accepted")
	}
	// With rescale and normalize off, values are the raw bytes.
	s = fixtureSettings
	s.DoRescale, s.DoNormalize = false, false
	img := NewRGB(224, 224)
	img.Pix[0], img.Pix[1], img.Pix[2] = 5, 6, 7
	v, err := Preprocess(img, s)
	if err != nil || v[0] != 5 || v[224*224] != 6 || v[2*224*224] != 7 || math.Abs(float64(v[1])) != 0 {
		t.Errorf("raw values %v %v %v, %v", v[0], v[224*224], v[2*224*224], err)
	}
}

// FuzzDecode feeds arbitrary bytes to the decoders: errors are fine,
// panics and oversized allocations are not.
func FuzzDecode(f *testing.F) {
	f.Add(pngHeaderOnly(4, 4))
	f.Add(jpegHeaderOnly(8, 8, true))
	for _, name := range []string{"lossy.webp", "noise_2x2.jpg", "lossless.webp", "progressive.jpg"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	// Keep each input cheap: a tiny file may legitimately claim (and
	// make the decoder allocate) up to MaxPixels.
	defer func(old int) { MaxPixels = old }(MaxPixels)
	MaxPixels = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		img, _, err := DecodeBytes(data)
		if err == nil && (img.Width <= 0 || img.Height <= 0 || len(img.Pix) != 3*img.Width*img.Height) {
			t.Fatalf("inconsistent image %d×%d with %d bytes", img.Width, img.Height, len(img.Pix))
		}
	})
}
