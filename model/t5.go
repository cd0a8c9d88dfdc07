package model

import (
	"context"
	"math"
	"slices"

	"glimpse/checkpoint/config"
	"glimpse/compute"
)

// T5Params are a T5 encoder–decoder's hyperparameters (text_config).
type T5Params struct {
	DModel, DFF, DKV, Heads      int
	EncoderLayers, DecoderLayers int
	Buckets, MaxDistance         int
	Vocab                        int
	Eps                          float32
	Act                          string // compute activation name of dense_act_fn
	Gated                        bool   // feed_forward_proj "gated-…"
	ScaleDecoderOutput           bool   // tied head: hidden states × d_model^-0.5 before it
	DecoderStart                 int32
}

// T5 is the encoder–decoder language model of the Flan-T5 variants. Both
// stacks are pre-norm with RMSNorm, unscaled attention plus a learned
// relative position bias (computed by the first block and shared by all),
// and a gated feed-forward; the decoder also attends to the encoder output.
type T5 struct {
	Shared compute.Tensor `st:"shared.weight,encoder.embed_tokens.weight" kind:"matrix"`
	// The decoder's input embedding: the shared table when the checkpoint
	// ties them, its own when tie_word_embeddings is false and it is stored.
	DecoderEmbed compute.Tensor `st:"decoder.embed_tokens.weight,shared.weight" kind:"matrix"`
	Encoder      T5Encoder      `st:"encoder"`
	Decoder      T5Decoder      `st:"decoder"`
	// Untied in InstructBLIP's Flan-T5; tied checkpoints reuse the embedding.
	Head compute.Tensor `st:"lm_head.weight,shared.weight" kind:"matrix"`

	T5Params
}

// T5Encoder is the bidirectional stack.
type T5Encoder struct {
	// RelativeBias is the first block's table [buckets, heads], kept on the
	// host: the bias depends only on positions.
	RelativeBias []float32        `st:"block.0.layer.0.SelfAttention.relative_attention_bias.weight"`
	Blocks       []T5EncoderBlock `st:"block"`
	FinalNorm    RMSNorm          `st:"final_layer_norm"`
}

// T5EncoderBlock is self-attention then feed-forward, each pre-normed and
// added to the residual stream.
type T5EncoderBlock struct {
	AttentionNorm RMSNorm     `st:"layer.0.layer_norm"`
	Attention     T5Attention `st:"layer.0.SelfAttention"`
	FFNorm        RMSNorm     `st:"layer.1.layer_norm"`
	FF            T5FF        `st:"layer.1.DenseReluDense"`
}

// T5Decoder is the causal stack.
type T5Decoder struct {
	RelativeBias []float32        `st:"block.0.layer.0.SelfAttention.relative_attention_bias.weight"`
	Blocks       []T5DecoderBlock `st:"block"`
	FinalNorm    RMSNorm          `st:"final_layer_norm"`
}

// T5DecoderBlock is causal self-attention, cross-attention to the encoder
// output, then feed-forward.
type T5DecoderBlock struct {
	AttentionNorm  RMSNorm     `st:"layer.0.layer_norm"`
	Attention      T5Attention `st:"layer.0.SelfAttention"`
	CrossNorm      RMSNorm     `st:"layer.1.layer_norm"`
	CrossAttention T5Attention `st:"layer.1.EncDecAttention"`
	FFNorm         RMSNorm     `st:"layer.2.layer_norm"`
	FF             T5FF        `st:"layer.2.DenseReluDense"`
}

// T5Attention holds the bias-free projections; the position bias and
// mask are supplied by the stack.
type T5Attention struct {
	Query  compute.Tensor `st:"q.weight" kind:"matrix"`
	Key    compute.Tensor `st:"k.weight" kind:"matrix"`
	Value  compute.Tensor `st:"v.weight" kind:"matrix"`
	Output compute.Tensor `st:"o.weight" kind:"matrix"`
}

// T5FF is the feed-forward: wo(act(wi_0(x)) * wi_1(x)) when gated, else
// wo(act(wi(x))). Its output is float32 like every activation here, which is
// what keeps Flan-T5 from overflowing.
type T5FF struct {
	In   *Linear `st:"wi"`   // ungated only
	Gate *Linear `st:"wi_0"` // gated only
	Up   *Linear `st:"wi_1"` // gated only
	Out  Linear  `st:"wo"`
}

