//go:build unix

package history

import (
	"errors"
	"os"
	"testing"

	"glimpse/internal/outfile"
)

// TestExportToDevice refuses /dev/full as the destination before anything
// is written: no page, and no /dev/full-images folder (which root could
// otherwise make in /dev).
func TestExportToDevice(t *testing.T) {
	s := openTemp(t)
	c, _ := sample(t, s)
	if err := s.Export(ctx, c.ID, Markdown, "/dev/full"); !errors.Is(err, outfile.ErrNotFile) {
		t.Errorf("Export to /dev/full: %v, want outfile.ErrNotFile", err)
	}
	if _, err := os.Lstat("/dev/full-images"); err == nil {
		os.RemoveAll("/dev/full-images")
		t.Error("the export made /dev/full-images")
	}
	if st, err := os.Lstat("/dev/full"); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("/dev/full is no longer a device: %v %v", st.Mode(), err)
	}
}
