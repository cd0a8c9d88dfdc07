package compute

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// The CPU backend is plain Go: tensors are Go slices, operations run at once
// (there is no queue to synchronise), and the heavy ones (Linear, MatMul,
// Attention, large element-wise work) are split across runtime.GOMAXPROCS
// goroutines. It is the reference the GL kernels are tested against, so it
// favours straightforward float32 arithmetic over cleverness: every
// accumulation is float32, transcendental functions are evaluated in float64
// and rounded once.
//
// Weights keep their packed dtype in memory (two halves or four int8 per
// word), so memory use is what the GL backend's would be, and the kernels
// widen them to float32 as they go.
//
// Details the API leaves open, as this backend settles them (the GL backend
// is tested for the same):
//   - Softmax and Attention give zeros for a row whose scores are all -Inf
//     (a fully masked query) instead of NaN; LogSoftmax leaves such a row -Inf.
//   - Rows, Concat, Gather and SetRows take F32 tensors; Copy and Read widen
//     any dtype to float32; Embedding takes a table of any dtype.
//   - MatMul accepts a 2-D b with a batched a (one matrix shared by all).
//   - Argmax and TopK rank NaN below every number; ties go to the lower index.
//   - Reshape views share storage with their base. Release drops one handle:
//     releasing a base leaves its views usable, and vice versa. Using a
//     released handle panics, and Context.Close and Backend.Close release
//     every handle they made.
//   - Results do not depend on GOMAXPROCS: each output is summed in the same
//     order however the work is split.

// NewCPU returns the pure-Go backend. It cannot fail.
func NewCPU() Backend {
	return &cpuBackend{}
}

type cpuBackend struct {
	mu       sync.Mutex
	uploaded []*cpuTensor
	closed   bool
}

// cpuData is the storage shared by a tensor and its views.
type cpuData struct {
	f      []float32 // F32 elements
	words  []uint32  // packed elements of the other dtypes
	scales []float32 // Q8/Q4 block scales
}

// cpuTensor is a handle on storage. Views made by Reshape are further
// handles on the same storage; releasing a handle drops only that handle.
type cpuTensor struct {
	shape []int
	dtype DType
	data  *cpuData // nil once released
}

func (t *cpuTensor) Shape() []int   { return t.shape }
func (t *cpuTensor) DType() DType   { return t.dtype }
func (t *cpuTensor) Release()       { t.data = nil }
func (t *cpuTensor) String() string { return fmt.Sprintf("%v%v", t.dtype, t.shape) }

func (b *cpuBackend) Info() Info {
	return Info{
		Name:     "cpu",
		Device:   cpuModel(),
		Version:  runtime.Version(),
		Variants: []string{"pure-go"},
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

func (b *cpuBackend) Upload(dtype DType, shape []int, data []float32) (Tensor, error) {
	t := &cpuTensor{shape: append([]int(nil), shape...), dtype: dtype, data: &cpuData{}}
	if dtype == F32 {
		// Keep F32 as floats, which the kernels read directly.
		n, err := checkPackShape(dtype, shape)
		if err != nil {
			return nil, err
		}
		if len(data) != n {
			return nil, fmt.Errorf("tensor of shape %v needs %d values, got %d", shape, n, len(data))
		}
		t.data.f = append([]float32(nil), data...)
	} else {
		words, scales, err := Pack(dtype, shape, data)
		if err != nil {
			return nil, err
		}
		t.data.words, t.data.scales = words, scales
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("upload to a closed CPU backend")
	}
	b.uploaded = append(b.uploaded, t)
	return t, nil
}

func (b *cpuBackend) NewContext() Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		panic("compute: NewContext on a closed CPU backend")
	}
	return &cpuContext{}
}

// Close releases every uploaded tensor. Contexts made earlier keep working
// on their own tensors.
func (b *cpuBackend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range b.uploaded {
		t.Release()
	}
	b.uploaded = nil
	b.closed = true
	return nil
}

// cpuContext records the tensors it made so that Close can release them.
type cpuContext struct {
	made   []*cpuTensor
	closed bool
}

func (c *cpuContext) Close() {
	for _, t := range c.made {
		t.Release()
	}
	c.made = nil
	c.closed = true
}

// newF32 makes a context-owned F32 tensor over data (not copied).
func (c *cpuContext) newF32(shape []int, data []float32) *cpuTensor {
	if c.closed {
		panic("compute: CPU context used after Close")
	}
	t := &cpuTensor{shape: shape, dtype: F32, data: &cpuData{f: data}}
	c.made = append(c.made, t)
	return t
}

