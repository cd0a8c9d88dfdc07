// Package store keeps a model's weights converted to a precision, so that
// only the first load at that precision converts: later loads map the file
// and hand its words to the backend as they are.
//
// # File format (FormatVersion 2)
//
// All integers are little-endian, and the words and scales are stored as the
// compute package packs them (compute/quant.go) on a little-endian machine.
//
//	offset 0    magic "GLIMPSEW"
//	       8    uint32 format version
//	      12    uint32 zero (reserved)
//	      16    uint64 offset of the index
//	      24    uint64 length of the index
//	      32    uint64 size of the whole file
//	      40    [32]byte SHA-256 of bytes 0–39 and the index
//	    4096    tensor data: each tensor's words start on a multiple of
//	            Align, its scales (Q8, Q4) follow the words
//	 index…     JSON: the Key and, per tensor, name, dtype, shape, the byte
//	            offset and length of its words and scales, and the CRC-32C
//	            of those bytes
//
// The index is written last, so that a writer streams tensor by tensor and
// holds only the index entries; the preamble is written once the index is,
// and the file is renamed into place only after a sync, so a crash leaves
// a temporary file, never a short store file under the real name.
//
// # What is checked, and when
//
// Open checks, before it returns anything: the size (a truncated file),
// the magic and version, the checksum of the preamble and index (a flipped
// byte in either), that every tensor lies inside the data area with the
// lengths its dtype and shape imply, and that the key matches the model
// folder as it is now. Tensor checks the CRC-32C of that tensor's bytes
// each time it is asked for, so a flipped byte in the data is found while
// loading, before the tensor reaches the backend; CRC-32C runs at several
// GB/s on current CPUs (SSE 4.2, ARMv8 CRC), less than reading the file.
package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"

	"glimpse/compute"
)

// FormatVersion is the version of the file layout and of the conversion it
// holds. Bump it when either changes (a new field, or compute.Pack giving
// other words for a dtype, or a precision mix choosing other dtypes), so
// that older files are rebuilt. 2: the q4 mix stores Q4_K_M's 6-bit
// tensors (lm_head, some v_proj and down_proj) as Q6K, not Q8.
const FormatVersion = 2

// Align is the alignment of each tensor's words in the file: the common
// page size, so that a mapped tensor starts on a page and its pages can be
// dropped on their own.
const Align = 4096

// Ext is the file name extension of store files.
const Ext = ".weights"

const (
	magic        = "GLIMPSEW"
	preambleSize = 72 // magic … checksum
	dataStart    = Align
)

// ErrStale is matched by errors for a store file made for another state of
// the model folder, another precision or another format version. The
// loader converts again and replaces it.
var ErrStale = errors.New("the converted copy of the weights is out of date")

// ErrDamaged is matched by errors for a store file that is truncated or
// whose bytes do not match their checksums. The loader converts again and
// replaces it.
var ErrDamaged = errors.New("the converted copy of the weights is damaged")

// castagnoli is CRC-32C, which amd64 and arm64 compute in hardware.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// littleEndian reports whether this machine stores words as the file does;
// elsewhere the store is not used (every Go port Glimpse ships is).
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// entry is one tensor in the index.
type entry struct {
	Name   string   `json:"name"`
	DType  string   `json:"dtype"`
	Shape  []int    `json:"shape"`
	Words  [2]int64 `json:"words"`  // byte offset and length
	Scales [2]int64 `json:"scales"` // byte offset and length; length 0 when none
	CRC    uint32   `json:"crc32c"` // of the words' bytes, then the scales'
}

// index is the JSON after the data.
type index struct {
	Key     Key     `json:"key"`
	Tensors []entry `json:"tensors"`
}

// Tensor is one converted tensor as the backend takes it
// (compute.Backend.UploadPacked).
type Tensor struct {
	DType  compute.DType
	Shape  []int
	Words  []uint32  // aliases the mapped file: read-only, valid until Close
	Scales []float32 // likewise; nil for dtypes without scales
}

// parseDType returns the dtype whose String is name.
func parseDType(name string) (compute.DType, bool) {
	// Walking the dtypes keeps this in step with the ones compute adds.
	for d := compute.DType(0); d < 64; d++ {
		if d.String() == name {
			return d, true
		}
	}
	return 0, false
}

// Writer streams a store file: Add each tensor, then Commit. Until Commit
// the file has a temporary name, which Abort removes.
type Writer struct {
	path string
	f    *os.File
	off  int64
	idx  index
	seen map[string]bool
	done bool
}

