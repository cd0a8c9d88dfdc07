// Package gl is Glimpse's OpenGL compute backend: the kernels of
// compute.Device as OpenGL 4.3 compute shaders (glsl/, embedded), run
// through a headless EGL context on Linux and a hidden GLFW window
// elsewhere. It is the only package of Glimpse with cgo and OpenGL.
package gl

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/go-gl/gl/v4.3-core/gl"

	"glimpse/compute"
)

// The GL device. One goroutine, locked to its OS thread, owns the OpenGL
// context and makes every GL call; the rest of the device hands it closures
// through a channel. Kernels are queued without waiting (the closures run
// in order), and only Upload, Read and Argmax wait for the GL thread. It
// never touches the process's main thread, so it lives beside Fyne's GLFW
// window in one process.
//
// The front (package compute) has checked every operand before a kernel
// runs; what this device still refuses are its own limits (a buffer larger
// than a shader may bind, a head size above the attention kernel's work
// group, tensors split over several buffers where a kernel takes one),
// panicking with the operation and the shapes as the front does.

// platformContext is the OS-specific part: a context current on the GL thread.
type platformContext interface {
	procAddress(name string) unsafe.Pointer
	name() string // "EGL device", "EGL surfaceless", "GLFW"
	destroy()
}

// glOptions tune a GL device; the zero value is what New uses.
type glOptions struct {
	maxBlock   int64  // lowers the buffer size limit for uploads (tests of split tensors)
	cacheDir   string // program binary cache; "" means os.UserCacheDir()/glimpse/shaders, "-" none
	noVariants bool   // portable kernels only
	debug      bool   // check glGetError after every queued closure
}

// New starts the OpenGL 4.3 compute backend. Where no such context can be
// made the error wraps compute.ErrUnavailable and names the reason.
//
// Faster kernel variants are picked from the driver's extensions; setting
// the environment variable GLIMPSE_GL_PORTABLE=1 keeps to the portable
// kernels (to compare results, or to work around a driver bug).
func New() (compute.Backend, error) {
	d, err := newDevice(glOptions{noVariants: os.Getenv("GLIMPSE_GL_PORTABLE") != ""})
	if err != nil {
		return nil, err
	}
	return compute.New(d), nil
}

// device implements compute.Device and the optional compute.ArgmaxKernel.
type device struct {
	work    chan func()
	exited  chan struct{}
	closed  atomic.Bool
	failure atomic.Pointer[string] // first panic on the GL thread
	opts    glOptions

	qmu     sync.Mutex
	pending []func() // closures not yet handed to the GL thread

	info        compute.Info
	maxBlock    int64 // bytes one buffer (shader storage block) may hold
	bindings    int64 // storage blocks a compute shader may bind
	uploadBlock int64 // the limit uploads split at (maxBlock but in tests)

	// Everything below is touched only on the GL thread.
	plat       platformContext
	variant    shaderVariant
	programs   map[string]uint32
	pool       map[int][]*glBuffer // free buffers by size class
	pooled     int                 // bytes in pool
	live       map[*glBuffer]struct{}
	epoch      int64 // incremented by every memory barrier
	binFormats int32
	cacheDir   string
	renderer   string
	version    string
	memory     memoryExts          // the driver's memory-info extensions
	counts     compute.Counts      // the work queued so far (Counter)
	rope       map[ropeKey]*glSlot // RoPE's (cos, sin) tables, kept on the device
	ropeCap    map[ropeKey]int     // positions each table covers
	ropePos    *glSlot             // the last RoPE call's positions …
	ropePosVal []int32             // … and their values, reused while they repeat
}

// glBuffer is one GL buffer object. The hazard marks say in which barrier
// epoch a shader last wrote or read it.
type glBuffer struct {
	id          uint32
	size        int // bytes allocated
	wrote, read int64
}

// glSlot is a tensor's claim on a buffer. Context tensors get their buffer
// on the GL thread when the first closure that uses them runs (ensure),
// so allocating a result costs the caller nothing.
type glSlot struct {
	buf    *glBuffer
	bytes  int  // bytes the tensor uses
	pooled bool // from and back to the pool (context tensors)
}

// glChunk is a run of rows of a tensor in one buffer (plus its Q8/Q4 scales).
type glChunk struct {
	data, scales *glSlot
	row0, rows   int // rows along dimension 0
}

