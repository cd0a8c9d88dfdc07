package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"unsafe"

	"glimpse/compute"
)

// packed is a tensor as compute.Pack made it, the reference the store must
// give back bit for bit.
type packed struct {
	name   string
	dt     compute.DType
	shape  []int
	words  []uint32
	scales []float32
}

func testTensors(t *testing.T) []packed {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	specs := []packed{
		{name: "a.weight", dt: compute.F16, shape: []int{3, 64}},
		{name: "a.bias", dt: compute.F32, shape: []int{3}},
		{name: "b.weight", dt: compute.Q8, shape: []int{2, 64}},
		{name: "c.weight", dt: compute.Q4, shape: []int{5000, 32}}, // past one page
		{name: "scalar", dt: compute.F32, shape: []int{1}},
	}
	for i := range specs {
		data := make([]float32, compute.NumElements(specs[i].shape))
		for j := range data {
			data[j] = float32(rng.NormFloat64())
		}
		var err error
		specs[i].words, specs[i].scales, err = compute.Pack(specs[i].dt, specs[i].shape, data)
		if err != nil {
			t.Fatal(err)
		}
	}
	return specs
}

var testKey = Key{Folder: "/models/tiny", Precision: "f16", Files: []FileHash{
	{Name: "model.safetensors", Size: 1234, Hash: "sha256:00", Of: "header"},
}}

func writeStore(t *testing.T, path string, key Key, ts []packed) {
	t.Helper()
	w, err := Create(path, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ts {
		if err := w.Add(p.name, p.dt, p.shape, p.words, p.scales); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	ts := testTensors(t)
	path := filepath.Join(t.TempDir(), "sub", "m.f16"+Ext)
	writeStore(t, path, testKey, ts)
	r, err := Open(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var names []string
	for _, p := range ts {
		names = append(names, p.name)
		got, err := r.Tensor(p.name)
		if err != nil {
			t.Fatal(err)
		}
		if got.DType != p.dt || !slices.Equal(got.Shape, p.shape) || !slices.Equal(got.Words, p.words) || !slices.Equal(got.Scales, p.scales) {
			t.Errorf("%s: got %v%v (%d words, %d scales), want %v%v (%d, %d)", p.name,
				got.DType, got.Shape, len(got.Words), len(got.Scales), p.dt, p.shape, len(p.words), len(p.scales))
		}
		if off := uintptr(addr(unsafeBytes(got.Words))) % Align; off != 0 {
			t.Errorf("%s: words start %d bytes past a page", p.name, off)
		}
		r.Evict(p.name) // the words come back from the file afterwards
		if again, _ := r.Tensor(p.name); !slices.Equal(again.Words, p.words) {
			t.Errorf("%s changed after Evict", p.name)
		}
	}
	if !slices.Equal(r.Names(), names) {
		t.Errorf("Names() = %v, want %v", r.Names(), names)
	}
	if _, err := r.Tensor("missing"); !errors.Is(err, ErrStale) {
		t.Errorf("Tensor(missing) = %v, want ErrStale", err)
	}
	if ents, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.tmp")); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
}

// TestDamage changes one thing about a good file and checks that Open or
// Tensor refuses it with the right kind of error, never returning data.
func TestDamage(t *testing.T) {
	ts := testTensors(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good"+Ext)
	writeStore(t, good, testKey, ts)
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	indexOff := int(binary.LittleEndian.Uint64(orig[16:]))
	dataOff := Align + 10 // inside the first tensor's words
	var idx index
	if err := json.Unmarshal(orig[indexOff:], &idx); err != nil {
		t.Fatal(err)
	}
	scalesOff := int(idx.Tensors[3].Scales[0]) + 5 // c.weight's
	otherKey := testKey
	otherKey.Files = []FileHash{{Name: "model.safetensors", Size: 1234, Hash: "sha256:01", Of: "header"}}
	f32Key := testKey
	f32Key.Precision = "f32"
	flip := func(i int) func([]byte) []byte {
		return func(b []byte) []byte { b[i] ^= 0x10; return b }
	}
	tests := []struct {
		name       string
		edit       func([]byte) []byte
		key        Key
		want       error
		atTensorOf string // "" when Open must fail
	}{
		{"truncated by one byte", func(b []byte) []byte { return b[:len(b)-1] }, testKey, ErrDamaged, ""},
		{"truncated into the data", func(b []byte) []byte { return b[:Align+100] }, testKey, ErrDamaged, ""},
		{"truncated into the header", func(b []byte) []byte { return b[:50] }, testKey, ErrDamaged, ""},
		{"empty", func(b []byte) []byte { return nil }, testKey, ErrDamaged, ""},
		{"magic", flip(0), testKey, ErrDamaged, ""},
		{"older version", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], FormatVersion-1); return b }, testKey, ErrStale, ""},
		{"newer version", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], FormatVersion+1); return b }, testKey, ErrStale, ""},
		{"index offset", flip(17), testKey, ErrDamaged, ""},
		{"checksum", flip(50), testKey, ErrDamaged, ""},
		{"index byte", flip(indexOff + 20), testKey, ErrDamaged, ""},
		{"last index byte", flip(len(orig) - 1), testKey, ErrDamaged, ""},
		{"data byte", flip(dataOff), testKey, ErrDamaged, "a.weight"},
		{"scales byte", flip(scalesOff), testKey, ErrDamaged, "c.weight"},
		{"another shard", nil, otherKey, ErrStale, ""},
		{"another precision", nil, f32Key, ErrStale, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := slices.Clone(orig)
			if tc.edit != nil {
				b = tc.edit(b)
			}
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+Ext)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := Open(path, tc.key)
			if tc.atTensorOf == "" {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Open = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open = %v, want the damage found at tensor %s", err, tc.atTensorOf)
			}
			defer r.Close()
			for _, p := range ts {
				_, err := r.Tensor(p.name)
				if p.name == tc.atTensorOf && !errors.Is(err, tc.want) {
					t.Errorf("Tensor(%s) = %v, want %v", p.name, err, tc.want)
				}
				if p.name != tc.atTensorOf && err != nil {
					t.Errorf("Tensor(%s) = %v, want it unharmed", p.name, err)
				}
			}
		})
	}
	if _, err := Open(filepath.Join(dir, "none"+Ext), testKey); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a missing file = %v, want fs.ErrNotExist", err)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(filepath.Join(dir, "m"+Ext), testKey)
	if err != nil {
		t.Fatal(err)
	}
	ts := testTensors(t)
	if err := w.Add(ts[0].name, ts[0].dt, ts[0].shape, ts[0].words, ts[0].scales); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Abort left %v", ents)
	}
}

