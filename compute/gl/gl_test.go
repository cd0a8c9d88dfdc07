package gl

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"glimpse/compute"
	"glimpse/compute/cpu"
	"glimpse/compute/optest"
)

// The GL backend runs the shared table of operation cases (compute/optest)
// for every kernel variant this machine has, plus the tests of what only
// this backend has: the GL thread's barriers, split buffers, the program
// cache, the buffer pool. On a machine without a GPU these run on Mesa's
// llvmpipe through EGL; a missing GL context is a failure, not a skip (CI
// has llvmpipe).

// glShared is one GL backend for the whole test binary: contexts are cheap,
// shader compilation is not (0.2–0.6 s per kernel on llvmpipe). debug checks
// glGetError after every queued closure.
var glShared struct {
	once sync.Once
	d    *device
	be   compute.Backend
	err  error
}

// shaderCache is the program-binary cache of the shared backend: a
// temporary folder of the test binary's own, never the user's cache.
var shaderCache string

// TestMain makes shaderCache and removes it when the tests end.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "glimpse-shaders-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "compute/gl tests:", err)
		os.Exit(1)
	}
	shaderCache = dir
	code := m.Run()
	if os.Getenv("GLIMPSE_REQUIRE_GPU") == "1" && code == 0 && !requireGPU() {
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireGPU is the GPU check's verdict on the shared backend once every
// test has compiled its kernels (GLIMPSE_REQUIRE_GPU=1, as
// scripts/gpu-check.sh sets it): tests that pass on a software renderer, or
// on the portable kernels after a fast variant failed to compile, say
// nothing about the GPU's kernels, so they fail the run here.
func requireGPU() bool {
	glShared.once.Do(func() {
		glShared.d, glShared.err = newDevice(glOptions{debug: true, cacheDir: shaderCache})
		if glShared.err == nil {
			glShared.be = compute.New(glShared.d)
		}
	})
	if glShared.err != nil {
		fmt.Fprintln(os.Stderr, "GLIMPSE_REQUIRE_GPU: no OpenGL context:", glShared.err)
		return false
	}
	info := glShared.be.Info()
	ok := true
	if compute.SoftwareRenderer(info.Device) {
		fmt.Fprintf(os.Stderr, "GLIMPSE_REQUIRE_GPU: %s renders in software\n", info.Device)
		ok = false
	}
	for _, f := range info.VariantFailures {
		fmt.Fprintln(os.Stderr, "GLIMPSE_REQUIRE_GPU: fast variant failed to compile:", f)
		ok = false
	}
	fmt.Fprintf(os.Stderr, "GLIMPSE_REQUIRE_GPU: %s, %s, variants %v\n", info.Device, info.Version, info.Variants)
	return ok
}

// TestVariantFailureRecorded turns the half-precision variant on whatever
// the driver says: where GL_NV_gpu_shader5 is missing (llvmpipe) its
// kernels fail to compile, and the device must record that in Info and
// still compute with the portable kernels; where the driver has it, nothing
// may be recorded.
func TestVariantFailureRecorded(t *testing.T) {
	_, shared := testGL(t)
	offered := slices.Contains(shared.Info().Variants, "nv_gpu_shader5") || len(shared.Info().VariantFailures) > 0
	d, be := newTestBackend(t, glOptions{cacheDir: "-"})
	d.call(func() { d.variant.half = true })
	ctx := be.NewContext()
	defer ctx.Close()
	x := ctx.FromFloats([]int{1, 4}, []float32{1, 2, 3, 4})
	w := ctx.FromFloats([]int{2, 4}, []float32{1, 0, 0, 0, 0, 1, 1, 0})
	got := ctx.Read(ctx.Linear(x, w, nil))
	optest.Exact(t, "Linear after the variant's failure", got, []float32{1, 5})
	info := be.Info()
	t.Logf("variants %v, failures %v", info.Variants, info.VariantFailures)
	if offered {
		if len(info.VariantFailures) != 0 {
			t.Errorf("the driver offers GL_NV_gpu_shader5, yet: %v", info.VariantFailures)
		}
		return
	}
	if len(info.VariantFailures) == 0 || !strings.Contains(info.VariantFailures[0], "nv_gpu_shader5") {
		t.Errorf("VariantFailures %v: want the failed nv_gpu_shader5 kernel", info.VariantFailures)
	}
	if !slices.Equal(info.Variants, []string{"portable"}) {
		t.Errorf("variants %v after the failure: want portable only", info.Variants)
	}
}

func testGL(t testing.TB) (*device, compute.Backend) {
	t.Helper()
	glShared.once.Do(func() {
		glShared.d, glShared.err = newDevice(glOptions{debug: true, cacheDir: shaderCache})
		if glShared.err == nil {
			glShared.be = compute.New(glShared.d)
		}
	})
	if glShared.err != nil {
		t.Fatalf("no OpenGL 4.3 context (CI provides Mesa llvmpipe through EGL): %v", glShared.err)
	}
	return glShared.d, glShared.be
}

// newTestBackend starts a backend of its own with opts; the test closes it.
func newTestBackend(t *testing.T, opts glOptions) (*device, compute.Backend) {
	t.Helper()
	opts.debug = true
	d, err := newDevice(opts)
	if err != nil {
		t.Fatalf("no OpenGL 4.3 context: %v", err)
	}
	be := compute.New(d)
	t.Cleanup(func() { be.Close() })
	return d, be
}

// eachVariant runs f on the default backend and, where the driver offers
// faster kernel variants, once more on a backend restricted to the portable
// kernels.
func eachVariant(t *testing.T, f func(t *testing.T, be compute.Backend)) {
	_, be := testGL(t)
	variants := be.Info().Variants
	if len(variants) == 1 {
		f(t, be)
		return
	}
	t.Run(strings.Join(variants, "+"), func(t *testing.T) { f(t, be) })
	t.Run("portable", func(t *testing.T) {
		_, pb := newTestBackend(t, glOptions{noVariants: true})
		f(t, pb)
	})
}

// TestOps runs the table of operation cases shared by every backend.
func TestOps(t *testing.T) {
	eachVariant(t, func(t *testing.T, be compute.Backend) { optest.Run(t, be) })
}

func TestInfo(t *testing.T) {
	_, be := testGL(t)
	info := be.Info()
	if info.Name != "gl" || info.Device == "" || info.Version == "" {
		t.Fatalf("Info = %+v: want name gl, a renderer and a version", info)
	}
	if len(info.Variants) == 0 || info.Variants[0] != "portable" {
		t.Fatalf("variants %v: want portable first", info.Variants)
	}
	for _, k := range []string{"max_ssbo_bytes", "max_shared_bytes", "max_invocations", "max_ssbo_bindings"} {
		if info.Limits[k] <= 0 {
			t.Fatalf("limit %s = %d", k, info.Limits[k])
		}
	}
	t.Logf("%s, %s, variants %v, limits %v", info.Device, info.Version, info.Variants, info.Limits)
}

// near compares GL values with CPU values within abs + rel·|cpu|.
func near(t *testing.T, what string, gl, cpu []float32, abs, rel float64) {
	t.Helper()
	want := make([]float64, len(cpu))
	for i, v := range cpu {
		want[i] = float64(v)
	}
	optest.CheckClose(t, what, gl, want, abs, rel)
}

// TestChain runs a small transformer block three times without reading in
// between, so every kernel reads buffers the previous dispatch wrote: it
// fails if a memory barrier is missing (and pooled buffers are reused as it
// goes). The CPU backend runs the same chain as the reference.
func TestChain(t *testing.T) {
	eachVariant(t, func(t *testing.T, g compute.Backend) {
		const T, C, H = 11, 64, 4
		rng := rand.New(rand.NewPCG(15, 7))
		c := cpu.New()
		defer c.Close()
		type weights struct{ wqkv, wo, w1, w2 compute.Tensor }
		data := [][]float32{optest.RandFloats(rng, 3*C*C, 0.1), optest.RandFloats(rng, C*C, 0.1), optest.RandFloats(rng, 4*C*C, 0.1), optest.RandFloats(rng, 4*C*C, 0.1)}
		ln, x0 := optest.RandFloats(rng, C, 1), optest.RandFloats(rng, T*C, 1)
		pos := make([]int32, T)
		for i := range pos {
			pos[i] = int32(i)
		}
		run := func(be compute.Backend) []float32 {
			up := func(dt compute.DType, shape []int, d []float32) compute.Tensor {
				w, err := be.Upload(dt, shape, d)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(w.Release)
				return w
			}
			w := weights{up(compute.F16, []int{3 * C, C}, data[0]), up(compute.Q8, []int{C, C}, data[1]),
				up(compute.Q4, []int{4 * C, C}, data[2]), up(compute.BF16, []int{C, 4 * C}, data[3])}
			ctx := be.NewContext()
			defer ctx.Close()
			lnw := ctx.FromFloats([]int{C}, ln)
			x := ctx.FromFloats([]int{1, T, C}, x0)
			for range 3 {
				h := ctx.RMSNorm(x, lnw, 1e-6)
				flat := ctx.Reshape(ctx.Linear(h, w.wqkv, nil), T*3, C)
				idxQ, idxK, idxV := make([]int32, T), make([]int32, T), make([]int32, T)
				for i := range T {
					idxQ[i], idxK[i], idxV[i] = int32(3*i), int32(3*i+1), int32(3*i+2)
				}
				qq := ctx.RoPE(ctx.Reshape(ctx.Gather(flat, idxQ), 1, T, C), pos, H, 10000)
				kk := ctx.RoPE(ctx.Reshape(ctx.Gather(flat, idxK), 1, T, C), pos, H, 10000)
				vv := ctx.Reshape(ctx.Gather(flat, idxV), 1, T, C)
				a := ctx.Attention(qq, kk, vv, compute.AttentionOptions{Heads: H, Scale: 0.25, Causal: true})
				x = ctx.Add(x, ctx.Linear(a, w.wo, nil))
				h = ctx.LayerNorm(x, lnw, nil, 1e-5)
				x = ctx.Add(x, ctx.Linear(ctx.Gated("silu", ctx.Linear(h, w.w1, nil), ctx.Linear(h, w.w1, nil)), w.w2, nil))
			}
			return ctx.Read(ctx.Scale(x, 0.5))
		}
		near(t, "three blocks", run(g), run(c), 1e-4, 1e-3)
	})
}

// TestSplit uploads tensors larger than a lowered buffer limit, so that
// they split into row chunks, and runs every kernel that takes split
// tensors against the float64 references.
func TestSplit(t *testing.T) {
	d, g := newTestBackend(t, glOptions{maxBlock: 1024, cacheDir: "-"})
	ctx := g.NewContext()
	defer ctx.Close()
	rng := rand.New(rand.NewPCG(16, 7))
	liveBuffers := func() int {
		var n int
		d.call(func() { n = len(d.live) })
		return n
	}
	for _, dt := range []compute.DType{compute.F32, compute.F16, compute.BF16, compute.Q8, compute.Q4, compute.Q6K} {
		shapes := [][]int{{37, 64}, {21, 160}}
		if dt == compute.Q6K {
			// Whole super-blocks: 212 bytes a row, 4 rows a chunk.
			shapes = [][]int{{22, 256}}
		}
		for _, shape := range shapes {
			n, k := shape[0], shape[1]
			data := optest.RandFloats(rng, n*k, 1)
			before := liveBuffers()
			w, err := g.Upload(dt, shape, data)
			if err != nil {
				t.Fatal(err)
			}
			words, scales, _ := compute.Pack(dt, shape, data)
			whole := compute.Unpack(dt, shape, words, scales)
			buffers := liveBuffers() - before
			perChunk := 1
			if dt == compute.Q8 || dt == compute.Q4 {
				perChunk = 2 // words and scales
			}
			if buffers < 2*perChunk {
				t.Fatalf("%v%v: %d buffer(s) under a 1024-byte limit, want it split", dt, shape, buffers)
			}
			name := fmt.Sprintf("%v%v in %d chunks", dt, shape, buffers/perChunk)
			optest.Exact(t, name+" Read", ctx.Read(w), whole)
			for _, m := range []int{1, 3, 11} {
				x := optest.RandFloats(rng, m*k, 1)
				want, bound := optest.RefLinear(x, m, k, whole, n, nil)
				optest.CheckSums(t, fmt.Sprintf("%s Linear m%d", name, m), ctx.Read(ctx.Linear(ctx.FromFloats([]int{m, k}, x), w, nil)), want, bound, k)
			}
			ids := []int32{0, int32(n - 1), 12, 13, 5}
			var rows []float32
			for _, id := range ids {
				rows = append(rows, whole[int(id)*k:(int(id)+1)*k]...)
			}
			optest.Exact(t, name+" Embedding", ctx.Read(ctx.Embedding(w, ids)), rows)
			optest.Exact(t, name+" Rows across chunks", ctx.Read(ctx.Rows(w, 5, n-9)), whole[5*k:(n-4)*k])
			optest.Exact(t, name+" Gather across chunks", ctx.Read(ctx.Gather(w, []int32{int32(n - 1), 0, 1})),
				append(append(slicesClone(whole[(n-1)*k:n*k]), whole[:k]...), whole[k:2*k]...))
			// Chunks split dimension 0: a view that changes it cannot be walked.
			rc := 32 // the view's rows: whole blocks, and for Q6K super-blocks
			if dt == compute.Q6K {
				rc = 2 * compute.SuperBlockSize
			}
			optest.MustPanic(t, name+" reshaped", func() {
				ctx.Linear(ctx.FromFloats([]int{1, rc}, make([]float32, rc)), ctx.Reshape(w, n*k/rc, rc), nil)
			}, "split", fmt.Sprint(n*k/rc))
			w.Release()
		}
	}
	if _, err := g.Upload(compute.F32, []int{2, 512}, make([]float32, 1024)); err == nil {
		t.Fatal("a row larger than the buffer limit uploaded without error")
	}
}

func slicesClone(s []float32) []float32 { return append([]float32(nil), s...) }

func TestProgramCache(t *testing.T) {
	dir := t.TempDir()
	run := func() []float32 {
		d, err := newDevice(glOptions{cacheDir: dir, debug: true})
		if err != nil {
			t.Fatalf("no OpenGL 4.3 context: %v", err)
		}
		be := compute.New(d)
		defer be.Close()
		ctx := be.NewContext()
		defer ctx.Close()
		return ctx.Read(ctx.LogSoftmax(ctx.FromFloats([]int{2, 3}, []float32{1, 2, 3, 0, 0, 0})))
	}
	first := run()
	files, _ := filepath.Glob(filepath.Join(dir, "*.bin"))
	_, be := testGL(t)
	formats := be.Info().Limits["program_binary_formats"]
	if formats > 0 && len(files) != 1 {
		t.Fatalf("%d program binary formats but %d cached binaries, want 1", formats, len(files))
	}
	if formats == 0 && len(files) != 0 {
		t.Fatalf("no program binary formats but %d cached binaries", len(files))
	}
	second := run() // from the cached binary where there is one
	optest.Exact(t, "log-softmax through the cache", second, first)
	for _, f := range files {
		// A corrupt binary is dropped and the kernel rebuilt.
		if err := os.WriteFile(f, []byte("not a program binary"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	optest.Exact(t, "log-softmax after a corrupt cache", run(), first)
}

func TestConcurrentContexts(t *testing.T) {
	_, b := testGL(t)
	w, err := b.Upload(compute.F16, []int{33, 64}, optest.RandFloats(rand.New(rand.NewPCG(1, 1)), 33*64, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Release()
	x := optest.RandFloats(rand.New(rand.NewPCG(2, 2)), 2*64, 1)
	ref := func() []float32 {
		c := b.NewContext()
		defer c.Close()
		return c.Read(c.Linear(c.FromFloats([]int{2, 64}, x), w, nil))
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for range 20 {
				c := b.NewContext()
				got := c.Read(c.SiLU(c.Linear(c.FromFloats([]int{2, 64}, x), c.Reshape(w, 33, 64), nil)))
				want := c.Read(c.SiLU(c.FromFloats([]int{2, 33}, ref)))
				c.Close()
				for i := range got {
					if got[i] != want[i] {
						errs <- fmt.Errorf("element %d: %v, want %v", i, got[i], want[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// pooledBytes returns the bytes of free buffers the pool holds, after the
// closures queued so far have run.
func pooledBytes(d *device) int {
	var n int
	d.call(func() { n = d.pooled })
	return n
}

func TestPoolAndRelease(t *testing.T) {
	d, b := newTestBackend(t, glOptions{cacheDir: "-"})
	c := b.NewContext()
	x := c.Zeros(1000)
	y := c.Scale(x, 2)
	c.Read(y)
	y.Release()
	if p := pooledBytes(d); p < 4096 {
		t.Fatalf("pool holds %d bytes after a Release, want the tensor's buffer", p)
	}
	c.Close()
	if p := pooledBytes(d); p < 2*4096 {
		t.Fatalf("pool holds %d bytes after Close, want the context's buffers", p)
	}
	// The next context reuses them.
	c2 := b.NewContext()
	defer c2.Close()
	var before int
	d.call(func() { before = len(d.live) })
	c2.Read(c2.Zeros(1000))
	var after int
	d.call(func() { after = len(d.live) })
	if after != before {
		t.Fatalf("a same-sized tensor allocated a new buffer (%d → %d live)", before, after)
	}
	// A result nobody reads still gets its buffer, and gives it back.
	c2.Scale(c2.Zeros(5000), 3).Release()
	if p := pooledBytes(d); p < 5000*4 {
		t.Fatalf("pool holds %d bytes after releasing an unread result", p)
	}
}

// TestViewLifetime checks that storage lives while any handle on it does:
// a view outlives its owner's Release and the close of the context that
// made the owner, and the buffer goes back to the pool with the last handle.
func TestViewLifetime(t *testing.T) {
	d, b := newTestBackend(t, glOptions{cacheDir: "-"})
	a, c := b.NewContext(), b.NewContext()
	defer c.Close()
	x := a.FromFloats([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	v := c.Reshape(x, 3, 2)
	w := a.Reshape(x, 6)
	x.Release()
	optest.Exact(t, "view after its owner's Release", c.Read(v), []float32{1, 2, 3, 4, 5, 6})
	a.Close() // drops w, the last handle a made
	optest.MustPanic(t, "a closed context's view", func() { c.Read(w) }, "after Release")
	optest.Exact(t, "view after the owner's context closed", c.Read(c.Scale(v, 2)), []float32{2, 4, 6, 8, 10, 12})
	before := pooledBytes(d)
	v.Release()
	if after := pooledBytes(d); after <= before {
		t.Fatalf("pool %d → %d bytes: storage not freed after its last handle was released", before, after)
	}
}
