package compute

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/go-gl/gl/v4.3-core/gl"
)

// glContext queues operations on the GL thread. Shape checks run here, in
// the caller's goroutine, so that broken invariants panic where they are
// made; the closures it queues only allocate, bind and dispatch.
type glContext struct {
	b      *glBackend
	made   []*glTensor // every handle this context returned
	closed bool
}

// Work-group sizes of the kernels (the WG define; powers of two).
const (
	wgElem   = 256 // element-wise, RoPE, lookups: grid-stride loops
	wgRow    = 256 // norms, softmax, argmax: one work group per row
	wgMatvec = 128 // one work group per output row
	wgAttn   = 128 // one work group per query row; head size up to 2·wgAttn
)

var (
	elemWG   = fmt.Sprintf("WG=%d", wgElem)
	rowWG    = fmt.Sprintf("WG=%d", wgRow)
	matvecWG = fmt.Sprintf("WG=%d", wgMatvec)
)

func (c *glContext) Close() {
	if c.closed {
		return
	}
	c.closed = true
	for _, t := range c.made {
		t.Release()
	}
	c.made = nil
}

// tensor checks that t is a live tensor of this backend.
func (c *glContext) tensor(op string, t Tensor) *glTensor {
	if c.closed {
		panic(fmt.Sprintf("compute: %s on a closed GL context", op))
	}
	gt, ok := t.(*glTensor)
	if !ok || gt == nil {
		panic(fmt.Sprintf("compute: %s of %T, not a GL tensor", op, t))
	}
	if gt.b != c.b {
		panic(fmt.Sprintf("compute: %s of %v from another GL backend", op, gt))
	}
	if gt.released || gt.st.freed.Load() {
		// freed without a release: the backend was closed
		panic(fmt.Sprintf("compute: %s of released tensor %v", op, gt))
	}
	return gt
}

// f32 checks that t is a live F32 tensor in one buffer and returns its slot.
func (c *glContext) f32(op string, t Tensor) (*glTensor, *glSlot) {
	gt := c.tensor(op, t)
	if gt.dtype != F32 {
		panic(fmt.Sprintf("compute: %s needs F32, got %v", op, gt))
	}
	return gt, gt.single(op)
}

func (t *glTensor) single(op string) *glSlot {
	if len(t.st.chunks) != 1 {
		panic(fmt.Sprintf("compute: %s of %v, which is split over %d GPU buffers (only Linear, Embedding and Read take split tensors)", op, t, len(t.st.chunks)))
	}
	return t.st.chunks[0].data
}

// newF32 makes a context tensor of the given shape. Its buffer is allocated
// by the first closure that runs with it in fresh.
func (c *glContext) newF32(op string, shape []int) (*glTensor, *glSlot) {
	n := NumElements(shape)
	if int64(n)*4 > c.b.maxBlock {
		panic(fmt.Sprintf("compute: %s result %v needs %d bytes, over the GPU's buffer limit of %d", op, shape, int64(n)*4, c.b.maxBlock))
	}
	rows := 1
	if len(shape) > 0 {
		rows = shape[0]
	}
	s := &glSlot{bytes: 4 * n}
	t := c.b.newHandle(&glStorage{pooled: true, chunks: []glChunk{{data: s, rows: rows}}}, F32, shape)
	c.made = append(c.made, t)
	return t, s
}

// exec allocates the fresh slots and runs the kernels, in order, on the GL
// thread without waiting.
func (c *glContext) exec(fresh []*glSlot, ks ...*kernel) {
	b := c.b
	b.submit(func() {
		for _, s := range fresh {
			b.alloc(s, true)
		}
		for _, k := range ks {
			b.dispatch(k)
		}
	})
}

// --- data movement ---

func (c *glContext) FromFloats(shape []int, data []float32) Tensor {
	if NumElements(shape) != len(data) {
		panic(fmt.Sprintf("compute: FromFloats of %d values as shape %v", len(data), shape))
	}
	t, s := c.newF32("FromFloats", shape)
	// The copy lets the caller reuse data while the upload waits in the queue.
	buf := append([]float32(nil), data...)
	b := c.b
	b.submit(func() {
		b.alloc(s, true)
		b.beforeTransfer(s.buf)
		if len(buf) > 0 {
			gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, s.buf.id)
			gl.BufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*len(buf), unsafe.Pointer(&buf[0]))
		}
	})
	return t
}

func (c *glContext) Zeros(shape ...int) Tensor {
	t, s := c.newF32("Zeros", shape)
	b := c.b
	b.submit(func() {
		b.alloc(s, true)
		b.clear(s)
	})
	return t
}

// clear zeroes a slot's bytes (GL thread).
func (b *glBackend) clear(s *glSlot) {
	if s.bytes == 0 {
		return
	}
	b.beforeTransfer(s.buf)
	var zero uint32
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, s.buf.id)
	gl.ClearBufferSubData(gl.SHADER_STORAGE_BUFFER, gl.R32UI, 0, s.bytes, gl.RED_INTEGER, gl.UNSIGNED_INT, unsafe.Pointer(&zero))
}

