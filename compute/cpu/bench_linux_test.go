//go:build linux

package cpu

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BenchmarkCPULinearVecDRAMHuge is BenchmarkCPULinearVecDRAM with the
// weights in transparent huge pages (MADV_HUGEPAGE), where the model
// loader puts them (model/hostmem_unix.go); BenchmarkCPULinearVecDRAM's
// weights sit in the Go heap's 4 KiB pages, as ggml's test-backend-ops
// buffers do.
func BenchmarkCPULinearVecDRAMHuge(b *testing.B) {
	benchLinearVecDRAM(b, func(words []uint32) []uint32 { return hugeWords(b, words) })
}

// hugeWords copies words into anonymous memory advised into transparent
// huge pages, unmapped when b ends.
func hugeWords(b *testing.B, words []uint32) []uint32 {
	mem, err := unix.Mmap(-1, 0, 4*len(words), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Munmap(mem) })
	if err := unix.Madvise(mem, unix.MADV_HUGEPAGE); err != nil {
		b.Skipf("no transparent huge pages here: %v", err)
	}
	w := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(mem))), len(words))
	copy(w, words)
	return w
}
