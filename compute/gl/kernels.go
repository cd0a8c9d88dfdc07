package gl

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/go-gl/gl/v4.3-core/gl"

	"glimpse/compute"
)

// The kernels. Each runs in the caller's goroutine only long enough to
// gather its buffers and uniforms, then queues one closure for the GL
// thread that binds and dispatches. Operands come checked by the front.

// Work-group sizes of the kernels (the WG define; powers of two).
const (
	wgElem   = 256 // element-wise, RoPE, lookups: grid-stride loops
	wgRow    = 256 // norms, log-softmax, argmax: one work group per row
	wgMatvec = 128 // matvecRowsPerGroup output rows per work group
	wgAttn   = 128 // attention: a query row or a tile of queries; head size up to 2·wgAttn
)

// matvecRowsPerGroup is how many output rows one matvec work group
// computes (its NR), each with wgMatvec/matvecRowsPerGroup invocations.
const matvecRowsPerGroup = 4

var (
	matvecNR = fmt.Sprintf("NR=%d", matvecRowsPerGroup)
	elemWG   = fmt.Sprintf("WG=%d", wgElem)
	rowWG    = fmt.Sprintf("WG=%d", wgRow)
	matvecWG = fmt.Sprintf("WG=%d", wgMatvec)
)

// storage returns o's buffers.
func storage(o compute.Operand) *glStorage { return o.Buf.(*glStorage) }

// single returns the one buffer of o, which op needs unsplit.
func single(op string, o compute.Operand) *glSlot {
	st := storage(o)
	if len(st.chunks) != 1 {
		panic(fmt.Sprintf("gl: %s of %v, which is split over %d GPU buffers (only Linear, Embedding, Read and row copies take split tensors)", op, o, len(st.chunks)))
	}
	return st.chunks[0].data
}

// chunked returns the chunks of o for the kernels that walk them: a
// split tensor keeps its first dimension, along which it is split.
func chunked(op string, o compute.Operand) []glChunk {
	st := storage(o)
	if len(st.chunks) > 1 && (len(o.Shape) == 0 || o.Shape[0] != st.rows) {
		panic(fmt.Sprintf("gl: %s of %v: a tensor split over GPU buffers must keep its first dimension (%d)", op, o, st.rows))
	}
	return st.chunks
}

// elemsPerWord is how many elements of dt share a 32-bit word.
func elemsPerWord(dt compute.DType) int {
	switch dt {
	case compute.F16, compute.BF16:
		return 2
	case compute.Q8:
		return 4
	case compute.Q4:
		return 8
	}
	return 1
}

// exec runs the kernels, in order, on the GL thread without waiting.
func (b *device) exec(ks ...*kernel) {
	b.submit(func() {
		for _, k := range ks {
			b.dispatch(k)
		}
	})
}

// --- memory ---

// Alloc describes a context tensor's buffer; the GL thread allocates it
// (from the pool) when the first kernel that uses it runs.
func (b *device) Alloc(dt compute.DType, shape []int) compute.Buffer {
	n := compute.NumElements(shape)
	bytes := int64(compute.PackedWords(dt, n)) * 4
	if bytes > b.maxBlock {
		panic(fmt.Sprintf("gl: result %v%v needs %d bytes, over the GPU's buffer limit of %d", dt, shape, bytes, b.maxBlock))
	}
	rows := 1
	if len(shape) > 0 {
		rows = shape[0]
	}
	ch := glChunk{data: &glSlot{bytes: int(bytes), pooled: true}, rows: rows}
	if dt == compute.Q8 || dt == compute.Q4 {
		ch.scales = &glSlot{bytes: 4 * (n / compute.BlockSize), pooled: true}
	}
	return &glStorage{chunks: []glChunk{ch}, rows: rows}
}

func (b *device) Write(dst compute.Operand, data []float32) {
	s := single("FromFloats", dst)
	// The copy lets the caller reuse data while the upload waits in the queue.
	buf := append([]float32(nil), data...)
	b.submit(func() {
		b.ensure(s)
		b.beforeTransfer(s.buf)
		gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, s.buf.id)
		gl.BufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*len(buf), unsafe.Pointer(&buf[0]))
		b.uploaded(4 * len(buf))
	})
}