func (c *glContext) Read(t Tensor) []float32 {
	gt := c.tensor("Read", t)
	return c.b.read(gt)
}

// read downloads a tensor (all its chunks) and widens it to float32.
func (b *glBackend) read(gt *glTensor) []float32 {
	n := NumElements(gt.shape)
	words := make([]uint32, PackedWords(gt.dtype, n))
	var scales []float32
	if gt.dtype == Q8 || gt.dtype == Q4 {
		scales = make([]float32, n/BlockSize)
	}
	oom := false
	b.call(func() {
		oom = b.outOfMemory()
		w, sc := 0, 0
		for _, ch := range gt.st.chunks {
			nw := min(ch.data.bytes/4, len(words)-w)
			if nw > 0 {
				b.beforeTransfer(ch.data.buf)
				gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, ch.data.buf.id)
				gl.GetBufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*nw, unsafe.Pointer(&words[w]))
			}
			w += nw
			if ch.scales != nil {
				ns := min(ch.scales.bytes/4, len(scales)-sc)
				if ns > 0 {
					b.beforeTransfer(ch.scales.buf)
					gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, ch.scales.buf.id)
					gl.GetBufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*ns, unsafe.Pointer(&scales[sc]))
				}
				sc += ns
			}
		}
	})
	if oom {
		// Allocations fail silently in OpenGL; the values read would be garbage.
		panic("compute: the GPU ran out of memory while running operations (GL_OUT_OF_MEMORY); a smaller model, fewer beams or the CPU backend would fit")
	}
	if gt.dtype == F32 {
		return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(words))), len(words))
	}
	return Unpack(gt.dtype, gt.shape, words, scales)
}

// outOfMemory drains the GL error flags and reports whether one of them
// was GL_OUT_OF_MEMORY (GL thread).
func (b *glBackend) outOfMemory() bool {
	oom := false
	for i := 0; i < 16; i++ {
		e := gl.GetError()
		if e == gl.NO_ERROR {
			break
		}
		oom = oom || e == gl.OUT_OF_MEMORY
	}
	return oom
}

func (c *glContext) Reshape(t Tensor, shape ...int) Tensor {
	gt := c.tensor("Reshape", t)
	if NumElements(shape) != NumElements(gt.shape) {
		panic(fmt.Sprintf("compute: Reshape %v to %v changes the number of elements", gt, shape))
	}
	if len(gt.st.chunks) > 1 && (len(shape) == 0 || shape[0] != gt.shape[0]) {
		panic(fmt.Sprintf("compute: Reshape %v to %v: a tensor split over GPU buffers keeps its first dimension", gt, shape))
	}
	if (gt.dtype == Q8 || gt.dtype == Q4) && (len(shape) == 0 || shape[len(shape)-1]%BlockSize != 0) {
		panic(fmt.Sprintf("compute: Reshape %v to %v: quantized rows must be a multiple of %d", gt, shape, BlockSize))
	}
	gt.st.refs.Add(1)
	v := &glTensor{b: c.b, st: gt.st, shape: append([]int(nil), shape...), dtype: gt.dtype}
	c.made = append(c.made, v)
	return v
}

// span is a run of elements of a tensor for buffer copies.
type span struct {
	t      *glTensor
	e0, ne int // first element and count, in tensor coordinates
}

// copyOp copies spans of src into spans of dst with glCopyBufferSubData.
// Packed dtypes need word- (and for Q8/Q4 block-) aligned spans.
type copyOp struct {
	src, dst span
}

// newLike makes a context tensor of dtype dt (packed like an upload).
func (c *glContext) newLike(op string, dt DType, shape []int) (*glTensor, []*glSlot) {
	if dt == F32 {
		t, s := c.newF32(op, shape)
		return t, []*glSlot{s}
	}
	n := NumElements(shape)
	if int64(PackedWords(dt, n))*4 > c.b.maxBlock {
		panic(fmt.Sprintf("compute: %s result %v%v is over the GPU's buffer limit", op, dt, shape))
	}
	ch := glChunk{data: &glSlot{bytes: 4 * PackedWords(dt, n)}, rows: shape[0]}
	fresh := []*glSlot{ch.data}
	if dt == Q8 || dt == Q4 {
		ch.scales = &glSlot{bytes: 4 * (n / BlockSize)}
		fresh = append(fresh, ch.scales)
	}
	t := c.b.newHandle(&glStorage{pooled: true, chunks: []glChunk{ch}}, dt, shape)
	c.made = append(c.made, t)
	return t, fresh
}

// elemsPerWord is how many elements of dt share a 32-bit word.
func elemsPerWord(dt DType) int {
	switch dt {
	case F16, BF16:
		return 2
	case Q8:
		return 4
	case Q4:
		return 8
	}
	return 1
}