// tensor unwraps a Tensor argument, panicking on a foreign or released one.
func tensor(op string, t Tensor) *cpuTensor {
	ct, ok := t.(*cpuTensor)
	if !ok {
		panic(fmt.Sprintf("compute: %s: tensor %T does not belong to the CPU backend", op, t))
	}
	if ct.data == nil {
		panic(fmt.Sprintf("compute: %s: tensor %v used after Release", op, ct))
	}
	return ct
}

// f32 unwraps a Tensor that must be F32 and returns its elements.
func f32(op string, t Tensor) (*cpuTensor, []float32) {
	ct := tensor(op, t)
	if ct.dtype != F32 {
		panic(fmt.Sprintf("compute: %s needs an f32 tensor, got %v", op, ct))
	}
	return ct, ct.data.f
}

// rowsCols splits a shape into its number of rows and row length.
func rowsCols(op string, shape []int) (rows, cols int) {
	if len(shape) == 0 {
		panic(fmt.Sprintf("compute: %s of a scalar (shape %v)", op, shape))
	}
	cols = shape[len(shape)-1]
	if cols == 0 {
		return 0, 0
	}
	return NumElements(shape) / cols, cols
}

// floats returns t's elements as float32: t's own slice for F32 (do not
// modify it), a fresh expansion otherwise.
func floats(t *cpuTensor) []float32 {
	if t.dtype == F32 {
		return t.data.f
	}
	out := make([]float32, NumElements(t.shape))
	unpackRange(t.dtype, t.data.words, t.data.scales, 0, out)
	return out
}

func cloneShape(s []int) []int { return append([]int(nil), s...) }

// --- data movement ---

// FromFloats copies data into a new F32 tensor.
func (c *cpuContext) FromFloats(shape []int, data []float32) Tensor {
	checkShape("FromFloats", shape)
	if len(data) != NumElements(shape) {
		panic(fmt.Sprintf("compute: FromFloats shape %v needs %d values, got %d", shape, NumElements(shape), len(data)))
	}
	return c.newF32(cloneShape(shape), append([]float32(nil), data...))
}

func checkShape(op string, shape []int) {
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("compute: %s: negative dimension in shape %v", op, shape))
		}
	}
}

func (c *cpuContext) Zeros(shape ...int) Tensor {
	checkShape("Zeros", shape)
	return c.newF32(cloneShape(shape), make([]float32, NumElements(shape)))
}

// Read returns a copy of t's values, widened to float32.
func (c *cpuContext) Read(t Tensor) []float32 {
	ct := tensor("Read", t)
	if ct.dtype == F32 {
		return append([]float32(nil), ct.data.f...)
	}
	return floats(ct)
}

// Reshape returns a view sharing t's storage. A Q8/Q4 view's rows must
// still be a multiple of BlockSize.
func (c *cpuContext) Reshape(t Tensor, shape ...int) Tensor {
	ct := tensor("Reshape", t)
	checkShape("Reshape", shape)
	if NumElements(shape) != NumElements(ct.shape) {
		panic(fmt.Sprintf("compute: Reshape %v to %v changes the number of elements", ct, shape))
	}
	if ct.dtype == Q8 || ct.dtype == Q4 {
		if len(shape) == 0 || shape[len(shape)-1]%BlockSize != 0 {
			panic(fmt.Sprintf("compute: Reshape %v to %v: quantized rows must be a multiple of %d", ct, shape, BlockSize))
		}
	}
	if c.closed {
		panic("compute: CPU context used after Close")
	}
	v := &cpuTensor{shape: cloneShape(shape), dtype: ct.dtype, data: ct.data}
	c.made = append(c.made, v)
	return v
}

// rowSize is the number of elements in one index of dimension 0.
func rowSize(t *cpuTensor) int {
	if len(t.shape) == 0 {
		return 1
	}
	return NumElements(t.shape[1:])
}

func (c *cpuContext) Rows(t Tensor, start, n int) Tensor {
	ct, d := f32("Rows", t)
	if len(ct.shape) == 0 || start < 0 || n < 0 || start+n > ct.shape[0] {
		panic(fmt.Sprintf("compute: Rows [%d, %d) of %v", start, start+n, ct))
	}
	rs := rowSize(ct)
	shape := cloneShape(ct.shape)
	shape[0] = n
	return c.newF32(shape, append([]float32(nil), d[start*rs:(start+n)*rs]...))
}