func (b *device) Clear(dst compute.Operand) {
	s := single("Clear", dst)
	b.submit(func() { b.clear(s) })
}

// clear zeroes a slot's bytes (GL thread).
func (b *device) clear(s *glSlot) {
	b.ensure(s)
	if s.bytes == 0 {
		return
	}
	b.beforeTransfer(s.buf)
	var zero uint32
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, s.buf.id)
	gl.ClearBufferSubData(gl.SHADER_STORAGE_BUFFER, gl.R32UI, 0, s.bytes, gl.RED_INTEGER, gl.UNSIGNED_INT, unsafe.Pointer(&zero))
	b.counts.Clears++
}

// Read downloads a tensor (all its chunks) and widens it to float32.
func (b *device) Read(src compute.Operand) []float32 {
	st := storage(src)
	n := src.Len()
	words := make([]uint32, compute.PackedWords(src.DType, n))
	var scales []float32
	if src.DType == compute.Q8 || src.DType == compute.Q4 {
		scales = make([]float32, n/compute.BlockSize)
	}
	oom := false
	b.call(func() {
		oom = b.outOfMemory()
		w, sc := 0, 0
		for _, ch := range st.chunks {
			nw := min(ch.data.bytes/4, len(words)-w)
			if nw > 0 {
				b.ensure(ch.data)
				b.beforeTransfer(ch.data.buf)
				gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, ch.data.buf.id)
				gl.GetBufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*nw, unsafe.Pointer(&words[w]))
				b.readBack(4 * nw)
			}
			w += nw
			if ch.scales != nil {
				ns := min(ch.scales.bytes/4, len(scales)-sc)
				if ns > 0 {
					b.ensure(ch.scales)
					b.beforeTransfer(ch.scales.buf)
					gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, ch.scales.buf.id)
					gl.GetBufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*ns, unsafe.Pointer(&scales[sc]))
					b.readBack(4 * ns)
				}
				sc += ns
			}
		}
	})
	if oom {
		// Allocations fail silently in OpenGL; the values read would be garbage.
		panic("gl: the GPU ran out of memory while running operations (GL_OUT_OF_MEMORY); a smaller model, fewer beams or the CPU backend would fit")
	}
	if src.DType == compute.F32 {
		return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(words))), len(words))
	}
	return compute.Unpack(src.DType, src.Shape, words, scales)
}