// newT5 sizes the stacks for the loader.
func newT5(p T5Params) *T5 {
	m := &T5{T5Params: p}
	m.Encoder.Blocks = make([]T5EncoderBlock, p.EncoderLayers)
	m.Decoder.Blocks = make([]T5DecoderBlock, p.DecoderLayers)
	for i := range m.Encoder.Blocks {
		m.Encoder.Blocks[i].FF = newT5FF(p.Gated)
	}
	for i := range m.Decoder.Blocks {
		m.Decoder.Blocks[i].FF = newT5FF(p.Gated)
	}
	return m
}

func newT5FF(gated bool) T5FF {
	if gated {
		return T5FF{Gate: &Linear{}, Up: &Linear{}}
	}
	return T5FF{In: &Linear{}}
}

// check validates the loaded shapes against the hyperparameters.
func (m *T5) check(c *shapeCheck) {
	d, inner := m.DModel, m.Heads*m.DKV
	c.want(m.Shared, m.Vocab, d)
	c.want(m.DecoderEmbed, m.Vocab, d)
	c.want(m.Head, m.Vocab, d)
	attn := func(a *T5Attention) {
		c.want(a.Query, inner, d)
		c.want(a.Key, inner, d)
		c.want(a.Value, inner, d)
		c.want(a.Output, d, inner)
	}
	ff := func(f *T5FF) {
		for _, l := range []*Linear{f.In, f.Gate, f.Up} {
			if l != nil {
				c.wantLinear(l, m.DFF, d)
			}
		}
		c.wantLinear(&f.Out, d, m.DFF)
	}
	for _, table := range [][]float32{m.Encoder.RelativeBias, m.Decoder.RelativeBias} {
		if len(table) != m.Buckets*m.Heads {
			c.errs = append(c.errs, "relative_attention_bias does not have relative_attention_num_buckets × num_heads values")
		}
	}
	for i := range m.Encoder.Blocks {
		b := &m.Encoder.Blocks[i]
		c.want(b.AttentionNorm.Weight, d)
		c.want(b.FFNorm.Weight, d)
		attn(&b.Attention)
		ff(&b.FF)
	}
	for i := range m.Decoder.Blocks {
		b := &m.Decoder.Blocks[i]
		c.want(b.AttentionNorm.Weight, d)
		c.want(b.CrossNorm.Weight, d)
		c.want(b.FFNorm.Weight, d)
		attn(&b.Attention)
		attn(&b.CrossAttention)
		ff(&b.FF)
	}
	c.want(m.Encoder.FinalNorm.Weight, d)
	c.want(m.Decoder.FinalNorm.Weight, d)
}

// relativeBucket is transformers' T5Attention._relative_position_bucket for
// one relative position (key position − query position). The logarithmic
// part is computed step by step in float32 as PyTorch does, so that
// distances on a bucket boundary (16, 32, 64 with the defaults) land where
// they land there.
func relativeBucket(rel int, bidirectional bool, buckets, maxDistance int) int {
	bucket := 0
	if bidirectional {
		buckets /= 2
		if rel > 0 {
			bucket += buckets
		}
		if rel < 0 {
			rel = -rel
		}
	} else {
		rel = -min(rel, 0)
	}
	maxExact := buckets / 2
	if rel < maxExact {
		return bucket + rel
	}
	ratio := float32(rel) / float32(maxExact)
	logRatio := float32(math.Log(float64(ratio)))
	logMax := float32(math.Log(float64(maxDistance) / float64(maxExact)))
	large := maxExact + int(logRatio/logMax*float32(buckets-maxExact))
	return bucket + min(large, buckets-1)
}