// Create starts writing the store file path for key, creating its folder.
func Create(path string, key Key) (*Writer, error) {
	if !littleEndian {
		return nil, fmt.Errorf("converted weights are stored little-endian, and this machine is not: %w", errors.ErrUnsupported)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	// The preamble is written last; the data starts on the second page.
	w := &Writer{path: path, f: f, off: dataStart, idx: index{Key: key}, seen: map[string]bool{}}
	return w, nil
}

// Add appends one tensor. words and scales are in dtype's packed layout, as
// compute.Pack returns them; Add copies nothing and keeps nothing, so the
// caller may hand them to the backend afterwards. It panics when their
// lengths do not match the shape or the name was added before, which is the
// caller mixing up tensors.
func (w *Writer) Add(name string, dt compute.DType, shape []int, words []uint32, scales []float32) error {
	n := compute.NumElements(shape)
	if len(words) != compute.PackedWords(dt, n) || len(scales) != compute.PackedScales(dt, n) {
		panic(fmt.Sprintf("store: Add %s %v%v: %d words and %d scales, want %d and %d",
			name, dt, shape, len(words), len(scales), compute.PackedWords(dt, n), compute.PackedScales(dt, n)))
	}
	if w.seen[name] {
		panic(fmt.Sprintf("store: Add %s twice", name))
	}
	w.seen[name] = true
	start := (w.off + Align - 1) / Align * Align
	if _, err := w.f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	wb := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), 4*len(words))
	sb := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(scales))), 4*len(scales))
	if _, err := w.f.Write(wb); err != nil {
		return err
	}
	if _, err := w.f.Write(sb); err != nil {
		return err
	}
	crc := crc32.Update(crc32.Checksum(wb, castagnoli), castagnoli, sb)
	e := entry{Name: name, DType: dt.String(), Shape: slices.Clone(shape), CRC: crc,
		Words: [2]int64{start, int64(len(wb))}}
	if len(sb) > 0 {
		e.Scales = [2]int64{start + int64(len(wb)), int64(len(sb))}
	}
	w.idx.Tensors = append(w.idx.Tensors, e)
	w.off = start + int64(len(wb)+len(sb))
	return nil
}

// Commit writes the index and the preamble, syncs, and renames the file
// into place, replacing any older one.
func (w *Writer) Commit() error {
	if w.done {
		panic("store: Commit after Commit or Abort")
	}
	err := w.finish()
	if err != nil {
		w.Abort()
		return err
	}
	w.done = true
	return nil
}

func (w *Writer) finish() error {
	js, err := json.Marshal(w.idx)
	if err != nil {
		return err
	}
	if _, err := w.f.WriteAt(js, w.off); err != nil {
		return err
	}
	pre := preamble(w.off, int64(len(js)), w.off+int64(len(js)), js)
	if _, err := w.f.WriteAt(pre, 0); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	return os.Rename(w.f.Name(), w.path)
}

// preamble returns the first preambleSize bytes of a file.
func preamble(indexOff, indexLen, size int64, js []byte) []byte {
	b := make([]byte, preambleSize)
	copy(b, magic)
	binary.LittleEndian.PutUint32(b[8:], FormatVersion)
	binary.LittleEndian.PutUint64(b[16:], uint64(indexOff))
	binary.LittleEndian.PutUint64(b[24:], uint64(indexLen))
	binary.LittleEndian.PutUint64(b[32:], uint64(size))
	sum := checksum(b[:40], js)
	copy(b[40:], sum[:])
	return b
}

func checksum(head, js []byte) [32]byte {
	h := sha256.New()
	h.Write(head)
	h.Write(js)
	var s [32]byte
	h.Sum(s[:0])
	return s
}

// Abort removes the temporary file. It does nothing after Commit.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

// Reader is an open, checked store file, mapped into memory.
type Reader struct {
	path   string
	mapped []byte
	unmap  func() error
	idx    index
	byName map[string]int
}

// Open maps the store file path after checking it against want (see the
// package comment). A missing file is an fs.ErrNotExist error; any other
// mismatch matches ErrStale or ErrDamaged.
func Open(path string, want Key) (*Reader, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close() // a mapping outlives its descriptor
	idx, size, err := readIndex(fh)
	if err != nil {
		return nil, err
	}
	if !littleEndian {
		return nil, fmt.Errorf("%w: converted weights are stored little-endian, and this machine is not", ErrStale)
	}
	if why := idx.Key.differs(want); why != "" {
		return nil, fmt.Errorf("%w: %s", ErrStale, why)
	}
	mapped, unmap, err := mapFile(fh, size)
	if err != nil {
		return nil, err
	}
	r := &Reader{path: path, mapped: mapped, unmap: unmap, idx: *idx, byName: map[string]int{}}
	for i, e := range idx.Tensors {
		r.byName[e.Name] = i
	}
	return r, nil
}

