// Package cpu is Glimpse's CPU compute backend: the kernels of
// compute.Device over Go slices, in Go, with the matrix–vector dot products
// also in Go assembly for amd64 and arm64, chosen for the processor at
// start-up (vec.go; the purego build tag keeps the Go ones). It has no cgo
// and imports no GL, so it builds and tests for any GOARCH (arm64 under
// qemu included).
//
// Tensors are Go slices; kernels run at once (there is no queue to
// synchronise), and the heavy ones (Linear, MatMul, Attention, large
// element-wise work) are split across runtime.GOMAXPROCS goroutines. The
// numerics favour straightforward float32 arithmetic over cleverness: every
// accumulation is float32, transcendental functions are evaluated in
// float64 and rounded once. Results do not depend on GOMAXPROCS: each output
// is summed in the same order however the work is split.
//
// Weights keep their packed dtype in memory (two halves or four int8 per
// word), so memory use is what the GL backend's would be, and the kernels
// widen them to float32 as they go.
package cpu

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"unsafe"

	"glimpse/compute"
)

// New returns the CPU backend. It cannot fail.
func New() compute.Backend {
	return compute.New(device{})
}

// device is stateless: every buffer is a Go value the garbage collector
// frees, so Close has nothing to do and concurrent use needs no lock.
type device struct{}

// buffer is the storage shared by a tensor and its views.
type buffer struct {
	f      []float32 // F32 elements
	words  []uint32  // packed elements of the other dtypes
	scales []float32 // Q8/Q4 block scales
}

// buf returns o's storage.
func buf(o compute.Operand) *buffer { return o.Buf.(*buffer) }

// floats returns o's F32 elements (a view: o.Len() of its storage).
func floats(o compute.Operand) []float32 { return buf(o).f[:o.Len()] }

func (device) Info() compute.Info {
	return compute.Info{
		Name:     "cpu",
		Device:   cpuModel(),
		Version:  runtime.Version(),
		Variants: []string{vec.name}, // the matrix–vector kernels this processor runs (vec.go)
		Limits:   map[string]int64{"threads": int64(runtime.GOMAXPROCS(0))},
		Extra:    map[string]string{"arch": runtime.GOOS + "/" + runtime.GOARCH, "cores": strconv.Itoa(runtime.NumCPU())},
	}
}

// cpuModel names the processor where the OS tells (Linux's /proc/cpuinfo),
// and the architecture elsewhere.
func cpuModel() string {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
			if ok && string(bytes.TrimSpace(k)) == "model name" {
				return string(bytes.TrimSpace(v))
			}
		}
	}
	return runtime.GOARCH
}

// Upload copies the packed data; F32 stays floats, which the kernels read
// directly.
func (device) Upload(dt compute.DType, shape []int, words []uint32, scales []float32) (compute.Buffer, error) {
	if dt == compute.F32 {
		f := make([]float32, len(words))
		copy(unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(f))), len(f)), words)
		return &buffer{f: f}, nil
	}
	// Packed words and scales were made for this upload: keep them.
	return &buffer{words: words, scales: scales}, nil
}

func (device) Alloc(dt compute.DType, shape []int) compute.Buffer {
	n := compute.NumElements(shape)
	switch dt {
	case compute.F32:
		return &buffer{f: make([]float32, n)}
	case compute.Q8, compute.Q4:
		return &buffer{words: make([]uint32, compute.PackedWords(dt, n)), scales: make([]float32, n/compute.BlockSize)}
	}
	return &buffer{words: make([]uint32, compute.PackedWords(dt, n))}
}

func (device) Write(dst compute.Operand, data []float32) { copy(floats(dst), data) }

// Clear zeroes the elements of dst: floats, or packed words and scales.
func (device) Clear(dst compute.Operand) {
	if dst.DType == compute.F32 {
		clear(floats(dst))
		return
	}
	b, n := buf(dst), dst.Len()
	clear(b.words[:compute.PackedWords(dst.DType, n)])
	if b.scales != nil {
		clear(b.scales[:n/compute.BlockSize])
	}
}

// Read returns a copy, widened to float32.
func (device) Read(src compute.Operand) []float32 {
	if src.DType == compute.F32 {
		return append([]float32(nil), floats(src)...)
	}
	b := buf(src)
	n := src.Len()
	var sc []float32
	if b.scales != nil {
		sc = b.scales[:n/compute.BlockSize]
	}
	return compute.Unpack(src.DType, src.Shape, b.words[:compute.PackedWords(src.DType, n)], sc)
}

// Free drops the slices, so that a use the front failed to catch fails
// loudly instead of reading stale data.
func (device) Free(b compute.Buffer) { *b.(*buffer) = buffer{} }

func (device) Close() error { return nil }

// Copy moves spans of elements; the front aligns them to whole words and
// blocks (super-blocks), so packed dtypes copy words and scales unchanged.
func (device) Copy(dst, src compute.Operand, spans []compute.Span) {
	db, sb := buf(dst), buf(src)
	if dst.DType == compute.F32 {
		for _, s := range spans {
			copy(db.f[s.Dst:s.Dst+s.N], sb.f[s.Src:s.Src+s.N])
		}
		return
	}
	dt := dst.DType
	for _, s := range spans {
		copy(db.words[compute.PackedWords(dt, s.Dst):compute.PackedWords(dt, s.Dst+s.N)], sb.words[compute.PackedWords(dt, s.Src):compute.PackedWords(dt, s.Src+s.N)])
		if db.scales != nil {
			const bs = compute.BlockSize
			copy(db.scales[s.Dst/bs:(s.Dst+s.N)/bs], sb.scales[s.Src/bs:(s.Src+s.N)/bs])
		}
	}
}