// runCopies queues the copies (and allocations) on the GL thread.
func (c *glContext) runCopies(op string, fresh []*glSlot, ops []copyOp) {
	type piece struct {
		src, dst           *glSlot
		srcOff, dstOff, nb int
	}
	var pieces []piece
	for _, o := range ops {
		dt := o.src.t.dtype
		epw := elemsPerWord(dt)
		align := epw
		if dt == Q8 || dt == Q4 {
			align = BlockSize
		}
		srcEnd, dstEnd := o.src.e0+o.src.ne == NumElements(o.src.t.shape), o.dst.e0+o.dst.ne == NumElements(o.dst.t.shape)
		if o.src.e0%align != 0 || o.dst.e0%align != 0 || (o.src.ne%align != 0 && !(srcEnd && dstEnd)) {
			panic(fmt.Sprintf("compute: %s of %v into %v: element offsets %d, %d and count %d are not aligned to the %v packing", op, o.src.t, o.dst.t, o.src.e0, o.dst.e0, o.src.ne, dt))
		}
		dch := o.dst.t.st.chunks[0]
		// Walk the source chunks the span overlaps.
		srcRowElems := 1
		if len(o.src.t.shape) > 0 && o.src.t.shape[0] > 0 {
			srcRowElems = NumElements(o.src.t.shape) / o.src.t.shape[0]
		}
		e, left, de := o.src.e0, o.src.ne, o.dst.e0
		for _, sch := range o.src.t.st.chunks {
			c0 := sch.row0 * srcRowElems
			c1 := c0 + sch.rows*srcRowElems
			if len(o.src.t.st.chunks) == 1 {
				c0, c1 = 0, NumElements(o.src.t.shape)
			}
			if left == 0 || e >= c1 || e < c0 {
				continue
			}
			n := min(left, c1-e)
			pieces = append(pieces, piece{sch.data, dch.data, 4 * ((e - c0) / epw), 4 * (de / epw), 4 * PackedWords(dt, n)})
			if sch.scales != nil {
				pieces = append(pieces, piece{sch.scales, dch.scales, 4 * ((e - c0) / BlockSize), 4 * (de / BlockSize), 4 * (n / BlockSize)})
			}
			e, de, left = e+n, de+n, left-n
		}
	}
	b := c.b
	b.submit(func() {
		for _, s := range fresh {
			b.alloc(s, true)
		}
		for _, p := range pieces {
			if p.nb == 0 {
				continue
			}
			b.beforeTransfer(p.src.buf, p.dst.buf)
			gl.BindBuffer(gl.COPY_READ_BUFFER, p.src.buf.id)
			gl.BindBuffer(gl.COPY_WRITE_BUFFER, p.dst.buf.id)
			gl.CopyBufferSubData(gl.COPY_READ_BUFFER, gl.COPY_WRITE_BUFFER, p.srcOff, p.dstOff, p.nb)
		}
	})
}

// rowElems is the element count of one row along dimension 0.
func rowElems(t *glTensor) int {
	if len(t.shape) == 0 {
		panic(fmt.Sprintf("compute: rows of scalar %v", t))
	}
	return NumElements(t.shape[1:])
}

func (c *glContext) Rows(t Tensor, start, n int) Tensor {
	gt := c.tensor("Rows", t)
	re := rowElems(gt)
	if start < 0 || n < 0 || start+n > gt.shape[0] {
		panic(fmt.Sprintf("compute: Rows [%d, %d) of %v", start, start+n, gt))
	}
	shape := append([]int{n}, gt.shape[1:]...)
	out, fresh := c.newLike("Rows", gt.dtype, shape)
	c.runCopies("Rows", fresh, []copyOp{{span{gt, start * re, n * re}, span{out, 0, n * re}}})
	return out
}

func (c *glContext) Concat(ts ...Tensor) Tensor {
	if len(ts) == 0 {
		panic("compute: Concat of no tensors")
	}
	first := c.tensor("Concat", ts[0])
	if len(first.shape) == 0 {
		panic(fmt.Sprintf("compute: Concat of scalar %v", first))
	}
	rows := 0
	gts := make([]*glTensor, len(ts))
	for i, t := range ts {
		gt := c.tensor("Concat", t)
		if gt.dtype != first.dtype || !equalInts(gt.shape[1:], first.shape[1:]) || len(gt.shape) != len(first.shape) {
			panic(fmt.Sprintf("compute: Concat of %v and %v: dimensions after the first differ", first, gt))
		}
		gts[i] = gt
		rows += gt.shape[0]
	}
	shape := append([]int{rows}, first.shape[1:]...)
	out, fresh := c.newLike("Concat", first.dtype, shape)
	re := rowElems(first)
	var ops []copyOp
	at := 0
	for _, gt := range gts {
		n := gt.shape[0] * re
		ops = append(ops, copyOp{span{gt, 0, n}, span{out, at, n}})
		at += n
	}
	c.runCopies("Concat", fresh, ops)
	return out
}

