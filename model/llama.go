package model

import (
	"context"
	"math"
	"slices"

	"glimpse/checkpoint/config"
	"glimpse/compute"
)

// LlamaParams are a LLaMA decoder's hyperparameters (text_config).
type LlamaParams struct {
	Hidden, Intermediate, Layers int
	Heads, KVHeads, HeadDim      int
	Vocab                        int
	Eps, RopeTheta               float32
	Act                          string
}

// Llama is the decoder-only language model of the Vicuna variants:
// pre-norm blocks with RMSNorm, rotary position embeddings, grouped-query
// attention and a SiLU-gated feed-forward, then a final RMSNorm and the
// language-model head.
type Llama struct {
	Embed  compute.Tensor `st:"model.embed_tokens.weight" kind:"matrix"`
	Layers []LlamaLayer   `st:"model.layers"`
	Norm   RMSNorm        `st:"model.norm"`
	// Untied in Vicuna; tied checkpoints reuse the embedding table.
	Head compute.Tensor `st:"lm_head.weight,model.embed_tokens.weight" kind:"matrix"`

	LlamaParams
}

// LlamaLayer is one decoder block.
type LlamaLayer struct {
	AttentionNorm RMSNorm `st:"input_layernorm"`
	Query         Linear  `st:"self_attn.q_proj"`
	Key           Linear  `st:"self_attn.k_proj"`
	Value         Linear  `st:"self_attn.v_proj"`
	Output        Linear  `st:"self_attn.o_proj"`
	MLPNorm       RMSNorm `st:"post_attention_layernorm"`
	Gate          Linear  `st:"mlp.gate_proj"`
	Up            Linear  `st:"mlp.up_proj"`
	Down          Linear  `st:"mlp.down_proj"`
}

// newLlama sizes the layer list for the loader.
func newLlama(p LlamaParams) *Llama {
	return &Llama{Layers: make([]LlamaLayer, p.Layers), LlamaParams: p}
}

// check validates the loaded shapes against the hyperparameters. The
// embedding and head may have more rows than the tokenizer has tokens
// (vocabularies padded to a multiple of 64); they must match vocab_size.
func (m *Llama) check(c *shapeCheck) {
	d, qd, kvd := m.Hidden, m.Heads*m.HeadDim, m.KVHeads*m.HeadDim
	c.want(m.Embed, m.Vocab, d)
	c.want(m.Head, m.Vocab, d)
	c.want(m.Norm.Weight, d)
	for i := range m.Layers {
		l := &m.Layers[i]
		c.want(l.AttentionNorm.Weight, d)
		c.want(l.MLPNorm.Weight, d)
		c.wantLinear(&l.Query, qd, d)
		c.wantLinear(&l.Key, kvd, d)
		c.wantLinear(&l.Value, kvd, d)
		c.wantLinear(&l.Output, d, qd)
		c.wantLinear(&l.Gate, m.Intermediate, d)
		c.wantLinear(&l.Up, m.Intermediate, d)
		c.wantLinear(&l.Down, d, m.Intermediate)
	}
}

// ropePositions are the positions of the rows a forward pass runs: on the
// host for a pass without a cache (RoPE), on the device with one
// (SplitQKV reads them there, so a decoding step uploads none): dev holds
// one position per row and offset is added to each; top bounds them.
type ropePositions struct {
	host   []int32
	dev    compute.Tensor
	offset int
	top    int
}

// Forward runs the decoder blocks over x [B, T, hidden] (input embeddings)
// at positions pos and returns the final-normed hidden states. mask is the
// additive padding mask [B, keys] or nil. With a cache, the new keys and
// values are stored in it and attention covers everything cached; the
// caller advances the cache afterwards.
func (m *Llama) Forward(ctx compute.Context, x compute.Tensor, pos ropePositions, mask compute.Tensor, cache *kvCache, tr Trace) compute.Tensor {
	return m.Norm.Forward(ctx, m.blocks(ctx, x, pos, mask, cache, tr), m.Eps)
}

// blocks runs the decoder blocks, without the final norm.
func (m *Llama) blocks(ctx compute.Context, x compute.Tensor, pos ropePositions, mask compute.Tensor, cache *kvCache, tr Trace) compute.Tensor {
	for i := range m.Layers {
		x = m.Layers[i].Forward(ctx, x, pos, mask, cache, i, &m.LlamaParams)
		tr.emitf(ctx, x, "language_model.model.layers.%d", i)
	}
	return x
}

// Logits applies the language-model head to hidden states [..., hidden].
func (m *Llama) Logits(ctx compute.Context, h compute.Tensor) compute.Tensor {
	return ctx.Linear(h, m.Head, nil)
}