func TestAddMisusePanics(t *testing.T) {
	w, err := Create(filepath.Join(t.TempDir(), "m"+Ext), testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"short words", func() { w.Add("x", compute.F16, []int{2, 2}, make([]uint32, 1), nil) }, "f16[2 2]"},
		{"missing scales", func() { w.Add("y", compute.Q8, []int{1, 32}, make([]uint32, 8), nil) }, "q8[1 32]"},
		{"twice", func() {
			w.Add("z", compute.F32, []int{1}, make([]uint32, 1), nil)
			w.Add("z", compute.F32, []int{1}, make([]uint32, 1), nil)
		}, "z twice"},
	}
	for _, tc := range tests {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), tc.want) {
					t.Errorf("%s: panic %v, want one naming %q", tc.name, r, tc.want)
				}
			}()
			tc.f()
		}()
	}
}

func TestListAndRemove(t *testing.T) {
	root := t.TempDir()
	ts := testTensors(t)[:2]
	hub := filepath.Join(t.TempDir(), "models--Org--Tiny")
	snapA, snapB := filepath.Join(hub, "snapshots", "aaaa"), filepath.Join(hub, "snapshots", "bbbb")
	other := filepath.Join(t.TempDir(), "other")
	made := map[string]string{}
	for _, m := range []struct {
		dir string
		dt  compute.DType
	}{{snapA, compute.F16}, {snapA, compute.F32}, {snapB, compute.F16}, {other, compute.F16}} {
		p := Path(root, m.dir, m.dt.String())
		writeStore(t, p, Key{Folder: m.dir, Precision: m.dt.String()}, ts)
		made[p] = m.dir
	}
	if len(made) != 4 {
		t.Fatalf("Path gave %d distinct paths for 4 folder/precision pairs", len(made))
	}
	if !strings.HasPrefix(filepath.Base(Path(root, snapA, "f16")), "Org--Tiny-") {
		t.Errorf("Path for a Hub snapshot = %s, want it named after the repository", Path(root, snapA, "f16"))
	}
	os.WriteFile(filepath.Join(root, "junk"+Ext), []byte("not a store file"), 0o644)
	all, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 {
		t.Fatalf("List found %d files, want 5: %v", len(all), all)
	}
	for _, e := range all {
		if want, ok := made[e.Path]; ok {
			if e.Folder != want || e.Err != nil || e.Size <= Align {
				t.Errorf("List entry %+v, want folder %s, a size and no error", e, want)
			}
		} else if !errors.Is(e.Err, ErrDamaged) {
			t.Errorf("List entry for %s: err %v, want ErrDamaged", e.Path, e.Err)
		}
	}
	if got := For(all, hub); len(got) != 3 {
		t.Errorf("For(the repository) = %d entries, want 3", len(got))
	}
	removed, err := Remove(root, hub)
	if err != nil || len(removed) != 3 {
		t.Fatalf("Remove = %d entries, %v; want 3", len(removed), err)
	}
	left, _ := List(root)
	if len(left) != 2 || For(left, other) == nil {
		t.Errorf("after Remove: %v, want the other folder's file and the junk", left)
	}
	if got, err := List(filepath.Join(root, "none")); err != nil || got != nil {
		t.Errorf("List of a missing folder = %v, %v", got, err)
	}
}

