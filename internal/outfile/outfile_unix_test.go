//go:build unix

package outfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWriteFileSpecial refuses a device and a named pipe at once, naming
// what they are, and leaves both as they were. The tests run as root in
// CI, where a rename over /dev/null would succeed and replace the device
// node, so only the check stands between them.
func TestWriteFileSpecial(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, kind string
		mode       fs.FileMode
	}{
		{"/dev/null", "a device", fs.ModeDevice | fs.ModeCharDevice},
		{"/dev/full", "a device", fs.ModeDevice | fs.ModeCharDevice},
		{fifo, "a named pipe", fs.ModeNamedPipe},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- WriteFile(tc.path, []byte("data")) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("WriteFile(%s) still blocks after 5 s", tc.path)
			}
			if !errors.Is(err, ErrNotFile) || !strings.Contains(err.Error(), "it is "+tc.kind) {
				t.Errorf("error %v, want ErrNotFile saying it is %s", err, tc.kind)
			}
			st, err := os.Lstat(tc.path)
			if err != nil || st.Mode().Type() != tc.mode {
				t.Errorf("%s is now %v (%v), want %v", tc.path, st.Mode().Type(), err, tc.mode)
			}
		})
	}
	for _, pattern := range []string{"/dev/.null.*.tmp", "/dev/.full.*.tmp"} {
		if entries, _ := filepath.Glob(pattern); len(entries) > 0 {
			t.Errorf("temporary files left in /dev: %v", entries)
		}
	}
}
