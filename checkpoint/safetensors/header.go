package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
)

// MaxHeaderSize bounds the JSON header, so that a corrupt length field cannot
// make Open allocate gigabytes. Real checkpoints stay far below it (the
// largest InstructBLIP shard header is about 100 KiB).
const MaxHeaderSize = 100 << 20

// ErrInvalid is wrapped by every error about a malformed file.
var ErrInvalid = errors.New("not a valid safetensors file")

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int // row-major, outermost first; empty for a scalar
	Size  int64 // bytes of data
	// Offset is where the data starts, relative to the data area that
	// follows the header.
	Offset int64
}

// NumElements returns the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= int64(d)
	}
	return n
}

// header is the parsed and validated JSON header.
type header struct {
	tensors  map[string]TensorInfo
	names    []string // sorted
	metadata map[string]string
}

type rawEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// parseHeader decodes and validates the JSON header of a file whose data
// area (everything after the header) is dataLen bytes long. Every tensor
// must have a known dtype, non-negative dimensions, offsets inside the data
// area whose length equals elements × element size, and no two tensors may
// overlap.
func parseHeader(js []byte, dataLen int64) (*header, error) {
	if len(js) > MaxHeaderSize {
		return nil, invalid("header of %d bytes exceeds the %d-byte limit", len(js), MaxHeaderSize)
	}
	trimmed := bytes.TrimLeft(js, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, invalid("header is not a JSON object")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(js, &raw); err != nil {
		return nil, invalid("header JSON: %v", err)
	}
	h := &header{tensors: make(map[string]TensorInfo, len(raw))}
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &h.metadata); err != nil {
				return nil, invalid("__metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		var e rawEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, invalid("tensor %q: %v", name, err)
		}
		info, err := checkEntry(name, e, dataLen)
		if err != nil {
			return nil, err
		}
		h.tensors[name] = info
		h.names = append(h.names, name)
	}
	sort.Strings(h.names)
	if err := checkOverlaps(h); err != nil {
		return nil, err
	}
	return h, nil
}

func checkEntry(name string, e rawEntry, dataLen int64) (TensorInfo, error) {
	dt := DType(e.DType)
	size := dt.Size()
	if size == 0 {
		return TensorInfo{}, invalid("tensor %q has unknown dtype %q", name, e.DType)
	}
	if len(e.DataOffsets) != 2 {
		return TensorInfo{}, invalid("tensor %q: data_offsets must be [begin, end]", name)
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin < 0 || end < begin || end > dataLen {
		return TensorInfo{}, invalid("tensor %q: data_offsets [%d, %d] outside the %d-byte data area", name, begin, end, dataLen)
	}
	shape := make([]int, len(e.Shape))
	elems := int64(1)
	for i, d := range e.Shape {
		if d < 0 {
			return TensorInfo{}, invalid("tensor %q has negative dimension %d", name, d)
		}
		if d > math.MaxInt32 || (d != 0 && elems > math.MaxInt64/d) {
			return TensorInfo{}, invalid("tensor %q: shape %v is too large", name, e.Shape)
		}
		elems *= d
		shape[i] = int(d)
	}
	if elems > math.MaxInt64/int64(size) || elems*int64(size) != end-begin {
		return TensorInfo{}, invalid("tensor %q: shape %v of %s needs %d bytes, data_offsets give %d",
			name, e.Shape, dt, elems*int64(size), end-begin)
	}
	return TensorInfo{Name: name, DType: dt, Shape: shape, Size: end - begin, Offset: begin}, nil
}

func checkOverlaps(h *header) error {
	byOffset := make([]TensorInfo, 0, len(h.tensors))
	for _, t := range h.tensors {
		if t.Size > 0 { // empty tensors occupy no bytes and cannot overlap
			byOffset = append(byOffset, t)
		}
	}
	sort.Slice(byOffset, func(i, j int) bool {
		if byOffset[i].Offset != byOffset[j].Offset {
			return byOffset[i].Offset < byOffset[j].Offset
		}
		return byOffset[i].Name < byOffset[j].Name
	})
	for i := 1; i < len(byOffset); i++ {
		prev, cur := byOffset[i-1], byOffset[i]
		if cur.Offset < prev.Offset+prev.Size {
			return invalid("tensors %q and %q overlap", prev.Name, cur.Name)
		}
	}
	return nil
}