// glStorage is the device's compute.Buffer: one chunk, or for an upload
// above the buffer size limit several, each a run of rows along dimension 0.
type glStorage struct {
	chunks []glChunk
	rows   int // the rows of dimension 0 the chunks split
}

var (
	_ compute.Device       = (*device)(nil)
	_ compute.ArgmaxKernel = (*device)(nil)
	_ compute.Counter      = (*device)(nil)
)

// newDevice starts the GL thread and makes its context.
func newDevice(opts glOptions) (*device, error) {
	b := &device{
		work:     make(chan func(), 512),
		exited:   make(chan struct{}),
		opts:     opts,
		programs: map[string]uint32{},
		pool:     map[int][]*glBuffer{},
		live:     map[*glBuffer]struct{}{},
		rope:     map[ropeKey]*glSlot{},
		ropeCap:  map[ropeKey]int{},
	}
	ready := make(chan error)
	go b.loop(ready)
	if err := <-ready; err != nil {
		return nil, fmt.Errorf("%w: %v", compute.ErrUnavailable, err)
	}
	return b, nil
}

// loop is the GL thread.
func (b *device) loop(ready chan<- error) {
	runtime.LockOSThread()
	defer close(b.exited)
	plat, err := newPlatformContext()
	if err != nil {
		ready <- err
		return
	}
	b.plat = plat
	if err := b.setup(); err != nil {
		plat.destroy()
		ready <- err
		return
	}
	ready <- nil
	for f := range b.work {
		b.runOne(f)
	}
}

func (b *device) runOne(f func()) {
	defer func() {
		if r := recover(); r != nil {
			s := fmt.Sprint(r)
			b.failure.CompareAndSwap(nil, &s)
		}
	}()
	f()
	if b.opts.debug {
		if e := gl.GetError(); e != gl.NO_ERROR {
			panic(fmt.Sprintf("gl: GL error 0x%x", e))
		}
	}
}

// submit queues f on the GL thread without waiting. Closures collect in a
// batch that goes to the GL thread as one channel message when it is full
// or when someone waits (call): a channel hand-off to a locked thread costs
// microseconds, more than queueing a small kernel.
func (b *device) submit(f func()) {
	b.qmu.Lock()
	defer b.qmu.Unlock()
	if b.closed.Load() {
		panic("gl: device used after Close")
	}
	b.pending = append(b.pending, f)
	if len(b.pending) >= submitBatch {
		b.flushLocked()
	}
}

// submitBatch is how many queued closures travel to the GL thread together.
const submitBatch = 32

func (b *device) flushLocked() {
	if len(b.pending) == 0 {
		return
	}
	batch := b.pending
	b.pending = make([]func(), 0, submitBatch)
	b.work <- func() {
		for _, f := range batch {
			b.runOne(f)
		}
	}
}

// call runs f on the GL thread after everything queued before it and waits
// for it. A panic on the GL thread (in f or in earlier queued work) panics
// here, in the caller's goroutine.
func (b *device) call(f func()) {
	done := make(chan struct{})
	b.qmu.Lock()
	if b.closed.Load() {
		b.qmu.Unlock()
		panic("gl: device used after Close")
	}
	b.pending = append(b.pending, func() {
		defer close(done)
		f()
	})
	b.flushLocked()
	b.qmu.Unlock()
	<-done
	if p := b.failure.Load(); p != nil {
		panic("gl: " + *p)
	}
}

