package compute

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// This file is the front's bookkeeping: the Backend and Context that wrap a
// Device, and tensor handles with their lifetimes. The operations
// themselves are in ops.go.
//
// Lifetimes, the same on every device:
//   - A tensor is a handle on storage (a Device Buffer). Reshape makes more
//     handles on the same storage. Release drops one handle; the storage is
//     freed (Device.Free) when its last handle goes, so a view outlives the
//     Release of its base and the Close of the Context that made the base.
//   - Using a released handle panics. Context.Close releases every handle the
//     Context made; Backend.Close releases the uploaded ones, closes the
//     device, and makes any later use of the backend panic.

// New returns the Backend that checks every operation and runs its kernels
// on dev. Backends construct their Device and return New(dev) (cpu.New,
// gl.New).
func New(dev Device) Backend {
	b := &backend{dev: dev}
	b.argmax, _ = dev.(ArgmaxKernel)
	if _, ok := dev.(Counter); !ok {
		// The front counts the calls of a device that does not count its own.
		b.dev = countedDevice{Device: dev, n: &b.calls}
		if b.argmax != nil {
			b.argmax = countedArgmax{k: b.argmax, n: &b.calls}
		}
	}
	return b
}

type backend struct {
	dev    Device
	argmax ArgmaxKernel // nil: the host fallback
	calls  callCounts   // a device's calls, where it has no Counter

	mu       sync.Mutex
	uploaded []*tensor
	closed   atomic.Bool
}

// storage is what a tensor and its views share.
type storage struct {
	buf  Buffer
	refs atomic.Int32 // live handles
}

// tensor is a handle on storage.
type tensor struct {
	b        *backend
	st       *storage
	shape    []int
	dtype    DType
	released bool
}

func (t *tensor) Shape() []int   { return t.shape }
func (t *tensor) DType() DType   { return t.dtype }
func (t *tensor) String() string { return fmt.Sprintf("%v%v", t.dtype, t.shape) }

// Release drops this handle, and the storage with the last one.
func (t *tensor) Release() {
	if t.released {
		return
	}
	t.released = true
	// After Backend.Close the device has freed everything already.
	if t.st.refs.Add(-1) == 0 && !t.b.closed.Load() {
		t.b.dev.Free(t.st.buf)
	}
}

func (t *tensor) operand() Operand { return Operand{Buf: t.st.buf, DType: t.dtype, Shape: t.shape} }

func (b *backend) Info() Info {
	if b.closed.Load() {
		panic("compute: Info of a closed Backend")
	}
	return b.dev.Info()
}

// Upload checks and packs data on the host, then hands the packed words to
// the device.
func (b *backend) Upload(dtype DType, shape []int, data []float32) (Tensor, error) {
	n, err := checkPackShape(dtype, shape)
	if err != nil {
		return nil, err
	}
	if len(data) != n {
		return nil, fmt.Errorf("tensor of shape %v needs %d values, got %d", shape, n, len(data))
	}
	var words []uint32
	var scales []float32
	if dtype == F32 {
		// F32 packs as its own bit patterns: no copy, the device copies.
		words = unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(data))), len(data))
	} else if words, scales, err = Pack(dtype, shape, data); err != nil {
		return nil, err
	}
	return b.upload(dtype, shape, words, scales)
}

// upload hands checked, packed data to the device and records the tensor.
func (b *backend) upload(dtype DType, shape []int, words []uint32, scales []float32) (Tensor, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("upload to a closed backend")
	}
	buf, err := b.dev.Upload(dtype, shape, words, scales)
	if err != nil {
		return nil, err
	}
	t := &tensor{b: b, st: &storage{buf: buf}, shape: append([]int(nil), shape...), dtype: dtype}
	t.st.refs.Store(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return nil, fmt.Errorf("upload to a closed backend")
	}
	b.uploaded = append(b.uploaded, t)
	return t, nil
}

func (b *backend) NewContext() Context {
	if b.closed.Load() {
		panic("compute: NewContext on a closed Backend")
	}
	return &context{b: b}
}

// Close releases every uploaded tensor and closes the device.
func (b *backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Swap(true) {
		return nil
	}
	for _, t := range b.uploaded {
		t.Release()
	}
	b.uploaded = nil
	return b.dev.Close()
}

// context records the handles it made so that Close can release them.
type context struct {
	b      *backend
	made   []*tensor
	closed bool
}

func (c *context) Close() {
	if c.closed {
		return
	}
	c.closed = true
	for _, t := range c.made {
		t.Release()
	}
	c.made = nil
}

// live checks that the context and its backend may run op.
func (c *context) live(op string) {
	if c.closed {
		panic(fmt.Sprintf("compute: %s: Context used after Close", op))
	}
	if c.b.closed.Load() {
		panic(fmt.Sprintf("compute: %s: Backend used after Close", op))
	}
}

// arg unwraps an operand of op, panicking on a foreign or released tensor.
func (c *context) arg(op string, t Tensor) *tensor {
	ft, ok := t.(*tensor)
	if !ok || ft == nil {
		panic(fmt.Sprintf("compute: %s: tensor %T does not belong to this backend", op, t))
	}
	if ft.b != c.b {
		panic(fmt.Sprintf("compute: %s: tensor %v belongs to another backend", op, ft))
	}
	if ft.released {
		panic(fmt.Sprintf("compute: %s: tensor %v used after Release", op, ft))
	}
	return ft
}

// f32 unwraps an operand that must be F32.
func (c *context) f32(op string, t Tensor) *tensor {
	ft := c.arg(op, t)
	if ft.dtype != F32 {
		panic(fmt.Sprintf("compute: %s needs an f32 tensor, got %v", op, ft))
	}
	return ft
}

// out allocates a result of op owned by c.
func (c *context) out(dt DType, shape []int) *tensor {
	t := &tensor{b: c.b, st: &storage{buf: c.b.dev.Alloc(dt, shape)}, shape: shape, dtype: dt}
	t.st.refs.Store(1)
	c.made = append(c.made, t)
	return t
}

// view makes another handle on t's storage, owned by c.
func (c *context) view(t *tensor, shape []int) *tensor {
	t.st.refs.Add(1)
	v := &tensor{b: c.b, st: t.st, shape: shape, dtype: t.dtype}
	c.made = append(c.made, v)
	return v
}

// --- shape helpers ---

func cloneShape(s []int) []int { return append([]int(nil), s...) }

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkShape panics on a negative dimension.
func checkShape(op string, shape []int) {
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("compute: %s: negative dimension in shape %v", op, shape))
		}
	}
}

// rowsCols splits t's shape into its number of rows and row length,
// panicking on a scalar.
func rowsCols(op string, t *tensor) (rows, cols int) {
	if len(t.shape) == 0 {
		panic(fmt.Sprintf("compute: %s of a scalar %v", op, t))
	}
	cols = t.shape[len(t.shape)-1]
	if cols == 0 {
		return 0, 0
	}
	return NumElements(t.shape) / cols, cols
}

// packUnit is the number of elements of dt that a copy must move together:
// one word of F16/BF16, one block of Q8/Q4, one super-block of Q4K/Q6K.
func packUnit(dt DType) int {
	switch dt {
	case F16, BF16:
		return 2
	case Q8, Q4:
		return BlockSize
	case Q4K, Q6K:
		return SuperBlockSize
	}
	return 1
}
