//go:build windows

package safetensors

import (
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// mapFile maps the whole file read-only through a file-mapping object.
// Pages are read from disk only when a tensor's bytes are touched.
func mapFile(path string) ([]byte, func() error, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close() // the view keeps the file open
	size, err := fileSize(fh, path)
	if err != nil {
		return nil, nil, err
	}
	m, err := windows.CreateFileMapping(windows.Handle(fh.Fd()), nil, windows.PAGE_READONLY,
		uint32(uint64(size)>>32), uint32(size), nil)
	if err != nil {
		return nil, nil, &os.PathError{Op: "CreateFileMapping", Path: path, Err: err}
	}
	addr, err := windows.MapViewOfFile(m, windows.FILE_MAP_READ, 0, 0, uintptr(size))
	windows.CloseHandle(m) // the view holds its own reference
	if err != nil {
		return nil, nil, &os.PathError{Op: "MapViewOfFile", Path: path, Err: err}
	}
	// Reinterpret the view's address without a uintptr→Pointer conversion,
	// which vet rightly distrusts in general; the view is not Go memory.
	b := unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&addr))), int(size))
	return b, func() error { return windows.UnmapViewOfFile(addr) }, nil
}

// evict does nothing on Windows: the system trims a mapped view's clean
// pages itself under memory pressure.
func evict(mapped []byte, start, end int64) {}
