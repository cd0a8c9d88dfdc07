// Package imageproc turns image files into the pixel values InstructBLIP's
// vision encoder takes, as transformers' BlipImageProcessor makes them:
// decode, convert to RGB (PIL's convert("RGB")), resize with PIL's
// resampling, rescale and normalize.
//
// Decoding follows what PIL sees where Go's decoders differ: JPEG chroma is
// upsampled and converted the libjpeg way (YCbCrToRGB). One deliberate
// difference from transformers: the EXIF orientation is applied, so phone
// photos come out upright (transformers ignores it; see docs/images.md).
package imageproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/png"
	"io"
	"os"

	"glimpse/input/imageproc/internal/jpeg"
	"glimpse/internal/filekind"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Limits on what Decode accepts, so that a hostile or broken file cannot
// exhaust memory. MaxPixels is near PIL's decompression-bomb warning level
// (89,478,485 pixels) and well above a 48-megapixel phone photo.
var (
	MaxPixels   = 100_000_000
	MaxFileSize = int64(512 << 20)
)

// ErrNotImage is wrapped by errors for data in no supported image format.
var ErrNotImage = errors.New("not a supported image (PNG, JPEG, GIF, WebP, BMP or TIFF)")

// ErrTooLarge is wrapped by errors for images over MaxPixels or files over
// MaxFileSize.
var ErrTooLarge = errors.New("image is too large")

type format struct {
	name         string
	magic        func([]byte) bool
	decode       func(io.Reader) (image.Image, error)
	decodeConfig func(io.Reader) (image.Config, error)
}

// formats are tried by their magic bytes; nothing is registered with the
// image package, so callers get exactly these decoders.
var formats = []format{
	{"png", func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) }, png.Decode, png.DecodeConfig},
	{"jpeg", func(b []byte) bool { return bytes.HasPrefix(b, []byte{0xff, 0xd8}) }, jpeg.Decode, jpeg.DecodeConfig},
	{"gif", func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a"))
	}, decodeGIF, gif.DecodeConfig},
	{"webp", func(b []byte) bool {
		return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP"
	}, webp.Decode, webp.DecodeConfig},
	{"bmp", func(b []byte) bool { return bytes.HasPrefix(b, []byte("BM")) }, bmp.Decode, bmp.DecodeConfig},
	{"tiff", func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*"))
	}, tiff.Decode, tiff.DecodeConfig},
}

// ErrNotRegular is wrapped by errors for paths that are not regular files:
// a FIFO would block the open until some other program writes to it, and a
// device could be read forever.
var ErrNotRegular = errors.New("not a regular file")

// NotRegularError is a path that is not a regular file (nor a link to
// one); it wraps ErrNotRegular.
type NotRegularError struct {
	Path string // as given
	Kind string // what it is: "a folder", "a named pipe", "a socket", "a device"
}

// Error names the path and what it is.
func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s: %v (it is %s)", e.Path, ErrNotRegular, e.Kind)
}

// Unwrap returns ErrNotRegular.
func (e *NotRegularError) Unwrap() error { return ErrNotRegular }

// DecodeFile reads and decodes an image file; see Decode.
func DecodeFile(path string) (*RGB, string, error) {
	return DecodeFileContext(context.Background(), path)
}

// DecodeFileContext reads and decodes an image file (see ReadFile and
// Decode).
func DecodeFileContext(ctx context.Context, path string) (*RGB, string, error) {
	data, err := ReadFile(ctx, path)
	if err != nil {
		return nil, "", err
	}
	img, name, err := Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return img, name, nil
}

// ReadFile reads an image file's bytes, at most one byte more than Decode
// takes (so that an enormous file is refused by Decode's size check, not
// read whole). Only regular files (or links to them) are opened: the path
// is looked at before the open, since opening a named pipe waits for a
// writer, and again after it, in case it changed in between; the errors
// for anything else are *NotRegularError. Reading stops with ctx's error
// between reads once ctx is cancelled (a slow network file system).
func ReadFile(ctx context.Context, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &NotRegularError{Path: path, Kind: filekind.Of(st.Mode())}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &NotRegularError{Path: path, Kind: filekind.Of(st.Mode())}
	}
	return io.ReadAll(io.LimitReader(ctxReader{ctx, f}, MaxFileSize+1))
}

// ctxReader ends a read loop with ctx's error once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Decode reads an encoded image and returns it as upright RGB with the
// name of its format ("png", "jpeg", …). The size is checked from the
// header before any pixel memory is allocated. GIFs give their first
// frame; alpha is dropped without compositing, as PIL's convert("RGB")
// does; the EXIF orientation is applied.
func Decode(r io.Reader) (*RGB, string, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, "", err
	}
	if int64(len(data)) > MaxFileSize {
		return nil, "", fmt.Errorf("%w: the file is over %d MiB", ErrTooLarge, MaxFileSize>>20)
	}
	return DecodeBytes(data)
}

// DecodeBytes is Decode on an in-memory file.
func DecodeBytes(data []byte) (*RGB, string, error) {
	if len(data) == 0 {
		return nil, "", fmt.Errorf("%w: the file is empty", ErrNotImage)
	}
	var f *format
	for i := range formats {
		if formats[i].magic(data) {
			f = &formats[i]
			break
		}
	}
	if f == nil {
		return nil, "", ErrNotImage
	}
	cfg, err := f.decodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, f.name, damaged(f.name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, f.name, fmt.Errorf("the %s image has no pixels (%d×%d)", f.name, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(MaxPixels) {
		return nil, f.name, fmt.Errorf("%w: %d×%d is over the limit of %d megapixels", ErrTooLarge, cfg.Width, cfg.Height, MaxPixels/1_000_000)
	}
	img, err := decodeSafely(f, data)
	if err != nil {
		return nil, f.name, damaged(f.name, err)
	}
	if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, f.name, fmt.Errorf("the %s image has no pixels (%d×%d)", f.name, b.Dx(), b.Dy())
	}
	var rgb *RGB
	switch m := img.(type) {
	case *image.YCbCr:
		if f.name == "webp" {
			rgb = WebPYCbCrToRGB(m)
		}
	case *image.NYCbCrA:
		if f.name == "webp" {
			rgb = WebPYCbCrToRGB(&m.YCbCr)
		}
	}
	if rgb == nil {
		rgb = FromImage(img)
	}
	return Orient(rgb, Orientation(data)), f.name, nil
}

// decodeSafely runs a decoder, turning a panic inside it (the x/image
// decoders have had some on crafted input) into an error.
func decodeSafely(f *format, data []byte) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("decoder failed: %v", p)
		}
	}()
	return f.decode(bytes.NewReader(data))
}

func damaged(name string, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("the %s file is truncated: %v", name, err)
	}
	return fmt.Errorf("the %s file is damaged or unsupported: %v", name, err)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
