package model

import (
	"fmt"
	"testing"
)

// TestCopyParallel checks copyParallel at sizes below, at and around its
// split into 2 MiB pages, with a destination longer than the source.
func TestCopyParallel(t *testing.T) {
	const page = 1 << 19
	for _, n := range []int{0, 1, 2*page - 1, 2 * page, 3*page + 17, 5 * page} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			src := make([]uint32, n)
			for i := range src {
				src[i] = uint32(i*2654435761) ^ 0x9e3779b9
			}
			dst := make([]uint32, n+3)
			dst[n] = 7
			copyParallel(dst, src)
			for i, v := range src {
				if dst[i] != v {
					t.Fatalf("word %d = %#x, want %#x", i, dst[i], v)
				}
			}
			if dst[n] != 7 {
				t.Fatalf("word %d past the source was overwritten", n)
			}
		})
	}
}