// Forward runs one block: x + attention(RMSNorm(x)), then
// + down(silu(gate(·)) * up(·)) of RMSNorm. The norms are the prologues of
// the products after them, the residual adds ride in the output
// projections' epilogues, gate and up share one pass, and with a cache the
// three projections run as one and SplitQKV rotates and stores: six
// dispatches per layer on a GPU.
func (l *LlamaLayer) Forward(ctx compute.Context, x compute.Tensor, pos ropePositions, mask compute.Tensor, cache *kvCache, layer int, p *LlamaParams) compute.Tensor {
	opts := compute.AttentionOptions{
		Heads:   p.Heads,
		KVHeads: p.KVHeads,
		Scale:   float32(1 / math.Sqrt(float64(p.HeadDim))),
		Causal:  true,
		Mask:    mask,
	}
	var q, k, v compute.Tensor
	if cache != nil && l.Query.Bias == nil && l.Key.Bias == nil && l.Value.Bias == nil {
		qkv := ctx.NormLinears(x, l.AttentionNorm.Weight, p.Eps, l.Query.Weight, l.Key.Weight, l.Value.Weight)
		q, k, v = cache.split(ctx, layer, qkv, compute.SplitQKVOptions{Heads: p.Heads, KVHeads: p.KVHeads,
			Theta: p.RopeTheta, Pos: pos.dev, PosOffset: pos.offset, MaxPosition: pos.top}, &opts)
	} else {
		if cache != nil {
			panic("model: a LLaMA layer with projection biases and a KV cache") // no Vicuna has them
		}
		h := l.AttentionNorm.Forward(ctx, x, p.Eps)
		q = ctx.RoPE(l.Query.Forward(ctx, h), pos.host, p.Heads, p.RopeTheta)
		k = ctx.RoPE(l.Key.Forward(ctx, h), pos.host, p.KVHeads, p.RopeTheta)
		v = l.Value.Forward(ctx, h)
	}
	x = ctx.LinearAdd(ctx.Attention(q, k, v, opts), l.Output.Weight, l.Output.Bias, x)

	var gated compute.Tensor
	if l.Gate.Bias == nil && l.Up.Bias == nil {
		gated = ctx.NormGatedLinear(p.Act, x, l.MLPNorm.Weight, p.Eps, l.Gate.Weight, l.Up.Weight)
	} else {
		h := l.MLPNorm.Forward(ctx, x, p.Eps)
		gated = ctx.Gated(p.Act, l.Gate.Forward(ctx, h), l.Up.Forward(ctx, h))
	}
	return ctx.LinearAdd(gated, l.Down.Weight, l.Down.Bias, x)
}

// Kind is "llama".
func (m *Llama) Kind() string { return "llama" }

func (m *Llama) embeddings() (compute.Tensor, string) {
	return m.Embed, "language_model.model.embed_tokens"
}

// prefix is the prompt itself: a decoder-only model continues it.
func (m *Llama) prefix(promptIDs [][]int32, _ config.TokenIDs) [][]int32 { return promptIDs }

// forward returns the logits of every prompt position.
func (m *Llama) forward(g compute.Context, p prompt, tr Trace) compute.Tensor {
	s := p.embeds.Shape()
	var mask compute.Tensor
	if am := additiveMask(p.mask); am != nil {
		mask = g.FromFloats([]int{s[0], s[1]}, am)
	}
	return m.Logits(g, m.Forward(g, p.embeds, ropePositions{host: positions(p.mask)}, mask, nil, tr))
}

// llamaDecoding is a batch generating with LLaMA: the KV cache, and per
// live sequence its attention mask over every position so far (prompts
// are left-padded) and the position id of its next token. The device
// holds the positions of the live sequences as of the last prefill or
// reorder (pos) and the padding mask over the whole cache (mask), so
// that a step uploads neither: it adds the steps since (offset).
type llamaDecoding struct {
	m      *Llama
	long   compute.Context
	cache  *kvCache
	rows   []int // the prompt each live sequence continues
	masks  [][]int32
	next   []int32
	padded bool // some prompt has padding, so attention needs a mask

	pos    compute.Tensor // F32 [n]: next as of the last upload
	offset int            // steps since that upload
	mask   compute.Tensor // additive [n, capacity], or nil without padding
	maskAt int            // the capacity mask was built for
}