func (c *glContext) Gather(t Tensor, idx []int32) Tensor {
	gt := c.tensor("Gather", t)
	re := rowElems(gt)
	shape := append([]int{len(idx)}, gt.shape[1:]...)
	out, fresh := c.newLike("Gather", gt.dtype, shape)
	ops := make([]copyOp, 0, len(idx))
	for i, r := range idx {
		if r < 0 || int(r) >= gt.shape[0] {
			panic(fmt.Sprintf("compute: Gather index %d out of range for %v", r, gt))
		}
		// Consecutive indices become one copy (the common no-reorder case).
		if n := len(ops); n > 0 && i > 0 && r == idx[i-1]+1 {
			ops[n-1].src.ne += re
			ops[n-1].dst.ne += re
			continue
		}
		ops = append(ops, copyOp{span{gt, int(r) * re, re}, span{out, i * re, re}})
	}
	c.runCopies("Gather", fresh, ops)
	return out
}

func (c *glContext) SetRows(dst Tensor, dim, at int, src Tensor) {
	dt := c.tensor("SetRows", dst)
	st := c.tensor("SetRows", src)
	dt.single("SetRows")
	bad := func() {
		panic(fmt.Sprintf("compute: SetRows of %v into %v at dim %d row %d", st, dt, dim, at))
	}
	if dt.dtype != st.dtype || len(dt.shape) != len(st.shape) || dim < 0 || dim > 1 || dim >= len(dt.shape) {
		bad()
	}
	for i := range dt.shape {
		if i != dim && dt.shape[i] != st.shape[i] {
			bad()
		}
	}
	if at < 0 || at+st.shape[dim] > dt.shape[dim] {
		bad()
	}
	var ops []copyOp
	if dim == 0 {
		re := rowElems(dt)
		n := st.shape[0] * re
		ops = append(ops, copyOp{span{st, 0, n}, span{dt, at * re, n}})
	} else {
		inner := NumElements(dt.shape[2:])
		for b := 0; b < dt.shape[0]; b++ {
			n := st.shape[1] * inner
			ops = append(ops, copyOp{span{st, b * n, n}, span{dt, (b*dt.shape[1] + at) * inner, n}})
		}
	}
	c.runCopies("SetRows", nil, ops)
}

func (c *glContext) Copy(dst, src Tensor) {
	dt := c.tensor("Copy", dst)
	st := c.tensor("Copy", src)
	dt.single("Copy")
	n := NumElements(st.shape)
	if NumElements(dt.shape) != n || dt.dtype != st.dtype {
		panic(fmt.Sprintf("compute: Copy of %v into %v: sizes differ", st, dt))
	}
	c.runCopies("Copy", nil, []copyOp{{span{st, 0, n}, span{dt, 0, n}}})
}

// --- linear algebra ---

// weightDefines returns the WT_* define of a weight dtype.
func weightDefine(dt DType) string {
	return "WT_" + map[DType]string{F32: "F32", F16: "F16", BF16: "BF16", Q8: "Q8", Q4: "Q4"}[dt]
}

// vecElems is how many weight elements fill 16 bytes (matvec's VEC loads).
func vecElems(dt DType) int {
	return map[DType]int{F32: 4, F16: 8, BF16: 8, Q8: 16, Q4: 32}[dt]
}

// matvecRows is the most rows Linear runs through the matrix–vector kernel.
const matvecRows = 8

// pow2AtLeast returns the smallest power of two >= n (n >= 1): the matvec
// kernel is compiled for 1, 2, 4 or 8 rows at most.
func pow2AtLeast(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}

