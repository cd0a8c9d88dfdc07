package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLoadImage reads the fixture images and words what is wrong with
// files that are not.
func TestLoadImage(t *testing.T) {
	dir := t.TempDir()
	notImage := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notImage, []byte("not an image at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(fixtures, "images", "alpha.png")
	img, err := LoadImage(png)
	if err != nil {
		t.Fatal(err)
	}
	if img.Name != "alpha.png" || img.Path != png || !slices.Equal(img.Data, mustRead(t, png)) || img.Image == nil {
		t.Errorf("LoadImage(%s) = %q %q, %d bytes, image %v", png, img.Path, img.Name, len(img.Data), img.Image != nil)
	}
	tests := []struct {
		name, path, want string
	}{
		{"text file", notImage, notImage + " is not an image Glimpse can read (PNG, JPEG, GIF, WebP, BMP or TIFF): "},
		{"missing file", filepath.Join(dir, "gone.png"), filepath.Join(dir, "gone.png") + " does not exist"},
		{"folder", dir, dir + " is a folder: choose an image file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadImage(tc.path)
			var ie *ImageError
			if !errors.Is(err, ErrUnreadableImage) || !errors.As(err, &ie) || ie.Path != tc.path {
				t.Fatalf("error %v (%T): want an *ImageError for %s", err, err, tc.path)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q, want it to start %q", err, tc.want)
			}
		})
	}
}

// TestFindImages checks which files a folder contributes: images by
// extension in any case, sub-folders only when recursive, never hidden
// files or folders.
func TestFindImages(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.PNG", "b.jpeg", "c.txt", ".hidden.png", "d.webp.txt", "s/e.tif", ".git/f.png", "s/t/g.BMP", "h.gif"} {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		recursive bool
		want      string
	}{
		{false, "a.PNG b.jpeg h.gif"},
		{true, "a.PNG b.jpeg h.gif s/e.tif s/t/g.BMP"},
	}
	for _, tc := range tests {
		got, err := FindImages(dir, tc.recursive)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("recursive=%v: %v, want %s", tc.recursive, got, tc.want)
		}
	}
}

// TestImageFiles expands the command line's arguments: files as given,
// folders to their own images in order of name.
func TestImageFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.png", "a.JPG", "notes.txt", "sub/c.png"} {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	empty := t.TempDir()
	file := filepath.Join(dir, "notes.txt")
	got, err := ImageFiles([]string{file, dir})
	want := []string{file, filepath.Join(dir, "a.JPG"), filepath.Join(dir, "b.png")}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ImageFiles = %q, %v; want %q", got, err, want)
	}
	errTests := []struct {
		name string
		args []string
		kind error
		want string
	}{
		{"missing file", []string{filepath.Join(empty, "x.png")}, ErrUnreadableImage, "x.png does not exist"},
		{"folder without images", []string{empty}, ErrNoImages, empty + " has no images (PNG, JPEG, GIF, WebP, BMP or TIFF)"},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ImageFiles(tc.args)
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want a %v error saying %q", err, tc.kind, tc.want)
			}
		})
	}
}

// TestImageExtensions: the extensions the dialogs offer are the ones a
// folder contributes.
func TestImageExtensions(t *testing.T) {
	exts := ImageExtensions()
	if !slices.IsSorted(exts) || len(exts) != 8 {
		t.Errorf("ImageExtensions() = %v", exts)
	}
	for _, e := range exts {
		if !IsImageName("photo"+strings.ToUpper(e)) || !IsImageName("photo"+e) {
			t.Errorf("photo%s is not an image name", e)
		}
	}
	for _, n := range []string{"photo.txt", "photo", "photo.png.txt"} {
		if IsImageName(n) {
			t.Errorf("%s taken for an image", n)
		}
	}
}

// TestLoadImageCancelled stops before reading once the context is done:
// the error says the work was stopped, not that the image is bad.
func TestLoadImageCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := LoadImageContext(ctx, filepath.Join(fixtures, "images", "shapes.png"))
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnreadableImage) {
		t.Errorf("LoadImageContext with a cancelled context: %v, want ErrCancelled and context.Canceled", err)
	}
}