// positionBias returns the additive bias [heads, tq, tk] for queries at
// positions q0 … q0+tq-1 and keys 0 … tk-1, from a [buckets, heads] table.
func positionBias(table []float32, heads, tq, tk, q0 int, bidirectional bool, buckets, maxDistance int) []float32 {
	out := make([]float32, heads*tq*tk)
	for i := 0; i < tq; i++ {
		for j := 0; j < tk; j++ {
			b := relativeBucket(j-(q0+i), bidirectional, buckets, maxDistance)
			for h := 0; h < heads; h++ {
				out[(h*tq+i)*tk+j] = table[b*heads+h]
			}
		}
	}
	return out
}

// Encode runs the encoder over input embeddings x [B, T, d_model] with
// the additive padding mask [B, T] (nil: none) and returns the final-normed
// output.
func (m *T5) Encode(ctx compute.Context, x, mask compute.Tensor, tr Trace) compute.Tensor {
	t := x.Shape()[1]
	bias := ctx.FromFloats([]int{m.Heads, t, t},
		positionBias(m.Encoder.RelativeBias, m.Heads, t, t, 0, true, m.Buckets, m.MaxDistance))
	for i := range m.Encoder.Blocks {
		b := &m.Encoder.Blocks[i]
		h := b.AttentionNorm.Forward(ctx, x, m.Eps)
		x = ctx.Add(x, b.Attention.Forward(ctx, h, h, compute.AttentionOptions{Mask: mask, Bias: bias}, &m.T5Params))
		h = b.FFNorm.Forward(ctx, x, m.Eps)
		x = ctx.Add(x, b.FF.Forward(ctx, h, m.Act))
		tr.emitf(ctx, x, "language_model.encoder.block.%d", i)
	}
	x = m.Encoder.FinalNorm.Forward(ctx, x, m.Eps)
	tr.emit(ctx, "language_model.encoder", x)
	return x
}

// crossKV is the decoder's cross-attention keys and values of one encoder
// output, per block: computed once per generation.
type crossKV struct {
	k, v []compute.Tensor // [B, T_enc, heads*d_kv] per block
	mask compute.Tensor   // additive [B, T_enc], or nil
}

// CrossKeysValues projects the encoder output [B, T, d_model] to every
// decoder block's cross-attention keys and values.
func (m *T5) crossKeysValues(ctx compute.Context, enc, mask compute.Tensor) *crossKV {
	kv := &crossKV{mask: mask}
	for i := range m.Decoder.Blocks {
		a := &m.Decoder.Blocks[i].CrossAttention
		kv.k = append(kv.k, ctx.Linear(enc, a.Key, nil))
		kv.v = append(kv.v, ctx.Linear(enc, a.Value, nil))
	}
	return kv
}

// Decode runs the decoder over input embeddings x [B, T, d_model] of
// decoder positions start … start+T-1 (start = what the cache already
// holds), attending to cross, and returns the final-normed hidden states.
// With a cache the new self-attention keys and values are appended to it.
func (m *T5) Decode(ctx compute.Context, x compute.Tensor, start int, cross *crossKV, cache *kvCache, tr Trace) compute.Tensor {
	t := x.Shape()[1]
	bias := ctx.FromFloats([]int{m.Heads, t, start + t},
		positionBias(m.Decoder.RelativeBias, m.Heads, t, start+t, start, false, m.Buckets, m.MaxDistance))
	p := &m.T5Params
	for i := range m.Decoder.Blocks {
		b := &m.Decoder.Blocks[i]
		// The norms are the prologues of the projections after them and
		// the residual adds the epilogues of the output projections, as
		// in a LLaMA block; the self-attention's projections are one
		// dispatch, its keys and values written straight into the cache.
		sa := &b.Attention
		opts := compute.AttentionOptions{Causal: true, Bias: bias}
		var q, k, v compute.Tensor
		if cache != nil {
			qkv := ctx.NormLinears(x, b.AttentionNorm.Weight, m.Eps, sa.Query, sa.Key, sa.Value)
			q, k, v = cache.split(ctx, i, qkv, compute.SplitQKVOptions{Heads: m.Heads}, &opts)
		} else {
			h := b.AttentionNorm.Forward(ctx, x, m.Eps)
			q, k, v = ctx.Linear(h, sa.Query, nil), ctx.Linear(h, sa.Key, nil), ctx.Linear(h, sa.Value, nil)
		}
		x = sa.outputAdd(ctx, q, k, v, opts, p, x)
		ca := &b.CrossAttention
		q = ctx.NormLinears(x, b.CrossNorm.Weight, m.Eps, ca.Query)
		x = ca.outputAdd(ctx, q, cross.k[i], cross.v[i], compute.AttentionOptions{Mask: cross.mask}, p, x)
		x = b.FF.forwardAdd(ctx, x, b.FFNorm.Weight, m.Eps, m.Act)
		tr.emitf(ctx, x, "language_model.decoder.block.%d", i)
	}
	x = m.Decoder.FinalNorm.Forward(ctx, x, m.Eps)
	tr.emit(ctx, "language_model.decoder", x)
	return x
}

