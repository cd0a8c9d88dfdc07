package ui

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"glimpse/input/imageproc"
)

// pickedImage is an image chosen for a question: its file, decoded, and its
// bytes for the history.
type pickedImage struct {
	Path  string
	Name  string
	Data  []byte
	Image image.Image
}

// loadImage reads and decodes an image file, with an error worded for the
// window when it is not one Glimpse can read.
func loadImage(path string) (*pickedImage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%s does not exist", path)
		case errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("%s cannot be read: permission denied", path)
		}
		if st, serr := os.Stat(path); serr == nil && st.IsDir() {
			return nil, fmt.Errorf("%s is a folder: choose an image file", path)
		}
		return nil, fmt.Errorf("%s cannot be read: %v", path, err)
	}
	img, _, err := imageproc.DecodeFile(path)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), path+": ")
		return nil, fmt.Errorf("%s is not an image Glimpse can read (PNG, JPEG, GIF, WebP, BMP or TIFF): %s", filepath.Base(path), msg)
	}
	return &pickedImage{Path: path, Name: filepath.Base(path), Data: data, Image: img}, nil
}

// pastedPath recognises text that is a path to an existing file: a plain
// path, one in quotes (as file managers copy them) or a file:// URI. It
// returns "" for anything else, so ordinary pasted text stays text.
func pastedPath(text string) string {
	t := strings.TrimSpace(text)
	if strings.ContainsAny(t, "\n\r") || t == "" {
		return ""
	}
	if len(t) >= 2 && (t[0] == '"' && t[len(t)-1] == '"' || t[0] == '\'' && t[len(t)-1] == '\'') {
		t = t[1 : len(t)-1]
	}
	if strings.HasPrefix(t, "file://") {
		u, err := url.Parse(t)
		if err != nil {
			return ""
		}
		t = u.Path
		if len(t) > 2 && t[0] == '/' && t[2] == ':' { // file:///C:/… on Windows
			t = t[1:]
		}
	}
	if strings.HasPrefix(t, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			t = filepath.Join(home, t[2:])
		}
	}
	st, err := os.Stat(t)
	if err != nil || st.IsDir() {
		return ""
	}
	return t
}
