package history

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"

	// Decoders for every format an attachment may have.
	_ "image/gif"

	_ "golang.org/x/image/bmp"
	"golang.org/x/image/draw"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// ThumbSize is the longest side, in pixels, of the thumbnails kept with
// each image: big enough for a list of conversations on a high-DPI screen.
const ThumbSize = 256

// maxPixels bounds the images accepted, so that a small file claiming
// enormous dimensions cannot make decoding allocate gigabytes.
const maxPixels = 100 << 20

// preparedImage is an image checked, hashed and thumbnailed, ready to be
// stored inside a transaction without doing slow work there.
type preparedImage struct {
	name   string
	data   []byte
	sha    string
	format string
	width  int
	height int
	thumb  []byte
	tfmt   string // png or jpeg
}

func prepareImages(images []Image) ([]preparedImage, error) {
	out := make([]preparedImage, 0, len(images))
	for _, im := range images {
		p, err := prepareImage(im)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func prepareImage(im Image) (preparedImage, error) {
	label := im.Name
	if label == "" {
		label = "the image"
	} else {
		label = fmt.Sprintf("image %q", label)
	}
	if len(im.Data) == 0 {
		return preparedImage{}, fmt.Errorf("%s is empty", label)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(im.Data))
	if err != nil {
		return preparedImage{}, fmt.Errorf("%s is not a PNG, JPEG, GIF, WebP, BMP or TIFF image Glimpse can read: %v", label, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return preparedImage{}, fmt.Errorf("%s is %d×%d pixels; Glimpse takes images of up to %d megapixels", label, cfg.Width, cfg.Height, maxPixels>>20)
	}
	img, err := decode(im.Data)
	if err != nil {
		return preparedImage{}, fmt.Errorf("%s is damaged: %v", label, err)
	}
	thumb, tfmt, err := thumbnail(img)
	if err != nil {
		return preparedImage{}, err
	}
	sum := sha256.Sum256(im.Data)
	return preparedImage{
		name: im.Name, data: im.Data, sha: hex.EncodeToString(sum[:]), format: format,
		width: cfg.Width, height: cfg.Height, thumb: thumb, tfmt: tfmt,
	}, nil
}

// decode decodes a whole image. Malformed files must come back as errors,
// so a panic inside a third-party decoder is turned into one.
func decode(data []byte) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("the decoder failed: %v", r)
		}
	}()
	img, _, err = image.Decode(bytes.NewReader(data))
	return img, err
}

// thumbnail scales img to fit in ThumbSize×ThumbSize (never enlarging it)
// and encodes it as JPEG, or as PNG when it has transparency JPEG would
// lose.
func thumbnail(img image.Image) ([]byte, string, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > ThumbSize || h > ThumbSize {
		if w >= h {
			w, h = ThumbSize, max(1, h*ThumbSize/b.Dx())
		} else {
			w, h = max(1, w*ThumbSize/b.Dy()), ThumbSize
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	var buf bytes.Buffer
	if dst.Opaque() {
		if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 85}); err != nil {
			return nil, "", err
		}
		return buf.Bytes(), "jpeg", nil
	}
	if err := png.Encode(&buf, dst); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), "png", nil
}

// extension is the file name extension for an image format.
func extension(format string) string {
	switch format {
	case "jpeg":
		return ".jpg"
	case "tiff":
		return ".tif"
	}
	return "." + format
}

// mimeType is the media type for an image format.
func mimeType(format string) string { return "image/" + format }

func (s *Store) imagePath(sha, format string) string {
	return filepath.Join(s.dir, "images", sha[:2], sha+extension(format))
}

func (s *Store) thumbPath(sha, format string) string {
	return filepath.Join(s.dir, "thumbs", sha[:2], sha+extension(format))
}

// storeImage records p in the images table, if it is not there yet, and
// makes sure its files exist. It runs inside the caller's write
// transaction, which holds the database's write lock: Delete removes files
// only while holding that lock and only when no row names them, so a file
// can never be removed under a row that has just been committed.
func (s *Store) storeImage(tx *sql.Tx, p preparedImage) (Attachment, error) {
	a := Attachment{Name: p.name, SHA256: p.sha}
	var thumb string
	err := tx.QueryRow(`SELECT format, width, height, size, thumb_format FROM images WHERE sha256 = ?`, p.sha).
		Scan(&a.Format, &a.Width, &a.Height, &a.Size, &thumb)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		a.Format, a.Width, a.Height, a.Size, thumb = p.format, p.width, p.height, int64(len(p.data)), p.tfmt
		if _, err := tx.Exec(`INSERT INTO images (sha256, format, width, height, size, thumb_format)
			VALUES (?, ?, ?, ?, ?, ?)`, p.sha, a.Format, a.Width, a.Height, a.Size, thumb); err != nil {
			return a, err
		}
	case err != nil:
		return a, err
	}
	a.Path, a.ThumbPath = s.imagePath(p.sha, a.Format), s.thumbPath(p.sha, thumb)
	// An earlier crash may have left the row without its file (or with a
	// partial temporary one, which is never the final name): write what
	// is missing.
	if err := ensureFile(a.Path, p.data); err != nil {
		return a, fmt.Errorf("cannot save the image: %w", err)
	}
	// The same bytes give the same thumbnail format, unless a later
	// version thumbnails differently; then the stored one stays.
	if thumb == p.tfmt {
		if err := ensureFile(a.ThumbPath, p.thumb); err != nil {
			return a, fmt.Errorf("cannot save the thumbnail: %w", err)
		}
	}
	return a, nil
}

// ensureFile writes data to path unless a file of that size is there. The
// data goes to a temporary file that is synced and then renamed, so path
// holds either nothing or all of it, even after a crash.
func ensureFile(path string, data []byte) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() == int64(len(data)) {
		return nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable. Some systems (Windows) cannot
// sync a directory; there the rename is as durable as the OS makes it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// removeImageFiles deletes the files of images whose rows Delete removed.
// It holds the write lock while it checks and deletes, so that an Append
// in another process that stores the same image again either committed
// before (its row is seen and the file kept) or runs after (and writes the
// file again).
func (s *Store) removeImageFiles(ctx context.Context, shas []string) error {
	if len(shas) == 0 {
		return nil
	}
	return s.write(ctx, "remove unused images", func(tx *sql.Tx) error {
		var errs []error
		for _, sha := range shas {
			var one int
			err := tx.QueryRow(`SELECT 1 FROM images WHERE sha256 = ?`, sha).Scan(&one)
			if err == nil {
				continue // stored again meanwhile
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			for _, pattern := range []string{
				filepath.Join(s.dir, "images", sha[:2], sha+".*"),
				filepath.Join(s.dir, "thumbs", sha[:2], sha+".*"),
			} {
				files, _ := filepath.Glob(pattern)
				for _, f := range files {
					if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
						errs = append(errs, err)
					}
				}
			}
		}
		return errors.Join(errs...)
	})
}
