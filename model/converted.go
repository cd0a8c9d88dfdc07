package model

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"unsafe"

	"glimpse/checkpoint/safetensors"
	"glimpse/checkpoint/store"
	"glimpse/compute"
)

// WeightSource says where loaded weights came from (LoadProgress.Source).
type WeightSource int

// The sources.
const (
	// FromCheckpoint: converted from the safetensors while loading, with no
	// store folder to keep the result in (LoadOptions.StoreDir empty).
	FromCheckpoint WeightSource = iota
	// Converting: converted from the safetensors while loading, and written
	// to the store folder once, for the loads after this one.
	Converting
	// FromStore: read from the converted copy in the store folder, without
	// converting.
	FromStore
)

// String describes s for a loading line.
func (s WeightSource) String() string {
	switch s {
	case Converting:
		return "converting (once)"
	case FromStore:
		return "loaded from the converted copy"
	}
	return "converting"
}

// convertedCopy is a load's converted-weight store: the file it reads, or
// the one it writes while converting. Every tensor the loader makes goes
// through it, named by its slot key (tensor, part and kind), so that a
// stored tensor is exactly what the slot would have converted.
type convertedCopy struct {
	path string
	key  store.Key
	r    *store.Reader // reading: FromStore
	w    *store.Writer // writing: Converting
	// wrote says the file being written was committed.
	wrote bool
	// warning is one line for the user: why the copy was rebuilt, or why
	// it cannot be written.
	warning string
}

// openConverted opens the store file of set at opt's precision for reading,
// or, when there is none or it cannot be used, starts writing a new one. It
// returns nil without a store folder. Problems with the store never stop a
// load: they become a warning and the weights are converted as without one.
func openConverted(set *safetensors.Set, opt LoadOptions) *convertedCopy {
	if opt.StoreDir == "" {
		return nil
	}
	files := []string{}
	for _, f := range set.Files() {
		files = append(files, f.Path())
	}
	if idx := filepath.Join(set.Dir(), safetensors.IndexFileName); len(set.Files()) > 0 && fileExists(idx) {
		files = append(files, idx)
	}
	// The precision names the conversion; a mix of precisions is named by
	// its main dtype (pipeline's weightType), one per mix.
	precision := opt.Precision.String()
	c := &convertedCopy{path: store.Path(opt.StoreDir, set.Dir(), precision)}
	var err error
	if c.key, err = store.NewKey(set.Dir(), precision, files); err != nil {
		c.warning = fmt.Sprintf("cannot keep a converted copy of the weights: %v", err)
		return c
	}
	r, err := store.Open(c.path, c.key)
	if err == nil {
		c.r = r
		return c
	}
	if !errors.Is(err, fs.ErrNotExist) {
		c.warning = rebuildWarning(err)
	}
	c.create()
	return c
}

// rebuildWarning words why a store file is rebuilt.
func rebuildWarning(err error) string {
	return fmt.Sprintf("%v; converting the weights again to rebuild it", err)
}

// create starts writing the store file, or notes why it cannot.
func (c *convertedCopy) create() {
	w, err := store.Create(c.path, c.key)
	if err != nil {
		c.warning = fmt.Sprintf("cannot keep a converted copy of the weights: %v", err)
		return
	}
	c.w = w
}

// rebuild turns a reading copy whose data turned out damaged into a
// writing one.
func (c *convertedCopy) rebuild(err error) {
	c.r.Close()
	c.r = nil
	c.warning = rebuildWarning(err)
	c.create()
}

// source says where this load's weights come from.
func (c *convertedCopy) source() WeightSource {
	switch {
	case c == nil:
		return FromCheckpoint
	case c.r != nil:
		return FromStore
	case c.w != nil || c.wrote:
		return Converting
	}
	return FromCheckpoint
}

// stored returns the slot's tensor from the store, when reading from one.
func (c *convertedCopy) stored(key string) (store.Tensor, bool, error) {
	if c == nil || c.r == nil {
		return store.Tensor{}, false, nil
	}
	t, err := c.r.Tensor(key)
	return t, true, err
}