func (c *cpuContext) Concat(ts ...Tensor) Tensor {
	if len(ts) == 0 {
		panic("compute: Concat of no tensors")
	}
	first, _ := f32("Concat", ts[0])
	if len(first.shape) == 0 {
		panic(fmt.Sprintf("compute: Concat of scalar %v", first))
	}
	total := 0
	for _, t := range ts {
		ct, _ := f32("Concat", t)
		if len(ct.shape) != len(first.shape) || !equalInts(ct.shape[1:], first.shape[1:]) {
			panic(fmt.Sprintf("compute: Concat of %v and %v: dimensions after the first differ", first, ct))
		}
		total += ct.shape[0]
	}
	out := make([]float32, 0, total*rowSize(first))
	for _, t := range ts {
		_, d := f32("Concat", t)
		out = append(out, d...)
	}
	shape := cloneShape(first.shape)
	shape[0] = total
	return c.newF32(shape, out)
}

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

func (c *cpuContext) Gather(t Tensor, idx []int32) Tensor {
	ct, d := f32("Gather", t)
	if len(ct.shape) == 0 {
		panic(fmt.Sprintf("compute: Gather from scalar %v", ct))
	}
	rs := rowSize(ct)
	out := make([]float32, len(idx)*rs)
	for i, r := range idx {
		if r < 0 || int(r) >= ct.shape[0] {
			panic(fmt.Sprintf("compute: Gather index %d out of range for %v", r, ct))
		}
		copy(out[i*rs:(i+1)*rs], d[int(r)*rs:(int(r)+1)*rs])
	}
	shape := cloneShape(ct.shape)
	shape[0] = len(idx)
	return c.newF32(shape, out)
}

// SetRows writes src over rows [at, at+n) of dimension dim of dst.
func (c *cpuContext) SetRows(dst Tensor, dim, at int, src Tensor) {
	dt, dd := f32("SetRows", dst)
	st, sd := f32("SetRows", src)
	bad := func() {
		panic(fmt.Sprintf("compute: SetRows of %v into %v at dim %d row %d", st, dt, dim, at))
	}
	if dim < 0 || dim > 1 || len(dt.shape) <= dim || len(st.shape) != len(dt.shape) || at < 0 {
		bad()
	}
	for i := range dt.shape {
		if i != dim && dt.shape[i] != st.shape[i] {
			bad()
		}
	}
	n := st.shape[dim]
	if at+n > dt.shape[dim] {
		bad()
	}
	inner := NumElements(dt.shape[dim+1:])
	outer := NumElements(dt.shape[:dim])
	for o := 0; o < outer; o++ {
		copy(dd[(o*dt.shape[dim]+at)*inner:(o*dt.shape[dim]+at+n)*inner], sd[o*n*inner:(o+1)*n*inner])
	}
}

// Copy writes src (any dtype, widened to float32) over dst (F32) in place.
func (c *cpuContext) Copy(dst, src Tensor) {
	dt, dd := f32("Copy", dst)
	st := tensor("Copy", src)
	if NumElements(dt.shape) != NumElements(st.shape) {
		panic(fmt.Sprintf("compute: Copy of %v into %v: sizes differ", st, dt))
	}
	if st.dtype == F32 {
		copy(dd, st.data.f)
		return
	}
	unpackRange(st.dtype, st.data.words, st.data.scales, 0, dd)
}

// --- parallel loops ---

// parallelFor runs fn over [0, n) in chunks of about grain items, spread
// over GOMAXPROCS goroutines that take chunks as they finish (so uneven
// chunks balance out). Small loops run on the calling goroutine.
func parallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	tasks := (n + grain - 1) / grain
	workers := min(maxProcs(), tasks)
	if workers <= 1 {
		fn(0, n)
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			t := int(next.Add(1)) - 1
			if t >= tasks {
				return
			}
			fn(t*grain, min((t+1)*grain, n))
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// grainFor picks a chunk size that gives each worker several chunks (for
// balance) while keeping at least minGrain items per chunk.
func grainFor(n, minGrain int) int {
	g := n / (4 * maxProcs())
	return max(g, minGrain, 1)
}

// maxProcs is the number of goroutines the parallel loops use.
func maxProcs() int { return runtime.GOMAXPROCS(0) }