// Logits applies the language-model head to decoder hidden states, scaled
// by d_model^-0.5 first when the head is tied to the embedding.
func (m *T5) Logits(ctx compute.Context, h compute.Tensor) compute.Tensor {
	if m.ScaleDecoderOutput {
		h = ctx.Scale(h, float32(math.Pow(float64(m.DModel), -0.5)))
	}
	return ctx.Linear(h, m.Head, nil)
}

// Forward is attention from x, projecting keys and values from context
// (the encoder's self-attention; the decoder's is in Decode, with its
// cache).
func (a *T5Attention) Forward(ctx compute.Context, x, context compute.Tensor, opts compute.AttentionOptions, p *T5Params) compute.Tensor {
	k := ctx.Linear(context, a.Key, nil)
	v := ctx.Linear(context, a.Value, nil)
	return a.attend(ctx, x, k, v, opts, p)
}

// attend is unscaled attention from x to given keys and values, then the
// output projection.
func (a *T5Attention) attend(ctx compute.Context, x, k, v compute.Tensor, opts compute.AttentionOptions, p *T5Params) compute.Tensor {
	return a.output(ctx, ctx.Linear(x, a.Query, nil), k, v, opts, p)
}

// output is unscaled attention of queries q, then the output projection.
func (a *T5Attention) output(ctx compute.Context, q, k, v compute.Tensor, opts compute.AttentionOptions, p *T5Params) compute.Tensor {
	opts.Heads = p.Heads
	opts.Scale = 1 // T5 folds the scaling into its initialisation
	return ctx.Linear(ctx.Attention(q, k, v, opts), a.Output, nil)
}

// outputAdd is output, with the residual res added in the output
// projection's epilogue.
func (a *T5Attention) outputAdd(ctx compute.Context, q, k, v compute.Tensor, opts compute.AttentionOptions, p *T5Params, res compute.Tensor) compute.Tensor {
	opts.Heads = p.Heads
	opts.Scale = 1
	return ctx.LinearAdd(ctx.Attention(q, k, v, opts), a.Output, nil, res)
}

// forwardAdd is x + Forward(RMSNorm(x, norm, eps)), the norm in the input
// projections' prologue and the residual in the output's epilogue where
// the feed-forward is gated and bias-free (Flan-T5).
func (f *T5FF) forwardAdd(ctx compute.Context, x, norm compute.Tensor, eps float32, act string) compute.Tensor {
	if f.Gate == nil || f.Gate.Bias != nil || f.Up.Bias != nil {
		return ctx.Add(x, f.Forward(ctx, ctx.RMSNorm(x, norm, eps), act))
	}
	h := ctx.NormGatedLinear(act, x, norm, eps, f.Gate.Weight, f.Up.Weight)
	return ctx.LinearAdd(h, f.Out.Weight, f.Out.Bias, x)
}

// Forward is the feed-forward on normalised x.
func (f *T5FF) Forward(ctx compute.Context, x compute.Tensor, act string) compute.Tensor {
	var h compute.Tensor
	if f.Gate != nil {
		h = ctx.Gated(act, f.Gate.Forward(ctx, x), f.Up.Forward(ctx, x))
	} else {
		h = activate(ctx, act, f.In.Forward(ctx, x))
	}
	return f.Out.Forward(ctx, h)
}

// Kind is "t5".
func (m *T5) Kind() string { return "t5" }

func (m *T5) embeddings() (compute.Tensor, string) { return m.Shared, "language_model.shared" }