// setup loads the GL functions and reads the limits and extensions.
func (b *device) setup() error {
	if err := gl.InitWithProcAddrFunc(b.plat.procAddress); err != nil {
		return fmt.Errorf("loading OpenGL functions: %v", err)
	}
	var major, minor int32
	gl.GetIntegerv(gl.MAJOR_VERSION, &major)
	gl.GetIntegerv(gl.MINOR_VERSION, &minor)
	b.renderer = gl.GoStr(gl.GetString(gl.RENDERER))
	b.version = gl.GoStr(gl.GetString(gl.VERSION))
	if major < 4 || (major == 4 && minor < 3) {
		return fmt.Errorf("OpenGL %d.%d on %s; compute shaders need 4.3", major, minor, b.renderer)
	}
	geti := func(p uint32) int64 {
		var v int64
		gl.GetInteger64v(p, &v)
		return v
	}
	var wgCount int32
	gl.GetIntegeri_v(gl.MAX_COMPUTE_WORK_GROUP_COUNT, 0, &wgCount)
	limits := map[string]int64{
		"max_ssbo_bytes":         geti(gl.MAX_SHADER_STORAGE_BLOCK_SIZE),
		"max_shared_bytes":       geti(gl.MAX_COMPUTE_SHARED_MEMORY_SIZE),
		"max_invocations":        geti(gl.MAX_COMPUTE_WORK_GROUP_INVOCATIONS),
		"max_ssbo_bindings":      geti(gl.MAX_COMPUTE_SHADER_STORAGE_BLOCKS),
		"max_work_group_count_x": int64(wgCount),
		"program_binary_formats": geti(gl.NUM_PROGRAM_BINARY_FORMATS),
	}
	if limits["max_ssbo_bindings"] < 6 || limits["max_shared_bytes"] < 16384 || limits["max_invocations"] < 256 {
		return fmt.Errorf("%s is below the limits the kernels need (%v)", b.renderer, limits)
	}
	b.binFormats = int32(limits["program_binary_formats"])
	b.maxBlock = limits["max_ssbo_bytes"]
	b.bindings = limits["max_ssbo_bindings"]
	b.uploadBlock = b.maxBlock
	if b.opts.maxBlock > 0 && b.opts.maxBlock < b.maxBlock {
		b.uploadBlock = b.opts.maxBlock
	}
	var n int32
	gl.GetIntegerv(gl.NUM_EXTENSIONS, &n)
	exts := map[string]bool{}
	for i := int32(0); i < n; i++ {
		exts[gl.GoStr(gl.GetStringi(gl.EXTENSIONS, uint32(i)))] = true
	}
	b.memory = memoryExtsOf(exts)
	b.memory.query(limits)
	if !b.opts.noVariants {
		b.variant.half = exts["GL_NV_gpu_shader5"]
		if exts["GL_KHR_shader_subgroup"] {
			const (
				supportedStages   = 0x9535 // GL_SUBGROUP_SUPPORTED_STAGES_KHR
				supportedFeatures = 0x9536 // GL_SUBGROUP_SUPPORTED_FEATURES_KHR
				computeBit        = 0x20   // GL_COMPUTE_SHADER_BIT
				arithmeticBit     = 0x4    // GL_SUBGROUP_FEATURE_ARITHMETIC_BIT_KHR
			)
			var stages, feats int32
			gl.GetIntegerv(supportedStages, &stages)
			gl.GetIntegerv(supportedFeatures, &feats)
			b.variant.subgroup = stages&computeBit != 0 && feats&arithmeticBit != 0
		}
	}
	switch b.opts.cacheDir {
	case "-":
	case "":
		if d, err := os.UserCacheDir(); err == nil {
			b.cacheDir = filepath.Join(d, "glimpse", "shaders")
		}
	default:
		b.cacheDir = b.opts.cacheDir
	}
	if b.binFormats == 0 {
		b.cacheDir = ""
	}
	b.info = compute.Info{
		Name:    "gl",
		Device:  b.renderer,
		Version: b.version,
		Limits:  limits,
		Extra: map[string]string{
			"vendor":   gl.GoStr(gl.GetString(gl.VENDOR)),
			"glsl":     gl.GoStr(gl.GetString(gl.SHADING_LANGUAGE_VERSION)),
			"platform": b.plat.name(),
		},
	}
	if b.cacheDir != "" {
		b.info.Extra["shader_cache"] = b.cacheDir
	}
	b.info.Variants = b.variantNames()
	return nil
}

func (b *device) variantNames() []string {
	v := []string{"portable"}
	if b.variant.half {
		v = append(v, "nv_gpu_shader5")
	}
	if b.variant.subgroup {
		v = append(v, "subgroup")
	}
	return v
}

// Info describes the GL context, its limits and the kernel variants in use.
func (b *device) Info() compute.Info {
	var info compute.Info
	b.call(func() {
		info = b.info
		info.Variants = b.variantNames()
		info.VariantFailures = append([]string(nil), b.info.VariantFailures...)
		info.Limits = map[string]int64{}
		for k, v := range b.info.Limits {
			info.Limits[k] = v
		}
		b.memory.query(info.Limits) // free memory changes as buffers come and go
		info.Extra = map[string]string{}
		for k, v := range b.info.Extra {
			info.Extra[k] = v
		}
	})
	return info
}

