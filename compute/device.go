package compute

import "fmt"

// This file is the contract between the front and a backend: the Device
// interface a backend implements and the checked operands its kernels get.
// A kernel never validates: the front has checked every shape and dtype and
// allocated the output, so a kernel only computes. What a kernel may still
// refuse is its own device's limit (a buffer size, a work-group bound); it
// panics naming the operation and the shapes, as the front does.

// Buffer is a device's storage for one tensor and the Reshape views of it.
// The front never looks inside: it hands a Buffer back to the Device that
// made it, inside Operands, and frees it with Device.Free once no tensor
// handle uses it.
type Buffer any

// Operand is a tensor as a kernel sees it: the storage, and the dtype and
// shape of the handle the operation was given (a Reshape view shares its
// base's Buffer under another Shape). The zero Operand stands for an
// optional operand that is absent (Linear's bias, Attention's mask).
type Operand struct {
	Buf   Buffer
	DType DType
	Shape []int
}

// None reports whether o is the absent optional operand.
func (o Operand) None() bool { return o.Buf == nil }

// Len returns the number of elements.
func (o Operand) Len() int { return NumElements(o.Shape) }

// RowsCols returns the number of rows (all leading dimensions) and the row
// length (the last dimension). The front never passes a kernel a scalar
// where rows are meant; an empty row length gives 0 rows.
func (o Operand) RowsCols() (rows, cols int) {
	cols = o.Shape[len(o.Shape)-1]
	if cols == 0 {
		return 0, 0
	}
	return o.Len() / cols, cols
}

// String names the operand as the front's panics do: dtype and shape.
func (o Operand) String() string { return fmt.Sprintf("%v%v", o.DType, o.Shape) }

// Span is one run of a Copy: N consecutive elements from element Src of the
// source to element Dst of the destination, counted in the flat row-major
// order. For packed dtypes the front only makes spans whose Src, Dst and N
// are whole words (F16, BF16: multiples of 2) or whole blocks (Q8, Q4:
// multiples of BlockSize; Q4K and Q6K: of SuperBlockSize), so a kernel copies words
// and scales as they are: element e of a span starts at word
// PackedWords(dtype, e).
type Span struct{ Src, Dst, N int }

// Activation names an element-wise nonlinearity, for the Activation and
// Gated kernels.
type Activation int

// The activations. Each is defined by its float64 formula; kernels may
// evaluate it in float32 (the GPU) or in float64 rounded once (the CPU).
const (
	ActGELU     Activation = iota // x/2·(1 + erf(x/√2))
	ActGELUTanh                   // x/2·(1 + tanh(√(2/π)·(x + 0.044715x³)))
	ActSiLU                       // x·sigmoid(x)
	ActReLU                       // max(x, 0)
)