// prefix is the decoder start token: the answer is the decoder's own
// sequence, not a continuation of the prompt.
func (m *T5) prefix(promptIDs [][]int32, start config.TokenIDs) [][]int32 {
	id := m.DecoderStart
	if s, ok := start.First(); ok {
		id = int32(s)
	}
	out := make([][]int32, len(promptIDs))
	for i := range out {
		out[i] = []int32{id}
	}
	return out
}

// startTokens is the decoder start token for n sequences.
func (m *T5) startTokens(n int) []int32 {
	start := make([]int32, n)
	for i := range start {
		start[i] = m.DecoderStart
	}
	return start
}

// forward encodes the prompts and returns the logits of the first decoder
// position.
func (m *T5) forward(g compute.Context, p prompt, tr Trace) compute.Tensor {
	s := p.embeds.Shape()
	b, t := s[0], s[1]
	var mask compute.Tensor
	if am := additiveMask(p.mask); am != nil {
		mask = g.FromFloats([]int{b, t}, am)
	}
	enc := m.Encode(g, p.embeds, mask, tr)
	cross := m.crossKeysValues(g, enc, mask)
	x := g.Reshape(g.Embedding(m.DecoderEmbed, m.startTokens(b)), b, 1, m.DModel)
	return m.Logits(g, m.Decode(g, x, 0, cross, nil, tr))
}

// t5Decoding is a batch generating with T5: the decoder's self-attention
// cache, and the encoder's keys and values per prompt (crossBase) and as
// laid out for the live sequences (cross: the same tensors until
// sequences change prompts).
type t5Decoding struct {
	m                *T5
	long             compute.Context
	cache            *kvCache
	crossBase, cross *crossKV
	crossRows        []int
}

func (m *T5) prefill(ctx context.Context, g, long compute.Context, p prompt) (decoding, compute.Tensor, error) {
	s := p.embeds.Shape()
	b, t := s[0], s[1]
	var mask compute.Tensor
	if am := additiveMask(p.mask); am != nil {
		mask = long.FromFloats([]int{b, t}, am)
	}
	enc := m.Encode(g, p.embeds, mask, nil)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	capacity := p.positions
	if capacity <= 0 {
		capacity = initialCapacity
	}
	d := &t5Decoding{m: m, long: long, cache: newKVCache(long, p.kvDType, len(m.Decoder.Blocks), b, p.sequences, m.Heads*m.DKV, capacity)}
	d.crossBase = m.crossKeysValues(long, enc, mask)
	d.cross = d.crossBase
	for i := 0; i < b; i++ {
		d.crossRows = append(d.crossRows, i)
	}
	return d, d.step(g, m.startTokens(b)), nil
}

// step runs one decoder position over tokens.
func (d *t5Decoding) step(g compute.Context, tokens []int32) compute.Tensor {
	m, n := d.m, len(tokens)
	x := g.Reshape(g.Embedding(m.DecoderEmbed, tokens), n, 1, m.DModel)
	start := d.cache.length
	d.cache.reserve(1)
	h := m.Decode(g, x, start, d.cross, d.cache, nil)
	d.cache.advance(1)
	return m.Logits(g, g.Reshape(h, n, m.DModel))
}

// reorder reorders the self-attention cache and lays the encoder's keys
// and values out for the live sequences' prompts, reusing the current
// layout when it already matches (beam search keeps each beam on its
// prompt, so this copies only when the beams are first expanded).
func (d *t5Decoding) reorder(idx []int32, rows []int) {
	d.cache.reorder(idx)
	if slices.Equal(rows, d.crossRows) {
		return
	}
	gather := make([]int32, len(rows))
	for i, r := range rows {
		gather[i] = int32(r)
	}
	next := &crossKV{}
	for i := range d.crossBase.k {
		next.k = append(next.k, d.long.Gather(d.crossBase.k[i], gather))
		next.v = append(next.v, d.long.Gather(d.crossBase.v[i], gather))
	}
	if d.crossBase.mask != nil {
		next.mask = d.long.Gather(d.crossBase.mask, gather)
	}
	if d.cross != d.crossBase {
		d.cross.release()
	}
	d.cross, d.crossRows = next, slices.Clone(rows)
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
