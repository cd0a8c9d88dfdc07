package compute_test

import (
	"slices"
	"testing"

	"glimpse/compute"
	"glimpse/compute/cpu"
	"glimpse/compute/optest"
)

// The front's own rules, which hold whatever the device: broken shape
// invariants panic naming the operation and the shapes, and tensor
// lifetimes. They run once, on the CPU backend; the numbers of every
// operation are the table in compute/optest, which each backend runs.

func newFront(t *testing.T) (compute.Backend, compute.Context) {
	t.Helper()
	be := cpu.New()
	ctx := be.NewContext()
	t.Cleanup(func() {
		ctx.Close()
		be.Close()
	})
	return be, ctx
}

func upload(t *testing.T, be compute.Backend, dt compute.DType, shape []int, data []float32) compute.Tensor {
	t.Helper()
	w, err := be.Upload(dt, shape, data)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestMisusePanics(t *testing.T) {
	be, ctx := newFront(t)
	x := ctx.Zeros(2, 32)
	seq := ctx.Zeros(4, 2, 3)
	cache := ctx.Zeros(2, 4, 3)
	w := upload(t, be, compute.Q8, []int{4, 32}, make([]float32, 128))
	h := upload(t, be, compute.F16, []int{3, 3}, make([]float32, 9))
	other := cpu.New()
	defer other.Close()
	foreign := other.NewContext().Zeros(2, 32)
	tests := []struct {
		name string
		f    func()
		want []string
	}{
		{"FromFloats size", func() { ctx.FromFloats([]int{2, 3}, make([]float32, 5)) }, []string{"FromFloats", "[2 3]"}},
		{"Zeros negative", func() { ctx.Zeros(2, -1) }, []string{"Zeros", "[2 -1]"}},
		{"Reshape size", func() { ctx.Reshape(seq, 5, 5) }, []string{"Reshape", "[4 2 3]", "[5 5]"}},
		{"Reshape q8 rows", func() { ctx.Reshape(w, 8, 16) }, []string{"[8 16]"}},
		{"Rows out of range", func() { ctx.Rows(seq, 3, 2) }, []string{"Rows", "[4 2 3]"}},
		{"Rows of a scalar", func() { ctx.Rows(ctx.Zeros(), 0, 1) }, []string{"Rows", "scalar"}},
		{"Rows of half words", func() { ctx.Rows(h, 1, 1) }, []string{"Rows", "f16[3 3]"}},
		{"Concat none", func() { ctx.Concat() }, []string{"Concat"}},
		{"Concat mismatch", func() { ctx.Concat(seq, ctx.Zeros(1, 3, 2)) }, []string{"Concat", "[4 2 3]", "[1 3 2]"}},
		{"Concat dtypes", func() { ctx.Concat(ctx.Zeros(4, 32), w) }, []string{"Concat", "f32[4 32]", "q8[4 32]"}},
		{"Gather out of range", func() { ctx.Gather(seq, []int32{4}) }, []string{"Gather", "[4 2 3]"}},
		{"Gather negative", func() { ctx.Gather(seq, []int32{-1}) }, []string{"Gather", "-1"}},
		{"SetRows overflow", func() { ctx.SetRows(cache, 1, 3, ctx.Zeros(2, 2, 3)) }, []string{"SetRows", "[2 4 3]", "[2 2 3]"}},
		{"SetRows dim", func() { ctx.SetRows(cache, 2, 0, cache) }, []string{"SetRows", "dim 2"}},
		{"SetRows dtypes", func() { ctx.SetRows(ctx.Zeros(4, 32), 0, 0, w) }, []string{"SetRows", "q8[4 32]"}},
		{"Linear K mismatch", func() { ctx.Linear(ctx.Zeros(2, 3), w, nil) }, []string{"Linear", "[2 3]", "q8[4 32]"}},
		{"Linear bias", func() { ctx.Linear(x, w, ctx.Zeros(3)) }, []string{"Linear", "[3]"}},
		{"Linear x not f32", func() { ctx.Linear(w, w, nil) }, []string{"Linear", "q8[4 32]"}},
		{"MatMul inner", func() { ctx.MatMul(ctx.Zeros(2, 3), ctx.Zeros(4, 5), false) }, []string{"MatMul", "[2 3]", "[4 5]"}},
		{"MatMul batch", func() { ctx.MatMul(ctx.Zeros(2, 2, 3), ctx.Zeros(3, 3, 5), false) }, []string{"MatMul", "[2 2 3]", "[3 3 5]"}},
		{"MatMul vector", func() { ctx.MatMul(ctx.Zeros(3), ctx.Zeros(3, 5), false) }, []string{"MatMul", "[3]"}},
		{"Add shapes", func() { ctx.Add(x, ctx.Zeros(3)) }, []string{"Add", "[2 32]", "[3]"}},
		{"Add two rows", func() { ctx.Add(ctx.Zeros(3, 4), ctx.Zeros(2, 4)) }, []string{"Add", "[3 4]", "[2 4]"}},
		{"Scale not f32", func() { ctx.Scale(w, 2) }, []string{"Scale", "q8[4 32]"}},
		{"Gated shapes", func() { ctx.Gated("silu", x, ctx.Zeros(32)) }, []string{"Gated", "[2 32]", "[32]"}},
		{"Gated act", func() { ctx.Gated("tanh", x, x) }, []string{"Gated", "tanh"}},
		{"LayerNorm weight", func() { ctx.LayerNorm(x, ctx.Zeros(31), nil, 1e-5) }, []string{"LayerNorm", "[31]"}},
		{"LayerNorm bias", func() { ctx.LayerNorm(x, ctx.Zeros(32), ctx.Zeros(33), 1e-5) }, []string{"LayerNorm", "[33]"}},
		{"RMSNorm weight dtype", func() { ctx.RMSNorm(ctx.Zeros(2, 3), h, 1e-5) }, []string{"RMSNorm", "f16[3 3]"}},
		{"LogSoftmax scalar", func() { ctx.LogSoftmax(ctx.Zeros()) }, []string{"LogSoftmax", "scalar"}},
		{"RoPE positions", func() { ctx.RoPE(ctx.Zeros(1, 2, 8), []int32{0}, 2, 1e4) }, []string{"RoPE", "[1 2 8]"}},
		{"RoPE odd head", func() { ctx.RoPE(ctx.Zeros(1, 1, 6), []int32{0}, 2, 1e4) }, []string{"RoPE", "[1 1 6]"}},
		{"Attention heads", func() {
			ctx.Attention(ctx.Zeros(1, 2, 8), ctx.Zeros(1, 2, 8), ctx.Zeros(1, 2, 8), compute.AttentionOptions{Heads: 3})
		}, []string{"Attention", "[1 2 8]"}},
		{"Attention kv heads", func() {
			ctx.Attention(ctx.Zeros(1, 2, 8), ctx.Zeros(1, 2, 8), ctx.Zeros(1, 2, 8), compute.AttentionOptions{Heads: 4, KVHeads: 3})
		}, []string{"Attention", "3 kv heads"}},
		{"Attention k and v", func() {
			ctx.Attention(ctx.Zeros(1, 2, 8), ctx.Zeros(1, 2, 8), ctx.Zeros(1, 3, 8), compute.AttentionOptions{Heads: 2})
		}, []string{"Attention", "[1 3 8]"}},
		{"Attention mask", func() {
			ctx.Attention(ctx.Zeros(1, 2, 8), ctx.Zeros(1, 2, 8), ctx.Zeros(1, 2, 8), compute.AttentionOptions{Heads: 2, Mask: ctx.Zeros(1, 3)})
		}, []string{"Attention", "[1 3]"}},
		{"Attention bias", func() {
			ctx.Attention(ctx.Zeros(1, 2, 8), ctx.Zeros(1, 2, 8), ctx.Zeros(1, 2, 8), compute.AttentionOptions{Heads: 2, Bias: ctx.Zeros(2, 2, 3)})
		}, []string{"Attention", "[2 2 3]"}},
		{"Attention KeyLen", func() {
			ctx.Attention(ctx.Zeros(1, 2, 8), ctx.Zeros(1, 2, 8), ctx.Zeros(1, 2, 8), compute.AttentionOptions{Heads: 2, KeyLen: 3})
		}, []string{"Attention", "key length 3"}},
		{"Embedding id out of range", func() { ctx.Embedding(ctx.Zeros(4, 2), []int32{4}) }, []string{"Embedding", "4", "[4 2]"}},
		{"Embedding table rank", func() { ctx.Embedding(ctx.Zeros(4), []int32{0}) }, []string{"Embedding", "[4]"}},
		{"Patches rank", func() { ctx.Patches(x, 2) }, []string{"Patches", "[2 32]"}},
		{"Patches size", func() { ctx.Patches(ctx.Zeros(1, 1, 4, 4), 0) }, []string{"Patches", "[1 1 4 4]"}},
		{"Argmax of empty rows", func() { ctx.Argmax(ctx.Zeros(2, 0)) }, []string{"Argmax", "[2 0]"}},
		{"TopK too many", func() { ctx.TopK(x, 33) }, []string{"TopK", "[2 32]"}},
		{"tensor of another backend", func() { ctx.Add(foreign, x) }, []string{"Add", "another backend"}},
		{"nil tensor", func() { ctx.Read(nil) }, []string{"Read", "does not belong"}},
	}
	for _, tc := range tests {
		optest.MustPanic(t, tc.name, tc.f, tc.want...)
	}
}

func TestUploadErrors(t *testing.T) {
	be, _ := newFront(t)
	tests := []struct {
		name  string
		dt    compute.DType
		shape []int
		n     int
	}{
		{"Q4 rows of 3", compute.Q4, []int{2, 3}, 6},
		{"too few values", compute.F32, []int{2, 3}, 5},
		{"negative dimension", compute.F16, []int{-2, 3}, 6},
		{"unknown dtype", compute.DType(9), []int{2}, 2},
	}
	for _, tc := range tests {
		if _, err := be.Upload(tc.dt, tc.shape, make([]float32, tc.n)); err == nil {
			t.Errorf("Upload %s succeeded", tc.name)
		}
	}
}

// TestUploadPacked checks that packed data uploads to the same tensor as
// the float32 it was packed from, and that counts which do not match the
// shape are errors, not a corrupt tensor.
func TestUploadPacked(t *testing.T) {
	be, ctx := newFront(t)
	data := make([]float32, 2*64)
	for i := range data {
		data[i] = float32(i%13) - 6.25
	}
	for _, dt := range []compute.DType{compute.F32, compute.F16, compute.BF16, compute.Q8, compute.Q4} {
		words, scales, err := compute.Pack(dt, []int{2, 64}, data)
		if err != nil {
			t.Fatal(err)
		}
		packed, err := be.UploadPacked(dt, []int{2, 64}, words, scales)
		if err != nil {
			t.Fatalf("UploadPacked %v: %v", dt, err)
		}
		want := ctx.Read(upload(t, be, dt, []int{2, 64}, data))
		if got := ctx.Read(packed); !slices.Equal(got, want) {
			t.Errorf("UploadPacked %v reads %v, Upload %v", dt, got[:4], want[:4])
		}
	}
	tests := []struct {
		name   string
		dt     compute.DType
		shape  []int
		words  int
		scales int
	}{
		{"f16 one word short", compute.F16, []int{2, 3}, 2, 0},
		{"f32 one word over", compute.F32, []int{2, 3}, 7, 0},
		{"q8 without scales", compute.Q8, []int{1, 32}, 8, 0},
		{"q4 two scales for one block", compute.Q4, []int{1, 32}, 4, 2},
		{"f16 with scales", compute.F16, []int{2, 2}, 2, 1},
		{"q4 rows of 3", compute.Q4, []int{2, 3}, 1, 0},
		{"unknown dtype", compute.DType(42), []int{2}, 2, 0},
	}
	for _, tc := range tests {
		if _, err := be.UploadPacked(tc.dt, tc.shape, make([]uint32, tc.words), make([]float32, tc.scales)); err == nil {
			t.Errorf("UploadPacked %s succeeded", tc.name)
		}
	}
}

// TestLifetimes checks handles, views and closing: storage lives while any
// handle on it does, and every use of a released handle panics.
func TestLifetimes(t *testing.T) {
	be := cpu.New()
	w := upload(t, be, compute.F16, []int{2, 2}, []float32{1, 2, 3, 4})
	ctx := be.NewContext()
	x := ctx.FromFloats([]int{1, 2}, []float32{1, 1})
	v := ctx.Reshape(x, 2)
	x.Release()
	x.Release() // a second Release is harmless
	optest.MustPanic(t, "use after Release", func() { ctx.Read(x) }, "after Release", "[1 2]")
	// Releasing one handle leaves the view's storage alive.
	optest.Exact(t, "view after releasing its base", ctx.Read(v), []float32{1, 1})
	// A view made in another context outlives the context of its base.
	other := be.NewContext()
	kept := other.Reshape(v, 1, 2)
	y := ctx.Linear(v, w, nil)
	ctx.Close()
	ctx.Close() // a second Close is harmless
	optest.Exact(t, "view after its base's context closed", other.Read(other.Scale(kept, 2)), []float32{2, 2})
	optest.MustPanic(t, "use after Context.Close", func() { other.Read(y) }, "after Release")
	optest.MustPanic(t, "op on a closed context", func() { ctx.Zeros(1) }, "Zeros", "after Close")
	optest.Exact(t, "uploaded weight after a context closed", other.Read(w), []float32{1, 2, 3, 4})
	if err := be.Close(); err != nil {
		t.Fatal(err)
	}
	if err := be.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	optest.MustPanic(t, "context of a closed backend", func() { other.Read(kept) }, "Read", "Backend used after Close")
	optest.MustPanic(t, "NewContext after Backend.Close", func() { be.NewContext() }, "closed")
	optest.MustPanic(t, "weight after Backend.Close", func() { other.Read(w) }, "Read", "Backend used after Close")
	other.Close() // closing a context after its backend is harmless
	if _, err := be.Upload(compute.F32, []int{1}, []float32{1}); err == nil {
		t.Fatal("Upload to a closed backend succeeded")
	}
}

// TestRowsKeepDType checks the one contract of Rows, Concat and Gather:
// any dtype, copied as stored, whole words per row.
func TestRowsKeepDType(t *testing.T) {
	be, ctx := newFront(t)
	for _, dt := range []compute.DType{compute.F32, compute.F16, compute.BF16, compute.Q8, compute.Q4} {
		w := upload(t, be, dt, []int{3, 64}, make([]float32, 192))
		for name, got := range map[string]compute.Tensor{
			"Rows":   ctx.Rows(w, 1, 2),
			"Concat": ctx.Concat(w, w),
			"Gather": ctx.Gather(w, []int32{2, 0}),
		} {
			if got.DType() != dt {
				t.Errorf("%s of %v gave %v", name, dt, got.DType())
			}
		}
	}
	if got := ctx.Rows(upload(t, be, compute.F16, []int{4, 2, 3}, make([]float32, 24)), 1, 2).Shape(); !slices.Equal(got, []int{2, 2, 3}) {
		t.Fatalf("Rows of f16 rows of 6 halves: shape %v", got)
	}
}
