//go:build !unix && !windows

package store

import (
	"io"
	"os"
)

// mapFile reads the whole file where we use no mapping call; the loader
// then holds the converted weights once more while it uploads them.
func mapFile(fh *os.File, size int64) ([]byte, func() error, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(fh, 0, size), b); err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}

// evict does nothing: the file was read, not mapped.
func evict(b []byte) {}
