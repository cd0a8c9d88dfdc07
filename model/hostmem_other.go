//go:build !unix

package model

// mapAnon allocates n zeroed bytes; without mmap they are the Go heap's.
func mapAnon(n int) ([]byte, error) { return make([]byte, n), nil }

// unmapAnon leaves the bytes to the collector.
func unmapAnon([]byte) {}