func (c *glContext) Linear(x, w, bias Tensor) Tensor {
	xt, xs := c.f32("Linear", x)
	wt := c.tensor("Linear", w)
	if len(xt.shape) < 1 || len(wt.shape) != 2 || wt.shape[1] != xt.shape[len(xt.shape)-1] {
		panic(fmt.Sprintf("compute: Linear of x %v with w %v: want x [..., K] and w [N, K]", xt, wt))
	}
	N, K := wt.shape[0], wt.shape[1]
	M := NumElements(xt.shape) / max(K, 1)
	var bs *glSlot
	if bias != nil {
		var bt *glTensor
		bt, bs = c.f32("Linear bias", bias)
		if NumElements(bt.shape) != N {
			panic(fmt.Sprintf("compute: Linear bias %v for w %v: want %d values", bt, wt, N))
		}
	}
	shape := append(append([]int(nil), xt.shape[:len(xt.shape)-1]...), N)
	out, os := c.newF32("Linear", shape)
	if M == 0 || N == 0 {
		return out
	}
	if K == 0 {
		c.exec([]*glSlot{os})
		c.b.submit(func() { c.b.clear(os) })
		return out
	}
	defs := []string{weightDefine(wt.dtype)}
	if bs != nil {
		defs = append(defs, "HAS_BIAS")
	}
	var ks []*kernel
	for _, ch := range wt.st.chunks {
		k := &kernel{binds: []*glSlot{os, xs, ch.data, ch.scales, bs}, writes: 1}
		if M <= matvecRows {
			k.name = "matvec"
			k.defines = append([]string{matvecWG, fmt.Sprintf("MAXM=%d", pow2AtLeast(M))}, defs...)
			if ev := vecElems(wt.dtype); K%ev == 0 {
				k.defines = append(k.defines, "VEC", fmt.Sprintf("EPV=%d", ev))
			}
			k.args = []any{M, ch.rows, K, N, ch.row0}
			k.groups = grid(ch.rows)
		} else {
			k.name = "matmul"
			k.defines = append([]string{"TRANS_B"}, defs...)
			if wt.dtype == Q8 || wt.dtype == Q4 || ((wt.dtype == F16 || wt.dtype == BF16) && K%2 == 0) {
				k.defines = append(k.defines, "PACKED_LOADS")
			}
			k.args = []any{M, ch.rows, K, N, ch.row0, 0, 0, 0}
			k.groups = [3]uint32{uint32((ch.rows + 63) / 64), uint32((M + 63) / 64), 1}
		}
		ks = append(ks, k)
	}
	c.exec([]*glSlot{os}, ks...)
	return out
}

func (c *glContext) MatMul(a, b Tensor, transB bool) Tensor {
	at, as := c.f32("MatMul", a)
	bt, bsl := c.f32("MatMul", b)
	if len(at.shape) < 2 || len(bt.shape) < 2 {
		panic(fmt.Sprintf("compute: MatMul needs matrices or batches of them, got %v and %v", at, bt))
	}
	na, nb := len(at.shape), len(bt.shape)
	batch, M, K := NumElements(at.shape[:na-2]), at.shape[na-2], at.shape[na-1]
	N, KB := bt.shape[nb-1], bt.shape[nb-2]
	if transB {
		N, KB = KB, N
	}
	shared := nb == 2
	if KB != K || (!shared && (nb != na || !equalInts(at.shape[:na-2], bt.shape[:nb-2]))) {
		panic(fmt.Sprintf("compute: MatMul of %v and %v (transB %v): inner or batch dimensions differ", at, bt, transB))
	}
	shape := append([]int(nil), at.shape...)
	shape[na-1] = N
	out, os := c.newF32("MatMul", shape)
	if batch*M*N == 0 {
		return out
	}
	if K == 0 {
		c.exec([]*glSlot{os})
		c.b.submit(func() { c.b.clear(os) })
		return out
	}
	bBatch := K * N
	if shared {
		bBatch = 0
	}
	defs := []string{"WT_F32"}
	if transB {
		defs = append(defs, "TRANS_B")
	}
	if batch > 65535 {
		panic(fmt.Sprintf("compute: MatMul of %v and %v: more than 65535 batch entries", at, bt))
	}
	k := &kernel{name: "matmul", defines: defs, writes: 1,
		binds:  []*glSlot{os, as, bsl, nil, nil},
		args:   []any{M, N, K, N, 0, M * K, bBatch, M * N},
		groups: [3]uint32{uint32((N + 63) / 64), uint32((M + 63) / 64), uint32(batch)}}
	c.exec([]*glSlot{os}, k)
	return out
}

// --- element-wise ---

func (c *glContext) binary(op, define string, a, b Tensor) Tensor {
	at, as := c.f32(op, a)
	bt, bs := c.f32(op, b)
	n, bn := NumElements(at.shape), NumElements(bt.shape)
	if bn != n && (len(at.shape) == 0 || bn != at.shape[len(at.shape)-1] || bt.shape[len(bt.shape)-1] != bn) {
		panic(fmt.Sprintf("compute: %s of %v and %v: b must have a's shape or be one row", op, at, bt))
	}
	out, os := c.newF32(op, at.shape)
	if n == 0 {
		return out
	}
	c.exec([]*glSlot{os}, &kernel{name: "elementwise", defines: []string{elemWG, define}, writes: 1,
		binds: []*glSlot{os, as, bs}, args: []any{n, bn}, groups: strideGrid(n, wgElem)})
	return out
}

func (c *glContext) Add(a, b Tensor) Tensor { return c.binary("Add", "OP_ADD", a, b) }
func (c *glContext) Mul(a, b Tensor) Tensor { return c.binary("Mul", "OP_MUL", a, b) }

func (c *glContext) unary(op, define string, x Tensor, s float32) Tensor {
	xt, xs := c.f32(op, x)
	n := NumElements(xt.shape)
	out, os := c.newF32(op, xt.shape)
	if n == 0 {
		return out
	}
	args := []any{n}
	if define == "OP_SCALE" {
		args = []any{n, nil, s}
	}
	c.exec([]*glSlot{os}, &kernel{name: "elementwise", defines: []string{elemWG, define}, writes: 1,
		binds: []*glSlot{os, xs}, args: args, groups: strideGrid(n, wgElem)})
	return out
}

