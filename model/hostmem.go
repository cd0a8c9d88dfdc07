package model

import (
	"unsafe"

	"glimpse/compute"
)

// Packed weights that the CPU engine keeps (compute.Backend.UploadPacked)
// are the whole model, gigabytes that live as long as it does. Allocated on
// the Go heap they would count towards the collector's pacing: with GOGC's
// default the heap may then grow to twice the weights before the garbage of
// running the model (every op's temporary tensors) is collected, so peak
// memory would grow with the answer's length up to twice the model (a
// full-size Vicuna-7B in q4 went from 6.2 GB after loading to over 7.3 GB
// within eight tokens). So the loader packs them into memory mapped outside
// the heap, as the converted-weight store's are, and unmaps it when the
// model is closed.

// hostPacked is a tensor's packed storage outside the Go heap.
type hostPacked struct {
	mem    []byte // the mapping: words, then scales; nil when empty
	words  []uint32
	scales []float32
}

// allocPacked maps zeroed storage for n elements of dt: PackedWords words
// and PackedScales scales.
func allocPacked(dt compute.DType, n int) (*hostPacked, error) {
	nw, ns := compute.PackedWords(dt, n), compute.PackedScales(dt, n)
	h := &hostPacked{}
	if nw+ns == 0 {
		return h, nil
	}
	mem, err := mapAnon(4 * (nw + ns))
	if err != nil {
		return nil, err
	}
	h.mem = mem
	base := unsafe.Pointer(unsafe.SliceData(mem))
	h.words = unsafe.Slice((*uint32)(base), nw)
	if ns > 0 {
		h.scales = unsafe.Slice((*float32)(unsafe.Add(base, 4*nw)), ns)
	}
	return h, nil
}

// free unmaps the storage; the tensors reading it must be released first.
func (h *hostPacked) free() {
	if h.mem != nil {
		unmapAnon(h.mem)
	}
	h.mem, h.words, h.scales = nil, nil, nil
}

// keepsPacked reports whether be keeps the words of a dtype's packed
// tensors as their storage (compute.Backend.UploadPacked): the CPU engine
// does for every dtype but F32, which it copies; a GPU copies them all.
func keepsPacked(be compute.Backend, dt compute.DType) bool {
	return dt != compute.F32 && be.Info().Name == "cpu"
}
