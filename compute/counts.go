package compute

import (
	"sync/atomic"
)

// Counts are a device's work since it started, counted as it is queued:
// the numbers that decide a decoding step's speed on a GPU before any
// arithmetic does (every dispatch, barrier and host round trip costs
// microseconds however small the tensors). They are deterministic for a
// given sequence of operations, so tests may assert them where timings
// are never asserted. Take two snapshots and subtract (Sub) to count a
// stretch of work.
type Counts struct {
	Dispatches    int64 `json:"dispatches"`     // kernel launches (on the CPU: kernel calls)
	Barriers      int64 `json:"barriers"`       // memory barriers between dependent kernels (GPU only)
	Uploads       int64 `json:"uploads"`        // host-to-device data transfers
	UploadBytes   int64 `json:"upload_bytes"`   // bytes they carried
	Copies        int64 `json:"copies"`         // device-to-device buffer copies
	Clears        int64 `json:"clears"`         // buffers zeroed
	Readbacks     int64 `json:"readbacks"`      // device-to-host transfers, each a synchronisation
	ReadbackBytes int64 `json:"readback_bytes"` // bytes they carried
}

// Sub returns c − o, field by field: the work between two snapshots.
func (c Counts) Sub(o Counts) Counts {
	return Counts{c.Dispatches - o.Dispatches, c.Barriers - o.Barriers, c.Uploads - o.Uploads,
		c.UploadBytes - o.UploadBytes, c.Copies - o.Copies, c.Clears - o.Clears,
		c.Readbacks - o.Readbacks, c.ReadbackBytes - o.ReadbackBytes}
}

// Add returns c + o, field by field.
func (c Counts) Add(o Counts) Counts {
	return Counts{c.Dispatches + o.Dispatches, c.Barriers + o.Barriers, c.Uploads + o.Uploads,
		c.UploadBytes + o.UploadBytes, c.Copies + o.Copies, c.Clears + o.Clears,
		c.Readbacks + o.Readbacks, c.ReadbackBytes + o.ReadbackBytes}
}

// Counter is an optional Device interface: a device that counts its own
// work (the GL device counts dispatches per weight chunk, barriers and its
// internal uploads, which the front cannot see). Counts must include
// everything queued before the call.
type Counter interface {
	Counts() Counts
}

// CountsOf returns the work b's device has done so far. Devices without
// their own Counter (the CPU) report what the front counts of their calls:
// one dispatch per kernel call, Write as an upload, each Copy call as one
// copy, Read as a readback; they have no barriers.
func CountsOf(b Backend) Counts {
	fb, ok := b.(*backend)
	if !ok {
		return Counts{}
	}
	if c, ok := fb.dev.(Counter); ok {
		return c.Counts()
	}
	return fb.calls.snapshot()
}

// callCounts is the front's count of a device's calls, for devices that do
// not count their own work. Atomic: contexts of one backend run
// concurrently.
type callCounts struct {
	dispatches, uploads, uploadBytes, copies, clears, readbacks, readbackBytes atomic.Int64
}

func (c *callCounts) snapshot() Counts {
	return Counts{Dispatches: c.dispatches.Load(), Uploads: c.uploads.Load(), UploadBytes: c.uploadBytes.Load(),
		Copies: c.copies.Load(), Clears: c.clears.Load(), Readbacks: c.readbacks.Load(), ReadbackBytes: c.readbackBytes.Load()}
}

// countedDevice counts the calls of a device that has no Counter of its
// own, so that every engine reports the same Counts.
type countedDevice struct {
	Device
	n *callCounts
}

func (d countedDevice) Write(dst Operand, data []float32) {
	d.n.uploads.Add(1)
	d.n.uploadBytes.Add(4 * int64(len(data)))
	d.Device.Write(dst, data)
}

func (d countedDevice) Clear(dst Operand) {
	d.n.clears.Add(1)
	d.Device.Clear(dst)
}