func (c *glContext) Scale(a Tensor, s float32) Tensor { return c.unary("Scale", "OP_SCALE", a, s) }
func (c *glContext) GELU(x Tensor) Tensor             { return c.unary("GELU", "OP_GELU", x, 0) }
func (c *glContext) GELUTanh(x Tensor) Tensor         { return c.unary("GELUTanh", "OP_GELU_TANH", x, 0) }
func (c *glContext) SiLU(x Tensor) Tensor             { return c.unary("SiLU", "OP_SILU", x, 0) }

func (c *glContext) Gated(act string, gate, up Tensor) Tensor {
	fn, ok := map[string]string{"silu": "act_silu", "gelu": "act_gelu", "gelu_tanh": "act_gelu_tanh", "relu": "act_relu"}[act]
	if !ok {
		panic(fmt.Sprintf("compute: Gated with unknown activation %q", act))
	}
	gt, gs := c.f32("Gated", gate)
	ut, us := c.f32("Gated", up)
	if !equalInts(gt.shape, ut.shape) {
		panic(fmt.Sprintf("compute: Gated of %v and %v: shapes differ", gt, ut))
	}
	n := NumElements(gt.shape)
	out, os := c.newF32("Gated", gt.shape)
	if n == 0 {
		return out
	}
	c.exec([]*glSlot{os}, &kernel{name: "elementwise", defines: []string{elemWG, "OP_GATED", "ACT=" + fn}, writes: 1,
		binds: []*glSlot{os, gs, us}, args: []any{n}, groups: strideGrid(n, wgElem)})
	return out
}

// --- normalisation ---

// rowsCols splits a shape into rows (all leading dimensions) and the last.
func glRowsCols(op string, t *glTensor) (int, int) {
	if len(t.shape) == 0 {
		panic(fmt.Sprintf("compute: %s of scalar %v", op, t))
	}
	cols := t.shape[len(t.shape)-1]
	if cols == 0 {
		return 0, 0
	}
	return NumElements(t.shape) / cols, cols
}

func (c *glContext) norm(op string, x, w, b Tensor, eps float32) Tensor {
	xt, xs := c.f32(op, x)
	rows, cols := glRowsCols(op, xt)
	wt, ws := c.f32(op+" weight", w)
	if NumElements(wt.shape) != cols {
		panic(fmt.Sprintf("compute: %s of %v with weight %v", op, xt, wt))
	}
	defs := []string{rowWG}
	if op == "LayerNorm" {
		defs = append(defs, "LAYERNORM")
	}
	var bs *glSlot
	if b != nil {
		var bt *glTensor
		bt, bs = c.f32(op+" bias", b)
		if NumElements(bt.shape) != cols {
			panic(fmt.Sprintf("compute: %s of %v with bias %v", op, xt, bt))
		}
		defs = append(defs, "HAS_BIAS")
	}
	out, os := c.newF32(op, xt.shape)
	if rows == 0 {
		return out
	}
	c.exec([]*glSlot{os}, &kernel{name: "norm", defines: defs, writes: 1,
		binds: []*glSlot{os, xs, ws, bs}, args: []any{rows, cols, eps}, groups: grid(rows)})
	return out
}

func (c *glContext) LayerNorm(x, w, b Tensor, eps float32) Tensor {
	return c.norm("LayerNorm", x, w, b, eps)
}

func (c *glContext) RMSNorm(x, w Tensor, eps float32) Tensor {
	return c.norm("RMSNorm", x, w, nil, eps)
}

// --- attention ---

func (c *glContext) Softmax(x, mask Tensor) Tensor {
	xt, xs := c.f32("Softmax", x)
	rows, cols := glRowsCols("Softmax", xt)
	defs := []string{rowWG, "SOFTMAX"}
	args := []any{rows, cols}
	var ms *glSlot
	if mask != nil {
		var mt *glTensor
		mt, ms = c.f32("Softmax mask", mask)
		mn := NumElements(mt.shape)
		if mn != NumElements(xt.shape) && (mn != cols || mt.shape[len(mt.shape)-1] != cols) {
			panic(fmt.Sprintf("compute: Softmax of %v with mask %v: want x's shape or one row", xt, mt))
		}
		maskRows := 1
		if cols > 0 {
			maskRows = mn / cols
		}
		defs = append(defs, "HAS_MASK")
		args = append(args, maskRows)
	}
	out, os := c.newF32("Softmax", xt.shape)
	if rows == 0 {
		return out
	}
	c.exec([]*glSlot{os}, &kernel{name: "softmax", defines: defs, writes: 1,
		binds: []*glSlot{os, xs, ms}, args: args, groups: grid(rows)})
	return out
}

