package model

import (
	"fmt"
	"math"

	"glimpse/compute"
)

// QFormerParams are the Q-Former's hyperparameters (qformer_config).
type QFormerParams struct {
	Hidden, Intermediate, Heads, Layers int
	CrossAttentionFrequency             int
	EncoderHidden                       int // the vision encoder's width
	Vocab, MaxPositions                 int
	Eps                                 float32
	Act                                 string
}

// QFormer is InstructBLIP's querying transformer, a post-LN BERT: learned
// query embeddings and the instruction's text embeddings share
// self-attention; every CrossAttentionFrequency-th layer the query rows
// also attend to the image; query rows and text rows then go through
// separate feed-forward networks.
type QFormer struct {
	WordEmbeddings     compute.Tensor `st:"embeddings.word_embeddings.weight" kind:"matrix"`
	PositionEmbeddings compute.Tensor `st:"embeddings.position_embeddings.weight"`
	EmbeddingNorm      LayerNorm      `st:"embeddings.layernorm"`
	Layers             []QFormerLayer `st:"encoder.layer"`

	QFormerParams
}

// QFormerLayer is one BERT layer with the query/text split.
type QFormerLayer struct {
	Attention      QFormerAttention  `st:"attention"`
	CrossAttention *QFormerAttention `st:"crossattention"` // nil in layers without cross-attention
	// The text rows' feed-forward.
	Intermediate Linear    `st:"intermediate.dense"`
	Output       Linear    `st:"output.dense"`
	OutputNorm   LayerNorm `st:"output.LayerNorm"`
	// The query rows' feed-forward.
	IntermediateQuery Linear    `st:"intermediate_query.dense"`
	OutputQuery       Linear    `st:"output_query.dense"`
	OutputQueryNorm   LayerNorm `st:"output_query.LayerNorm"`
}

// QFormerAttention is BERT attention with its output block:
// LayerNorm(x + dense(attention(x, context))).
type QFormerAttention struct {
	Query  Linear    `st:"attention.query"`
	Key    Linear    `st:"attention.key"`
	Value  Linear    `st:"attention.value"`
	Dense  Linear    `st:"output.dense"`
	Norm   LayerNorm `st:"output.LayerNorm"`
	keyDim int       // width of the attended sequence
}

// newQFormer sizes the layers for the loader; cross-attention exists in
// layers 0, f, 2f, ….
func newQFormer(p QFormerParams) QFormer {
	q := QFormer{Layers: make([]QFormerLayer, p.Layers), QFormerParams: p}
	for i := range q.Layers {
		q.Layers[i].Attention.keyDim = p.Hidden
		if p.CrossAttentionFrequency > 0 && i%p.CrossAttentionFrequency == 0 {
			q.Layers[i].CrossAttention = &QFormerAttention{keyDim: p.EncoderHidden}
		}
	}
	return q
}

// check validates the loaded shapes against the hyperparameters.
func (q *QFormer) check(c *shapeCheck) {
	d, f := q.Hidden, q.Intermediate
	c.want(q.WordEmbeddings, q.Vocab, d)
	c.want(q.PositionEmbeddings, q.MaxPositions, d)
	norm := func(n *LayerNorm) { c.want(n.Weight, d); c.want(n.Bias, d) }
	attn := func(a *QFormerAttention) {
		c.wantLinear(&a.Query, d, d)
		c.wantLinear(&a.Key, d, a.keyDim)
		c.wantLinear(&a.Value, d, a.keyDim)
		c.wantLinear(&a.Dense, d, d)
		norm(&a.Norm)
	}
	norm(&q.EmbeddingNorm)
	for i := range q.Layers {
		l := &q.Layers[i]
		attn(&l.Attention)
		if l.CrossAttention != nil {
			attn(l.CrossAttention)
		}
		c.wantLinear(&l.Intermediate, f, d)
		c.wantLinear(&l.Output, d, f)
		norm(&l.OutputNorm)
		c.wantLinear(&l.IntermediateQuery, f, d)
		c.wantLinear(&l.OutputQuery, d, f)
		norm(&l.OutputQueryNorm)
	}
}