// Close frees every buffer and program and ends the GL thread.
func (b *device) Close() error {
	b.qmu.Lock()
	if b.closed.Load() {
		b.qmu.Unlock()
		return nil
	}
	done := make(chan struct{})
	b.pending = append(b.pending, func() {
		defer close(done)
		for buf := range b.live {
			gl.DeleteBuffers(1, &buf.id)
		}
		for _, p := range b.programs {
			gl.DeleteProgram(p)
		}
		b.live, b.pool, b.programs = nil, nil, nil
		b.plat.destroy()
	})
	b.flushLocked()
	b.closed.Store(true)
	close(b.work)
	b.qmu.Unlock()
	<-done
	<-b.exited
	return nil
}

// --- buffers (GL thread) ---

// sizeClass rounds a pooled allocation up so that freed buffers are reused
// by requests of similar size: steps of 1/8 of the power of two below.
func sizeClass(n int) int {
	if n <= 4096 {
		return 4096
	}
	step := 1
	for step*16 <= n {
		step *= 2
	}
	return (n + step - 1) / step * step
}

// maxPooled is how many bytes of free buffers the pool keeps for reuse.
const maxPooled = 1 << 30

// alloc gives s a buffer of at least s.bytes: from the pool when pooled.
func (b *device) alloc(s *glSlot) {
	size := s.bytes
	if size == 0 {
		size = 4
	}
	if s.pooled {
		// Rounding up must not pass the block size limit (2 GiB − 1 on
		// NVIDIA): a buffer larger than a shader may bind is no use.
		if c := sizeClass(size); int64(c) <= b.maxBlock {
			size = c
		}
		if l := b.pool[size]; len(l) > 0 {
			s.buf = l[len(l)-1]
			b.pool[size] = l[:len(l)-1]
			b.pooled -= size
			return
		}
	}
	buf := &glBuffer{size: size, wrote: -1, read: -1}
	gl.GenBuffers(1, &buf.id)
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, buf.id)
	gl.BufferData(gl.SHADER_STORAGE_BUFFER, size, nil, gl.DYNAMIC_COPY)
	b.live[buf] = struct{}{}
	s.buf = buf
}

// ensure gives s its buffer if it has none yet (GL thread).
func (b *device) ensure(s *glSlot) {
	if s.buf == nil {
		b.alloc(s)
	}
}

func (b *device) free(s *glSlot) {
	if s == nil || s.buf == nil {
		return
	}
	buf := s.buf
	s.buf = nil
	if s.pooled && b.pooled+buf.size <= maxPooled {
		b.pool[buf.size] = append(b.pool[buf.size], buf)
		b.pooled += buf.size
		return
	}
	delete(b.live, buf)
	gl.DeleteBuffers(1, &buf.id)
}

// Free queues the return of a storage's buffers (to the pool for context
// tensors) after the kernels already queued, which may still use them.
func (b *device) Free(buf compute.Buffer) {
	st := buf.(*glStorage)
	b.qmu.Lock()
	defer b.qmu.Unlock()
	if b.closed.Load() {
		return // Close freed every buffer
	}
	b.pending = append(b.pending, func() {
		for _, c := range st.chunks {
			b.free(c.data)
			b.free(c.scales)
		}
	})
}

// barrier makes earlier shader writes visible to later shaders and buffer
// commands, and starts a new hazard epoch.
func (b *device) barrier() {
	gl.MemoryBarrier(gl.SHADER_STORAGE_BARRIER_BIT | gl.BUFFER_UPDATE_BARRIER_BIT)
	b.epoch++
	b.counts.Barriers++
}

// uploaded counts one host-to-device transfer of n bytes (GL thread).
func (b *device) uploaded(n int) {
	b.counts.Uploads++
	b.counts.UploadBytes += int64(n)
}

// readBack counts one device-to-host transfer of n bytes (GL thread).
func (b *device) readBack(n int) {
	b.counts.Readbacks++
	b.counts.ReadbackBytes += int64(n)
}

