package model

import (
	"context"
	"math"

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

// Forward runs the decoder blocks over x [B, T, hidden] (input embeddings)
// at positions pos (B*T of them) and returns the final-normed hidden states.
// mask is the additive padding mask [B, keys] or nil. With a cache, the new
// keys and values are appended to it and attention covers everything cached;
// the caller advances the cache afterwards.
func (m *Llama) Forward(ctx compute.Context, x compute.Tensor, pos []int32, mask compute.Tensor, cache *kvCache, tr Trace) compute.Tensor {
	for i := range m.Layers {
		x = m.Layers[i].Forward(ctx, x, pos, mask, cache, i, &m.LlamaParams)
		tr.emitf(ctx, x, "language_model.model.layers.%d", i)
	}
	return m.Norm.Forward(ctx, x, m.Eps)
}

// Logits applies the language-model head to hidden states [..., hidden].
func (m *Llama) Logits(ctx compute.Context, h compute.Tensor) compute.Tensor {
	return ctx.Linear(h, m.Head, nil)
}

// Forward runs one block: x + attention(RMSNorm(x)), then
// + down(silu(gate(·)) * up(·)) of RMSNorm.
func (l *LlamaLayer) Forward(ctx compute.Context, x compute.Tensor, pos []int32, mask compute.Tensor, cache *kvCache, layer int, p *LlamaParams) compute.Tensor {
	h := l.AttentionNorm.Forward(ctx, x, p.Eps)
	q := ctx.RoPE(l.Query.Forward(ctx, h), pos, p.Heads, p.RopeTheta)
	k := ctx.RoPE(l.Key.Forward(ctx, h), pos, p.KVHeads, p.RopeTheta)
	v := l.Value.Forward(ctx, h)
	opts := compute.AttentionOptions{
		Heads:   p.Heads,
		KVHeads: p.KVHeads,
		Scale:   float32(1 / math.Sqrt(float64(p.HeadDim))),
		Causal:  true,
		Mask:    mask,
	}
	if cache != nil {
		k, v = cache.store(ctx, layer, k, v, &opts)
	}
	h = l.Output.Forward(ctx, ctx.Attention(q, k, v, opts))
	x = ctx.Add(x, h)

	h = l.MLPNorm.Forward(ctx, x, p.Eps)
	h = l.Down.Forward(ctx, ctx.Gated(p.Act, l.Gate.Forward(ctx, h), l.Up.Forward(ctx, h)))
	return ctx.Add(x, h)
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
	return m.Logits(g, m.Forward(g, p.embeds, positions(p.mask), mask, nil, tr))
}

// llamaDecoding is a batch generating with LLaMA: the KV cache, and per
// live sequence its attention mask over every position so far (prompts
// are left-padded) and the position id of its next token.
type llamaDecoding struct {
	m      *Llama
	cache  *kvCache
	mask   [][]int32
	next   []int32
	padded bool // some prompt has padding, so attention needs a mask
}

func (m *Llama) prefill(_ context.Context, g, long compute.Context, p prompt) (decoding, compute.Tensor, error) {
	shape := p.embeds.Shape()
	b, t := shape[0], shape[1]
	d := &llamaDecoding{m: m, cache: newKVCache(long, len(m.Layers), b, m.KVHeads*m.HeadDim, t+initialCapacity),
		mask: make([][]int32, b), next: make([]int32, b)}
	for i, row := range p.mask {
		d.mask[i] = append([]int32(nil), row...) // copied: steps append to it
		for _, v := range row {
			d.next[i] += v
			d.padded = d.padded || v == 0
		}
	}
	d.cache.reserve(t)
	h := m.Forward(g, p.embeds, positions(p.mask), d.maskTensor(g), d.cache, nil)
	d.cache.advance(t)
	last := make([]int32, b)
	for i := range last {
		last[i] = int32(i*t + t - 1)
	}
	return d, m.Logits(g, g.Gather(g.Reshape(h, b*t, m.Hidden), last)), nil
}

func (d *llamaDecoding) step(g compute.Context, tokens []int32) compute.Tensor {
	m, n := d.m, len(tokens)
	x := g.Reshape(g.Embedding(m.Embed, tokens), n, 1, m.Hidden)
	pos := append([]int32(nil), d.next...)
	for i := range d.mask {
		d.mask[i] = append(d.mask[i], 1)
		d.next[i]++
	}
	d.cache.reserve(1)
	h := m.Forward(g, x, pos, d.maskTensor(g), d.cache, nil)
	d.cache.advance(1)
	return m.Logits(g, g.Reshape(h, n, m.Hidden))
}

func (d *llamaDecoding) reorder(idx []int32, _ []int) {
	d.cache.reorder(idx)
	mask := make([][]int32, len(idx))
	next := make([]int32, len(idx))
	for i, j := range idx {
		mask[i] = append([]int32(nil), d.mask[j]...)
		next[i] = d.next[j]
	}
	d.mask, d.next = mask, next
}

// maskTensor is the additive padding mask over the cache [n, capacity],
// or nil when no prompt is padded.
func (d *llamaDecoding) maskTensor(g compute.Context) compute.Tensor {
	if !d.padded {
		return nil
	}
	c := d.cache.capacity
	data := make([]float32, 0, len(d.mask)*c)
	for _, row := range d.mask {
		for j := 0; j < c; j++ {
			v := float32(0)
			if j < len(row) && row[j] == 0 {
				v = maskNeg
			}
			data = append(data, v)
		}
	}
	return g.FromFloats([]int{len(d.mask), c}, data)
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