// outOfMemory drains the GL error flags and reports whether one of them
// was GL_OUT_OF_MEMORY (GL thread).
func (b *device) outOfMemory() bool {
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

// Copy copies the spans with glCopyBufferSubData, walking the chunks of a
// split source; the front aligns spans to whole words and blocks.
func (b *device) Copy(dst, src compute.Operand, spans []compute.Span) {
	type piece struct {
		src, dst           *glSlot
		srcOff, dstOff, nb int
	}
	dt := src.DType
	single("row copy into", dst)
	dch := storage(dst).chunks[0]
	chunks := chunked("row copy", src)
	srcRowElems := 1
	if len(src.Shape) > 0 && src.Shape[0] > 0 {
		srcRowElems = src.Len() / src.Shape[0]
	}
	var pieces []piece
	for _, sp := range spans {
		e, left, de := sp.Src, sp.N, sp.Dst
		for _, sch := range chunks {
			c0, c1 := sch.row0*srcRowElems, (sch.row0+sch.rows)*srcRowElems
			if len(chunks) == 1 {
				c0, c1 = 0, src.Len()
			}
			if left == 0 || e >= c1 || e < c0 {
				continue
			}
			n := min(left, c1-e)
			pieces = append(pieces, piece{sch.data, dch.data, 4 * compute.PackedWords(dt, e-c0), 4 * compute.PackedWords(dt, de), 4 * compute.PackedWords(dt, n)})
			if sch.scales != nil {
				const bs = compute.BlockSize
				pieces = append(pieces, piece{sch.scales, dch.scales, 4 * ((e - c0) / bs), 4 * (de / bs), 4 * (n / bs)})
			}
			e, de, left = e+n, de+n, left-n
		}
	}
	b.submit(func() {
		for _, p := range pieces {
			b.ensure(p.src)
			b.ensure(p.dst)
			if p.nb == 0 {
				continue
			}
			b.beforeTransfer(p.src.buf, p.dst.buf)
			gl.BindBuffer(gl.COPY_READ_BUFFER, p.src.buf.id)
			gl.BindBuffer(gl.COPY_WRITE_BUFFER, p.dst.buf.id)
			gl.CopyBufferSubData(gl.COPY_READ_BUFFER, gl.COPY_WRITE_BUFFER, p.srcOff, p.dstOff, p.nb)
			b.counts.Copies++
		}
	})
}

// --- linear algebra ---

// weightDefine returns the WT_* define of a weight dtype.
func weightDefine(dt compute.DType) string {
	return "WT_" + map[compute.DType]string{compute.F32: "F32", compute.F16: "F16", compute.BF16: "BF16", compute.Q8: "Q8", compute.Q4: "Q4", compute.Q4K: "Q4K", compute.Q6K: "Q6K"}[dt]
}

// vecElems is how many weight elements one 16-byte vector of matvec's VEC
// loads covers: 4 F32, 8 F16/BF16, 16 Q8, 32 Q4, and for Q4K 32 (a vector
// of quants, read with its super-block's header). Q6K super-blocks (53
// words) are not whole 16-byte vectors: its VEC unit is 16 elements, read
// as three words of quants with their scales (matvec.comp's accumQ6K).
func vecElems(dt compute.DType) int {
	return map[compute.DType]int{compute.F32: 4, compute.F16: 8, compute.BF16: 8, compute.Q8: 16, compute.Q4: 32, compute.Q4K: 32, compute.Q6K: 16}[dt]
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

// Linear multiplies chunk by chunk of the weight into one output: the
// matrix–vector kernel for up to matvecRows rows, the tiled one above.
func (b *device) Linear(out, x, w, bias compute.Operand) {
	b.exec(b.linearKernels("Linear", out, x, w, bias, w.Shape[0], 0)...)
}

// linearKernels are the dispatches of x·wᵀ (+ bias) into columns
// [col0, col0+N) of out's rows of length ldc (a bias only with col0 0).
func (b *device) linearKernels(op string, out, x, w, bias compute.Operand, ldc, col0 int) []*kernel {
	os, xs := single(op, out), single(op, x)
	K := w.Shape[1]
	M := x.Len() / K
	defs := []string{weightDefine(w.DType)}
	var bs *glSlot
	if !bias.None() {
		bs = single(op+" bias", bias)
		defs = append(defs, "HAS_BIAS")
	}
	var ks []*kernel
	for _, ch := range chunked(op, w) {
		k := &kernel{binds: []*glSlot{os, xs, ch.data, ch.scales, bs}, writes: 1}
		if M <= matvecRows {
			k.name = "matvec"
			k.defines = append([]string{matvecWG, matvecNR, fmt.Sprintf("MAXM=%d", pow2AtLeast(M))}, defs...)
			if ev := vecElems(w.DType); ev > 0 && K%ev == 0 {
				k.defines = append(k.defines, "VEC", fmt.Sprintf("EPV=%d", ev))
			}
			k.args = []any{M, ch.rows, K, ldc, col0 + ch.row0}
			k.groups = grid((ch.rows + matvecRowsPerGroup - 1) / matvecRowsPerGroup)
		} else {
			ks = append(ks, matmulKernels(gemm{out: os, a: xs, b: ch.data, scales: ch.scales, bias: bs, dt: w.DType, transB: true,
				batch: 1, M: M, N: ch.rows, K: K, ldc: ldc, cOff: col0 + ch.row0})...)
			continue
		}
		ks = append(ks, k)
	}
	return ks
}

func (b *device) MatMul(out, a, bm compute.Operand, transB bool) {
	os, as, bsl := single("MatMul", out), single("MatMul", a), single("MatMul", bm)
	na, nb := len(a.Shape), len(bm.Shape)
	batch, M, K := compute.NumElements(a.Shape[:na-2]), a.Shape[na-2], a.Shape[na-1]
	N := bm.Shape[nb-1]
	if transB {
		N = bm.Shape[nb-2]
	}
	if batch > 65535 {
		panic(fmt.Sprintf("gl: MatMul of %v and %v: more than 65535 batch entries", a, bm))
	}
	bBatch := K * N
	if nb == 2 {
		bBatch = 0 // one b shared by the batch
	}
	b.exec(matmulKernels(gemm{out: os, a: as, b: bsl, dt: compute.F32, transB: transB,
		batch: batch, M: M, N: N, K: K, ldc: N, aBatch: M * K, bBatch: bBatch, cBatch: M * N})...)
}

// gemm is one product for matmul.comp: C [batch, M, ldc] columns
// [cOff, cOff+N) = A [batch, M, K]·B (+ bias), B [batch, K, N] or, with
// transB, [batch, N, K] of dtype dt; the strides are in elements.
type gemm struct {
	out, a, b, scales, bias   *glSlot
	dt                        compute.DType
	transB                    bool
	batch, M, N, K, ldc, cOff int
	aBatch, bBatch, cBatch    int
}

// The GEMM's tiles (matmul.comp): BN columns by gemmRows rows, or by
// gemmShortRows for the products of at most gemmShortRows rows that split K.
const (
	gemmCols      = 128
	gemmRows      = 128
	gemmShortRows = 64
)

// splitKTarget is how many work groups a split-K product aims at: two per
// SM of a 132-SM GPU, so that prompt prefill (~45 rows, one row of tiles)
// keeps a large GPU busy while it streams the weights.
const splitKTarget = 264

// splitKMin is the fewest elements of K a split-K slice takes: below it the
// partial sums' traffic and the second dispatch cost more than the idle
// SMs. It also keeps the fixtures' small products (llvmpipe, CI) in one
// dispatch.
const splitKMin = 256

// splitK returns how many slices of K a product of tiles work groups
// splits into, and their length (a multiple of 32: whole slices of the
// kernel's TK and whole Q8/Q4 blocks): 1 slice unless the product is short
// (M ≤ gemmShortRows, one batch entry) with too few tiles for a large GPU
// and K long enough to give every slice splitKMin elements.
func splitK(batch, M, K, tiles int) (slices, kSplit int) {
	if batch != 1 || M > gemmShortRows || tiles >= splitKTarget/2 {
		return 1, K
	}
	s := min((splitKTarget+tiles-1)/tiles, K/splitKMin)
	if s < 2 {
		return 1, K
	}
	kSplit = ((K+s-1)/s + 31) / 32 * 32
	return (K + kSplit - 1) / kSplit, kSplit
}

// matmulKernels are the dispatches of one product: matmul.comp, with the
// loads its layout allows, and for a short product with a long K a split-K
// pass and matmul_reduce.comp.
func matmulKernels(g gemm) []*kernel {
	// Short tiles only where K is split: short products with a short K
	// are small (test shapes, the fixtures), and one tile height there
	// halves the programs llvmpipe compiles for the tests.
	tilesN := (g.N + gemmCols - 1) / gemmCols
	s, kSplit := splitK(g.batch, g.M, g.K, tilesN*((g.M+gemmShortRows-1)/gemmShortRows))
	bm := gemmRows
	if s > 1 {
		bm = gemmShortRows
	}
	tilesM := (g.M + bm - 1) / bm
	defs := []string{fmt.Sprintf("BM=%d", bm), weightDefine(g.dt)}
	if g.transB {
		defs = append(defs, "TRANS_B")
	}
	if g.K%4 == 0 {
		defs = append(defs, "A_VEC")
	}
	if g.transB {
		switch {
		case g.dt == compute.F32 && g.K%4 == 0:
			defs = append(defs, "B_VEC")
		case (g.dt == compute.F16 || g.dt == compute.BF16) && g.K%2 == 0:
			defs = append(defs, "B_WORDS")
			if g.K%8 == 0 {
				defs = append(defs, "B_WORDS4")
			}
		case g.dt == compute.Q8:
			defs = append(defs, "B_Q8")
		case g.dt == compute.Q4:
			defs = append(defs, "B_Q4")
		}
	}
	if s == 1 {
		if g.bias != nil {
			defs = append(defs, "HAS_BIAS")
		}
		return []*kernel{{name: "matmul", defines: defs, writes: 1,
			binds:  []*glSlot{g.out, g.a, g.b, g.scales, g.bias},
			args:   []any{g.M, g.N, g.K, g.ldc, g.cOff, g.aBatch, g.bBatch, g.cBatch},
			groups: [3]uint32{uint32(tilesN), uint32(tilesM), uint32(g.batch)}}}
	}
	part := &glSlot{bytes: 4 * s * g.M * g.N, pooled: true}
	split := &kernel{name: "matmul", defines: append(defs, "SPLITK"), writes: 1,
		binds:  []*glSlot{part, g.a, g.b, g.scales},
		args:   []any{g.M, g.N, g.K, nil, nil, nil, nil, nil, kSplit},
		groups: [3]uint32{uint32(tilesN), uint32(tilesM), uint32(s)}}
	rdefs := []string{elemWG}
	if g.bias != nil {
		rdefs = append(rdefs, "HAS_BIAS")
	}
	reduce := &kernel{name: "matmul_reduce", defines: rdefs, writes: 1,
		binds:  []*glSlot{g.out, part, nil, nil, g.bias},
		args:   []any{g.M, g.N, s, g.ldc, g.cOff},
		groups: strideGrid(g.M*g.N, wgElem),
		temps:  []*glSlot{part}}
	return []*kernel{split, reduce}
}

// --- element-wise ---

func (b *device) Add(out, x, y compute.Operand) {
	n := x.Len()
	b.exec(&kernel{name: "elementwise", defines: []string{elemWG, "OP_ADD"}, writes: 1,
		binds: []*glSlot{single("Add", out), single("Add", x), single("Add", y)},
		args:  []any{n, y.Len()}, groups: strideGrid(n, wgElem)})
}

func (b *device) Scale(out, x compute.Operand, s float32) {
	n := x.Len()
	b.exec(&kernel{name: "elementwise", defines: []string{elemWG, "OP_SCALE"}, writes: 1,
		binds: []*glSlot{single("Scale", out), single("Scale", x)},
		args:  []any{n, nil, s}, groups: strideGrid(n, wgElem)})
}

// activationDefines names each activation's define for OP_* and its GLSL
// function for ACT.
var activationDefines = [...]struct{ op, fn string }{
	compute.ActGELU:     {"OP_GELU", "act_gelu"},
	compute.ActGELUTanh: {"OP_GELU_TANH", "act_gelu_tanh"},
	compute.ActSiLU:     {"OP_SILU", "act_silu"},
	compute.ActReLU:     {"OP_RELU", "act_relu"},
}

func (b *device) Activation(act compute.Activation, out, x compute.Operand) {
	n := x.Len()
	b.exec(&kernel{name: "elementwise", defines: []string{elemWG, activationDefines[act].op}, writes: 1,
		binds: []*glSlot{single(act.String(), out), single(act.String(), x)},
		args:  []any{n}, groups: strideGrid(n, wgElem)})
}

func (b *device) Gated(act compute.Activation, out, gate, up compute.Operand) {
	n := gate.Len()
	b.exec(&kernel{name: "elementwise", defines: []string{elemWG, "OP_GATED", "ACT=" + activationDefines[act].fn}, writes: 1,
		binds: []*glSlot{single("Gated", out), single("Gated", gate), single("Gated", up)},
		args:  []any{n}, groups: strideGrid(n, wgElem)})
}

// --- normalisation ---

func (b *device) norm(op string, out, x, w, bias compute.Operand, eps float32) {
	rows, cols := x.RowsCols()
	defs := []string{rowWG}
	if op == "LayerNorm" {
		defs = append(defs, "LAYERNORM")
	}
	var bs *glSlot
	if !bias.None() {
		bs = single(op, bias)
		defs = append(defs, "HAS_BIAS")
	}
	b.exec(&kernel{name: "norm", defines: defs, writes: 1,
		binds: []*glSlot{single(op, out), single(op, x), single(op, w), bs}, args: []any{rows, cols, eps}, groups: grid(rows)})
}

func (b *device) LayerNorm(out, x, w, bias compute.Operand, eps float32) {
	b.norm("LayerNorm", out, x, w, bias, eps)
}

func (b *device) RMSNorm(out, x, w compute.Operand, eps float32) {
	b.norm("RMSNorm", out, x, w, compute.Operand{}, eps)
}

// --- attention ---

func (b *device) LogSoftmax(out, x compute.Operand) {
	rows, cols := x.RowsCols()
	b.exec(&kernel{name: "logsoftmax", defines: []string{rowWG}, writes: 1,
		binds: []*glSlot{single("LogSoftmax", out), single("LogSoftmax", x)}, args: []any{rows, cols}, groups: grid(rows)})
}

// Attention runs attention_tiles.comp for more than one query per row
// (shared key tiles, see its header), and attention.comp for decoding:
// one pass, or over a long cache split K and a reduce (splitAttention).
func (b *device) Attention(out, q, k, v, mask, bias, rows compute.Operand, p compute.AttentionParams) {
	if p.HeadDim > 2*wgAttn {
		panic(fmt.Sprintf("gl: Attention of q %v with %d heads: head size %d is above the kernel's %d", q, p.Heads, p.HeadDim, 2*wgAttn))
	}
	causal, batched := 0, 0
	if p.Causal {
		causal = 1
	}
	if p.BiasBatched {
		batched = 1
	}
	var defs []string
	args := []any{p.Batch * p.Heads * p.Queries, p.Queries, p.Keys, p.Used, p.Heads, p.KVHeads, p.HeadDim,
		p.Scale, causal, p.Offset, nil, nil, nil, nil, nil, nil}
	if k.DType == compute.F16 {
		defs = append(defs, "KV_F16")
	}
	var ms, bs, rs *glSlot
	if !rows.None() {
		rs = single("Attention rows", rows)
		defs = append(defs, "HAS_ROWS")
		args[13] = p.RowsStride
	}
	if !mask.None() {
		ms = single("Attention mask", mask)
		defs = append(defs, "HAS_MASK")
		args[10] = p.MaskStride
	}
	if !bias.None() {
		bs = single("Attention bias", bias)
		defs = append(defs, "HAS_BIAS")
		args[11], args[12] = p.BiasStride, batched
	}
	os := single("Attention", out)
	binds := []*glSlot{os, single("Attention", q), single("Attention", k), single("Attention", v), ms, bs, rs}
	wg := fmt.Sprintf("WG=%d", wgAttn)
	if p.Queries > 1 {
		bq, bk, dmax := attentionTile(p.HeadDim)
		nqt := (p.Queries + bq - 1) / bq
		groups := p.Batch * p.Heads * nqt
		args[0], args[14] = groups, nqt
		b.exec(&kernel{name: "attention_tiles", writes: 1, binds: binds, args: args,
			defines: append(defs, wg, fmt.Sprintf("BQ=%d", bq), fmt.Sprintf("BK=%d", bk), fmt.Sprintf("DMAX=%d", dmax)),
			groups:  grid(groups)})
		return
	}
	rowsTotal := p.Batch * p.Heads
	split, splitLen := splitAttention(rowsTotal, p.Used)
	if split == 1 {
		b.exec(&kernel{name: "attention", defines: append(defs, wg), writes: 1, binds: binds, args: args,
			groups: grid(rowsTotal)})
		return
	}
	part := &glSlot{bytes: 4 * rowsTotal * split * (p.HeadDim + 2), pooled: true}
	binds[0] = part
	args[14], args[15] = split, splitLen
	b.exec(&kernel{name: "attention", defines: append(defs, wg, "SPLIT"), writes: 1, binds: binds, args: args,
		groups: grid(rowsTotal * split)},
		&kernel{name: "attention_reduce", defines: []string{wg}, writes: 1,
			binds: []*glSlot{os, part}, args: []any{rowsTotal, split, p.HeadDim},
			groups: grid(rowsTotal), temps: []*glSlot{part}})
}

// attentionTile returns attention_tiles.comp's tile of queries and of keys
// and its padded head size DMAX for head size d: 16 queries by 32 keys
// while the tiles of queries and keys (DMAX floats a row) fit in 27 KiB of
// shared memory with DMAX up to 128, 8 by 16 up to 256. DMAX is 64, 96,
// 128 or 256 (each a program to compile, which llvmpipe takes a second
// over): the models' head sizes (64, ViT-g's 88, 128) waste little, and
// smaller heads (the fixtures', the tests') share the 64 variant.
func attentionTile(d int) (bq, bk, dmax int) {
	switch {
	case d <= 64:
		return 16, 32, 64
	case d <= 96:
		return 16, 32, 96
	case d <= 128:
		return 16, 32, 128
	}
	return 8, 16, 256
}

// Split decoding attention: a step of B·H rows of one query runs as
// B·H work groups, each walking the whole cache; a GPU of 132 SMs wants
// about two work groups per SM. Over a long cache the keys are split into
// runs of whole tiles of wgAttn keys, at least splitAttentionMin keys in
// all, so that each run of the split pass does a tile's worth of work and
// the second dispatch (attention_reduce) pays for itself. Short caches
// (the fixtures on llvmpipe, the first steps of an answer) keep one
// dispatch per layer.
const (
	splitAttentionTarget = 264
	splitAttentionMin    = 256
)

// splitAttention returns how many runs the keys of rows decoding rows, used
// keys each, split into, and the run length (a multiple of wgAttn): 1 run
// when the cache is short or the rows alone fill the GPU.
func splitAttention(rows, used int) (runs, runLen int) {
	if used <= splitAttentionMin || rows >= splitAttentionTarget {
		return 1, used
	}
	runs = min((used+wgAttn-1)/wgAttn, (splitAttentionTarget+rows-1)/rows)
	if runs < 2 {
		return 1, used
	}
	runLen = ((used+runs-1)/runs + wgAttn - 1) / wgAttn * wgAttn
	return (used + runLen - 1) / runLen, runLen
}

// tempSlot uploads words into a pooled buffer for one dispatch (GL thread);
// the caller frees it after dispatching.
func (b *device) tempSlot(words []uint32) *glSlot {
	s := &glSlot{bytes: 4 * len(words), pooled: true}
	b.alloc(s)
	b.beforeTransfer(s.buf)
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, s.buf.id)
	gl.BufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*len(words), unsafe.Pointer(&words[0]))
	b.uploaded(4 * len(words))
	return s
}