// Forward runs the Q-Former over queries [Q, hidden] (shared by the batch)
// followed by each row of text ids (right-padded, mask 0 on padding),
// attending to image [B, tokens, EncoderHidden]. It returns the last hidden
// state [B, Q+L, hidden].
func (q *QFormer) Forward(ctx compute.Context, queries compute.Tensor, ids, mask [][]int32, image compute.Tensor, tr Trace) compute.Tensor {
	b, d := len(ids), q.Hidden
	nq, l := queries.Shape()[0], len(ids[0])
	if image.Shape()[0] != b {
		panic(fmt.Sprintf("model: Q-Former text batch %d, image %v", b, image.Shape()))
	}

	// Embeddings: text gets word + absolute position embeddings (positions
	// count from 0 after the queries); the queries get none. One LayerNorm
	// covers both.
	flat := make([]int32, 0, b*l)
	positions := make([]int32, 0, b*l)
	for _, row := range ids {
		flat = append(flat, row...)
		for j := range row {
			positions = append(positions, int32(j))
		}
	}
	parts := make([]compute.Tensor, 0, 2*b)
	var text compute.Tensor
	if l > 0 {
		text = ctx.Add(ctx.Embedding(q.WordEmbeddings, flat), ctx.Embedding(q.PositionEmbeddings, positions))
	}
	for i := 0; i < b; i++ {
		parts = append(parts, queries)
		if l > 0 {
			parts = append(parts, ctx.Rows(text, i*l, l))
		}
	}
	h := ctx.Reshape(ctx.Concat(parts...), b, nq+l, d)
	h = q.EmbeddingNorm.Forward(ctx, h, q.Eps)

	// The queries are always attended; the text follows its mask.
	full := make([][]int32, b)
	for i := range full {
		full[i] = make([]int32, 0, nq+l)
		for j := 0; j < nq; j++ {
			full[i] = append(full[i], 1)
		}
		if mask == nil {
			for j := 0; j < l; j++ {
				full[i] = append(full[i], 1)
			}
		} else {
			full[i] = append(full[i], mask[i]...)
		}
	}
	var maskT compute.Tensor
	if m := additiveMask(full); m != nil {
		maskT = ctx.FromFloats([]int{b, nq + l}, m)
	}

	for i := range q.Layers {
		h = q.Layers[i].Forward(ctx, h, maskT, image, nq, &q.QFormerParams)
		tr.emitf(ctx, h, "qformer.encoder.layer.%d", i)
	}
	tr.emit(ctx, "qformer", h)
	return h
}

// Forward runs one layer over x [B, nq+L, hidden].
func (l *QFormerLayer) Forward(ctx compute.Context, x, mask, image compute.Tensor, nq int, p *QFormerParams) compute.Tensor {
	h := l.Attention.Forward(ctx, x, x, mask, p)
	total := h.Shape()[1]

	// Query rows: cross-attention to the image, then their own feed-forward.
	query := batchRows(ctx, h, 0, nq)
	if l.CrossAttention != nil {
		query = l.CrossAttention.Forward(ctx, query, image, nil, p)
	}
	query = feedForward(ctx, query, &l.IntermediateQuery, &l.OutputQuery, &l.OutputQueryNorm, p)
	if total == nq {
		return query
	}

	// Text rows: the text feed-forward.
	text := batchRows(ctx, h, nq, total-nq)
	text = feedForward(ctx, text, &l.Intermediate, &l.Output, &l.OutputNorm, p)
	return joinRows(ctx, query, text)
}

// feedForward is BERT's intermediate and output blocks:
// LayerNorm(x + out(act(in(x)))).
func feedForward(ctx compute.Context, x compute.Tensor, in, out *Linear, norm *LayerNorm, p *QFormerParams) compute.Tensor {
	h := out.Forward(ctx, activate(ctx, p.Act, in.Forward(ctx, x)))
	return norm.Forward(ctx, ctx.Add(h, x), p.Eps)
}

// Forward attends from x to context (x itself for self-attention) and
// applies the output block.
func (a *QFormerAttention) Forward(ctx compute.Context, x, context, mask compute.Tensor, p *QFormerParams) compute.Tensor {
	q := a.Query.Forward(ctx, x)
	k := a.Key.Forward(ctx, context)
	v := a.Value.Forward(ctx, context)
	o := ctx.Attention(q, k, v, compute.AttentionOptions{
		Heads: p.Heads,
		Scale: float32(1 / math.Sqrt(float64(p.Hidden/p.Heads))),
		Mask:  mask,
	})
	return a.Norm.Forward(ctx, ctx.Add(a.Dense.Forward(ctx, o), x), p.Eps)
}
