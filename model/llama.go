package model

import (
	"math"

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
