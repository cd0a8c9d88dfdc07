package compute

import (
	"container/heap"
	"math"

	"glimpse/compute/internal/parallel"
)

// Work done on the host for every backend: the RoPE angle table (so that
// all backends rotate by the same float32 angles) and the reductions that
// return Go values when the device has no kernel for them.

// RoPETable returns the (cos, sin) pairs [len(pos), d/2, 2] of RoPE for
// head size d and base theta as transformers computes them: inv_freq and
// pos·inv_freq in float32, then the cosine and sine of that float32 angle,
// each rounded once. Every Device.RoPE rotates by these values; a device
// builds the table from it (the CPU per call, the GPU once per position
// range, kept on the device).
func RoPETable(pos []int32, d int, theta float32) []float32 {
	half := d / 2
	invFreq := make([]float32, half)
	for i := range invFreq {
		e := float32(2*i) / float32(d)
		invFreq[i] = 1 / float32(math.Pow(float64(theta), float64(e)))
	}
	cs := make([]float32, len(pos)*half*2)
	// A prompt's table is rows × D/2 sines and cosines: worth the cores.
	parallel.For(len(pos), max(1, 2048/max(half, 1)), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			pf := float32(pos[r])
			for i, f := range invFreq {
				a := float64(float32(pf * f))
				cs[(r*half+i)*2] = float32(math.Cos(a))
				cs[(r*half+i)*2+1] = float32(math.Sin(a))
			}
		}
	})
	return cs
}

// hostArgmax is Argmax on host values: the first index of each row's largest
// value, never a NaN over a number.
func hostArgmax(data []float32, rows, cols int) []int32 {
	out := make([]int32, rows)
	for r := range out {
		row := data[r*cols : (r+1)*cols]
		best := 0
		for i, v := range row {
			if v > row[best] || (row[best] != row[best] && v == v) {
				best = i
			}
		}
		out[r] = int32(best)
	}
	return out
}

// topHeap is a min-heap of candidate (value, index) pairs ordered so that
// the root is the worst of the current top k: the smallest value, and among
// equal values the highest index.
type topHeap struct {
	v []float32
	i []int32
}

func (h *topHeap) Len() int { return len(h.v) }
func (h *topHeap) Less(a, b int) bool {
	return worse(h.v[a], h.i[a], h.v[b], h.i[b])
}
func (h *topHeap) Swap(a, b int) {
	h.v[a], h.v[b] = h.v[b], h.v[a]
	h.i[a], h.i[b] = h.i[b], h.i[a]
}
func (h *topHeap) Push(x any) { panic("topHeap is fixed-size") }
func (h *topHeap) Pop() any   { panic("topHeap is fixed-size") }

// worse reports whether (v1, i1) ranks below (v2, i2): smaller value, or the
// same value at a higher index. NaN ranks below every number.
func worse(v1 float32, i1 int32, v2 float32, i2 int32) bool {
	n1, n2 := v1 != v1, v2 != v2
	switch {
	case n1 != n2:
		return n1
	case n1 || v1 == v2:
		return i1 > i2
	}
	return v1 < v2
}

// topKRows selects each row's k best values of a rows×cols matrix: a
// bounded heap per row, then a heap sort of it into best-first order.
func topKRows(data []float32, rows, cols, k int) (vals []float32, idx []int32) {
	vals = make([]float32, rows*k)
	idx = make([]int32, rows*k)
	if k == 0 {
		return vals, idx
	}
	for r := 0; r < rows; r++ {
		row := data[r*cols : (r+1)*cols]
		h := &topHeap{v: vals[r*k : (r+1)*k], i: idx[r*k : (r+1)*k]}
		for i := 0; i < k; i++ {
			h.v[i], h.i[i] = row[i], int32(i)
		}
		heap.Init(h)
		for i := k; i < cols; i++ {
			if worse(h.v[0], h.i[0], row[i], int32(i)) {
				h.v[0], h.i[0] = row[i], int32(i)
				heap.Fix(h, 0)
			}
		}
		for n := k - 1; n > 0; n-- {
			h.Swap(0, n)
			heap.Fix(&topHeap{v: h.v[:n], i: h.i[:n]}, 0)
		}
	}
	return vals, idx
}
