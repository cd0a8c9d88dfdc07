// Package safetensors reads and writes Hugging Face safetensors files.
//
// A file is memory-mapped by Open and its header validated; tensor data is
// only touched when a tensor is asked for, so opening a 10 GB shard costs
// the header parse alone. OpenDir opens a model folder: either a single
// model.safetensors or the shards listed in model.safetensors.index.json.
//
// Malformed files (a corrupt length, bad JSON, offsets outside the file,
// overlapping tensors, a shape that does not match its byte length) are
// reported as errors wrapping ErrInvalid; nothing in this package panics on
// file contents.
package safetensors

import (
	"encoding/binary"
	"fmt"
	"os"
)

// Reader is what File and Set have in common: named tensors read lazily.
type Reader interface {
	// Names returns the tensor names, sorted.
	Names() []string
	// Info describes a tensor; ok is false when there is none by that name.
	Info(name string) (info TensorInfo, ok bool)
	// Raw returns the tensor's bytes, little-endian as stored.
	Raw(name string) ([]byte, error)
	// Float32 returns the tensor's values widened to float32.
	Float32(name string) ([]float32, error)
}

// File is one open safetensors file. Its methods are safe for concurrent
// use until Close.
type File struct {
	path   string
	mapped []byte // the whole file
	data   []byte // the data area after the header
	hdr    *header
	unmap  func() error
}

var (
	_ Reader = (*File)(nil)
	_ Reader = (*Set)(nil)
)

// Open maps the file at path and validates its header.
func Open(path string) (*File, error) {
	mapped, unmap, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	f, err := newFile(path, mapped)
	if err != nil {
		unmap()
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

func newFile(path string, mapped []byte) (*File, error) {
	if len(mapped) < 8 {
		return nil, fmt.Errorf("%s: %w: %d bytes is too short for a header", path, ErrInvalid, len(mapped))
	}
	n := binary.LittleEndian.Uint64(mapped)
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("%s: %w: header length %d exceeds the %d-byte limit", path, ErrInvalid, n, MaxHeaderSize)
	}
	if n > uint64(len(mapped)-8) {
		return nil, fmt.Errorf("%s: %w: header length %d but the file has only %d bytes (truncated?)", path, ErrInvalid, n, len(mapped))
	}
	data := mapped[8+n:]
	hdr, err := parseHeader(mapped[8:8+n], int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &File{path: path, mapped: mapped, data: data, hdr: hdr}, nil
}

// Path returns the path the file was opened from.
func (f *File) Path() string { return f.path }

// Names returns the tensor names in sorted order.
func (f *File) Names() []string { return append([]string(nil), f.hdr.names...) }

// Metadata returns the header's __metadata__ map (nil when absent).
func (f *File) Metadata() map[string]string { return f.hdr.metadata }

// Info describes the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	t, ok := f.hdr.tensors[name]
	if ok {
		t.Shape = append(make([]int, 0, len(t.Shape)), t.Shape...)
	}
	return t, ok
}

// Raw returns the tensor's bytes without copying: the slice points into the
// read-only mapping, must not be written to, and is valid until Close. (As
// with any mapping, a file truncated by another program while mapped makes
// reads of the lost pages fault.)
func (f *File) Raw(name string) ([]byte, error) {
	if f.data == nil && f.mapped == nil {
		return nil, fmt.Errorf("%s: file is closed", f.path)
	}
	t, ok := f.hdr.tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q", f.path, name)
	}
	return f.data[t.Offset : t.Offset+t.Size : t.Offset+t.Size], nil
}

// Float32 returns a new slice with the tensor's values converted to
// float32. F32, F16, BF16 and F64 tensors are accepted; integer types are
// an error (read them with Raw).
func (f *File) Float32(name string) ([]float32, error) {
	return f.ReadFloat32(name, nil)
}

// ReadFloat32 is Float32 into dst's memory when it has the capacity (a
// loader converting tensor after tensor reuses one buffer, so it leaves no
// garbage as large as the model behind), else into a new slice.
func (f *File) ReadFloat32(name string, dst []float32) ([]float32, error) {
	raw, err := f.Raw(name)
	if err != nil {
		return nil, err
	}
	t := f.hdr.tensors[name]
	n := int(t.NumElements())
	out := reuse(dst, n)
	if err := toFloat32(t.DType, raw, out); err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", f.path, name, err)
	}
	return out, nil
}

