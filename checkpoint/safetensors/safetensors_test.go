package safetensors

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const fixtureModels = "../../../shared/fixtures/models"

// rawFile builds a file from a header string and a data area, so tests can
// write exactly the malformed bytes they want.
func rawFile(headerJSON string, data []byte) []byte {
	b := make([]byte, 8, 8+len(headerJSON)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(headerJSON)))
	b = append(b, headerJSON...)
	return append(b, data...)
}

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenRejectsMalformed(t *testing.T) {
	hugeLen := make([]byte, 16)
	binary.LittleEndian.PutUint64(hugeLen, 1<<40)
	shortLen := make([]byte, 16)
	binary.LittleEndian.PutUint64(shortLen, 100)
	cases := []struct {
		name string
		file []byte
		want string // a fragment of the error the user sees
	}{
		{"empty file", nil, "too short"},
		{"shorter than the length field", []byte{1, 2, 3}, "too short"},
		{"header length over the limit", hugeLen, "exceeds"},
		{"header length past the end", shortLen, "truncated"},
		{"header not JSON", rawFile("hello", nil), "not a JSON object"},
		{"header a JSON array", rawFile("[1,2]", nil), "not a JSON object"},
		{"broken JSON", rawFile(`{"a":`, nil), "header JSON"},
		{"unknown dtype", rawFile(`{"a":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "unknown dtype"},
		{"negative dimension", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "negative dimension"},
		{"offsets past the data", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), "outside"},
		{"offsets reversed", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 4)), "outside"},
		{"negative offset", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}`, make([]byte, 4)), "outside"},
		{"one offset", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, make([]byte, 4)), "data_offsets"},
		{"size mismatch", rawFile(`{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,4]}}`, make([]byte, 4)), "needs 6 bytes"},
		{"shape overflow", rawFile(`{"a":{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,4]}}`, make([]byte, 4)), "too large"},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "overlap"},
		{"metadata not strings", rawFile(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"entry not an object", rawFile(`{"a":3}`, nil), `tensor "a"`},
		{"fractional dimension", rawFile(`{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}`, make([]byte, 1)), `tensor "a"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Open(writeTemp(t, "bad.safetensors", c.file))
			if err == nil {
				f.Close()
				t.Fatalf("Open accepted a malformed file")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestOpenMissingFile(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "absent.safetensors"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
}

func TestRoundTrip(t *testing.T) {
	i8 := Tensor{DType: I8, Shape: []int{2, 2}, Data: []byte{0xff, 1, 0x80, 0x7f}}
	f16 := Tensor{DType: F16, Shape: []int{6}, Data: le16(0x3c00, 0xc000, 0x0001, 0x03ff, 0x7bff, 0xfc00)}
	bf16 := Tensor{DType: BF16, Shape: []int{2}, Data: le16(0x3f80, 0xc0a0)}
	tensors := map[string]Tensor{
		"w":      FromFloat32([]int{2, 3}, []float32{1, -2, 3.5, 0, float32(math.Inf(1)), 1e-30}),
		"scalar": FromFloat32(nil, []float32{7}),
		"empty":  FromFloat32([]int{0, 4}, nil),
		"i8":     i8,
		"f16":    f16,
		"bf16":   bf16,
	}
	meta := map[string]string{"format": "pt"}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := WriteFile(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := f.Names(), []string{"bf16", "empty", "f16", "i8", "scalar", "w"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(f.Metadata(), meta) {
		t.Errorf("Metadata = %v, want %v", f.Metadata(), meta)
	}
	floats := []struct {
		name  string
		shape []int
		want  []float32
	}{
		{"w", []int{2, 3}, []float32{1, -2, 3.5, 0, float32(math.Inf(1)), 1e-30}},
		{"scalar", []int{}, []float32{7}},
		{"empty", []int{0, 4}, []float32{}},
		// 2^-24 is the smallest half subnormal, 0x03ff the largest, 65504 the largest finite half.
		{"f16", []int{6}, []float32{1, -2, 0x1p-24, 1023 * 0x1p-24, 65504, float32(math.Inf(-1))}},
		{"bf16", []int{2}, []float32{1, -5}},
	}
	for _, c := range floats {
		info, ok := f.Info(c.name)
		if !ok || !reflect.DeepEqual(info.Shape, c.shape) {
			t.Errorf("Info(%q) = %+v, %v; want shape %v", c.name, info, ok, c.shape)
		}
		got, err := f.Float32(c.name)
		if err != nil {
			t.Errorf("Float32(%q): %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Float32(%q) = %v, want %v", c.name, got, c.want)
		}
	}
	raw, err := f.Raw("i8")
	if err != nil || !reflect.DeepEqual(raw, i8.Data) {
		t.Errorf("Raw(i8) = %v, %v; want %v", raw, err, i8.Data)
	}
	if _, err := f.Float32("i8"); err == nil {
		t.Error("Float32 of an I8 tensor succeeded; integer tensors must be read with Raw")
	}
	if _, err := f.Raw("nope"); err == nil {
		t.Error("Raw of a missing tensor succeeded")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Raw("w"); err == nil {
		t.Error("Raw after Close succeeded")
	}
}

func le16(v ...uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return b
}

// TestHalfToFloat32 checks every half value against a direct evaluation of
// the binary16 definition.
func TestHalfToFloat32(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		sign := 1.0
		if h&0x8000 != 0 {
			sign = -1
		}
		e, m := (h>>10)&0x1f, h&0x3ff
		got := HalfToFloat32(uint16(h))
		var want float64
		switch {
		case e == 0x1f && m == 0:
			want = math.Inf(int(sign))
		case e == 0x1f:
			if !math.IsNaN(float64(got)) {
				t.Fatalf("HalfToFloat32(%#04x) = %v, want NaN", h, got)
			}
			continue
		case e == 0:
			want = sign * float64(m) * 0x1p-24
		default:
			want = sign * (1 + float64(m)/1024) * math.Pow(2, float64(e-15))
		}
		if float64(got) != want || math.Signbit(float64(got)) != (sign < 0) {
			t.Fatalf("HalfToFloat32(%#04x) = %v, want %v", h, got, want)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	cases := map[string]map[string]Tensor{
		"bad dtype":     {"a": {DType: "X", Shape: []int{1}, Data: []byte{1}}},
		"short data":    {"a": {DType: F32, Shape: []int{2}, Data: make([]byte, 4)}},
		"negative dim":  {"a": {DType: U8, Shape: []int{-1}}},
		"reserved name": {"__metadata__": FromFloat32([]int{1}, []float32{1})},
	}
	for name, ts := range cases {
		if _, err := Encode(ts, nil); err == nil {
			t.Errorf("%s: Encode succeeded", name)
		}
	}
}

// TestOpenDirFixtures opens both sharded fixture models and checks that
// every tensor of the index is readable and the right size.
func TestOpenDirFixtures(t *testing.T) {
	for _, model := range []string{"tiny-instructblip-vicuna", "tiny-instructblip-flan-t5"} {
		t.Run(model, func(t *testing.T) {
			s, err := OpenDir(filepath.Join(fixtureModels, model))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			names := s.Names()
			if len(names) < 50 || len(s.Files()) < 2 {
				t.Fatalf("%d tensors in %d shards; the fixture is sharded with many tensors", len(names), len(s.Files()))
			}
			for _, n := range names {
				info, ok := s.Info(n)
				if !ok || info.DType != F32 {
					t.Fatalf("Info(%q) = %+v, %v", n, info, ok)
				}
				v, err := s.Float32(n)
				if err != nil || int64(len(v)) != info.NumElements() {
					t.Fatalf("Float32(%q): %d values, %v; want %d", n, len(v), err, info.NumElements())
				}
			}
			info, ok := s.Info("query_tokens")
			if !ok || !reflect.DeepEqual(info.Shape, []int{1, 8, 64}) {
				t.Errorf("query_tokens = %+v, %v; want shape [1 8 64]", info, ok)
			}
		})
	}
}

func TestOpenDirSingleAndErrors(t *testing.T) {
	w := map[string]Tensor{"a": FromFloat32([]int{1}, []float32{3})}
	good, err := Encode(w, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		files map[string][]byte
		want  string // "" means success
	}{
		{"single file", map[string][]byte{"model.safetensors": good}, ""},
		{"index", map[string][]byte{IndexFileName: []byte(`{"weight_map":{"a":"s1.safetensors"}}`), "s1.safetensors": good}, ""},
		{"nothing", map[string][]byte{"config.json": []byte("{}")}, "needs model.safetensors"},
		{"missing shard", map[string][]byte{IndexFileName: []byte(`{"weight_map":{"a":"s2.safetensors"}}`)}, "s2.safetensors listed in"},
		{"tensor not in shard", map[string][]byte{IndexFileName: []byte(`{"weight_map":{"b":"s1.safetensors"}}`), "s1.safetensors": good}, "does not hold"},
		{"shard outside folder", map[string][]byte{IndexFileName: []byte(`{"weight_map":{"a":"../s1.safetensors"}}`)}, "not a file name"},
		{"bad index JSON", map[string][]byte{IndexFileName: []byte(`{"weight_map":`)}, "not a valid"},
		{"empty weight map", map[string][]byte{IndexFileName: []byte(`{"weight_map":{}}`)}, "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, b := range c.files {
				if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := OpenDir(dir)
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("OpenDir error = %v, want one mentioning %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			v, err := s.Float32("a")
			if err != nil || !reflect.DeepEqual(v, []float32{3}) {
				t.Errorf("Float32(a) = %v, %v", v, err)
			}
			if _, err := s.Raw("zz"); err == nil {
				t.Error("Raw of a missing tensor succeeded")
			}
		})
	}
}

// FuzzParseHeader feeds arbitrary headers and data lengths to the parser:
// it must never panic, and whatever it accepts must satisfy the invariants
// the readers rely on.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`), int64(8))
	f.Add([]byte(`{"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[4,8]},"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`), int64(8))
	f.Add([]byte(`{"a":{"dtype":"F16","shape":[],"data_offsets":[0,2]}}`), int64(2))
	f.Add([]byte(`{}`), int64(0))
	f.Fuzz(func(t *testing.T, js []byte, dataLen int64) {
		if dataLen < 0 {
			dataLen = -dataLen
		}
		h, err := parseHeader(js, dataLen)
		if err != nil {
			return
		}
		for _, n := range h.names {
			ti := h.tensors[n]
			if ti.Offset < 0 || ti.Size < 0 || ti.Offset+ti.Size > dataLen {
				t.Fatalf("accepted %q at [%d,+%d) beyond %d", n, ti.Offset, ti.Size, dataLen)
			}
			if ti.NumElements()*int64(ti.DType.Size()) != ti.Size {
				t.Fatalf("accepted %q with shape %v and %d bytes", n, ti.Shape, ti.Size)
			}
		}
		// Reading every accepted tensor from a buffer of that size must work.
		if dataLen > 1<<20 {
			return
		}
		file := &File{path: "fuzz", mapped: []byte{0}, data: make([]byte, dataLen), hdr: h}
		for _, n := range h.names {
			if _, err := file.Raw(n); err != nil {
				t.Fatal(err)
			}
			if h.tensors[n].Size <= 1<<20 {
				file.Float32(n)
			}
		}
	})
}