// TestNewKey checks what the key notices: a Hub blob's name is its hash, and
// elsewhere a changed safetensors header or size, but not a changed byte of
// tensor data (the documented cost of not reading the data).
func TestNewKey(t *testing.T) {
	dir := t.TempDir()
	hdr := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	file := func(header string, data []byte) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		return append(append(b, header...), data...)
	}
	shard := filepath.Join(dir, "model.safetensors")
	write := func(b []byte) Key {
		t.Helper()
		if err := os.WriteFile(shard, b, 0o644); err != nil {
			t.Fatal(err)
		}
		k, err := NewKey(dir, "f16", []string{shard})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := write(file(hdr, make([]byte, 8)))
	if base.Files[0].Of != "header" || base.Files[0].Name != "model.safetensors" || base.Files[0].Size != int64(8+len(hdr)+8) {
		t.Errorf("key of a plain folder: %+v", base.Files)
	}
	if k := write(file(hdr, []byte{1, 2, 3, 4, 5, 6, 7, 8})); k.differs(base) != "" {
		t.Errorf("a data change changed the key: %s", k.differs(base))
	}
	if k := write(file(strings.Replace(hdr, `"w"`, `"v"`, 1), make([]byte, 8))); !strings.Contains(k.differs(base), "model.safetensors changed") {
		t.Errorf("a renamed tensor: differs = %q", k.differs(base))
	}
	if k := write(file(hdr, make([]byte, 12))); k.differs(base) == "" {
		t.Error("a longer file kept its key")
	}

	// A Hub cache snapshot: the shard links to blobs/SHA256.
	repo := filepath.Join(t.TempDir(), "models--Org--M")
	sum := strings.Repeat("ab", 32)
	snap := filepath.Join(repo, "snapshots", strings.Repeat("c", 40))
	os.MkdirAll(filepath.Join(repo, "blobs"), 0o755)
	os.MkdirAll(snap, 0o755)
	os.WriteFile(filepath.Join(repo, "blobs", sum), file(hdr, make([]byte, 8)), 0o644)
	if err := os.Symlink(filepath.Join("..", "..", "blobs", sum), filepath.Join(snap, "model.safetensors")); err != nil {
		t.Fatalf("symbolic links (Windows needs developer mode for them): %v", err)
	}
	k, err := NewKey(snap, "f16", []string{filepath.Join(snap, "model.safetensors")})
	if err != nil {
		t.Fatal(err)
	}
	if want := (FileHash{Name: "model.safetensors", Size: int64(16 + len(hdr)), Hash: "sha256:" + sum, Of: "hub"}); k.Files[0] != want {
		t.Errorf("key of a Hub snapshot: %+v, want %+v", k.Files[0], want)
	}
}

func unsafeBytes(w []uint32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(w))), 4*len(w))
}
