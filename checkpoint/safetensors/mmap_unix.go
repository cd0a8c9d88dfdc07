//go:build unix

package safetensors

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the whole file read-only. Pages are read from disk only when
// a tensor's bytes are touched.
func mapFile(path string) ([]byte, func() error, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close() // the mapping stays valid after the descriptor closes
	size, err := fileSize(fh, path)
	if err != nil {
		return nil, nil, err
	}
	b, err := unix.Mmap(int(fh.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, &os.PathError{Op: "mmap", Path: path, Err: err}
	}
	return b, func() error { return unix.Munmap(b) }, nil
}

// evict drops the whole pages of mapped[start:end] from the process's
// memory (MADV_DONTNEED: the file's pages are re-read if touched again).
// Advice that fails changes nothing but memory use, so it is ignored.
func evict(mapped []byte, start, end int64) {
	page := int64(os.Getpagesize())
	start = (start + page - 1) / page * page // whole pages only: neighbours may still be needed
	end = end / page * page
	if end <= start {
		return
	}
	_ = unix.Madvise(mapped[start:end], unix.MADV_DONTNEED)
}
