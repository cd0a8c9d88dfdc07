package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"glimpse/compute"
	"glimpse/compute/optest"
)

// TestOps runs the table of operation cases shared by every backend.
func TestOps(t *testing.T) {
	be := New()
	defer be.Close()
	optest.Run(t, be)
}

// The tests below check what only this backend promises.

func newTest(t *testing.T) (compute.Backend, compute.Context) {
	t.Helper()
	be := New()
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

// TestActivationsRoundOnce checks that the activations are the float64
// formulas rounded to float32 once, bit for bit (the shared table allows a
// GPU's float32 evaluation some ulps), and that Gated rounds the activation
// before multiplying, as PyTorch's act(gate) * up does.
func TestActivationsRoundOnce(t *testing.T) {
	_, ctx := newTest(t)
	rng := rand.New(rand.NewPCG(9, 10))
	const n = 70000
	a, b := optest.RandFloats(rng, n, 3), optest.RandFloats(rng, n, 3)
	at, bt := ctx.FromFloats([]int{n}, a), ctx.FromFloats([]int{n}, b)
	geluF := func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
	geluTanhF := func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}
	siluF := func(x float64) float64 { return x / (1 + math.Exp(-x)) }
	reluF := func(x float64) float64 { return math.Max(x, 0) }
	tests := []struct {
		name string
		got  compute.Tensor
		f    func(float64) float64
		gate bool
	}{
		{"GELU", ctx.GELU(at), geluF, false},
		{"GELUTanh", ctx.GELUTanh(at), geluTanhF, false},
		{"SiLU", ctx.SiLU(at), siluF, false},
		{"Gated silu", ctx.Gated("silu", at, bt), siluF, true},
		{"Gated gelu", ctx.Gated("gelu", at, bt), geluF, true},
		{"Gated gelu_tanh", ctx.Gated("gelu_tanh", at, bt), geluTanhF, true},
		{"Gated relu", ctx.Gated("relu", at, bt), reluF, true},
	}
	for _, tc := range tests {
		want := make([]float32, n)
		for i := range want {
			want[i] = float32(tc.f(float64(a[i])))
			if tc.gate {
				want[i] *= b[i]
			}
		}
		optest.Exact(t, tc.name, ctx.Read(tc.got), want)
	}
}

// TestDeterministicAcrossThreads checks that results do not depend on how
// the work is split: every output is computed in the same order whatever
// the number of goroutines.
func TestDeterministicAcrossThreads(t *testing.T) {
	be, ctx := newTest(t)
	rng := rand.New(rand.NewPCG(5, 6))
	x := ctx.FromFloats([]int{37, 96}, optest.RandFloats(rng, 37*96, 1))
	x1 := ctx.FromFloats([]int{1, 96}, optest.RandFloats(rng, 96, 1))
	w := upload(t, be, compute.Q8, []int{131, 96}, optest.RandFloats(rng, 131*96, 1))
	b := ctx.FromFloats([]int{96, 70}, optest.RandFloats(rng, 96*70, 1))
	q := ctx.FromFloats([]int{2, 9, 4 * 8}, optest.RandFloats(rng, 2*9*32, 1))
	kv := ctx.FromFloats([]int{2, 11, 2 * 8}, optest.RandFloats(rng, 2*11*16, 1))
	ba := ctx.FromFloats([]int{64, 33, 40}, optest.RandFloats(rng, 64*33*40, 1))
	bb := ctx.FromFloats([]int{64, 33, 40}, optest.RandFloats(rng, 64*33*40, 1))
	lnw := ctx.FromFloats([]int{40}, optest.RandFloats(rng, 40, 1))
	run := func() [][]float32 {
		return [][]float32{
			ctx.Read(ctx.Linear(x, w, nil)),
			ctx.Read(ctx.Linear(x1, w, nil)),
			ctx.Read(ctx.MatMul(x, b, false)),
			ctx.Read(ctx.MatMul(ba, bb, true)),
			ctx.Read(ctx.Attention(q, kv, kv, compute.AttentionOptions{Heads: 4, KVHeads: 2, Scale: 0.3, Causal: true})),
			ctx.Read(ctx.LayerNorm(ba, lnw, nil, 1e-5)),
		}
	}
	old := runtime.GOMAXPROCS(1)
	one := run()
	runtime.GOMAXPROCS(7)
	many := run()
	runtime.GOMAXPROCS(old)
	for i := range one {
		if !slices.Equal(one[i], many[i]) {
			t.Fatalf("result %d differs between 1 and 7 threads", i)
		}
	}
}

// TestConcurrentContexts runs contexts of one backend from several
// goroutines at once, sharing an uploaded weight while uploading more (run
// with -race to check the sharing).
func TestConcurrentContexts(t *testing.T) {
	be, _ := newTest(t)
	rng := rand.New(rand.NewPCG(25, 26))
	w := upload(t, be, compute.Q4, []int{64, 96}, optest.RandFloats(rng, 64*96, 1))
	x := optest.RandFloats(rng, 5*96, 1)
	ref := be.NewContext()
	want := ref.Read(ref.Linear(ref.FromFloats([]int{5, 96}, x), w, nil))
	ref.Close()
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			ctx := be.NewContext()
			defer ctx.Close()
			if _, err := be.Upload(compute.BF16, []int{8, 2}, make([]float32, 16)); err != nil {
				errs <- err
				return
			}
			for range 20 {
				// A view of the shared weight in each goroutine counts
				// references on its storage concurrently.
				got := ctx.Read(ctx.Linear(ctx.FromFloats([]int{5, 96}, x), ctx.Reshape(w, 64, 96), nil))
				if !slices.Equal(got, want) {
					errs <- fmt.Errorf("goroutine %d: Linear differs from the single-threaded result", g)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestInfo(t *testing.T) {
	be, _ := newTest(t)
	if info := be.Info(); info.Name != "cpu" || info.Device == "" || info.Version == "" || info.Limits["threads"] < 1 {
		t.Fatalf("Info = %+v", info)
	}
}