func BenchmarkFloat32BF16(b *testing.B) {
	const n = 1 << 20
	path := filepath.Join(b.TempDir(), "b.safetensors")
	if err := WriteFile(path, map[string]Tensor{"x": {DType: BF16, Shape: []int{n}, Data: make([]byte, 2*n)}}, nil); err != nil {
		b.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(2 * n)
	for b.Loop() {
		if _, err := f.Float32("x"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConcurrentReads reads one set from many goroutines, as the loader
// may; run with -race to check File and Set need no locking.
func TestConcurrentReads(t *testing.T) {
	s, err := OpenDir(filepath.Join(fixtureModels, "tiny-instructblip-vicuna"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	names := s.Names()
	done := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for i := g; i < len(names); i += 4 {
				if _, err := s.Float32(names[i]); err != nil {
					done <- err
					return
				}
				if _, ok := s.Info(names[i]); !ok {
					done <- errors.New("missing " + names[i])
					return
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestEvict checks that a tensor whose pages were let go reads back the
// same, and that evicting one tensor leaves its neighbours intact (pages
// shared with them are kept).
func TestEvict(t *testing.T) {
	const n = 3*4096 + 7 // several pages, not page-aligned
	tensors := map[string]Tensor{}
	want := map[string][]float32{}
	for i, name := range []string{"a", "b", "c"} {
		v := make([]float32, n)
		for j := range v {
			v[j] = float32(i*n+j) * 0.5
		}
		tensors[name], want[name] = FromFloat32([]int{n}, v), v
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
	for _, round := range []string{"first read", "after evicting"} {
		for _, name := range []string{"a", "b", "c"} {
			got, err := f.Float32(name)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want[name]) {
				t.Fatalf("%s: tensor %s differs", round, name)
			}
			f.Evict(name)
		}
	}
	f.Evict("absent") // no such tensor: nothing happens
}