// readIndex reads and checks the preamble and index of an open store file,
// and returns them with the file's size.
func readIndex(fh *os.File) (*index, int64, error) {
	st, err := fh.Stat()
	if err != nil {
		return nil, 0, err
	}
	size := st.Size()
	damaged := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrDamaged, fh.Name(), fmt.Sprintf(format, a...))
	}
	if size < dataStart {
		return nil, 0, damaged("%d bytes, shorter than its header", size)
	}
	pre := make([]byte, preambleSize)
	if _, err := fh.ReadAt(pre, 0); err != nil {
		return nil, 0, err
	}
	if string(pre[:8]) != magic {
		return nil, 0, damaged("not a Glimpse weights file")
	}
	if v := binary.LittleEndian.Uint32(pre[8:]); v != FormatVersion {
		return nil, 0, fmt.Errorf("%w: %s has format version %d, this Glimpse writes %d", ErrStale, fh.Name(), v, FormatVersion)
	}
	off, n := binary.LittleEndian.Uint64(pre[16:]), binary.LittleEndian.Uint64(pre[24:])
	if want := binary.LittleEndian.Uint64(pre[32:]); want != uint64(size) {
		return nil, 0, damaged("%d bytes where it should have %d (truncated?)", size, want)
	}
	if off < dataStart || n > uint64(size) || off > uint64(size)-n {
		return nil, 0, damaged("its index lies outside the file")
	}
	js := make([]byte, n)
	if _, err := fh.ReadAt(js, int64(off)); err != nil {
		return nil, 0, err
	}
	if sum := checksum(pre[:40], js); !bytes.Equal(sum[:], pre[40:72]) {
		return nil, 0, damaged("the checksum of its header and index does not match")
	}
	var idx index
	if err := json.Unmarshal(js, &idx); err != nil {
		return nil, 0, damaged("its index does not parse: %v", err)
	}
	for _, e := range idx.Tensors {
		if err := e.check(int64(off)); err != nil {
			return nil, 0, damaged("%v", err)
		}
	}
	return &idx, size, nil
}

// check validates an entry against the data area [dataStart, end). The
// checksum makes a bad entry unlikely; this keeps one from ever making a
// slice outside the mapping, whatever wrote the file.
func (e entry) check(end int64) error {
	dt, ok := parseDType(e.DType)
	if !ok {
		return fmt.Errorf("tensor %s has unknown dtype %q", e.Name, e.DType)
	}
	n := int64(1)
	for _, d := range e.Shape {
		if d < 0 || (d > 0 && n > (1<<50)/int64(d)) {
			return fmt.Errorf("tensor %s has shape %v", e.Name, e.Shape)
		}
		n *= int64(d)
	}
	inside := func(r [2]int64, want int64) bool {
		return r[1] == want && r[0] >= dataStart && r[0]%4 == 0 && r[0] <= end && r[1] <= end-r[0]
	}
	words := 4 * int64(compute.PackedWords(dt, int(n)))
	scales := 4 * int64(compute.PackedScales(dt, int(n)))
	if !inside(e.Words, words) || (scales > 0 && !inside(e.Scales, scales)) || (scales == 0 && e.Scales != [2]int64{}) {
		return fmt.Errorf("tensor %s %s%v lies outside the data or has the wrong length", e.Name, e.DType, e.Shape)
	}
	return nil
}

// Key returns the key the file was written for.
func (r *Reader) Key() Key { return r.idx.Key }

// Names returns the stored tensors' names, in the order they were added.
func (r *Reader) Names() []string {
	names := make([]string, len(r.idx.Tensors))
	for i, e := range r.idx.Tensors {
		names[i] = e.Name
	}
	return names
}

// Has reports whether the file holds a tensor by that name.
func (r *Reader) Has(name string) bool {
	_, ok := r.byName[name]
	return ok
}