// String returns the name Gated takes for a.
func (a Activation) String() string {
	switch a {
	case ActGELU:
		return "gelu"
	case ActGELUTanh:
		return "gelu_tanh"
	case ActSiLU:
		return "silu"
	case ActReLU:
		return "relu"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// AttentionParams is an Attention call's checked layout, computed once by the
// front from the operands' shapes and the AttentionOptions.
type AttentionParams struct {
	Batch, Queries, Keys int // B, Tq, Tk (Tk: rows of k and v per batch entry)
	Heads, KVHeads       int // H and KVH; query head h reads kv head h/(H/KVH)
	HeadDim              int // D
	Used                 int // keys used per batch entry: KeyLen, or Tk; at least 1
	Scale                float32
	Causal               bool
	Offset               int  // Used − Tq: with Causal, query i sees keys j ≤ i + Offset
	MaskStride           int  // length of a mask row (Tk or KeyLen); 0 without a mask
	BiasStride           int  // length of a bias row (Tk or KeyLen); 0 without a bias
	BiasBatched          bool // bias is [B, H, Tq, ·] rather than [H, Tq, ·]
	// KVBatch is the number of sequences k and v hold (at least B without
	// Rows: entry b reads sequence b).
	KVBatch int
	// RowsStride is the length of a row of the Rows operand (Tk or
	// KeyLen); 0 without it.
	RowsStride int
}

// Device is what a backend implements: memory, and one kernel per
// operation. The front (New) checks every operation's operands, computes and
// allocates its output, and calls the kernel; kernels take their operands
// as checked and write only their output. Methods are called from the
// goroutines of the Contexts using the device, so a Device must be safe for
// concurrent use; kernels of one Context are called in program order.
type Device interface {
	// Info describes the backend and its device.
	Info() Info
	// Upload copies packed host data (the layout of Pack: words, and scales
	// for Q8 and Q4; Q4K and Q6K have none) into new persistent storage for a tensor of the given
	// dtype and shape. For F32 the words alias the caller's data, which it
	// reuses once Upload returns: copy them. For the other dtypes the front
	// packed words and scales for this call alone, so a host device may
	// keep them as its storage instead of copying (loading a model then
	// leaves no garbage the size of its weights).
	// Errors are for the user: out of device memory, a row too large for
	// the device.
	Upload(dt DType, shape []int, words []uint32, scales []float32) (Buffer, error)
	// Alloc returns storage for an operation's result (a Context tensor) of
	// the given dtype and shape. Its contents are undefined until a kernel
	// writes them.
	Alloc(dt DType, shape []int) Buffer
	// Write copies F32 host data (len(data) == dst.Len()) into dst. The
	// caller may reuse data when it returns.
	Write(dst Operand, data []float32)
	// Clear sets every element of dst (any dtype: its words and scales) to
	// zero.
	Clear(dst Operand)
	// Read waits for the kernels writing src and returns its values widened
	// to float32, in a slice the caller owns.
	Read(src Operand) []float32
	// Free releases storage made by Upload or Alloc; kernels queued earlier
	// that use it still see it.
	Free(b Buffer)
	// Close frees everything the device holds. The front calls nothing
	// after it.
	Close() error

	// Copy copies the spans of src into dst, both of one dtype (Rows,
	// Concat, Gather, SetRows).
	Copy(dst, src Operand, spans []Span)
	// Linear writes out [M, N] = x [M, K]·wᵀ (+ bias [N]) for x F32 (any
	// leading dimensions, M rows), w [N, K] of any dtype, K ≥ 1.
	Linear(out, x, w, bias Operand)
	// MatMul writes out [batch, M, N] = a [batch, M, K]·b, b [batch, K, N]
	// or, with transB, [batch, N, K]; a 2-D b is shared by the batch. All
	// F32, K ≥ 1.
	MatMul(out, a, b Operand, transB bool)
	// Add writes out = a + b[i mod b.Len()] (b: a's size, or one row).
	Add(out, a, b Operand)
	// Scale writes out = x·s.
	Scale(out, x Operand, s float32)
	// Activation writes out = act(x).
	Activation(act Activation, out, x Operand)
	// Gated writes out = act(gate)·up, act(gate) rounded to float32 before
	// the product.
	Gated(act Activation, out, gate, up Operand)
	// LayerNorm writes, per row of x, (x − mean)·rsqrt(var + eps)·w (+ b),
	// the mean and variance in two passes.
	LayerNorm(out, x, w, b Operand, eps float32)
	// RMSNorm writes, per row of x, w·(x·rsqrt(mean(x²) + eps)).
	RMSNorm(out, x, w Operand, eps float32)
	// LogSoftmax writes x − max − log(Σ exp(x − max)) per row; a row that is
	// all −Inf stays −Inf.
	LogSoftmax(out, x Operand)
	// Attention writes softmax(Scale·q·kᵀ + mask + bias)·v (see
	// AttentionParams), leaving out keys a query may not see; a query that
	// sees none, or whose scores are all −Inf, gets zeros. k and v are F32
	// or F16 (a KV cache), both alike; q and out F32. With rows, key j of
	// batch entry b is row j of sequence rows[b·RowsStride + j] of k and v
	// (F32 integers: a beam-reordered cache read in place); without it,
	// of sequence b. mask, bias and rows may be None.
	Attention(out, q, k, v, mask, bias, rows Operand, p AttentionParams)
	// RoPE writes x rotated in LLaMA's rotate-half layout: for each row r,
	// head and i < D/2, with (c, s) the pair RoPETable gives for position
	// pos[r] and frequency i, out[i] = x[i]·c − x[i+D/2]·s and
	// out[i+D/2] = x[i+D/2]·c + x[i]·s, each product rounded to float32 (no
	// fused multiply-adds). The angles are the table's, bit for bit: a GPU
	// keeps a table on the device rather than trusting its own sin and cos.
	RoPE(out, x Operand, pos []int32, heads int, theta float32)
	// Embedding writes out [len(ids), C] = rows ids of table [V, C] (any
	// dtype) widened to float32; every id is in range.
	Embedding(out, table Operand, ids []int32)
	// LinearAdd writes out = x·wᵀ (+ bias) + res (Linear's operands; res
	// F32 of out's shape).
	LinearAdd(out, x, w, bias, res Operand)
	// GatedLinear writes out = act(x·gateᵀ)·(x·upᵀ), each product rounded
	// to float32 before the activation and the product, as Linear then
	// Gated round them. With norm (F32, K values) x's rows are first
	// RMS-normalised with that weight and eps, as RMSNorm does.
	GatedLinear(act Activation, out, x, norm Operand, eps float32, gate, up Operand)
	// Linears writes out [M, ΣNᵢ] = x·w₀ᵀ | x·w₁ᵀ | …: weights of any
	// dtypes sharing x's row length K ≥ 1, outputs side by side; with
	// norm, of RMSNorm(x) as GatedLinear.
	Linears(out, x, norm Operand, eps float32, ws []Operand)
	// SplitQKV splits qkv [B, T, (H+2·KVH)·D] into q (written to out
	// [B, T, H·D]), k and v; with p.Theta > 0 it rotates q and k as RoPE
	// does, at position pos[r] + p.PosOffset of row r (pos F32 integers);
	// then it writes row t of k and v for batch entry b at [b, p.At+t] of
	// the caches kc and vc [S, capacity, KVH·D], converted to their dtype
	// (F32, or F16 rounded to nearest even).
	SplitQKV(out, qkv, kc, vc, pos Operand, p SplitQKVParams)
	// Patches writes out [B, gh·gw, C·p·p] from img [B, C, H, W]: patch
	// (py, px) flattened as (c, y, x), remainders at the right and bottom
	// dropped.
	Patches(out, img Operand, p int)
}

// ArgmaxKernel is an optional Device kernel: the index of each row's largest
// value found on the device, so that only the indices travel to the host
// (ties: the lower index; NaN never beats a number; a row of NaNs gives 0).
// Without it the front reads the rows back and scans them on the host. x is
// F32 with rows of at least one element.
type ArgmaxKernel interface {
	Argmax(x Operand) []int32
}
