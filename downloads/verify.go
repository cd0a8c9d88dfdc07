package downloads

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
)

// VerifyError says that a file's bytes are not the ones the Hub listed.
// The bad data has been deleted by the time it is returned.
type VerifyError struct {
	// Path is the file's path in the repository.
	Path string
	// What is "size", "SHA-256" or "git SHA-1".
	What string
	// Want and Got are the expected and the actual value.
	Want, Got string
}

// Error names the file and the mismatch.
func (e *VerifyError) Error() string {
	return fmt.Sprintf("%s failed verification: its %s is %s, expected %s (the bad data was deleted)", e.Path, e.What, e.Got, e.Want)
}

// gitBlobHash returns the hash git gives a file of the given size: SHA-1
// over "blob SIZE\x00" and the content.
func gitBlobHash(size int64) hash.Hash {
	h := sha1.New()
	h.Write([]byte("blob " + strconv.FormatInt(size, 10) + "\x00"))
	return h
}

// checkFile hashes the file at p and compares it with what the Hub listed.
// progress, when set, receives the number of bytes hashed as it goes. It
// returns a *VerifyError for a mismatch and leaves deleting to the caller.
func checkFile(ctx context.Context, p string, f fileEntry, progress func(int64)) error {
	fh, err := os.Open(p)
	if err != nil {
		return err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != f.Size {
		return &VerifyError{Path: f.Path, What: "size", Want: strconv.FormatInt(f.Size, 10), Got: strconv.FormatInt(fi.Size(), 10)}
	}
	var h hash.Hash
	what := "SHA-256"
	if f.LFS {
		h = sha256.New()
	} else {
		h, what = gitBlobHash(f.Size), "git SHA-1"
	}
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := fh.Read(buf)
		h.Write(buf[:n])
		if progress != nil && n > 0 {
			progress(int64(n))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", f.Path, err)
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.Etag {
		return &VerifyError{Path: f.Path, What: what, Want: f.Etag, Got: got}
	}
	return nil
}
