//go:build unix

package app

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"glimpse/input/imageproc"
)

// TestLoadImageNotAFile names paths that are not image files: a named
// pipe nobody writes to, an endless device and a folder are refused at
// once, before they are opened (opening the pipe would wait for a writer
// forever, reading the device would never end).
func TestLoadImageNotAFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "photo.png")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
		notRegular       bool
	}{
		{"named pipe", fifo, fifo + " is a named pipe, not an image file", true},
		{"endless device", "/dev/zero", "/dev/zero is a device, not an image file", true},
		{"folder", dir, dir + " is a folder: choose an image file", true},
		{"missing", filepath.Join(dir, "gone.png"), filepath.Join(dir, "gone.png") + " does not exist", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := LoadImageContext(context.Background(), tc.path)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("LoadImage(%s) still runs after 5 s", tc.path)
			}
			if !errors.Is(err, ErrUnreadableImage) || err.Error() != tc.want || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want an ErrUnreadableImage %q", err, tc.want)
			}
			if got := errors.Is(err, imageproc.ErrNotRegular); got != tc.notRegular {
				t.Errorf("errors.Is(err, imageproc.ErrNotRegular) = %v, want %v", got, tc.notRegular)
			}
		})
	}
}