func (c *glContext) LogSoftmax(x Tensor) Tensor {
	xt, xs := c.f32("LogSoftmax", x)
	rows, cols := glRowsCols("LogSoftmax", xt)
	out, os := c.newF32("LogSoftmax", xt.shape)
	if rows == 0 {
		return out
	}
	c.exec([]*glSlot{os}, &kernel{name: "softmax", defines: []string{rowWG, "LOG_SOFTMAX"}, writes: 1,
		binds: []*glSlot{os, xs}, args: []any{rows, cols}, groups: grid(rows)})
	return out
}

func (c *glContext) Attention(q, k, v Tensor, o AttentionOptions) Tensor {
	qt, qs := c.f32("Attention", q)
	kt, ks := c.f32("Attention", k)
	vt, vs := c.f32("Attention", v)
	bad := func(why string) {
		panic(fmt.Sprintf("compute: Attention of q %v, k %v, v %v with %d heads, %d kv heads, key length %d: %s",
			qt, kt, vt, o.Heads, o.KVHeads, o.KeyLen, why))
	}
	if len(qt.shape) != 3 || len(kt.shape) != 3 || !equalInts(kt.shape, vt.shape) {
		bad("want q [B, Tq, H*D] and k, v [B, Tk, KVH*D]")
	}
	B, Tq, Tk := qt.shape[0], qt.shape[1], kt.shape[1]
	H, KVH := o.Heads, o.KVHeads
	if KVH == 0 {
		KVH = H
	}
	if H <= 0 || KVH <= 0 || H%KVH != 0 || qt.shape[2]%H != 0 {
		bad("heads must be positive, a multiple of the kv heads, and divide q's rows")
	}
	D := qt.shape[2] / H
	if kt.shape[0] != B || kt.shape[2] != KVH*D {
		bad("k and v must be [B, Tk, KVH*D] with q's B and D")
	}
	if D > 2*wgAttn {
		bad(fmt.Sprintf("head size above %d", 2*wgAttn))
	}
	keys := Tk
	if o.KeyLen > 0 {
		if o.KeyLen > Tk {
			bad("KeyLen exceeds the keys")
		}
		keys = o.KeyLen
	}
	okLast := func(n int) bool { return n == Tk || n == keys }
	causal := 0
	if o.Causal {
		causal = 1
	}
	defs := []string{fmt.Sprintf("WG=%d", wgAttn)}
	args := []any{B * H * Tq, Tq, Tk, keys, H, KVH, D, o.Scale, causal, keys - Tq, nil, nil, nil}
	var ms, bs *glSlot
	if o.Mask != nil {
		var mt *glTensor
		mt, ms = c.f32("Attention mask", o.Mask)
		last := mt.shape[len(mt.shape)-1]
		if len(mt.shape) < 2 || mt.shape[0] != B || !okLast(last) || NumElements(mt.shape) != B*last {
			bad(fmt.Sprintf("mask %v must be [B, Tk]", mt))
		}
		defs = append(defs, "HAS_MASK")
		args[10] = last
	}
	if o.Bias != nil {
		var bt *glTensor
		bt, bs = c.f32("Attention bias", o.Bias)
		s := bt.shape
		batched := 0
		switch {
		case len(s) == 3 && s[0] == H && s[1] == Tq && okLast(s[2]):
		case len(s) == 4 && s[0] == B && s[1] == H && s[2] == Tq && okLast(s[3]):
			batched = 1
		default:
			bad(fmt.Sprintf("bias %v must be [H, Tq, Tk] or [B, H, Tq, Tk]", bt))
		}
		defs = append(defs, "HAS_BIAS")
		args[11], args[12] = s[len(s)-1], batched
	}
	out, os := c.newF32("Attention", qt.shape)
	if B*H*Tq == 0 {
		return out
	}
	c.exec([]*glSlot{os}, &kernel{name: "attention", defines: defs, writes: 1,
		binds: []*glSlot{os, qs, ks, vs, ms, bs}, args: args, groups: grid(B * H * Tq)})
	return out
}

// ropeTable returns (cos, sin) pairs [rows, d/2] computed as the CPU backend
// (and transformers) does: inv_freq and pos·inv_freq in float32, then the
// cosine and sine of that float32 angle rounded once.
func ropeTable(pos []int32, d int, theta float32) []float32 {
	half := d / 2
	invFreq := make([]float32, half)
	for i := range invFreq {
		e := float32(2*i) / float32(d)
		invFreq[i] = 1 / float32(math.Pow(float64(theta), float64(e)))
	}
	cs := make([]float32, len(pos)*half*2)
	for r, p := range pos {
		pf := float32(p)
		for i, f := range invFreq {
			a := float64(float32(pf * f))
			cs[(r*half+i)*2] = float32(math.Cos(a))
			cs[(r*half+i)*2+1] = float32(math.Sin(a))
		}
	}
	return cs
}

