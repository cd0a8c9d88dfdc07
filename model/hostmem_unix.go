//go:build unix

package model

import "golang.org/x/sys/unix"

// mapAnon maps n zeroed bytes of private anonymous memory, outside the Go
// heap.
func mapAnon(n int) ([]byte, error) {
	return unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
}

// unmapAnon returns a mapping from mapAnon to the system.
func unmapAnon(b []byte) { unix.Munmap(b) }
