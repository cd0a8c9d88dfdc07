//go:build !unix && !windows

package safetensors

import "os"

// mapFile reads the whole file on platforms without a mapping call we use.
func mapFile(path string) ([]byte, func() error, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}

// evict does nothing: the file was read into memory, not mapped.
func evict(mapped []byte, start, end int64) {}