// reuse returns n elements of dst's memory when it has the capacity,
// else a new slice.
func reuse(dst []float32, n int) []float32 {
	if cap(dst) < n || dst == nil {
		return make([]float32, n)
	}
	return dst[:n]
}

// evictChunk is how many bytes of a tensor ReadFloat32Evict converts
// before it lets their pages go: large enough that the advice costs
// nothing next to the copy, small enough that a tensor's mapped pages
// never add more than this to a loader's peak memory.
var evictChunk int64 = 16 << 20

// faultAround is the most that touching one mapped page maps in around it
// (Linux's fault_around_bytes is at most a page table's 2 MiB).
const faultAround = 2 << 20

// evictHook, when set (by tests), is called after each chunk's pages were
// let go, with the bytes of the tensor converted so far.
var evictHook func(done int64)

// ReadFloat32Evict is ReadFloat32 followed by Evict, except that the
// tensor's mapped pages are let go chunk by chunk as the copy advances
// (every evictChunk bytes), not after the whole tensor: a loader reading a
// 0.5 GB tensor into a 0.5 GB float32 buffer then holds the buffer and at
// most one chunk of the file, not both in full. The values are the same
// as ReadFloat32's (each element is converted on its own), and the pages
// let go are the same as Evict's.
func (f *File) ReadFloat32Evict(name string, dst []float32) ([]float32, error) {
	raw, err := f.Raw(name)
	if err != nil {
		return nil, err
	}
	t := f.hdr.tensors[name]
	n := int(t.NumElements())
	out := reuse(dst, n)
	size := int64(t.DType.Size()) // the header's check: len(raw) == n*size
	per := evictChunk / size      // elements per chunk
	if per < 1 {
		per = 1
	}
	start := int64(len(f.mapped)-len(f.data)) + t.Offset // the tensor's first byte in the mapping
	from := start
	for e := int64(0); e < int64(n); e += per {
		end := min(e+per, int64(n))
		if err := toFloat32(t.DType, raw[e*size:end*size], out[e:end]); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", f.path, name, err)
		}
		if f.mapped != nil && f.data != nil {
			// Whole pages of [from, the end of this chunk): the page the
			// chunk ends in holds bytes still to be read (or a neighbour's),
			// so it goes with the next chunk (or stays, as with Evict).
			// Touching a page also maps its cached neighbours (the kernel's
			// fault-around, at most 2 MiB of them), so pages let go with the
			// last chunk may be back: advise them again.
			to := start + end*size
			evict(f.mapped, from, to)
			page := int64(os.Getpagesize())
			from = max(start, to/page*page-faultAround)
		}
		if evictHook != nil {
			evictHook(end * size)
		}
	}
	return out, nil
}

// Evict tells the system that the tensor's bytes will not be read again
// soon, so the pages it mapped in can leave the process's memory now
// rather than stay resident until Close: a loader that converts a model
// tensor by tensor then never holds a whole float32 checkpoint. Reading
// the tensor again still works (the pages come back from disk). It does
// nothing where files are not mapped.
func (f *File) Evict(name string) {
	t, ok := f.hdr.tensors[name]
	if !ok || f.mapped == nil || f.data == nil {
		return
	}
	start := int64(len(f.mapped)-len(f.data)) + t.Offset
	evict(f.mapped, start, start+t.Size)
}

// Close releases the mapping. Slices returned by Raw must not be used
// afterwards.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap, f.mapped, f.data = nil, nil, nil
	return err
}

func fileSize(fh *os.File, path string) (int64, error) {
	st, err := fh.Stat()
	if err != nil {
		return 0, err
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() < 8 {
		return 0, fmt.Errorf("%s: %w: %d bytes is too short for a header", path, ErrInvalid, st.Size())
	}
	if int64(int(st.Size())) != st.Size() {
		return 0, fmt.Errorf("%s is too large to map on this platform", path)
	}
	return st.Size(), nil
}