// ropeKey names a RoPE table: head size and base.
type ropeKey struct {
	d     int
	theta float32
}

// ropeMinPositions is the fewest positions a RoPE table covers: 2048
// (LLaMA's context) × 64 frequencies of (cos, sin) is 1 MiB, uploaded once.
const ropeMinPositions = 2048

// RoPE rotates by compute.RoPETable's (cos, sin), read from a table kept on
// the device for every position up to a power of two, so that a step
// uploads only its positions (once for all layers while they repeat), not
// a table per call. A table rather than sin and cos in the shader: GPUs
// evaluate those with approximations whose error grows with the angle
// (positions reach thousands of radians), and the table keeps every
// backend bit-identical to transformers' float32 angles.
func (b *device) RoPE(out, x compute.Operand, pos []int32, heads int, theta float32) {
	rows, cols := x.RowsCols()
	d := cols / heads
	os, xs := single("RoPE", out), single("RoPE", x)
	top := int32(0)
	for _, p := range pos {
		top = max(top, p)
	}
	key := ropeKey{d, theta}
	b.submit(func() {
		t := b.ropeTable(key, int(top))
		ps := b.ropePositions(pos)
		b.dispatch(&kernel{name: "rope", defines: []string{elemWG}, writes: 1,
			binds: []*glSlot{os, xs, t, ps}, args: []any{rows, heads, d}, groups: strideGrid(rows*heads*d/2, wgElem)})
	})
}

