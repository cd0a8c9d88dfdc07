//go:build linux

package safetensors

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unsafe"
)

// mappedPages reports, for each page of the mapping that holds part of
// [start, end), whether it is in the process's page table (Linux's
// /proc/self/pagemap: bit 63 of each page's entry is "present"). That is
// the process's resident memory, unlike mincore, which also counts the
// file's pages in the page cache after they left the process.
func mappedPages(t *testing.T, mapped []byte, start, end int64) []bool {
	t.Helper()
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	page := uintptr(os.Getpagesize())
	base := uintptr(unsafe.Pointer(&mapped[0])) // mappings are page-aligned
	first, last := (base+uintptr(start))/page, (base+uintptr(end)-1)/page
	buf := make([]byte, 8*(last-first+1))
	if _, err := pm.ReadAt(buf, int64(first*8)); err != nil {
		t.Fatal(err)
	}
	out := make([]bool, last-first+1)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(buf[8*i:])&(1<<63) != 0
	}
	return out
}

// TestReadFloat32EvictAsItGoes checks that ReadFloat32Evict lets a tensor's
// mapped pages go chunk by chunk while it copies, so the file pages and the
// float32 copy of a large tensor are never resident together: after each
// chunk, no whole page of the tensor before the chunk's end is mapped; at
// the end none is; the values are exactly those written; and neighbours
// (which share the tensor's first and last pages) read back unchanged.
// Plain ReadFloat32 leaves the pages mapped, which shows that the page
// table is read right.
func TestReadFloat32EvictAsItGoes(t *testing.T) {
	page := int64(os.Getpagesize())
	const n = 20*1024 + 3 // elements: several pages in any dtype, not page-aligned
	// value(i) is exact in F16 and BF16 as well as F32.
	value := func(i int) float32 { return float32(i%128-64) * 0.5 }
	encode := func(d DType, v []float32) []byte {
		b := make([]byte, len(v)*d.Size())
		for i, x := range v {
			switch d {
			case F32:
				binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
			case BF16:
				binary.LittleEndian.PutUint16(b[2*i:], uint16(math.Float32bits(x)>>16))
			case F16: // x is a multiple of 0.5 below 64 in magnitude: a normal half
				bits := math.Float32bits(x)
				var h uint16
				if x != 0 {
					exp := int(bits>>23&0xff) - 127 + 15
					h = uint16(bits>>31)<<15 | uint16(exp)<<10 | uint16(bits>>13&0x3ff)
				}
				binary.LittleEndian.PutUint16(b[2*i:], h)
			}
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		dtype  DType
		chunk  int64 // evictChunk
		chunks int   // hook calls expected: ceil(n*size/chunk)
	}{
		{"f32, one page a chunk", F32, page, (n*4 + int(page) - 1) / int(page)},
		{"f32, chunks that end mid-page", F32, 3*page/2 + 4, (n*4 + int(3*page/2+4) - 1) / int(3*page/2+4)},
		{"f16, one page a chunk", F16, page, (n*2 + int(page) - 1) / int(page)},
		{"bf16, two pages a chunk", BF16, 2 * page, (n*2 + int(2*page) - 1) / int(2*page)},
		{"f32, one chunk for the whole tensor", F32, 1 << 30, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := make([]float32, n)
			for i := range want {
				want[i] = value(i)
			}
			neighbour := make([]float32, n)
			for i := range neighbour {
				neighbour[i] = value(i + 7)
			}
			tensors := map[string]Tensor{
				"a": {DType: tc.dtype, Shape: []int{n}, Data: encode(tc.dtype, neighbour)},
				"b": {DType: tc.dtype, Shape: []int{n}, Data: encode(tc.dtype, want)},
				"c": {DType: tc.dtype, Shape: []int{n}, Data: encode(tc.dtype, neighbour)},
			}
			path := filepath.Join(t.TempDir(), "model.safetensors")
			if err := WriteFile(path, tensors, nil); err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			info, _ := f.Info("b")
			start := int64(len(f.mapped)-len(f.data)) + info.Offset
			end := start + info.Size
			firstWhole := (start + page - 1) / page // the tensor's whole pages, as page numbers
			lastWhole := end/page - 1
			if lastWhole-firstWhole < 3 {
				t.Fatalf("the tensor spans only %d whole pages", lastWhole-firstWhole+1)
			}
			// wholeMapped lists the whole pages of b in [start, upTo) that are mapped.
			wholeMapped := func(upTo int64) []int64 {
				var out []int64
				present := mappedPages(t, f.mapped, start, end)
				for p := firstWhole; p <= lastWhole && (p+1)*page <= upTo; p++ {
					if present[p-start/page] {
						out = append(out, p)
					}
				}
				return out
			}

			// Plain ReadFloat32 leaves every page mapped.
			if _, err := f.ReadFloat32("b", nil); err != nil {
				t.Fatal(err)
			}
			if got := len(wholeMapped(end)); got != int(lastWhole-firstWhole+1) {
				t.Fatalf("after ReadFloat32, %d of b's %d whole pages are mapped; want all", got, lastWhole-firstWhole+1)
			}
			f.Evict("b")
			if got := wholeMapped(end); len(got) != 0 {
				t.Fatalf("after Evict, pages %v of b are still mapped", got)
			}

			oldChunk := evictChunk
			evictChunk = tc.chunk
			calls := 0
			evictHook = func(done int64) {
				calls++
				if got := wholeMapped(start + done); len(got) != 0 {
					t.Errorf("after %d of %d bytes, pages %v already copied are still mapped", done, info.Size, got)
				}
			}
			defer func() { evictChunk, evictHook = oldChunk, nil }()
			got, err := f.ReadFloat32Evict("b", make([]float32, 0, n))
			if err != nil {
				t.Fatal(err)
			}
			if calls != tc.chunks {
				t.Errorf("%d chunks, want %d", calls, tc.chunks)
			}
			if !slices.Equal(got, want) {
				t.Errorf("values differ from those written")
			}
			if left := wholeMapped(end); len(left) != 0 {
				t.Errorf("pages %v of b are still mapped after ReadFloat32Evict", left)
			}
			for _, name := range []string{"a", "c"} {
				if v, err := f.Float32(name); err != nil || !slices.Equal(v, neighbour) {
					t.Errorf("neighbour %s reads back differently (%v)", name, err)
				}
			}
			if again, err := f.Float32("b"); err != nil || !slices.Equal(again, want) {
				t.Errorf("b reads back differently after ReadFloat32Evict (%v)", err)
			}
		})
	}
}
