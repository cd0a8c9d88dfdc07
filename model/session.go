package model

import (
	"context"
	"errors"
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

// Session is a batch of prompts primed in the language model, stepping
// its live sequences forward for the generation loop. It implements
// generate's Session interface. Sequences start as one per prompt;
// Reorder selects, duplicates or drops them (beam search). A Session is
// not safe for concurrent use; it must be closed.
type Session struct {
	model *Model
	in    Inputs

	ctx   compute.Context // long-lived: KV cache, cross-attention keys and values
	cache *kvCache

	// Per live sequence.
	rows   []int     // the prompt (batch row) it continues
	mask   [][]int32 // LLaMA: attention mask over every position so far
	next   []int32   // LLaMA: the position id of its next token
	padded bool      // LLaMA: some prompt has padding, so attention needs a mask

	// T5: the encoder's keys and values per prompt, and as laid out for the
	// live sequences (the same tensors until sequences change prompts).
	crossBase, cross *crossKV
	crossRows        []int

	prefilled, closed bool
}

// ErrSession reports a session used out of order or with invalid tokens.
var ErrSession = errors.New("invalid use of a generation session")

// NewSession prepares a session for a batch of prompts; Prefill runs them.
func (m *Model) NewSession(in *Inputs) (*Session, error) {
	if m.weights == nil {
		return nil, fmt.Errorf("%w: the model is closed", ErrSession)
	}
	if err := m.validate(in); err != nil {
		return nil, err
	}
	return &Session{model: m, in: *in}, nil
}

// initialCapacity is how many positions a fresh cache holds beyond the
// prompt before it first grows.
const initialCapacity = 64

// Prefill runs the image side and the prompts and returns, for each
// prompt, the logits [vocab] of the next token: LLaMA's at the last prompt
// position, T5's for the decoder start token after encoding the prompt.
func (s *Session) Prefill(ctx context.Context) ([][]float32, error) {
	if s.closed || s.prefilled {
		return nil, fmt.Errorf("%w: Prefill on a session that is closed or already prefilled", ErrSession)
	}
	m := s.model
	g := m.backend.NewContext()
	defer g.Close()
	p := m.embedPrompt(g, &s.in, nil)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	shape := p.embeds.Shape()
	b, t := shape[0], shape[1]
	s.ctx = m.backend.NewContext()
	s.rows = make([]int, b)
	for i := range s.rows {
		s.rows[i] = i
	}
	s.prefilled = true

	var logits compute.Tensor
	if m.Llama != nil {
		l := m.Llama
		s.cache = newKVCache(s.ctx, len(l.Layers), b, l.KVHeads*l.HeadDim, t+initialCapacity)
		s.mask = make([][]int32, b) // copied: steps append to it
		for i, row := range p.mask {
			s.mask[i] = append([]int32(nil), row...)
		}
		s.next = make([]int32, b)
		for i, row := range p.mask {
			for _, v := range row {
				s.next[i] += v
				s.padded = s.padded || v == 0
			}
		}
		s.cache.reserve(t)
		h := l.Forward(g, p.embeds, positions(p.mask), s.maskTensor(g), s.cache, nil)
		s.cache.advance(t)
		last := make([]int32, b)
		for i := range last {
			last[i] = int32(i*t + t - 1)
		}
		logits = l.Logits(g, g.Gather(g.Reshape(h, b*t, l.Hidden), last))
	} else {
		t5 := m.T5
		var maskT compute.Tensor
		if am := additiveMask(p.mask); am != nil {
			maskT = s.ctx.FromFloats([]int{b, t}, am)
		}
		enc := t5.Encode(g, p.embeds, maskT, nil)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.crossBase = t5.crossKeysValues(s.ctx, enc, maskT)
		s.cross, s.crossRows = s.crossBase, append([]int(nil), s.rows...)
		s.cache = newKVCache(s.ctx, len(t5.Decoder.Blocks), b, t5.Heads*t5.DKV, initialCapacity)
		start := make([]int32, b)
		for i := range start {
			start[i] = t5.DecoderStart
		}
		logits = s.decode(g, start)
	}
	return s.readLogits(ctx, g, logits)
}

// maskTensor is LLaMA's additive padding mask over the cache [n, capacity],
// or nil when no prompt is padded.
func (s *Session) maskTensor(g compute.Context) compute.Tensor {
	if !s.padded {
		return nil
	}
	c := s.cache.capacity
	data := make([]float32, 0, len(s.mask)*c)
	for _, row := range s.mask {
		for j := 0; j < c; j++ {
			v := float32(0)
			if j < len(row) && row[j] == 0 {
				v = maskNeg
			}
			data = append(data, v)
		}
	}
	return g.FromFloats([]int{len(s.mask), c}, data)
}

// decode runs one T5 decoder step over tokens and returns the logits [n, vocab].
func (s *Session) decode(g compute.Context, tokens []int32) compute.Tensor {
	t5 := s.model.T5
	n := len(tokens)
	x := g.Reshape(g.Embedding(t5.DecoderEmbed, tokens), n, 1, t5.DModel)
	start := s.cache.length
	s.cache.reserve(1)
	h := t5.Decode(g, x, start, s.cross, s.cache, nil)
	s.cache.advance(1)
	return t5.Logits(g, g.Reshape(h, n, t5.DModel))
}

// readLogits reads logits [n, vocab] into one slice per sequence.
func (s *Session) readLogits(ctx context.Context, g compute.Context, logits compute.Tensor) ([][]float32, error) {
	data := g.Read(logits)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v := logits.Shape()[len(logits.Shape())-1]
	out := make([][]float32, len(data)/v)
	for i := range out {
		out[i] = data[i*v : (i+1)*v : (i+1)*v]
	}
	return out, nil
}

// Step appends tokens[i] to live sequence i and returns each sequence's
// logits [vocab] for the next position.
func (s *Session) Step(ctx context.Context, tokens []int32) ([][]float32, error) {
	if !s.prefilled || s.closed {
		return nil, fmt.Errorf("%w: Step before Prefill or after Close", ErrSession)
	}
	if len(tokens) != len(s.rows) {
		return nil, fmt.Errorf("%w: %d tokens for %d live sequences", ErrSession, len(tokens), len(s.rows))
	}
	vocab := s.model.VocabSize()
	for _, t := range tokens {
		if t < 0 || int(t) >= vocab {
			return nil, fmt.Errorf("%w: token %d is outside the vocabulary of %d", ErrSession, t, vocab)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g := s.model.backend.NewContext()
	defer g.Close()

	var logits compute.Tensor
	if l := s.model.Llama; l != nil {
		n := len(tokens)
		x := g.Reshape(g.Embedding(l.Embed, tokens), n, 1, l.Hidden)
		pos := append([]int32(nil), s.next...)
		for i := range s.mask {
			s.mask[i] = append(s.mask[i], 1)
			s.next[i]++
		}
		s.cache.reserve(1)
		h := l.Forward(g, x, pos, s.maskTensor(g), s.cache, nil)
		s.cache.advance(1)
		logits = l.Logits(g, g.Reshape(h, n, l.Hidden))
	} else {
		logits = s.decode(g, tokens)
	}
	return s.readLogits(ctx, g, logits)
}

// Reorder makes the live sequences idx[0], idx[1], … of the current ones;
// idx may repeat entries and change their number.
func (s *Session) Reorder(idx []int32) error {
	if !s.prefilled || s.closed {
		return fmt.Errorf("%w: Reorder before Prefill or after Close", ErrSession)
	}
	if len(idx) == 0 {
		return fmt.Errorf("%w: Reorder to no sequences", ErrSession)
	}
	for _, j := range idx {
		if j < 0 || int(j) >= len(s.rows) {
			return fmt.Errorf("%w: Reorder index %d with %d live sequences", ErrSession, j, len(s.rows))
		}
	}
	if isIdentity(idx, len(s.rows)) {
		return nil
	}
	s.cache.reorder(idx)
	rows := make([]int, len(idx))
	for i, j := range idx {
		rows[i] = s.rows[j]
	}
	s.rows = rows
	if s.model.Llama != nil {
		mask := make([][]int32, len(idx))
		next := make([]int32, len(idx))
		for i, j := range idx {
			mask[i] = append([]int32(nil), s.mask[j]...)
			next[i] = s.next[j]
		}
		s.mask, s.next = mask, next
		return nil
	}
	s.layoutCross()
	return nil
}

// layoutCross lays the encoder's keys and values out for the live
// sequences' prompts, reusing the current layout when it already matches
// (beam search keeps each beam on its prompt, so this copies only when
// the beams are first expanded).
func (s *Session) layoutCross() {
	if equalRows(s.rows, s.crossRows) {
		return
	}
	idx := make([]int32, len(s.rows))
	for i, r := range s.rows {
		idx[i] = int32(r)
	}
	next := &crossKV{}
	for i := range s.crossBase.k {
		next.k = append(next.k, s.ctx.Gather(s.crossBase.k[i], idx))
		next.v = append(next.v, s.ctx.Gather(s.crossBase.v[i], idx))
	}
	if s.crossBase.mask != nil {
		next.mask = s.ctx.Gather(s.crossBase.mask, idx)
	}
	if s.cross != s.crossBase {
		s.cross.release()
	}
	s.cross, s.crossRows = next, append([]int(nil), s.rows...)
}

// release frees a cross-attention layout.
func (kv *crossKV) release() {
	for i := range kv.k {
		kv.k[i].Release()
		kv.v[i].Release()
	}
	if kv.mask != nil {
		kv.mask.Release()
	}
}

func equalRows(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Close frees the session's device memory. It is safe to call twice.
func (s *Session) Close() {
	if s.closed {
		return
	}
	s.closed = true
	if s.ctx != nil {
		s.ctx.Close()
	}
	s.cache, s.cross, s.crossBase = nil, nil, nil
}

// Live is the number of live sequences.
func (s *Session) Live() int { return len(s.rows) }