func (m *Llama) prefill(_ context.Context, g, long compute.Context, p prompt) (decoding, compute.Tensor, error) {
	shape := p.embeds.Shape()
	b, t := shape[0], shape[1]
	capacity := max(p.positions, t+1)
	if p.positions <= 0 {
		capacity = t + initialCapacity
	}
	d := &llamaDecoding{m: m, long: long, cache: newKVCache(long, p.kvDType, len(m.Layers), b, p.sequences, m.KVHeads*m.HeadDim, capacity),
		masks: make([][]int32, b), next: make([]int32, b), rows: make([]int, b)}
	for i, row := range p.mask {
		d.rows[i] = i
		d.masks[i] = append([]int32(nil), row...) // copied: steps append to it
		for _, v := range row {
			d.next[i] += v
			d.padded = d.padded || v == 0
		}
	}
	d.cache.reserve(t)
	d.syncMask()
	host := positions(p.mask)
	top := int32(0)
	dev := make([]float32, len(host))
	for i, v := range host {
		dev[i], top = float32(v), max(top, v)
	}
	pos := ropePositions{host: host, dev: g.FromFloats([]int{len(dev)}, dev), top: int(top)}
	h := m.Forward(g, p.embeds, pos, d.mask, d.cache, nil)
	d.cache.advance(t)
	d.syncPositions()
	last := make([]int32, b)
	for i := range last {
		last[i] = int32(i*t + t - 1)
	}
	return d, m.Logits(g, g.Gather(g.Reshape(h, b*t, m.Hidden), last)), nil
}

func (d *llamaDecoding) step(g compute.Context, tokens []int32) compute.Tensor {
	m, n := d.m, len(tokens)
	x := g.Reshape(g.Embedding(m.Embed, tokens), n, 1, m.Hidden)
	top := int32(0)
	for i := range d.masks {
		d.masks[i] = append(d.masks[i], 1)
		top = max(top, d.next[i])
		d.next[i]++
	}
	d.cache.reserve(1)
	d.syncMask()
	h := m.blocks(g, x, ropePositions{dev: d.pos, offset: d.offset, top: int(top)}, d.mask, d.cache, nil)
	d.cache.advance(1)
	d.offset++
	// The final norm as the head's prologue.
	return g.NormLinears(g.Reshape(h, n, m.Hidden), m.Norm.Weight, m.Eps, m.Head)
}

func (d *llamaDecoding) reorder(idx []int32, rows []int) {
	d.cache.reorder(idx)
	masks := make([][]int32, len(idx))
	next := make([]int32, len(idx))
	for i, j := range idx {
		masks[i] = append([]int32(nil), d.masks[j]...)
		next[i] = d.next[j]
	}
	d.masks, d.next = masks, next
	// A sequence's positions and padding are its prompt's: while every
	// sequence stays on the prompt it was on (beam search, after the
	// beams are first expanded), the device's copies still hold.
	if slices.Equal(rows, d.rows) {
		return
	}
	d.rows = slices.Clone(rows)
	d.syncPositions()
	d.maskAt = -1
	d.syncMask()
}

// syncPositions uploads the live sequences' next positions (after a
// prefill or a reorder).
func (d *llamaDecoding) syncPositions() {
	if d.pos != nil {
		d.pos.Release()
	}
	data := make([]float32, len(d.next))
	for i, v := range d.next {
		data[i] = float32(v)
	}
	d.pos, d.offset = d.long.FromFloats([]int{len(data)}, data), 0
}

// syncMask keeps the additive padding mask [n, capacity] on the device:
// built when the cache is first sized, and again only when its capacity
// or the sequences change. Positions past a prompt are never padding, so
// decoding steps need no new mask.
func (d *llamaDecoding) syncMask() {
	if !d.padded || d.maskAt == d.cache.capacity {
		return
	}
	if d.mask != nil {
		d.mask.Release()
	}
	c := d.cache.capacity
	data := make([]float32, 0, len(d.masks)*c)
	for _, row := range d.masks {
		for j := 0; j < c; j++ {
			v := float32(0)
			if j < len(row) && row[j] == 0 {
				v = maskNeg
			}
			data = append(data, v)
		}
	}
	d.mask, d.maskAt = d.long.FromFloats([]int{len(d.masks), c}, data), c
}

// positions returns transformers' position ids for a left-padded batch:
// cumsum(mask) - 1, with masked positions set to 1 (as generate() prepares
// them for a decoder-only model), flattened.
func positions(mask [][]int32) []int32 {
	var out []int32
	for _, row := range mask {
		n := int32(0)
		for _, m := range row {
			n += m
			if m == 0 {
				out = append(out, 1)
			} else {
				out = append(out, n-1)
			}
		}
	}
	return out
}
