package model

import (
	"fmt"
	"math"

	"glimpse/compute"
)

// VisionParams are the vision encoder's hyperparameters (vision_config).
type VisionParams struct {
	Hidden, Intermediate, Heads, Layers int
	ImageSize, PatchSize                int
	Eps                                 float32
	Act                                 string // compute activation name
}

// VisionModel is InstructBLIP's EVA ViT: the image cut into patches, each
// embedded linearly, a class token in front, learned position embeddings,
// pre-LN transformer blocks and a final LayerNorm over all tokens.
type VisionModel struct {
	PatchEmbedding Linear         `st:"embeddings.patch_embedding"` // the Conv2d, as a matrix over flattened patches
	ClassEmbedding compute.Tensor `st:"embeddings.class_embedding"`
	Position       compute.Tensor `st:"embeddings.position_embedding"`
	Layers         []VisionLayer  `st:"encoder.layers"`
	PostNorm       LayerNorm      `st:"post_layernorm"`

	VisionParams
}

// VisionLayer is one pre-LN transformer block.
type VisionLayer struct {
	Norm1     LayerNorm       `st:"layer_norm1"`
	Attention VisionAttention `st:"self_attn"`
	Norm2     LayerNorm       `st:"layer_norm2"`
	FC1       Linear          `st:"mlp.fc1"`
	FC2       Linear          `st:"mlp.fc2"`
}

// VisionAttention is multi-head self-attention with the fused qkv matrix
// split into its query, key and value rows. EVA has no key bias: the
// original checkpoints store q_bias and v_bias (the fused bias is
// cat(q_bias, 0, v_bias)); re-saves store the fused qkv.bias.
type VisionAttention struct {
	Query      compute.Tensor `st:"qkv.weight#0/3" kind:"matrix"`
	Key        compute.Tensor `st:"qkv.weight#1/3" kind:"matrix"`
	Value      compute.Tensor `st:"qkv.weight#2/3" kind:"matrix"`
	QueryBias  compute.Tensor `st:"q_bias,qkv.bias#0/3"`
	KeyBias    compute.Tensor `st:"qkv.bias#1/3,optional"`
	ValueBias  compute.Tensor `st:"v_bias,qkv.bias#2/3"`
	Projection Linear         `st:"projection"`
}

// newVisionModel sizes the layer list for the loader.
func newVisionModel(p VisionParams) VisionModel {
	return VisionModel{Layers: make([]VisionLayer, p.Layers), VisionParams: p}
}

// tokens is the sequence length: one per patch plus the class token.
func (p *VisionParams) tokens() int {
	g := p.ImageSize / p.PatchSize
	return g*g + 1
}

// check validates the loaded shapes against the hyperparameters.
func (v *VisionModel) check(c *shapeCheck) {
	d := v.Hidden
	c.want(v.PatchEmbedding.Weight, d, 3*v.PatchSize*v.PatchSize)
	c.want(v.PatchEmbedding.Bias, d)
	c.want(v.ClassEmbedding, 1, 1, d)
	c.want(v.Position, 1, v.tokens(), d)
	for i := range v.Layers {
		l := &v.Layers[i]
		for _, n := range []*LayerNorm{&l.Norm1, &l.Norm2} {
			c.want(n.Weight, d)
			c.want(n.Bias, d)
		}
		a := &l.Attention
		for _, w := range []compute.Tensor{a.Query, a.Key, a.Value} {
			c.want(w, d, d)
		}
		for _, b := range []compute.Tensor{a.QueryBias, a.KeyBias, a.ValueBias} {
			c.want(b, d)
		}
		c.wantLinear(&a.Projection, d, d)
		c.wantLinear(&l.FC1, v.Intermediate, d)
		c.wantLinear(&l.FC2, d, v.Intermediate)
	}
	c.want(v.PostNorm.Weight, d)
	c.want(v.PostNorm.Bias, d)
}

// Forward encodes images [B, 3, H, W] into [B, tokens, hidden] image
// embeddings (the last hidden state after post_layernorm).
func (v *VisionModel) Forward(ctx compute.Context, pixels compute.Tensor, tr Trace) compute.Tensor {
	s := pixels.Shape()
	if len(s) != 4 || s[1] != 3 || s[2] != v.ImageSize || s[3] != v.ImageSize {
		panic(fmt.Sprintf("model: vision input %v, want [B 3 %d %d]", s, v.ImageSize, v.ImageSize))
	}
	b, d, n := s[0], v.Hidden, v.tokens()-1

	// Patch embedding: a stride-p convolution is a matrix product over the
	// flattened patches.
	patches := v.PatchEmbedding.Forward(ctx, ctx.Patches(pixels, v.PatchSize)) // [B, n, d]
	patches = ctx.Reshape(patches, b*n, d)

	// The class token goes first; position embeddings are added to both.
	pos := ctx.Reshape(v.Position, n+1, d)
	class := ctx.Add(ctx.Reshape(v.ClassEmbedding, 1, d), ctx.Rows(pos, 0, 1))
	patchPos := ctx.Rows(pos, 1, n)
	parts := make([]compute.Tensor, 0, 2*b)
	for i := 0; i < b; i++ {
		parts = append(parts, class, ctx.Add(ctx.Rows(patches, i*n, n), patchPos))
	}
	h := ctx.Reshape(ctx.Concat(parts...), b, n+1, d)
	tr.emit(ctx, "vision_model.embeddings", h)

	for i := range v.Layers {
		h = v.Layers[i].Forward(ctx, h, &v.VisionParams)
		tr.emitf(ctx, h, "vision_model.encoder.layers.%d", i)
	}
	h = v.PostNorm.Forward(ctx, h, v.Eps)
	tr.emit(ctx, "vision_model", h)
	return h
}

// Forward runs one block: x + attn(LN1(x)), then + mlp(LN2(·)).
//
// Every tensor it makes but the result is released as soon as it is used:
// the context would otherwise keep them all until it closes, about 27 MB a
// layer for ViT-g's 257 tokens, over 1 GB for its 39 layers, as much as a
// q4 language model's activations and cache many times over.
func (l *VisionLayer) Forward(ctx compute.Context, x compute.Tensor, p *VisionParams) compute.Tensor {
	h := l.Norm1.Forward(ctx, x, p.Eps)
	a := l.Attention.Forward(ctx, h, p)
	h.Release()
	x1 := ctx.Add(x, a)
	a.Release()

	h = l.Norm2.Forward(ctx, x1, p.Eps)
	f := l.FC1.Forward(ctx, h)
	h.Release()
	g := activate(ctx, p.Act, f)
	f.Release()
	h = l.FC2.Forward(ctx, g)
	g.Release()
	out := ctx.Add(x1, h)
	x1.Release()
	h.Release()
	return out
}

// Forward is scaled-dot-product self-attention over all tokens.
func (a *VisionAttention) Forward(ctx compute.Context, x compute.Tensor, p *VisionParams) compute.Tensor {
	q := ctx.Linear(x, a.Query, a.QueryBias)
	k := ctx.Linear(x, a.Key, a.KeyBias)
	v := ctx.Linear(x, a.Value, a.ValueBias)
	headDim := p.Hidden / p.Heads
	o := ctx.Attention(q, k, v, compute.AttentionOptions{
		Heads: p.Heads,
		Scale: float32(1 / math.Sqrt(float64(headDim))),
	})
	q.Release()
	k.Release()
	v.Release()
	out := a.Projection.Forward(ctx, o)
	o.Release()
	return out
}