// ropeTable returns the device table of key covering position top,
// building (or growing) it when it does not (GL thread).
func (b *device) ropeTable(key ropeKey, top int) *glSlot {
	if t := b.rope[key]; t != nil && top < b.ropeCap[key] {
		return t
	}
	n := max(ropeMinPositions, pow2AtLeast(top+1))
	all := make([]int32, n)
	for i := range all {
		all[i] = int32(i)
	}
	cs := compute.RoPETable(all, key.d, key.theta)
	// Kernels queued with the old table still see it: GL deletes a buffer
	// only when no queued command uses it.
	b.free(b.rope[key])
	t := &glSlot{bytes: 4 * len(cs)}
	b.alloc(t)
	b.beforeTransfer(t.buf)
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, t.buf.id)
	gl.BufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*len(cs), unsafe.Pointer(&cs[0]))
	b.uploaded(4 * len(cs))
	b.rope[key], b.ropeCap[key] = t, n
	return t
}

// ropePositions returns a buffer holding pos: the last call's while the
// positions repeat (every layer of a step rotates at the same positions),
// else a new upload (GL thread).
func (b *device) ropePositions(pos []int32) *glSlot {
	if b.ropePos != nil && slices.Equal(b.ropePosVal, pos) {
		return b.ropePos
	}
	b.free(b.ropePos)
	b.ropePos = b.tempSlot(unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(pos))), len(pos)))
	b.ropePosVal = pos
	return b.ropePos
}