// Counts returns the work queued so far: it waits for the GL thread to
// take everything queued before it, which is when the counting happens.
func (b *device) Counts() compute.Counts {
	var c compute.Counts
	b.call(func() { c = b.counts })
	return c
}

// beforeTransfer issues a barrier when a buffer command (copy, read, clear,
// upload) touches a buffer a shader wrote or read since the last barrier.
func (b *device) beforeTransfer(bufs ...*glBuffer) {
	for _, buf := range bufs {
		if buf.wrote == b.epoch || buf.read == b.epoch {
			b.barrier()
			return
		}
	}
}

// --- programs (GL thread) ---

// program returns the compiled kernel, compiling it (or loading its cached
// binary) on first use. A fast variant that fails to compile is turned off
// for good and the kernel is compiled portable.
func (b *device) program(name string, defines []string) uint32 {
	key := name + "|" + strings.Join(defines, ",")
	if p, ok := b.programs[key]; ok {
		return p
	}
	p, err := b.buildProgram(name, defines, b.variant)
	if err != nil && (b.variant.half || b.variant.subgroup) {
		// Recorded, not only logged: a GPU that quietly runs the portable
		// kernels passes every test while running far below its speed.
		b.info.VariantFailures = append(b.info.VariantFailures,
			fmt.Sprintf("%s %v %s: %s", name, defines, strings.Join(b.variantNames()[1:], "+"), firstLine(err.Error())))
		b.variant = shaderVariant{}
		b.info.Extra["variant_error"] = firstLine(err.Error())
		// Programs built with the old variant keep working; new ones are portable.
		p, err = b.buildProgram(name, defines, b.variant)
	}
	if err != nil {
		panic(fmt.Sprintf("gl: kernel %s %v: %v", name, defines, err))
	}
	b.programs[key] = p
	return p
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func (b *device) buildProgram(name string, defines []string, v shaderVariant) (uint32, error) {
	src, err := shaderSource(name, defines, v)
	if err != nil {
		return 0, err
	}
	var cachePath string
	if b.cacheDir != "" {
		h := sha256.Sum256([]byte(src + "\x00" + b.renderer + "\x00" + b.version))
		cachePath = filepath.Join(b.cacheDir, hex.EncodeToString(h[:16])+".bin")
		if p, ok := b.loadBinary(cachePath); ok {
			return p, nil
		}
	}
	sh := gl.CreateShader(gl.COMPUTE_SHADER)
	defer gl.DeleteShader(sh)
	cs, freeStr := gl.Strs(src + "\x00")
	gl.ShaderSource(sh, 1, cs, nil)
	freeStr()
	gl.CompileShader(sh)
	var ok int32
	gl.GetShaderiv(sh, gl.COMPILE_STATUS, &ok)
	if ok == 0 {
		return 0, fmt.Errorf("compile: %s", shaderLog(sh, false))
	}
	p := gl.CreateProgram()
	if cachePath != "" {
		gl.ProgramParameteri(p, gl.PROGRAM_BINARY_RETRIEVABLE_HINT, gl.TRUE)
	}
	gl.AttachShader(p, sh)
	gl.LinkProgram(p)
	gl.DetachShader(p, sh)
	gl.GetProgramiv(p, gl.LINK_STATUS, &ok)
	if ok == 0 {
		msg := shaderLog(p, true)
		gl.DeleteProgram(p)
		return 0, fmt.Errorf("link: %s", msg)
	}
	if cachePath != "" {
		b.saveBinary(p, cachePath)
	}
	return p, nil
}

func shaderLog(obj uint32, program bool) string {
	var n int32
	if program {
		gl.GetProgramiv(obj, gl.INFO_LOG_LENGTH, &n)
	} else {
		gl.GetShaderiv(obj, gl.INFO_LOG_LENGTH, &n)
	}
	if n <= 0 {
		return "(no log)"
	}
	buf := make([]byte, n+1)
	if program {
		gl.GetProgramInfoLog(obj, n, nil, &buf[0])
	} else {
		gl.GetShaderInfoLog(obj, n, nil, &buf[0])
	}
	return strings.TrimRight(string(buf), "\x00\n")
}

// The cache file holds the 4-byte binary format followed by the binary.
func (b *device) loadBinary(path string) (uint32, bool) {
	data, err := os.ReadFile(path)
	if err != nil || len(data) < 8 {
		return 0, false
	}
	format := uint32(data[0]) | uint32(data[1])<<8 | uint32(data[2])<<16 | uint32(data[3])<<24
	p := gl.CreateProgram()
	gl.ProgramBinary(p, format, unsafe.Pointer(&data[4]), int32(len(data)-4))
	var ok int32
	gl.GetProgramiv(p, gl.LINK_STATUS, &ok)
	if ok == 0 {
		// A driver update invalidates binaries; drop the stale file. The
		// failed load may have raised GL errors (an unknown format).
		for gl.GetError() != gl.NO_ERROR {
		}
		gl.DeleteProgram(p)
		os.Remove(path)
		return 0, false
	}
	return p, true
}

func (b *device) saveBinary(p uint32, path string) {
	var n int32
	gl.GetProgramiv(p, gl.PROGRAM_BINARY_LENGTH, &n)
	if n <= 0 {
		return
	}
	data := make([]byte, 4+int(n))
	var format uint32
	var got int32
	gl.GetProgramBinary(p, n, &got, &format, unsafe.Pointer(&data[4]))
	if got <= 0 {
		return
	}
	data = data[:4+int(got)]
	data[0], data[1], data[2], data[3] = byte(format), byte(format>>8), byte(format>>16), byte(format>>24)
	// The cache is an optimisation: failing to write it is not an error.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if os.WriteFile(tmp, data, 0o644) == nil {
		if os.Rename(tmp, path) != nil {
			os.Remove(tmp)
		}
	}
}

