package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
)

// Tensor is one tensor to write: its dtype, shape and little-endian bytes.
type Tensor struct {
	DType DType
	Shape []int
	Data  []byte
}

// FromFloat32 makes an F32 tensor of the given shape from values.
// It panics if the shape's product is not len(values).
func FromFloat32(shape []int, values []float32) Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(values) {
		panic(fmt.Sprintf("safetensors.FromFloat32: shape %v holds %d values, got %d", shape, n, len(values)))
	}
	b := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{DType: F32, Shape: append([]int(nil), shape...), Data: b}
}

// Encode returns the bytes of a safetensors file holding tensors (written
// in name order) and metadata (may be nil).
func Encode(tensors map[string]Tensor, metadata map[string]string) ([]byte, error) {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		if n == "__metadata__" {
			return nil, fmt.Errorf("safetensors: %q is reserved", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	// Build the header by hand so that keys keep the data order.
	hdr := map[string]any{}
	if len(metadata) > 0 {
		hdr["__metadata__"] = metadata
	}
	var off int64
	for _, n := range names {
		t := tensors[n]
		size := t.DType.Size()
		if size == 0 {
			return nil, fmt.Errorf("safetensors: tensor %q has unknown dtype %q", n, t.DType)
		}
		elems := int64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("safetensors: tensor %q has negative dimension in %v", n, t.Shape)
			}
			elems *= int64(d)
		}
		if elems*int64(size) != int64(len(t.Data)) {
			return nil, fmt.Errorf("safetensors: tensor %q: shape %v of %s needs %d bytes, has %d", n, t.Shape, t.DType, elems*int64(size), len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		hdr[n] = map[string]any{"dtype": t.DType, "shape": shape, "data_offsets": []int64{off, off + int64(len(t.Data))}}
		off += int64(len(t.Data))
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return nil, err
	}
	// Pad the header with spaces so the data area starts 8-byte aligned,
	// as the reference writer does.
	for (8+len(js))%8 != 0 {
		js = append(js, ' ')
	}
	var buf bytes.Buffer
	buf.Grow(8 + len(js) + int(off))
	binary.Write(&buf, binary.LittleEndian, uint64(len(js)))
	buf.Write(js)
	for _, n := range names {
		buf.Write(tensors[n].Data)
	}
	return buf.Bytes(), nil
}

// WriteFile writes tensors and metadata to path as a safetensors file,
// through a temporary file renamed into place so that a failed write never
// leaves a truncated file behind.
func WriteFile(path string, tensors map[string]Tensor, metadata map[string]string) error {
	b, err := Encode(tensors, metadata)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
