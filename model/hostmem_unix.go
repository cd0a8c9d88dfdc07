//go:build unix

package model

import "golang.org/x/sys/unix"

// mapAnon maps n zeroed bytes of private anonymous memory, outside the Go
// heap, asking for transparent huge pages: decoding streams every weight
// once per token, and with 4 KiB pages the processor's prefetchers stop at
// every page and the TLB misses every few cache lines. On the 2-core CI
// machine a Q4K matrix–vector product over 0.6 GB of weights ran at 16 GB/s
// in 4 KiB pages and 20.8 GB/s in huge ones (compute/cpu's
// BenchmarkCPULinearVecDRAM and …DRAMHuge; docs/PERFORMANCE.md). Where
// the system gives no huge pages (THP "never", or no THP at all) the
// advice fails and the memory is used as it is.
func mapAnon(n int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
	return b, nil
}

// unmapAnon returns a mapping from mapAnon to the system.
func unmapAnon(b []byte) { unix.Munmap(b) }