// --- dispatch (GL thread) ---

// kernel is a dispatch: a program, its buffer bindings (index = binding
// point; nil entries are unbound), which bindings it writes, its uniforms
// in location order (int or float32) and its grid. temps are pooled
// scratch buffers (split-K partial sums) whose last user this dispatch is:
// they go back to the pool once it is queued, as tempSlot's do.
type kernel struct {
	name    string
	defines []string
	binds   []*glSlot
	writes  uint32 // bit i: binding i is written
	args    []any
	groups  [3]uint32
	temps   []*glSlot
}

func (b *device) dispatch(k *kernel) {
	p := b.program(k.name, k.defines)
	need := false
	for i, s := range k.binds {
		if s == nil {
			continue
		}
		b.ensure(s)
		if k.writes&(1<<i) != 0 {
			need = need || s.buf.wrote == b.epoch || s.buf.read == b.epoch
		} else {
			need = need || s.buf.wrote == b.epoch
		}
	}
	if need {
		b.barrier()
	}
	gl.UseProgram(p)
	for i, s := range k.binds {
		if s == nil {
			continue
		}
		gl.BindBufferBase(gl.SHADER_STORAGE_BUFFER, uint32(i), s.buf.id)
		if k.writes&(1<<i) != 0 {
			s.buf.wrote = b.epoch
		} else {
			s.buf.read = b.epoch
		}
	}
	for i, a := range k.args {
		switch v := a.(type) {
		case int:
			gl.Uniform1i(int32(i), int32(v))
		case float32:
			gl.Uniform1f(int32(i), v)
		case nil:
		default:
			panic(fmt.Sprintf("gl: uniform %d of kernel %s has type %T", i, k.name, a))
		}
	}
	gl.DispatchCompute(k.groups[0], k.groups[1], k.groups[2])
	b.counts.Dispatches++
	for _, s := range k.temps {
		b.free(s)
	}
}

// grid spreads n work groups over x and y (at most 65535 along x).
func grid(n int) [3]uint32 {
	if n < 1 {
		n = 1
	}
	if n <= 65535 {
		return [3]uint32{uint32(n), 1, 1}
	}
	y := (n + 65534) / 65535
	return [3]uint32{uint32((n + y - 1) / y), uint32(y), 1}
}

// strideGrid is the grid of grid-stride loops over n elements with
// work groups of wg: enough groups to cover n, capped.
func strideGrid(n, wg int) [3]uint32 {
	g := (n + wg - 1) / wg
	if g > 4096 {
		g = 4096
	}
	return grid(g)
}

// --- uploads ---

// rowsWordAligned reports whether rows of rowElems elements of dt start on
// 32-bit word boundaries.
func rowsWordAligned(dt compute.DType, rowElems int) bool {
	return rowElems%elemsPerWord(dt) == 0
}