// --- lookups ---

// Embedding gathers chunk by chunk of the table: each dispatch writes the
// ids that fall in its chunk.
func (b *device) Embedding(out, table compute.Operand, ids []int32) {
	C := table.Shape[1]
	os := single("Embedding", out)
	chunks := chunked("Embedding", table)
	idw := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(ids))), len(ids))
	idw = append([]uint32(nil), idw...) // the caller may reuse ids
	def := weightDefine(table.DType)
	b.submit(func() {
		it := b.tempSlot(idw)
		for _, ch := range chunks {
			b.dispatch(&kernel{name: "embedding", defines: []string{elemWG, def}, writes: 1,
				binds: []*glSlot{os, it, ch.data, ch.scales},
				args:  []any{len(idw), C, ch.row0, ch.rows}, groups: strideGrid(len(idw)*C, wgElem)})
		}
		b.free(it)
	})
}

func (b *device) Patches(out, img compute.Operand, p int) {
	C, H, W := img.Shape[1], img.Shape[2], img.Shape[3]
	n := out.Len()
	// The kernel's grid is (H/p)×(W/p): remainders at the right and bottom
	// are dropped, as a stride-p convolution drops them.
	b.exec(&kernel{name: "patches", defines: []string{elemWG}, writes: 1,
		binds: []*glSlot{single("Patches", out), single("Patches", img)}, args: []any{n, C, H, W, p}, groups: strideGrid(n, wgElem)})
}

// --- reductions returning host values ---

// Argmax reduces each row on the GPU, so that only the indices come back.
func (b *device) Argmax(x compute.Operand) []int32 {
	rows, cols := x.RowsCols()
	xs := single("Argmax", x)
	return b.dispatchIDs(&kernel{name: "argmax", defines: []string{rowWG}, writes: 1,
		binds: []*glSlot{nil, xs}, args: []any{rows, cols}, groups: grid(rows)}, rows)
}

// dispatchIDs runs k with a new buffer of n int32 bound at binding 0 (its
// output) and reads the n values back, so that only indices leave the GPU.
func (b *device) dispatchIDs(k *kernel, n int) []int32 {
	res := make([]int32, n)
	b.call(func() {
		os := &glSlot{bytes: 4 * n, pooled: true}
		b.alloc(os)
		k.binds[0] = os
		b.dispatch(k)
		b.beforeTransfer(os.buf)
		gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, os.buf.id)
		gl.GetBufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*n, unsafe.Pointer(&res[0]))
		b.readBack(4 * n)
		b.free(os)
	})
	return res
}
