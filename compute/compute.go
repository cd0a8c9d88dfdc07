// Package compute is Glimpse's tensor engine: the API the model code is
// written against (Backend, Context, Tensor), and the front that every
// backend sits behind, as ggml.c is for ggml's backends.
//
// The front defines each operation once. It checks the operands' shapes and
// dtypes, computes the result's shape, allocates the result and only then
// calls the backend's kernel through the narrow Device interface (device.go):
// buffers in, buffers out, no checks repeated. Broken shape invariants are
// programming errors and panic here, with a message naming the operation and
// the shapes, whatever the backend. The front also owns tensor lifetimes
// (handles, views, Context and Backend closing) so that every backend frees
// memory on the same rules.
//
// Two backends implement Device:
//
//   - compute/gl runs OpenGL 4.3 compute shaders on the GPU, through a
//     headless EGL context on Linux and a hidden GLFW window elsewhere. It is
//     the only package with cgo and OpenGL.
//   - compute/cpu is pure Go with the same numerics (float32 accumulation).
//     It is the engine on machines without OpenGL 4.3 (macOS).
//
// A kernel that only some devices have (today the GPU argmax; later fused
// RMSNorm+Linear, GPU top-k, KV-cache appends) is an optional interface the
// front finds with a type assertion, falling back to a composition of the
// kernels every device has (ArgmaxKernel is the model). compute/optest holds
// the one table of operation cases that every backend runs against float64
// references.
//
// Tensors are dense and row-major. Most operations work on the last dimension
// ("rows" of length Shape[len-1]) and treat all leading dimensions as a flat
// list of rows, so a [B, T, C] activation is B*T rows of C values.
//
// Memory: weights are uploaded once with Backend.Upload and live until
// Release or Backend.Close. Every tensor an operation returns belongs to the
// Context that made it and is freed when that Context is closed, so a forward
// pass opens a Context, runs, reads back what it needs and closes it. Long-lived
// state (a KV cache) lives in a Context that outlives the per-step ones.
// Reshape views share storage with their base; the storage goes when the last
// handle on it is released.
//
// Operations queue work without waiting for the device; only Read (and the
// operations that return Go values, such as Argmax) synchronise.
//
// Errors that can happen to users (no GL context, out of device memory) are
// returned, not panicked.
package compute

import (
	"errors"
	"fmt"
)

// DType is the element type of a tensor in device memory.
type DType int

// The element types. Activations are always F32; weights may be stored in any
// of them and are widened to float32 inside the kernels (float32 accumulation).
const (
	F32  DType = iota // IEEE float32
	F16               // IEEE binary16, two packed per 32-bit word
	BF16              // bfloat16, two packed per 32-bit word, expanded in the shader
	Q8                // signed 8-bit values in blocks of BlockSize along a row, one float32 scale per block
	Q4                // signed 4-bit values in blocks of BlockSize along a row, one float32 scale per block
	Q4K               // llama.cpp's Q4_K: 4-bit values in super-blocks of SuperBlockSize with 6-bit scales and mins
	Q6K               // llama.cpp's Q6_K: 6-bit values in super-blocks of SuperBlockSize with an 8-bit scale per 16
)

// BlockSize is the number of consecutive row elements that share one scale
// in the Q8 and Q4 formats. Rows of quantized tensors must be a multiple of it.
const BlockSize = 32

// SuperBlockSize is the number of consecutive row elements in one Q4K or
// Q6K super-block (llama.cpp's QK_K; Q4K's holds eight sub-blocks of
// BlockSize). Rows of Q4K and Q6K tensors must be a multiple of it.
const SuperBlockSize = 256