// maxChunkElems keeps element indices inside the shaders' 32-bit ints.
const maxChunkElems = 1 << 30

// chunkRows picks how many rows of dimension 0 go in one buffer so that
// every buffer stays below the block size limit, chunks start on word
// boundaries, and Q8/Q4 scales split with them.
func (b *device) chunkRows(dt compute.DType, shape []int) (int, error) {
	n := compute.NumElements(shape)
	rows := 1
	if len(shape) > 0 {
		rows = shape[0]
	}
	if rows == 0 || n == 0 {
		return max(rows, 1), nil
	}
	rowElems := n / rows
	bytes := int64(compute.PackedWords(dt, n)) * 4
	if bytes <= b.uploadBlock && n <= maxChunkElems {
		return rows, nil
	}
	rowBytes := float64(rowElems) * map[compute.DType]float64{compute.F32: 4, compute.F16: 2, compute.BF16: 2, compute.Q8: 1, compute.Q4: 0.5, compute.Q4K: 4.0 * compute.Q4KWords / compute.SuperBlockSize,
		compute.Q6K: 4.0 * compute.Q6KWords / compute.SuperBlockSize}[dt]
	per := int(float64(b.uploadBlock) / rowBytes)
	per = min(per, maxChunkElems/max(rowElems, 1))
	// Rows must start on word boundaries: with an odd row length of F16
	// (two per word) chunks hold an even number of rows, and so on.
	if !rowsWordAligned(dt, rowElems) {
		per -= per % 8
	}
	if per < 1 {
		return 0, fmt.Errorf("a row of %d %v elements does not fit in one GPU buffer of %d bytes", rowElems, dt, b.uploadBlock)
	}
	return per, nil
}

// Upload copies packed words (and scales) into new device buffers, split
// by rows across several when they exceed the block size limit, and waits
// for the copy, so that the caller may reuse its slices.
func (b *device) Upload(dt compute.DType, shape []int, words []uint32, scales []float32) (compute.Buffer, error) {
	per, err := b.chunkRows(dt, shape)
	if err != nil {
		return nil, fmt.Errorf("upload %v%v: %w", dt, shape, err)
	}
	n := compute.NumElements(shape)
	rows := 1
	if len(shape) > 0 {
		rows = shape[0]
	}
	rowElems := 0
	if rows > 0 {
		rowElems = n / rows
	}
	st := &glStorage{rows: rows}
	for r0 := 0; r0 < max(rows, 1); r0 += per {
		nr := min(per, rows-r0)
		e0, e1 := r0*rowElems, (r0+nr)*rowElems
		if rows <= per {
			e0, e1 = 0, n
		}
		w0, w1 := compute.PackedWords(dt, e0), compute.PackedWords(dt, e1)
		c := glChunk{row0: r0, rows: nr, data: &glSlot{bytes: 4 * (w1 - w0)}}
		var sc []float32
		if dt == compute.Q8 || dt == compute.Q4 {
			sc = scales[e0/compute.BlockSize : e1/compute.BlockSize]
			c.scales = &glSlot{bytes: 4 * len(sc)}
		}
		ws := words[w0:w1]
		var glErr uint32
		b.call(func() {
			for gl.GetError() != gl.NO_ERROR {
			}
			b.alloc(c.data)
			if len(ws) > 0 {
				gl.BufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*len(ws), unsafe.Pointer(&ws[0]))
				b.uploaded(4 * len(ws))
			}
			if c.scales != nil {
				b.alloc(c.scales)
				if len(sc) > 0 {
					gl.BufferSubData(gl.SHADER_STORAGE_BUFFER, 0, 4*len(sc), unsafe.Pointer(&sc[0]))
					b.uploaded(4 * len(sc))
				}
			}
			glErr = gl.GetError()
		})
		st.chunks = append(st.chunks, c)
		if glErr != gl.NO_ERROR {
			b.Free(st)
			if glErr == gl.OUT_OF_MEMORY {
				return nil, fmt.Errorf("upload %v%v: out of GPU memory", dt, shape)
			}
			return nil, fmt.Errorf("upload %v%v: OpenGL error 0x%x", dt, shape, glErr)
		}
		if rows == 0 {
			break
		}
	}
	return st, nil
}
