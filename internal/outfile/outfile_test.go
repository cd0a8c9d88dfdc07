package outfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteFile writes onto each kind of destination: nothing and regular
// files are written; everything else is refused, named, and left as it was.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target.txt")
	if err := os.WriteFile(target, []byte("the link's target\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.txt")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "old.txt")
	if err := os.WriteFile(old, []byte("old contents that are longer than the new\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "folder")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		kind     string      // "" when the write must succeed
		wantMode fs.FileMode // of the written file
	}{
		{"new file", filepath.Join(dir, "new.txt"), "", 0o644},
		{"existing file keeps its permissions", old, "", 0o640},
		{"symbolic link", link, "a symbolic link", 0},
		{"folder", folder, "a folder", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteFile(tc.path, []byte("new\n"))
			if tc.kind == "" {
				if err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(tc.path)
				if err != nil || string(b) != "new\n" {
					t.Errorf("%s holds %q (%v), want %q", tc.path, b, err, "new\n")
				}
				if st, err := os.Stat(tc.path); err != nil || st.Mode().Perm() != tc.wantMode {
					t.Errorf("%s: mode %v (%v), want %v", tc.path, st.Mode().Perm(), err, tc.wantMode)
				}
				return
			}
			want := "cannot write " + tc.path + ": it is " + tc.kind + ", not a file"
			if !errors.Is(err, ErrNotFile) || !strings.HasPrefix(fmt.Sprint(err), want) {
				t.Errorf("error %v, want ErrNotFile starting %q", err, want)
			}
		})
	}
	// The link is still a link to the untouched target.
	if dst, err := os.Readlink(link); err != nil || dst != target {
		t.Errorf("the link now points at %q (%v)", dst, err)
	}
	if b, _ := os.ReadFile(target); string(b) != "the link's target\n" {
		t.Errorf("the link's target now holds %q", b)
	}
	assertNoTemporaries(t, dir)
}

// TestWriteFileMissingFolder names the destination, not the temporary file.
func TestWriteFileMissingFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "out.txt")
	err := WriteFile(path, []byte("x"))
	var oe *Error
	if !errors.As(err, &oe) || oe.Path != path || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v (%T), want an *Error for %s wrapping ErrNotExist", err, err, path)
	}
	if want := "cannot write " + path + ": "; !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), ".tmp") {
		t.Errorf("error %q, want it to start %q and not name the temporary file", err, want)
	}
}

// TestFailedWriteKeepsOld: after a write fails, Commit reports it and the
// destination keeps its old contents, with no temporary file left.
func TestFailedWriteKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("half of the new")); err != nil {
		t.Fatal(err)
	}
	f.tmp.Close() // the next write fails, as on a full disk
	if _, err := f.Write([]byte(" contents")); err == nil {
		t.Fatal("a write to a closed file succeeded")
	}
	if err := f.Commit(); err == nil || !strings.HasPrefix(err.Error(), "cannot write "+path+": ") {
		t.Errorf("Commit after a failed write: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old\n" {
		t.Errorf("after a failed write the file holds %q, want the old contents", b)
	}
	assertNoTemporaries(t, dir)
}

// TestCommitRefusesLinkMadeMeanwhile: a symbolic link put in the
// destination's place while the file was written is not replaced.
func TestCommitRefusesLinkMadeMeanwhile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("data"))
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), path); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); !errors.Is(err, ErrNotFile) {
		t.Errorf("Commit over a new link: %v, want ErrNotFile", err)
	}
	if st, err := os.Lstat(path); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the link was replaced (%v, %v)", st.Mode(), err)
	}
	assertNoTemporaries(t, dir)
}

// TestAbort leaves the destination as it was.
func TestAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("never mind"))
	f.Abort()
	f.Abort() // a second Abort, or an Abort after Commit, does nothing
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Abort, %s exists (%v)", path, err)
	}
	assertNoTemporaries(t, dir)
}

// assertNoTemporaries fails if a temporary file is left in dir.
func assertNoTemporaries(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
