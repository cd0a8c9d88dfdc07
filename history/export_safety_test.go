package history

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"glimpse/internal/outfile"
)

// TestExportFailureTakesBackImages makes a Markdown export fail after its
// first image was written (the second stored image is gone): no page is
// left, and neither are the images it added, while what was in the
// images folder before stays.
func TestExportFailureTakesBackImages(t *testing.T) {
	tests := []struct {
		name         string
		folderBefore bool // the images folder and a file of the user's are there already
	}{
		{"new images folder", false},
		{"images folder already there", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTemp(t)
			c, _ := sample(t, s)
			if err := os.Remove(c.Messages[0].Attachments[1].Path); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			out := filepath.Join(dir, "chat.md")
			images := filepath.Join(dir, "chat-images")
			mine := filepath.Join(images, "mine.txt")
			if tc.folderBefore {
				if err := os.Mkdir(images, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(mine, []byte("keep me"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Export(ctx, c.ID, Markdown, out); err == nil {
				t.Fatal("the export succeeded without its second image")
			}
			if exists(out) {
				t.Error("a failed export left its page")
			}
			entries, _ := os.ReadDir(images)
			switch {
			case !tc.folderBefore && exists(images):
				t.Errorf("a failed export left its images folder with %d entries", len(entries))
			case tc.folderBefore && (len(entries) != 1 || entries[0].Name() != "mine.txt"):
				t.Errorf("after a failed export the images folder holds %v, want only mine.txt", entries)
			}
			if rest, _ := os.ReadDir(dir); len(rest) != map[bool]int{false: 0, true: 1}[tc.folderBefore] {
				t.Errorf("the export's folder holds %v after the failure", rest)
			}
		})
	}
}

// TestExportRefusesNonFiles: a link or a folder at the destination is
// refused before anything is written, images included, and left as it was.
func TestExportRefusesNonFiles(t *testing.T) {
	s := openTemp(t)
	c, _ := sample(t, s)
	dir := t.TempDir()
	target := filepath.Join(dir, "target.md")
	if err := os.WriteFile(target, []byte("someone's notes"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.md")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "folder.md")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []Format{Markdown, JSON, HTML} {
		for _, path := range []string{link, folder} {
			if err := s.Export(ctx, c.ID, f, path); !errors.Is(err, outfile.ErrNotFile) {
				t.Errorf("Export(%s, %s): %v, want outfile.ErrNotFile", f, path, err)
			}
		}
	}
	for _, images := range []string{"link-images", "folder-images"} {
		if exists(filepath.Join(dir, images)) {
			t.Errorf("a refused export made %s", images)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "someone's notes" {
		t.Errorf("the link's target now holds %q", b)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced")
	}
}