func (c *glContext) RoPE(x Tensor, pos []int32, heads int, theta float32) Tensor {
	xt, xs := c.f32("RoPE", x)
	rows, cols := glRowsCols("RoPE", xt)
	if heads <= 0 || cols%heads != 0 || (cols/heads)%2 != 0 || len(pos) != rows {
		panic(fmt.Sprintf("compute: RoPE of %v with %d heads and %d positions: want rows of heads×even head size, one position per row", xt, heads, len(pos)))
	}
	d := cols / heads
	out, os := c.newF32("RoPE", xt.shape)
	if rows == 0 || d == 0 {
		return out
	}
	cs := c.FromFloats([]int{rows, d}, ropeTable(pos, d, theta)).(*glTensor)
	n := rows * heads * d / 2
	c.exec([]*glSlot{os}, &kernel{name: "rope", defines: []string{elemWG}, writes: 1,
		binds: []*glSlot{os, xs, cs.st.chunks[0].data}, args: []any{rows, heads, d}, groups: strideGrid(n, wgElem)})
	cs.Release()
	return out
}

// --- lookups ---

// intBuffer queues an upload of int32 values into a fresh pooled slot.
func (c *glContext) intBuffer(vals []int32) *glTensor {
	f := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(vals))), len(vals))
	return c.FromFloats([]int{len(vals)}, f).(*glTensor)
}

func (c *glContext) Embedding(table Tensor, ids []int32) Tensor {
	tt := c.tensor("Embedding", table)
	if len(tt.shape) != 2 {
		panic(fmt.Sprintf("compute: Embedding table %v must be [V, C]", tt))
	}
	V, C := tt.shape[0], tt.shape[1]
	for _, id := range ids {
		if id < 0 || int(id) >= V {
			panic(fmt.Sprintf("compute: Embedding id %d out of range for table %v", id, tt))
		}
	}
	out, os := c.newF32("Embedding", []int{len(ids), C})
	if len(ids) == 0 || C == 0 {
		return out
	}
	it := c.intBuffer(ids)
	var ks []*kernel
	for _, ch := range tt.st.chunks {
		ks = append(ks, &kernel{name: "embedding", defines: []string{elemWG, weightDefine(tt.dtype)}, writes: 1,
			binds: []*glSlot{os, it.st.chunks[0].data, ch.data, ch.scales},
			args:  []any{len(ids), C, ch.row0, ch.rows}, groups: strideGrid(len(ids)*C, wgElem)})
	}
	c.exec([]*glSlot{os}, ks...)
	it.Release()
	return out
}

func (c *glContext) Patches(img Tensor, p int) Tensor {
	it, is := c.f32("Patches", img)
	if len(it.shape) != 4 || p <= 0 {
		panic(fmt.Sprintf("compute: Patches of %v with patch size %d: want [B, C, H, W] and p > 0", it, p))
	}
	B, C, H, W := it.shape[0], it.shape[1], it.shape[2], it.shape[3]
	gh, gw := H/p, W/p
	shape := []int{B, gh * gw, C * p * p}
	out, os := c.newF32("Patches", shape)
	n := NumElements(shape)
	if n == 0 {
		return out
	}
	// The kernel's grid is (H/p)×(W/p): remainders at the right and bottom
	// are dropped, as a stride-p convolution drops them.
	c.exec([]*glSlot{os}, &kernel{name: "patches", defines: []string{elemWG}, writes: 1,
		binds: []*glSlot{os, is}, args: []any{n, C, H, W, p}, groups: strideGrid(n, wgElem)})
	return out
}

// --- reductions returning host values ---

func (c *glContext) Argmax(x Tensor) []int32 {
	xt, xs := c.f32("Argmax", x)
	rows, cols := glRowsCols("Argmax", xt)
	if cols == 0 {
		panic(fmt.Sprintf("compute: Argmax of empty rows %v", xt))
	}
	res := make([]int32, rows)
	if rows == 0 {
		return res
	}
	os := &glSlot{bytes: 4 * rows}
	b := c.b
	k := &kernel{name: "argmax", defines: []string{rowWG}, writes: 1,
		binds: []*glSlot{os, xs}, args: []any{rows, cols}, groups: grid(rows)}
	b.call(func() {
		b.alloc(os, true)
		b.dispatch(k)
		b.beforeTransfer(os.buf)
		gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, os.buf.id)
		gl.GetBufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*rows, unsafe.Pointer(&res[0]))
		b.free(os, true)
	})
	return res
}

// TopK reads the rows back and selects on the host: k is small (beams)
// and one row of logits is a fraction of a millisecond to transfer.
func (c *glContext) TopK(x Tensor, k int) (vals []float32, idx []int32) {
	xt, _ := c.f32("TopK", x)
	rows, cols := glRowsCols("TopK", xt)
	if k < 0 || k > cols {
		panic(fmt.Sprintf("compute: TopK %d of rows of %v", k, xt))
	}
	return topKRows(c.Read(x), rows, cols, k)
}
