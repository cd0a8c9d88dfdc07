package synthetic

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
)

// stream is a splitmix64 generator. One 64-bit state and two multiplies per
// value keep filling far cheaper than writing the bytes, so a full-size
// checkpoint is written at the disk's speed.
type stream uint64

func (s *stream) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// streamFor seeds the values of one tensor from the checkpoint's seed and
// the tensor's name, so a tensor's values do not depend on the shard size,
// on the layer cut or on which tensors come before it: layer 0 of a
// one-layer checkpoint equals layer 0 of the full one.
func streamFor(seed uint64, name string) stream {
	h := fnv.New64a()
	h.Write([]byte(name))
	s := stream(seed ^ h.Sum64())
	s.next() // decorrelate seeds that differ in few bits
	return s
}

// Irwin–Hall: the sum of four uniform 16-bit lanes of one random word is
// close to normal, with mean 4·(2¹⁶−1)/2 and variance 4·(2³²−1)/12, and is
// bounded (±3.5 σ), so no value can ever be huge.
const (
	lanesMean = 4 * 65535 / 2.0
)

var lanesStd = math.Sqrt(4 * (65536.0*65536.0 - 1) / 12)

// fillBytes writes n float32 values of kind f, little-endian, to dst.
func fillBytes(dst []byte, f fill, s *stream) {
	switch f {
	case zeros:
		clear(dst)
	case ones:
		for i := 0; i+4 <= len(dst); i += 4 {
			binary.LittleEndian.PutUint32(dst[i:], 0x3f800000) // 1.0
		}
	case normal:
		scale := float32(initStd / lanesStd)
		for i := 0; i+4 <= len(dst); i += 4 {
			z := s.next()
			sum := z&0xffff + z>>16&0xffff + z>>32&0xffff + z>>48
			v := (float32(sum) - lanesMean) * scale
			binary.LittleEndian.PutUint32(dst[i:], math.Float32bits(v))
		}
	}
}

// chunkBytes is the unit of generation and writing; three chunks in flight
// bound the generator's memory at 12 MiB whatever the model's size.
const chunkBytes = 4 << 20

// safetensorsHeader builds a shard's header: dtype, shape and offsets of
// each tensor, the metadata, padded with spaces to an 8-byte boundary as
// the reference writer does so the data area is aligned.
func safetensorsHeader(s shard, metadata map[string]string) ([]byte, error) {
	type entry struct {
		DType       string  `json:"dtype"`
		Shape       []int   `json:"shape"`
		DataOffsets []int64 `json:"data_offsets"`
	}
	hdr := map[string]any{"__metadata__": metadata}
	for i, t := range s.tensors {
		hdr[t.name] = entry{"F32", t.shape, []int64{s.offsets[i], s.offsets[i] + 4*t.elements()}}
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return nil, err
	}
	for (8+len(js))%8 != 0 {
		js = append(js, ' ')
	}
	out := make([]byte, 8, 8+len(js))
	binary.LittleEndian.PutUint64(out, uint64(len(js)))
	return append(out, js...), nil
}

// writeShard streams one shard to dir: one goroutine draws the values chunk
// by chunk while this one writes them, so the random numbers and the disk
// overlap. The file appears under its name only once complete. done is
// called with the bytes written after each chunk.
func writeShard(ctx context.Context, dir string, s shard, seed uint64, metadata map[string]string, done func(int64)) (err error) {
	hdr, err := safetensorsHeader(s, metadata)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, s.file)
	tmp := path + ".partial"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(hdr); err != nil {
		return err
	}

	free := make(chan []byte, 3)
	for range cap(free) {
		free <- make([]byte, chunkBytes)
	}
	full := make(chan []byte, cap(free))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(full)
		for _, t := range s.tensors {
			st := streamFor(seed, t.name)
			for left := 4 * t.elements(); left > 0; {
				var buf []byte
				select {
				case buf = <-free:
				case <-stop:
					return
				}
				n := min(left, int64(len(buf)))
				fillBytes(buf[:n], t.fill, &st)
				left -= n
				full <- buf[:n]
			}
		}
	}()
	for buf := range full {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := f.Write(buf); err != nil {
			return fmt.Errorf("writing %s: %w", s.file, err)
		}
		done(int64(len(buf)))
		free <- buf[:cap(buf)]
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
