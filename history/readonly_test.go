package history

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenReadOnly checks that a read-only store reads what a writer
// saved, refuses writes, and never creates a database or folder.
func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.Create(ctx, "read me later")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	r, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Recent(ctx, 10)
	if err != nil || len(got) != 1 || got[0].ID != c.ID || got[0].Title != "read me later" {
		t.Fatalf("Recent = %+v, %v; want the one conversation", got, err)
	}
	if _, err := r.Create(ctx, "must fail"); err == nil {
		t.Error("Create through a read-only store succeeded")
	}

	absent := filepath.Join(t.TempDir(), "never-used")
	if _, err := OpenReadOnly(absent); !errors.Is(err, ErrNoHistory) {
		t.Errorf("OpenReadOnly of a folder that does not exist: %v, want ErrNoHistory", err)
	}
	if _, err := os.Stat(absent); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenReadOnly created %s (%v)", absent, err)
	}
	empty := t.TempDir()
	if _, err := OpenReadOnly(empty); !errors.Is(err, ErrNoHistory) {
		t.Errorf("OpenReadOnly of an empty folder: %v, want ErrNoHistory", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("OpenReadOnly left %d files in an empty folder", len(entries))
	}
}

// TestOpenNamesTheCause checks that a database path that cannot be a
// database gets a message naming the real cause, for writers and readers
// alike (a folder used to be reported as "no permission").
func TestOpenNamesTheCause(t *testing.T) {
	for _, c := range []struct {
		name  string
		make  func(t *testing.T, path string)
		cause string
	}{
		{"a folder", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "is a folder, not a database"},
		{"a damaged file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 300)), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "is damaged or not a Glimpse history"},
	} {
		for _, open := range []struct {
			name string
			fn   func(string) (*Store, error)
		}{{"Open", Open}, {"OpenReadOnly", OpenReadOnly}} {
			t.Run(c.name+"/"+open.name, func(t *testing.T) {
				dir := t.TempDir()
				c.make(t, filepath.Join(dir, DBName))
				s, err := open.fn(dir)
				if err == nil {
					s.Close()
					t.Fatal("opened")
				}
				if !strings.Contains(err.Error(), c.cause) || strings.Contains(err.Error(), "permission") {
					t.Errorf("error %q, want one saying %q and not blaming permissions", err, c.cause)
				}
			})
		}
	}
}

// TestOpenReadOnlyBesideWriter checks that a reader sees what a writer
// that is still open committed (it sits in the WAL, not yet in the file).
func TestOpenReadOnlyBesideWriter(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i, title := range []string{"first", "second"} {
		if _, err := w.Create(ctx, title); err != nil {
			t.Fatal(err)
		}
		got, err := r.Recent(ctx, 10)
		if err != nil || len(got) != i+1 || got[0].Title != title {
			t.Fatalf("after %q: Recent = %+v, %v", title, got, err)
		}
	}
}