// Tensor returns the named tensor after checking its CRC-32C: an error
// matching ErrDamaged when the bytes changed, ErrStale when the file has no
// such tensor (it was written for another layout of the model).
func (r *Reader) Tensor(name string) (Tensor, error) {
	i, ok := r.byName[name]
	if !ok {
		return Tensor{}, fmt.Errorf("%w: %s has no tensor %s", ErrStale, r.path, name)
	}
	e := r.idx.Tensors[i]
	wb := r.mapped[e.Words[0] : e.Words[0]+e.Words[1]]
	sb := r.mapped[e.Scales[0] : e.Scales[0]+e.Scales[1]]
	if crc := crc32.Update(crc32.Checksum(wb, castagnoli), castagnoli, sb); crc != e.CRC {
		return Tensor{}, fmt.Errorf("%w: %s: the bytes of tensor %s do not match their checksum", ErrDamaged, r.path, name)
	}
	dt, _ := parseDType(e.DType)
	t := Tensor{DType: dt, Shape: slices.Clone(e.Shape),
		Words: unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(wb))), len(wb)/4)}
	if len(sb) > 0 {
		t.Scales = unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(sb))), len(sb)/4)
	}
	return t, nil
}

// Evict lets the named tensor's pages leave the process's memory: once a
// backend holds its copy they are not needed, and a reader that reads them
// in place faults them back in from the page cache. Nothing changes but
// memory use.
func (r *Reader) Evict(name string) {
	if i, ok := r.byName[name]; ok {
		e := r.idx.Tensors[i]
		evict(r.mapped[e.Words[0] : e.Words[0]+e.Words[1]+e.Scales[1]])
	}
}

// Close unmaps the file. Tensors it returned, and backend tensors that
// keep their words, must not be used afterwards.
func (r *Reader) Close() error {
	if r.unmap == nil {
		return nil
	}
	err := r.unmap()
	r.unmap, r.mapped = nil, nil
	return err
}

// Path returns where the store file of the model folder dir at precision
// lives under the store folder root: one file per folder and precision,
// named after the folder (the Hub repository for a cache snapshot) and a
// hash of its absolute path, so two folders of one name do not collide.
func Path(root, dir, precision string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(root, fmt.Sprintf("%s-%x.%s%s", safeName(label(abs)), sum[:6], safeName(precision), Ext))
}

// label is a short readable name for a model folder: ORG--NAME for a Hub
// cache snapshot (…/models--ORG--NAME/snapshots/COMMIT), else its base
// name.
func label(abs string) string {
	if filepath.Base(filepath.Dir(abs)) == "snapshots" {
		return strings.TrimPrefix(filepath.Base(filepath.Dir(filepath.Dir(abs))), "models--")
	}
	return filepath.Base(abs)
}

// safeName keeps a file name part to characters every file system takes,
// and to 64 of them.
func safeName(name string) string {
	safe := []rune{}
	for _, c := range name {
		if c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			safe = append(safe, c)
		} else {
			safe = append(safe, '_')
		}
		if len(safe) == 64 {
			break
		}
	}
	return string(safe)
}

// Entry is one store file found by List.
type Entry struct {
	Path      string
	Folder    string // the model folder it was converted from; empty when unreadable
	Precision string // "f16", …
	Size      int64  // bytes on disk
	Err       error  // why the file cannot be used, or nil (the key is not checked)
}

// List returns the store files under root, with what their headers say. A
// missing root is no error: nothing was converted yet.
func List(root string) ([]Entry, error) {
	des, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, de := range des {
		if de.IsDir() || (!strings.HasSuffix(de.Name(), Ext) && !strings.HasSuffix(de.Name(), ".tmp")) {
			continue
		}
		e := Entry{Path: filepath.Join(root, de.Name())}
		if info, err := de.Info(); err == nil {
			e.Size = info.Size()
		}
		if strings.HasSuffix(de.Name(), ".tmp") {
			e.Err = fmt.Errorf("%w: an unfinished conversion", ErrDamaged)
		} else if fh, err := os.Open(e.Path); err != nil {
			e.Err = err
		} else {
			idx, _, err := readIndex(fh)
			fh.Close()
			if err != nil {
				e.Err = err
			} else {
				e.Folder, e.Precision = idx.Key.Folder, idx.Key.Precision
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// For returns the entries of List converted from a folder inside under (a
// model's folder, or its Hub cache repository holding every snapshot).
// Unfinished conversions name no folder, so they are not among them.
func For(entries []Entry, under string) []Entry {
	abs, err := filepath.Abs(under)
	if err != nil {
		abs = under
	}
	var out []Entry
	for _, e := range entries {
		if e.Folder != "" && within(e.Folder, abs) {
			out = append(out, e)
		}
	}
	return out
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// Remove deletes the store files converted from folders inside under, and
// returns what it removed.
func Remove(root, under string) ([]Entry, error) {
	all, err := List(root)
	if err != nil {
		return nil, err
	}
	var removed []Entry
	for _, e := range For(all, under) {
		if err := os.Remove(e.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
		removed = append(removed, e)
	}
	return removed, nil
}