// String returns the dtype's short name (f32, f16, bf16, q8, q4, q4k, q6k).
func (d DType) String() string {
	switch d {
	case F32:
		return "f32"
	case F16:
		return "f16"
	case BF16:
		return "bf16"
	case Q8:
		return "q8"
	case Q4:
		return "q4"
	case Q4K:
		return "q4k"
	case Q6K:
		return "q6k"
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// ErrUnavailable reports that a backend cannot run on this machine (no GPU
// context of the required version, say). Callers fall back to the CPU backend.
var ErrUnavailable = errors.New("compute backend unavailable")

// Tensor is a dense row-major array in a backend's memory.
type Tensor interface {
	// Shape returns the dimensions; the caller must not modify the slice.
	Shape() []int
	// DType returns the element type.
	DType() DType
	// Release frees the tensor's memory now instead of when its owner
	// (Backend or Context) closes. Using it afterwards panics.
	Release()
}

// Info describes a backend for `glimpse info`, logs and the app's status bar.
type Info struct {
	Name     string   // "gl" or "cpu"
	Device   string   // GL_RENDERER or the CPU model
	Version  string   // GL_VERSION, or the Go version for the CPU backend
	Variants []string // kernel variants in use ("portable", "nv_gpu_shader5", "subgroup")
	// VariantFailures lists the fast kernel variants the driver offered but
	// failed to compile ("kernel [defines] variant: compiler's first line"):
	// the device then runs the portable kernels, slower but correct, and
	// a GPU check (GLIMPSE_REQUIRE_GPU=1) fails on it instead of passing.
	VariantFailures []string
	Limits          map[string]int64  // limits that matter (max SSBO size, shared memory, …)
	Extra           map[string]string // anything else worth printing
}

// Backend owns a device and the weights uploaded to it.
type Backend interface {
	// Info describes the backend and its device.
	Info() Info
	// Upload copies float32 host data into a new persistent tensor of the
	// given shape, converting it to dtype on the way (rounding to nearest
	// even for F16/BF16, symmetric absmax blocks for Q8/Q4, llama.cpp's
	// Q4_K and Q6_K searches for Q4K and Q6K; see quant.go). len(data) must
	// equal the product of shape.
	Upload(dtype DType, shape []int, data []float32) (Tensor, error)
	// UploadPacked makes a persistent tensor from data already in dtype's
	// packed layout (quant.go: words, and scales where PackedScales says),
	// as compute.Pack returns it or the converted-weight store maps it.
	// Errors name a shape the dtype cannot hold and word or scale counts
	// that do not match the shape. The device may keep words and scales as
	// the tensor's storage (the CPU does for every dtype but F32): the
	// caller must leave them unchanged, and mapped, until the tensor is
	// released.
	UploadPacked(dtype DType, shape []int, words []uint32, scales []float32) (Tensor, error)
	// NewContext returns a context for running operations.
	NewContext() Context
	// Close frees everything the backend holds. Using the backend, its
	// Contexts or its tensors afterwards panics (closing a Context or
	// releasing a tensor is harmless).
	Close() error
}

// AttentionOptions configures Context.Attention.
type AttentionOptions struct {
	// Heads is the number of query heads; KVHeads the number of key/value
	// heads (0 means Heads). Heads must be a multiple of KVHeads.
	Heads, KVHeads int
	// Scale multiplies q·k before the softmax (1/sqrt(headDim) for BERT, ViT
	// and LLaMA; 1 for T5).
	Scale float32
	// Causal lets query i attend only keys j <= i + (Tk - Tq): the queries are
	// the last Tq positions of the key sequence (decoding with a KV cache).
	Causal bool
	// KeyLen, if > 0, uses only the first KeyLen key/value rows of each batch
	// entry (a KV cache tensor allocated for the maximum length). The causal
	// offset then is KeyLen - Tq.
	KeyLen int
	// Mask, if not nil, is an additive float32 mask [B, Tk] added to every
	// query's scores of that batch entry (0 to keep, a large negative number
	// to drop: padding).
	Mask Tensor
	// Bias, if not nil, is an additive float32 bias [H, Tq, Tk] shared by the
	// batch, or [B, H, Tq, Tk] (T5's relative position bias).
	Bias Tensor
	// Rows, if not nil, is [B, Tk] (F32 integers): key j of batch entry b
	// is read from sequence Rows[b, j] of k and v, so that beam search
	// reorders a KV cache by rewriting this index instead of copying the
	// cache. k and v may then hold any number of sequences; without it
	// they hold at least B, and entry b reads sequence b.
	Rows Tensor
}

// Context runs operations. Every tensor it returns is freed by Close. A
// Context is not safe for concurrent use; distinct Contexts of one backend are.
type Context interface {
	// Close frees every tensor this context created.
	Close()

	// --- data movement ---

	// FromFloats makes an F32 tensor from host data.
	FromFloats(shape []int, data []float32) Tensor
	// Zeros makes an F32 tensor of zeros.
	Zeros(shape ...int) Tensor
	// Read synchronises and returns the tensor's values as float32.
	Read(t Tensor) []float32
	// Reshape returns a view with another shape and the same number of
	// elements (no copy).
	Reshape(t Tensor, shape ...int) Tensor
	// Rows returns rows [start, start+n) of t along dimension 0 as a new
	// tensor (a copy).
	//
	// Rows, Concat, Gather and SetRows copy whole rows and keep the dtype:
	// any dtype works, provided a row (the elements of one index of the
	// dimension copied along) fills whole 32-bit words of the packed layout
	// (F16 and BF16: an even number of elements; Q8 and Q4: whole blocks;
	// Q4K and Q6K: whole super-blocks).
	Rows(t Tensor, start, n int) Tensor
	// Concat joins tensors of one dtype along dimension 0; the other
	// dimensions must agree.
	Concat(ts ...Tensor) Tensor
	// Gather returns the rows of t (along dimension 0) at the given indices:
	// beam reordering of a KV cache, selecting a batch's last positions.
	Gather(t Tensor, idx []int32) Tensor
	// SetRows copies src into dst (same dtype) starting at row `at` of
	// dimension `dim` (0 or 1), in place: KV-cache appends (dim 1 of
	// [B, maxT, C]) and image tokens written over the prompt (dim 0 or 1).
	SetRows(dst Tensor, dim, at int, src Tensor)

	// --- linear algebra ---

	// Linear returns x·wᵀ (+ bias): x [..., K], w [N, K] in any dtype
	// (PyTorch's Linear layout), bias [N] F32 or nil. The result is [..., N].
	// With a single row it runs the matrix–vector kernel.
	//
	// With Q8, Q4, Q4K or Q6K weights a backend may round x to 8 bits first, as
	// ggml does for its quantized types: each block of BlockSize values
	// of a row to integer multiples of d = max|x| / 127 over the block,
	// so that bytes multiply bytes. Each product may then differ from the
	// float32 one by up to d/2 times the weight's integer part (scale·n
	// for Q4 and Q4K, whose offset and mins multiply Σx exactly). The
	// same holds for every operation built on Linear (LinearAdd,
	// Linears, GatedLinear and their normalised forms).
	Linear(x, w, bias Tensor) Tensor
	// MatMul returns batched a·b (transB false: b [B, K, N]) or a·bᵀ (transB
	// true: b [B, N, K]) for a [B, M, K], all F32; 2-D operands mean B = 1,
	// and a 2-D b is shared by every batch entry of a. The networks do not
	// call it today (attention is one fused kernel); it is the product of two
	// activations that the kernel benchmarks measure at the ViT-g shape.
	MatMul(a, b Tensor, transB bool) Tensor

	// --- element-wise ---

	// Add returns a + b; b has a's number of elements, or is a single row
	// broadcast over a's rows (a bias).
	Add(a, b Tensor) Tensor
	// Scale returns a * s.
	Scale(a Tensor, s float32) Tensor
	// GELU is the exact erf form: x/2 · (1 + erf(x/√2)).
	GELU(x Tensor) Tensor
	// GELUTanh is the tanh approximation used by "gelu_new"/"gelu_pytorch_tanh".
	GELUTanh(x Tensor) Tensor
	// SiLU is x · sigmoid(x).
	SiLU(x Tensor) Tensor
	// Gated returns act(gate) * up, act one of "silu", "gelu", "gelu_tanh",
	// "relu" (LLaMA's and T5's gated feed-forwards in one pass).
	Gated(act string, gate, up Tensor) Tensor

	// --- normalisation ---

	// LayerNorm normalises each row to zero mean and unit variance, then
	// multiplies by w and adds b (both F32 with C values, b may be nil).
	LayerNorm(x, w, b Tensor, eps float32) Tensor
	// RMSNorm divides each row by its root mean square and multiplies by w
	// (F32, C values).
	RMSNorm(x, w Tensor, eps float32) Tensor

	// --- attention ---

	// LogSoftmax of each row; a row that is all -Inf stays -Inf. Generation
	// computes its beam scores on the host today; this is here for the
	// GPU-logits work, which moves them to the device.
	LogSoftmax(x Tensor) Tensor
	// Attention is scaled-dot-product attention for q [B, Tq, H*D] and k, v
	// [B, Tk, KVH*D] (F32, or F16: a KV cache), returning [B, Tq, H*D]. A
	// query that sees no key, or whose scores are all -Inf, gets zeros.
	Attention(q, k, v Tensor, o AttentionOptions) Tensor
	// --- fused (fused.go) ---

	// LinearAdd returns x·wᵀ (+ bias) + res: a residual added in the
	// product's epilogue.
	LinearAdd(x, w, bias, res Tensor) Tensor
	// GatedLinear returns act(x·gateᵀ)·(x·upᵀ) (Gated's activations).
	GatedLinear(act string, x, gate, up Tensor) Tensor
	// NormGatedLinear is GatedLinear of RMSNorm(x, w, eps).
	NormGatedLinear(act string, x, w Tensor, eps float32, gate, up Tensor) Tensor
	// Linears returns x·wᵢᵀ for every weight, side by side along the last
	// dimension.
	Linears(x Tensor, ws ...Tensor) Tensor
	// NormLinears is Linears of RMSNorm(x, w, eps).
	NormLinears(x, w Tensor, eps float32, ws ...Tensor) Tensor
	// SplitQKV splits a fused query–key–value projection, rotating by RoPE
	// and writing keys and values into a cache (SplitQKVOptions); it
	// returns the queries.
	SplitQKV(qkv Tensor, o SplitQKVOptions) Tensor
	// ZerosOf makes a tensor of zeros of any dtype (an F16 KV cache).
	ZerosOf(dt DType, shape ...int) Tensor

	// RoPE rotates x [B, T, H*D] by position (LLaMA's rotate-half layout, θ
	// base theta). pos holds B*T positions, one per row.
	RoPE(x Tensor, pos []int32, heads int, theta float32) Tensor

	// --- lookups ---

	// Embedding returns the rows of table (any dtype) at ids, as F32 [len(ids), C].
	Embedding(table Tensor, ids []int32) Tensor
	// Patches cuts images [B, C, H, W] into non-overlapping p×p patches,
	// returning [B, (H/p)*(W/p), C*p*p] in the order a Conv2d weight
	// [out, C, p, p] flattens, so that Linear with that weight reshaped to
	// [out, C*p*p] is the convolution.
	Patches(img Tensor, p int) Tensor

	// --- reductions returning host values ---

	// Argmax returns the index of the largest value of each row (ties: the
	// lower index; NaN is never chosen over a number). Generation picks
	// tokens on the host today; the GPU-logits work will call this so that
	// only indices leave the device.
	Argmax(x Tensor) []int32
	// TopK returns the k largest values of each row and their indices, in
	// descending order (ties: lower index first; NaN ranks below every
	// number). Like Argmax, it is here for the GPU-logits work.
	TopK(x Tensor, k int) (vals []float32, idx []int32)
}

// NumElements returns the product of shape.
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
