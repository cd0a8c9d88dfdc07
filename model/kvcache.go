package model

import (
	"fmt"

	"glimpse/compute"
)

// kvCache holds the keys and values of every position run so far, per
// layer, as [seqs, capacity, width] tensors in the session's
// long-lived context, allocated once for the longest request it was
// reserved for (Session.Reserve) and grown only past that. They are F16
// (half the memory of float32: 5 beams × 256 positions of Vicuna-7B are
// 0.67 GB instead of 1.34), rounded once when stored, except for a float32
// model, the reference; attention accumulates in float32 either way.
//
// seqs are physical sequences; the n live sequences read them through
// rows: position j of live sequence i is in physical sequence rows[i][j].
// Beam search reorders by rewriting rows (Attention's Rows index), never
// by copying keys and values. New positions of live sequence i are written
// to physical sequence i: every write is at or after the cache's length,
// and every position a rows entry points into another sequence for is
// before it, so a write never overwrites what another sequence still
// reads. Until the first reorder that is not the identity, rows is nil and
// sequence i reads physical sequence i.
type kvCache struct {
	ctx                     compute.Context
	dtype                   compute.DType
	k, v                    []compute.Tensor
	seqs, n                 int
	length, capacity, width int
	rows                    [][]int32      // nil: the identity
	index                   compute.Tensor // rows on the device [n, capacity], F32; nil with rows nil
}

// newKVCache allocates an empty cache for n live sequences, room for seqs
// (at least n) and capacity positions.
func newKVCache(ctx compute.Context, dtype compute.DType, layers, n, seqs, width, capacity int) *kvCache {
	c := &kvCache{ctx: ctx, dtype: dtype, n: n, seqs: max(seqs, n), width: width, capacity: capacity}
	for i := 0; i < layers; i++ {
		c.k = append(c.k, ctx.ZerosOf(dtype, c.seqs, capacity, width))
		c.v = append(c.v, ctx.ZerosOf(dtype, c.seqs, capacity, width))
	}
	return c
}

// reserve makes room for t more positions, at least doubling the capacity
// when it grows, so that a request longer than reserved costs amortised
// O(1) copies.
func (c *kvCache) reserve(t int) {
	if c.length+t <= c.capacity {
		return
	}
	c.resize(c.seqs, max(2*c.capacity, c.length+t))
}

// resize moves the cache into tensors of seqs sequences and capacity
// positions, copying what is stored.
func (c *kvCache) resize(seqs, capacity int) {
	grow := func(old compute.Tensor) compute.Tensor {
		t := c.ctx.ZerosOf(c.dtype, seqs, capacity, c.width)
		if c.length > 0 {
			from := c.ctx.Reshape(old, c.seqs*c.capacity, c.width)
			to := c.ctx.Reshape(t, seqs*capacity, c.width)
			for s := 0; s < c.seqs; s++ {
				// Only the stored positions of each sequence.
				r := c.ctx.Rows(from, s*c.capacity, c.length)
				c.ctx.SetRows(to, 0, s*capacity, r)
				r.Release()
			}
			from.Release()
			to.Release()
		}
		old.Release()
		return t
	}
	for i := range c.k {
		c.k[i], c.v[i] = grow(c.k[i]), grow(c.v[i])
	}
	c.seqs, c.capacity = seqs, capacity
	// Positions the cache gained are written by their own sequence.
	for i, r := range c.rows {
		for len(r) < capacity {
			r = append(r, int32(i))
		}
		c.rows[i] = r
	}
	c.upload()
}

// split runs SplitQKV for layer: the new keys and values of qkv go into
// the cache (the caller has reserved room), and it returns the queries and
// the cache tensors to attend over, setting opts.KeyLen and opts.Rows.
// Masks and biases for this attention are capacity wide.
func (c *kvCache) split(ctx compute.Context, layer int, qkv compute.Tensor, o compute.SplitQKVOptions, opts *compute.AttentionOptions) (q, k, v compute.Tensor) {
	t := qkv.Shape()[1]
	if c.length+t > c.capacity || qkv.Shape()[0] != c.n {
		panic(fmt.Sprintf("model: kv cache of %d sequences and capacity %d holds %d, storing %v without reserve", c.n, c.capacity, c.length, qkv.Shape()))
	}
	o.K, o.V, o.At = c.k[layer], c.v[layer], c.length
	q = ctx.SplitQKV(qkv, o)
	opts.KeyLen = c.length + t
	opts.Rows = c.index
	return q, c.k[layer], c.v[layer]
}

// advance records that t positions were stored in every layer.
func (c *kvCache) advance(t int) { c.length += t }

// reorder makes the cached sequences idx[0], idx[1], … of the current ones
// by rewriting the rows index: no key or value moves, unless idx has more
// sequences than the cache has room for (beam search expanding a prompt
// into its beams, when Reserve was not told), which grows it once.
func (c *kvCache) reorder(idx []int32) {
	if isIdentity(idx, c.n) {
		return
	}
	if len(idx) > c.seqs {
		c.resize(len(idx), c.capacity)
	}
	rows := make([][]int32, len(idx))
	for i, j := range idx {
		r := make([]int32, c.capacity)
		for p := range r {
			switch {
			case p >= c.length:
				r[p] = int32(i) // where live sequence i writes its next positions
			case c.rows != nil:
				r[p] = c.rows[j][p]
			default:
				r[p] = j
			}
		}
		rows[i] = r
	}
	c.rows, c.n = rows, len(idx)
	c.upload()
}

// upload puts the rows index on the device (after a reorder or a resize).
func (c *kvCache) upload() {
	if c.index != nil {
		c.index.Release()
		c.index = nil
	}
	if c.rows == nil {
		return
	}
	data := make([]float32, 0, c.n*c.capacity)
	for _, r := range c.rows {
		for _, s := range r {
			data = append(data, float32(s))
		}
	}
	c.index = c.ctx.FromFloats([]int{c.n, c.capacity}, data)
}

// isIdentity reports whether idx is 0, 1, …, n-1.
func isIdentity(idx []int32, n int) bool {
	if len(idx) != n {
		return false
	}
	for i, j := range idx {
		if int(j) != i {
			return false
		}
	}
	return true
}