func (d countedDevice) Read(src Operand) []float32 {
	v := d.Device.Read(src)
	d.n.readbacks.Add(1)
	d.n.readbackBytes.Add(4 * int64(len(v)))
	return v
}

func (d countedDevice) Copy(dst, src Operand, spans []Span) {
	d.n.copies.Add(1)
	d.Device.Copy(dst, src, spans)
}

func (d countedDevice) Linear(out, x, w, bias Operand) {
	d.n.dispatches.Add(1)
	d.Device.Linear(out, x, w, bias)
}

func (d countedDevice) MatMul(out, a, b Operand, transB bool) {
	d.n.dispatches.Add(1)
	d.Device.MatMul(out, a, b, transB)
}

func (d countedDevice) Add(out, a, b Operand) {
	d.n.dispatches.Add(1)
	d.Device.Add(out, a, b)
}

func (d countedDevice) Scale(out, x Operand, s float32) {
	d.n.dispatches.Add(1)
	d.Device.Scale(out, x, s)
}

func (d countedDevice) Activation(act Activation, out, x Operand) {
	d.n.dispatches.Add(1)
	d.Device.Activation(act, out, x)
}

func (d countedDevice) Gated(act Activation, out, gate, up Operand) {
	d.n.dispatches.Add(1)
	d.Device.Gated(act, out, gate, up)
}

func (d countedDevice) LayerNorm(out, x, w, b Operand, eps float32) {
	d.n.dispatches.Add(1)
	d.Device.LayerNorm(out, x, w, b, eps)
}

func (d countedDevice) RMSNorm(out, x, w Operand, eps float32) {
	d.n.dispatches.Add(1)
	d.Device.RMSNorm(out, x, w, eps)
}

func (d countedDevice) LogSoftmax(out, x Operand) {
	d.n.dispatches.Add(1)
	d.Device.LogSoftmax(out, x)
}

func (d countedDevice) Attention(out, q, k, v, mask, bias, rows Operand, p AttentionParams) {
	d.n.dispatches.Add(1)
	d.Device.Attention(out, q, k, v, mask, bias, rows, p)
}

func (d countedDevice) LinearAdd(out, x, w, bias, res Operand) {
	d.n.dispatches.Add(1)
	d.Device.LinearAdd(out, x, w, bias, res)
}

func (d countedDevice) GatedLinear(act Activation, out, x, norm Operand, eps float32, gate, up Operand) {
	d.n.dispatches.Add(1)
	d.Device.GatedLinear(act, out, x, norm, eps, gate, up)
}

func (d countedDevice) Linears(out, x, norm Operand, eps float32, ws []Operand) {
	d.n.dispatches.Add(1)
	d.Device.Linears(out, x, norm, eps, ws)
}

func (d countedDevice) SplitQKV(out, qkv, kc, vc, pos Operand, p SplitQKVParams) {
	d.n.dispatches.Add(1)
	d.Device.SplitQKV(out, qkv, kc, vc, pos, p)
}

func (d countedDevice) RoPE(out, x Operand, pos []int32, heads int, theta float32) {
	d.n.dispatches.Add(1)
	d.Device.RoPE(out, x, pos, heads, theta)
}

func (d countedDevice) Embedding(out, table Operand, ids []int32) {
	d.n.dispatches.Add(1)
	d.Device.Embedding(out, table, ids)
}

func (d countedDevice) Patches(out, img Operand, p int) {
	d.n.dispatches.Add(1)
	d.Device.Patches(out, img, p)
}

// countedArgmax counts a device argmax: one dispatch and the indices read.
type countedArgmax struct {
	k ArgmaxKernel
	n *callCounts
}

func (a countedArgmax) Argmax(x Operand) []int32 {
	r := a.k.Argmax(x)
	a.n.dispatches.Add(1)
	a.n.readbacks.Add(1)
	a.n.readbackBytes.Add(4 * int64(len(r)))
	return r
}
