package model

import (
	"fmt"

	"glimpse/compute"
)

// kvCache holds the keys and values of every position run so far, per
// layer, as [n, capacity, width] tensors for n live sequences, in the
// session's long-lived context. Attention reads the first length rows
// (AttentionOptions.KeyLen). All sequences have the same length: padding
// is on the left and masked.
type kvCache struct {
	ctx                        compute.Context
	k, v                       []compute.Tensor
	n, length, capacity, width int
}

// newKVCache allocates an empty cache.
func newKVCache(ctx compute.Context, layers, n, width, capacity int) *kvCache {
	c := &kvCache{ctx: ctx, n: n, width: width, capacity: capacity}
	for i := 0; i < layers; i++ {
		c.k = append(c.k, ctx.Zeros(n, capacity, width))
		c.v = append(c.v, ctx.Zeros(n, capacity, width))
	}
	return c
}

// reserve makes room for t more positions, at least doubling the capacity
// when it grows, so appends cost amortised O(1) copies.
func (c *kvCache) reserve(t int) {
	if c.length+t <= c.capacity {
		return
	}
	capacity := max(2*c.capacity, c.length+t)
	grow := func(old compute.Tensor) compute.Tensor {
		t := c.ctx.Zeros(c.n, capacity, c.width)
		c.ctx.SetRows(t, 1, 0, old)
		old.Release()
		return t
	}
	for i := range c.k {
		c.k[i], c.v[i] = grow(c.k[i]), grow(c.v[i])
	}
	c.capacity = capacity
}

// store appends layer's new keys and values [n, t, width] (the caller has
// reserved room) and returns the cache tensors to attend over, setting
// opts.KeyLen. Masks and biases for this attention are capacity wide.
func (c *kvCache) store(ctx compute.Context, layer int, k, v compute.Tensor, opts *compute.AttentionOptions) (compute.Tensor, compute.Tensor) {
	t := k.Shape()[1]
	if c.length+t > c.capacity {
		panic(fmt.Sprintf("model: kv cache of capacity %d holds %d, storing %v without reserve", c.capacity, c.length, k.Shape()))
	}
	ctx.SetRows(c.k[layer], 1, c.length, k)
	ctx.SetRows(c.v[layer], 1, c.length, v)
	opts.KeyLen = c.length + t
	return c.k[layer], c.v[layer]
}

// advance records that t positions were stored in every layer.
func (c *kvCache) advance(t int) { c.length += t }

// reorder makes the cached sequences idx[0], idx[1], … of the current ones.
func (c *kvCache) reorder(idx []int32) {
	if isIdentity(idx, c.n) {
		return
	}
	for i := range c.k {
		k, v := c.ctx.Gather(c.k[i], idx), c.ctx.Gather(c.v[i], idx)
		c.k[i].Release()
		c.v[i].Release()
		c.k[i], c.v[i] = k, v
	}
	c.n = len(idx)
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
