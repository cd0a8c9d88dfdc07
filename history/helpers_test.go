package history

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// openTemp opens a store in a fresh folder and closes it when the test ends.
func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pngImage makes a w×h PNG whose pixels depend on seed, so different seeds
// give different files (and hashes). Child processes use it too, without a
// testing.T.
func pngImage(w, h int, seed uint8) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x) + seed, uint8(y) * seed, seed, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err) // encoding an in-memory RGBA image into memory cannot fail
	}
	return buf.Bytes()
}

// fixture reads one of the project's shared test images.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "shared", "fixtures", "images", name))
	if err != nil {
		t.Fatalf("shared fixture missing (expected at ../../shared/fixtures): %v", err)
	}
	return data
}

var ctx = context.Background()

// exists reports whether path is a file.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
