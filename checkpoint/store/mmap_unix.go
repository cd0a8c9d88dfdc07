//go:build unix

package store

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapFile maps the whole file read-only and shared, so that its pages are
// the page cache's: a reader may read tensors in place, and the system can
// drop and re-read them under memory pressure.
func mapFile(fh *os.File, size int64) ([]byte, func() error, error) {
	b, err := unix.Mmap(int(fh.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, &os.PathError{Op: "mmap", Path: fh.Name(), Err: err}
	}
	return b, func() error { return unix.Munmap(b) }, nil
}

// evict drops the whole pages of b from the process's memory
// (MADV_DONTNEED: a later touch reads them again from the file). Advice
// that fails changes only memory use, so it is ignored.
func evict(b []byte) {
	page := uintptr(os.Getpagesize())
	if len(b) == 0 {
		return
	}
	// Whole pages only: the neighbours may belong to a tensor still in use.
	start := uintptr(0)
	if off := addr(b) % page; off != 0 {
		start = page - off
	}
	end := uintptr(len(b))
	end -= (addr(b) + end) % page
	if end <= start {
		return
	}
	_ = unix.Madvise(b[start:end], unix.MADV_DONTNEED)
}

// addr is the address of b's first byte, for page arithmetic only.
func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
