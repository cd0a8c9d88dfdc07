//go:build windows

package store

import (
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// mapFile maps the whole file read-only through a file-mapping object.
func mapFile(fh *os.File, size int64) ([]byte, func() error, error) {
	m, err := windows.CreateFileMapping(windows.Handle(fh.Fd()), nil, windows.PAGE_READONLY,
		uint32(uint64(size)>>32), uint32(size), nil)
	if err != nil {
		return nil, nil, &os.PathError{Op: "CreateFileMapping", Path: fh.Name(), Err: err}
	}
	a, err := windows.MapViewOfFile(m, windows.FILE_MAP_READ, 0, 0, uintptr(size))
	windows.CloseHandle(m) // the view holds its own reference
	if err != nil {
		return nil, nil, &os.PathError{Op: "MapViewOfFile", Path: fh.Name(), Err: err}
	}
	// The view is not Go memory: reinterpret its address without a
	// uintptr→Pointer conversion, which vet rightly distrusts in general.
	b := unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&a))), int(size))
	return b, func() error { return windows.UnmapViewOfFile(a) }, nil
}

// evict does nothing on Windows: the system trims a view's clean pages
// itself under memory pressure.
func evict(b []byte) {}
