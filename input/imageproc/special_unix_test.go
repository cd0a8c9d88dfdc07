//go:build unix

package imageproc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDecodeFileRefusesSpecialFiles checks that paths which could block or
// never end are refused at once: a FIFO nobody writes to (opening it used
// to hang forever), a folder and a character device.
func TestDecodeFileRefusesSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "image.png")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, kind string }{
		{fifo, "a named pipe"},
		{t.TempDir(), "a folder"},
		{"/dev/zero", "a device"},
	} {
		done := make(chan error, 1)
		go func() { _, _, err := DecodeFile(c.path); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) {
				t.Errorf("%s: %v, want ErrNotRegular", c.path, err)
			} else if want := "it is " + c.kind; !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not say %q", c.path, err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: DecodeFile still blocked after 10 s", c.path)
		}
	}
}

// TestDecodeFileCancelled checks that a cancelled context stops a read.
func TestDecodeFileCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := filepath.Join("testdata", "gray.jpg")
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if _, _, err := DecodeFileContext(ctx, path); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled read: %v, want context.Canceled", err)
	}
}
