package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"glimpse/input/imageproc"
)

// imageExts are the file extensions of the images Glimpse reads, the one
// list behind folder captioning and the file dialogs.
var imageExts = []string{".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"}

// imageKinds names the formats for people, in messages.
const imageKinds = "PNG, JPEG, GIF, WebP, BMP or TIFF"

// ImageExtensions returns the file extensions of the images Glimpse reads
// (".png", …), sorted, for file dialogs.
func ImageExtensions() []string { return slices.Clone(imageExts) }

// IsImageName reports whether a file's name has an image extension, in any
// case.
func IsImageName(name string) bool {
	return slices.Contains(imageExts, strings.ToLower(filepath.Ext(name)))
}

// Image is an image file read for a question: decoded, and its bytes for
// the history.
type Image struct {
	Path  string // the file, as given
	Name  string // its base name
	Data  []byte // the file's bytes
	Image image.Image
}

// ImageError is an image file Glimpse cannot use; it matches
// ErrUnreadableImage.
type ImageError struct {
	Path   string // the file, as given
	Reason string // worded for people, following the path: "does not exist"
	Err    error  // the cause
}

// Error names the file and says what is wrong with it.
func (e *ImageError) Error() string { return e.Path + " " + e.Reason }

// Is reports that e is an ErrUnreadableImage.
func (e *ImageError) Is(target error) bool { return target == ErrUnreadableImage }

// Unwrap returns the cause.
func (e *ImageError) Unwrap() error { return e.Err }

// LoadImage reads and decodes an image file; see LoadImageContext.
func LoadImage(path string) (*Image, error) {
	return LoadImageContext(context.Background(), path)
}

// LoadImageContext reads and decodes an image file, stopping with an
// ErrCancelled error when ctx is cancelled. Its other errors are
// *ImageError, worded for the user: the file does not exist, cannot be
// read, is a folder, a device or a named pipe (refused before it is opened,
// since opening a pipe waits for a writer and a device may never end), or
// is not an image Glimpse can decode.
func LoadImageContext(ctx context.Context, path string) (*Image, error) {
	data, err := imageproc.ReadFile(ctx, path)
	if err != nil {
		if cancelled(err) {
			return nil, classify(err)
		}
		reason := fmt.Sprintf("cannot be read: %v", userErr(err))
		var nr *imageproc.NotRegularError
		switch {
		case errors.As(err, &nr) && nr.Kind == "a folder":
			reason = "is a folder: choose an image file"
		case errors.As(err, &nr):
			reason = fmt.Sprintf("is %s, not an image file", nr.Kind)
		case errors.Is(err, fs.ErrNotExist):
			reason = "does not exist"
		case errors.Is(err, fs.ErrPermission):
			reason = "cannot be read: permission denied"
		}
		return nil, &ImageError{Path: path, Reason: reason, Err: err}
	}
	img, _, err := imageproc.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, &ImageError{Path: path, Err: err,
			Reason: fmt.Sprintf("is not an image Glimpse can read (%s): %v", imageKinds, err)}
	}
	return &Image{Path: path, Name: filepath.Base(path), Data: data, Image: img}, nil
}

// userErr strips the path from file errors whose message already names it.
func userErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// FindImages lists the images of a folder, and of its sub-folders when
// recursive, as sorted paths relative to the folder with forward slashes.
// Hidden files and folders (a leading dot: .git, macOS's ._photo.jpg) are
// never taken; unreadable sub-folders are passed over; symbolic links to
// files are taken like files.
func FindImages(folder string, recursive bool) ([]string, error) {
	st, err := os.Stat(folder)
	if err != nil {
		return nil, fmt.Errorf("%s cannot be opened: %v", folder, userErr(err))
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", folder)
	}
	var found []string
	err = filepath.WalkDir(folder, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == folder {
				return err
			}
			return nil
		}
		if d.IsDir() {
			if path != folder && (!recursive || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") || !IsImageName(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(folder, path)
		if err != nil {
			return err
		}
		found = append(found, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s cannot be read: %v", folder, userErr(err))
	}
	slices.Sort(found)
	return found, nil
}

// ImageFiles expands what a person named to caption: files as given, and
// folders to their images (not those of sub-folders, see FindImages), in
// order of name. A folder without images is an ErrNoImages error.
func ImageFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, &ImageError{Path: p, Reason: "does not exist", Err: err}
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		rels, err := FindImages(p, false)
		if err != nil {
			return nil, err
		}
		if len(rels) == 0 {
			return nil, noImages(p)
		}
		for _, rel := range rels {
			files = append(files, filepath.Join(p, filepath.FromSlash(rel)))
		}
	}
	return files, nil
}

func noImages(folder string) error {
	return &Error{Kind: ErrNoImages, Msg: fmt.Sprintf("%s has no images (%s)", folder, imageKinds)}
}