// upload uploads a stored tensor, letting its mapped pages go once the
// backend has it. A GPU copies them. A backend that keeps the packed words
// as the tensor's storage (the CPU engine) gets a copy in memory outside
// the Go heap (hostmem.go: in huge pages, which the file's mapping cannot
// have), returned as host, to free after the tensor is released; host is
// nil otherwise. The copy makes loading slower (a full-size Vicuna-7B q4
// from its copy: 15.6 s against 1.3–5.9 s read in place, mostly the
// kernel's page faults) and every decoding step faster (mapAnon;
// docs/PERFORMANCE.md).
func (c *convertedCopy) upload(be compute.Backend, key string, t store.Tensor) (out compute.Tensor, host *hostPacked, err error) {
	defer c.r.Evict(key)
	if !keepsPacked(be, t.DType) {
		out, err = be.UploadPacked(t.DType, t.Shape, t.Words, t.Scales)
		return out, nil, err
	}
	if host, err = allocPacked(t.DType, compute.NumElements(t.Shape)); err != nil {
		return nil, nil, err
	}
	copyParallel(host.words, t.Words)
	copy(host.scales, t.Scales)
	if out, err = be.UploadPacked(t.DType, t.Shape, host.words, host.scales); err != nil {
		host.free()
		return nil, nil, err
	}
	return out, host, nil
}

// convert packs data to dtype, adds it to the store file being written (if
// any), and uploads it. A backend that keeps the packed words as the
// tensor's storage (the CPU engine) gets them in memory outside the Go heap
// (hostmem.go), returned as host, to free after the tensor is released;
// host is nil otherwise.
func (c *convertedCopy) convert(be compute.Backend, key string, dtype compute.DType, shape []int, data []float32) (t compute.Tensor, host *hostPacked, err error) {
	var words []uint32
	var scales []float32
	switch {
	case dtype == compute.F32:
		// F32 packs as its own bits: the writer and the device copy them.
		words = unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(data))), len(data))
	case keepsPacked(be, dtype):
		if host, err = allocPacked(dtype, len(data)); err != nil {
			return nil, nil, err
		}
		if err = compute.PackInto(dtype, shape, data, host.words, host.scales); err != nil {
			host.free()
			return nil, nil, err
		}
		words, scales = host.words, host.scales
	default:
		if words, scales, err = compute.Pack(dtype, shape, data); err != nil {
			return nil, nil, err
		}
	}
	c.add(key, dtype, shape, words, scales)
	if t, err = be.UploadPacked(dtype, shape, words, scales); err != nil {
		if host != nil {
			host.free()
		}
		return nil, nil, err
	}
	return t, host, nil
}

// keep adds host float32 data (kept on the host, not uploaded) to the store
// file being written.
func (c *convertedCopy) keep(key string, dtype compute.DType, shape []int, data []float32) {
	if len(shape) == 0 {
		shape = []int{len(data)}
	}
	c.add(key, dtype, shape, unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(data))), len(data)), nil)
}

// add writes one tensor to the store file being written, if any. A failed
// write drops the file with a warning; the load goes on without it.
func (c *convertedCopy) add(key string, dtype compute.DType, shape []int, words []uint32, scales []float32) {
	if c == nil || c.w == nil {
		return
	}
	if err := c.w.Add(key, dtype, shape, words, scales); err != nil {
		c.w.Abort()
		c.w = nil
		c.warning = fmt.Sprintf("cannot keep a converted copy of the weights: %v", err)
	}
}

// finish commits the store file being written when loading succeeded, and
// drops it otherwise.
func (c *convertedCopy) finish(loadErr error) {
	if c == nil || c.w == nil {
		return
	}
	if loadErr != nil {
		c.w.Abort()
	} else if err := c.w.Commit(); err != nil {
		c.warning = fmt.Sprintf("cannot keep a converted copy of the weights: %v", err)
	} else {
		c.wrote = true
	}
	c.w = nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// close unmaps the store file being read, after a failed load.
func (c *convertedCopy) close() {
	if c != nil && c.r != nil {
		c.r.Close()
		c.r = nil
	}
}

// WeightSource says where the model's weights came from.
func (m *Model) WeightSource() WeightSource { return m.source }

// WeightWarning is one line for the user when the converted copy of the
// weights was rebuilt, or could not be written; else "".
func (m *Model) WeightWarning() string { return m.warning }

// copyParallel copies src to dst, split over the cores in whole 2 MiB
// pages: filling huge pages is mostly the kernel's page faults (zeroing,
// and compacting memory to find free 2 MiB blocks), which cores take in
// parallel.
func copyParallel(dst, src []uint32) {
	const page = 1 << 19 // words in 2 MiB
	n := len(src)
	parts := runtime.GOMAXPROCS(0)
	if n < 2*page || parts == 1 {
		copy(dst, src)
		return
	}
	dst = dst[:n]
	step := ((n+parts-1)/parts + page - 1) &^ (page - 1)
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			copy(dst[lo:hi], src[lo:hi])
		}()
	}
	wg.Wait()
}
