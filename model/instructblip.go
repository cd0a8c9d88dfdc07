// Package model runs InstructBLIP on the compute engine: the EVA vision
// encoder (vision.go), the Q-Former (qformer.go), the language projection and
// the whole model (instructblip.go), and the two language models it comes
// with, LLaMA/Vicuna (llama.go) and Flan-T5 (t5.go), both behind the
// LanguageModel interface (language.go). Weights are read from a Hugging Face
// folder by one generic loader (load.go) that fills the structs' tagged
// fields; sessions (session.go) run a batch of prompts forward for the
// generation loop in package generate, keeping a KV cache (kvcache.go).
package model

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"glimpse/checkpoint/config"
	"glimpse/checkpoint/safetensors"
	"glimpse/checkpoint/store"
	"glimpse/compute"
)

// Model is an InstructBLIP model whose weights live on a compute backend:
// the vision encoder turns the image into patch embeddings, the Q-Former's
// learned queries read them (conditioned on the instruction), the language
// projection maps the query outputs into the language model's embedding
// space, and they take the place of the `<image>` tokens of the prompt.
//
// A Model is safe for concurrent use by several sessions; it must not be
// used after Close.
type Model struct {
	Config *config.Model

	Vision      VisionModel    `st:"vision_model"`
	QueryTokens compute.Tensor `st:"query_tokens"` // [1, queries, qformer hidden]
	QFormer     QFormer        `st:"qformer"`
	Projection  Linear         `st:"language_projection"`
	Language    LanguageModel  `st:"language_model"` // *Llama or *T5

	backend compute.Backend
	weights *weights
	// source is where the weights came from, and warning why the converted
	// copy was rebuilt or not written ("" when neither).
	source  WeightSource
	warning string
	// kvFloat32 gives the sessions float32 KV caches rather than F16 ones
	// (kvDType).
	kvFloat32 bool
}

// kvDType is the dtype of the sessions' KV caches.
func (m *Model) kvDType() compute.DType {
	if m.kvFloat32 {
		return compute.F32
	}
	return compute.F16
}

// Load reads config.json and the safetensors weights of the model folder
// dir and uploads the weights to be, once; sessions reuse them. Loading
// stops with ctx's error when ctx is cancelled, freeing what it uploaded.
func Load(ctx context.Context, be compute.Backend, dir string, opt LoadOptions) (*Model, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, err
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIncomplete, err)
	}
	defer set.Close()
	m, err := newModel(cfg, stackDepths(set.Names()))
	if err != nil {
		return nil, err
	}
	cv := openConverted(set, opt)
	w, err := loadWeights(ctx, be, set, m, opt, cv)
	if cv.source() == FromStore && (errors.Is(err, store.ErrDamaged) || errors.Is(err, store.ErrStale)) {
		// A tensor's bytes in the copy were damaged: convert after all.
		cv.rebuild(err)
		w, err = loadWeights(ctx, be, set, m, opt, cv)
	}
	cv.finish(err)
	if err != nil {
		cv.close()
		return nil, err
	}
	m.backend, m.weights, m.source = be, w, cv.source()
	// Every backend holds its own copy of the words (the CPU engine's in
	// huge pages: converted.go's upload), so the store file can go now.
	cv.close()
	// A float32 model keeps a float32 cache: it is the reference, held to
	// transformers' float32 logits. Every reduced precision gets the F16
	// cache, whose rounding is far below the weights'.
	m.kvFloat32 = opt.Mix == FP32 || (opt.Mix == "" && opt.Precision == compute.F32)
	if cv != nil {
		m.warning = cv.warning
	}
	if err := m.check(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// newModel builds the empty network for a configuration, once its layer
// counts agree with the blocks the checkpoint holds (depth: the number of
// numbered blocks under each tensor-name prefix). The network's layer
// lists are sized from the config, so a config.json that claims 100,000,000
// layers must be refused here, before anything is allocated.
func newModel(cfg *config.Model, depth map[string]int) (*Model, error) {
	vp, qp, err := visionQFormerParams(cfg)
	if err != nil {
		return nil, err
	}
	stacks := []stack{
		{"vision_config.num_hidden_layers", "vision_model.encoder.layers", vp.Layers},
		{"qformer_config.num_hidden_layers", "qformer.encoder.layer", qp.Layers},
	}
	var build func() LanguageModel
	switch c := cfg.Text.Language.(type) {
	case *config.Llama:
		p, err := llamaParams(c)
		if err != nil {
			return nil, err
		}
		stacks = append(stacks, stack{"text_config.num_hidden_layers", "language_model.model.layers", p.Layers})
		build = func() LanguageModel { return newLlama(p) }
	case *config.T5:
		p, err := t5Params(c)
		if err != nil {
			return nil, err
		}
		stacks = append(stacks, stack{"text_config.num_layers", "language_model.encoder.block", p.EncoderLayers},
			stack{"text_config.num_decoder_layers", "language_model.decoder.block", p.DecoderLayers})
		build = func() LanguageModel { return newT5(p) }
	default:
		return nil, errors.New("config.json names no supported language model")
	}
	for _, s := range stacks {
		if got := depth[s.prefix]; s.layers != got {
			return nil, fmt.Errorf("%w: config.json's %s is %d, but the weights hold %d blocks of %s",
				ErrIncomplete, s.key, s.layers, got, s.prefix)
		}
	}
	return &Model{Config: cfg, Vision: newVisionModel(vp), QFormer: newQFormer(qp), Language: build()}, nil
}

// stack is one numbered list of blocks: the config key that sizes it, the
// checkpoint prefix its tensors are under, and the configured count.
type stack struct {
	key, prefix string
	layers      int
}

// stackDepths returns, for every tensor-name prefix followed by a block
// number ("language_model.model.layers" in
// "language_model.model.layers.31.mlp.up_proj.weight"), one more than the
// highest number found.
func stackDepths(names []string) map[string]int {
	depth := map[string]int{}
	for _, name := range names {
		parts := strings.Split(name, ".")
		for i := 1; i < len(parts); i++ {
			n, err := strconv.Atoi(parts[i])
			if err != nil || n < 0 {
				continue
			}
			prefix := strings.Join(parts[:i], ".")
			depth[prefix] = max(depth[prefix], n+1)
		}
	}
	return depth
}

// check validates every loaded shape against the configuration.
func (m *Model) check() error {
	c := &shapeCheck{w: m.weights}
	m.Vision.check(c)
	c.want(m.QueryTokens, 1, m.Config.NumQueryTokens, m.QFormer.Hidden)
	m.QFormer.check(c)
	c.wantLinear(&m.Projection, m.Config.Text.HiddenSize(), m.QFormer.Hidden)
	m.Language.check(c)
	return c.err()
}

// Close frees the model's weights. Sessions must be closed first.
func (m *Model) Close() {
	if m.weights != nil {
		m.weights.release()
		m.weights = nil
	}
}

// Backend is the backend holding the weights.
func (m *Model) Backend() compute.Backend { return m.backend }

// Decoder names the language model's architecture: "llama" or "t5".
func (m *Model) Decoder() string { return m.Language.Kind() }

// GenerationPrefix is what generation continues for each prompt of a
// batch: the prompt's ids for Vicuna, the decoder start token for Flan-T5
// (start, when set, overrides config.json's, as generation_config.json's
// decoder_start_token_id does in transformers).
func (m *Model) GenerationPrefix(promptIDs [][]int32, start config.TokenIDs) [][]int32 {
	return m.Language.prefix(promptIDs, start)
}

// VocabSize is the number of logits per position: the language model's
// embedding rows, which may exceed the tokenizer's size (padded Vicuna).
func (m *Model) VocabSize() int { return m.Config.Text.VocabSize() }

// Inputs is one batch of prompts as InstructBlipProcessor prepares them:
// the language model's ids with NumQueryTokens `<image>` tokens per row,
// left-padded to one length, and the Q-Former's instruction ids,
// right-padded. Nil masks mean all ones.
type Inputs struct {
	PixelValues          []float32 // [batch, 3, image_size, image_size], normalised
	InputIDs             [][]int32
	AttentionMask        [][]int32
	QFormerInputIDs      [][]int32
	QFormerAttentionMask [][]int32
}

// Batch is the number of prompts.
func (in *Inputs) Batch() int { return len(in.InputIDs) }

// ErrInput reports inputs that do not fit the model (wrong sizes, ids
// outside the vocabulary, a prompt without its image tokens).
var ErrInput = errors.New("invalid model input")

// validate checks in against the model so that forward passes cannot panic.
func (m *Model) validate(in *Inputs) error {
	b := len(in.InputIDs)
	if b == 0 {
		return fmt.Errorf("%w: empty batch", ErrInput)
	}
	s := m.Vision.ImageSize
	if len(in.PixelValues) != b*3*s*s {
		return fmt.Errorf("%w: %d pixel values for %d images of 3×%d×%d", ErrInput, len(in.PixelValues), b, s, s)
	}
	if len(in.QFormerInputIDs) != b {
		return fmt.Errorf("%w: %d Q-Former rows for %d prompts", ErrInput, len(in.QFormerInputIDs), b)
	}
	if err := checkRows("input_ids", in.InputIDs, in.AttentionMask, m.VocabSize()); err != nil {
		return err
	}
	if err := checkRows("qformer_input_ids", in.QFormerInputIDs, in.QFormerAttentionMask, m.QFormer.Vocab); err != nil {
		return err
	}
	if l := len(in.QFormerInputIDs[0]); l > m.QFormer.MaxPositions {
		return fmt.Errorf("%w: the instruction has %d Q-Former tokens, more than its %d positions", ErrInput, l, m.QFormer.MaxPositions)
	}
	if m.Config.HasImageTokenIndex {
		q := m.Config.NumQueryTokens
		for i, row := range in.InputIDs {
			n := 0
			for _, id := range row {
				if int(id) == m.Config.ImageTokenIndex {
					n++
				}
			}
			if n != q {
				return fmt.Errorf("%w: prompt %d has %d image tokens, the model needs %d", ErrInput, i, n, q)
			}
		}
	}
	return nil
}

// checkRows checks that ids are a rectangle of valid ids, and the mask (if
// any) a rectangle of the same size holding 0s and 1s.
func checkRows(name string, ids, mask [][]int32, vocab int) error {
	if len(ids[0]) == 0 {
		return fmt.Errorf("%w: empty %s", ErrInput, name)
	}
	for i, row := range ids {
		if len(row) != len(ids[0]) {
			return fmt.Errorf("%w: %s rows have different lengths (%d and %d); pad them", ErrInput, name, len(ids[0]), len(row))
		}
		for _, id := range row {
			if id < 0 || int(id) >= vocab {
				return fmt.Errorf("%w: %s row %d holds id %d, outside the vocabulary of %d", ErrInput, name, i, id, vocab)
			}
		}
	}
	if mask == nil {
		return nil
	}
	if len(mask) != len(ids) {
		return fmt.Errorf("%w: %d %s mask rows for %d rows", ErrInput, len(mask), name, len(ids))
	}
	for i, row := range mask {
		if len(row) != len(ids[i]) {
			return fmt.Errorf("%w: %s mask row %d has %d entries for %d ids", ErrInput, name, i, len(row), len(ids[i]))
		}
		for _, v := range row {
			if v != 0 && v != 1 {
				return fmt.Errorf("%w: %s mask holds %d (only 0 and 1 are allowed)", ErrInput, name, v)
			}
		}
	}
	return nil
}

// ones returns n rows of t ones.
func ones(n, t int) [][]int32 {
	out := make([][]int32, n)
	for i := range out {
		out[i] = make([]int32, t)
		for j := range out[i] {
			out[i][j] = 1
		}
	}
	return out
}

// prompt is the language model's input for a batch.
type prompt struct {
	embeds compute.Tensor // [B, T, hidden]
	mask   [][]int32      // 0/1 attention mask, [B][T]
	// positions and sequences size a KV cache for the whole request
	// (Session.Reserve): the most positions a sequence reaches, prompt
	// included (T5: decoder positions), and the most live sequences; 0
	// when not known, and the cache then grows as it goes.
	positions, sequences int
	// kvDType is the KV cache's dtype (Model.kvDType).
	kvDType compute.DType
}

// embedPrompt runs the image side (vision encoder, Q-Former, projection)
// and returns the language model's input embeddings with the projected
// query outputs written over the `<image>` positions, in order, as
// transformers' masked_scatter does. Configurations without an image token
// (older checkpoints) put the query outputs in front of the prompt instead.
func (m *Model) embedPrompt(ctx compute.Context, in *Inputs, tr Trace) prompt {
	b, t := len(in.InputIDs), len(in.InputIDs[0])
	s := m.Vision.ImageSize
	pixels := ctx.FromFloats([]int{b, 3, s, s}, in.PixelValues)
	image := m.Vision.Forward(ctx, pixels, tr)

	nq, dq := m.Config.NumQueryTokens, m.QFormer.Hidden
	queries := ctx.Reshape(m.QueryTokens, nq, dq)
	h := m.QFormer.Forward(ctx, queries, in.QFormerInputIDs, in.QFormerAttentionMask, image, tr)
	query := batchRows(ctx, h, 0, nq)
	projected := m.Projection.Forward(ctx, query) // [B, nq, hidden]
	tr.emit(ctx, "language_projection", projected)

	mask := in.AttentionMask
	if mask == nil {
		mask = ones(b, t)
	}
	flat := make([]int32, 0, b*t)
	for _, row := range in.InputIDs {
		flat = append(flat, row...)
	}
	d := m.Config.Text.HiddenSize()
	table, name := m.Language.embeddings()
	embeds := ctx.Embedding(table, flat) // [B*T, d]
	tr.emit(ctx, name, ctx.Reshape(embeds, b, t, d))

	if !m.Config.HasImageTokenIndex {
		text := ctx.Reshape(embeds, b, t, d)
		full := make([][]int32, b)
		for i := range full {
			full[i] = append(ones(1, nq)[0], mask[i]...)
		}
		return prompt{embeds: joinRows(ctx, projected, text), mask: full}
	}

	// Write the query outputs over each run of image tokens.
	rows := ctx.Reshape(projected, b*nq, d)
	image0 := int32(m.Config.ImageTokenIndex)
	next := 0
	for p := 0; p < len(flat); {
		if flat[p] != image0 {
			p++
			continue
		}
		run := 0
		for p+run < len(flat) && flat[p+run] == image0 {
			run++
		}
		ctx.SetRows(embeds, 0, p, ctx.Rows(rows, next, run))
		next += run
		p += run
	}
	return prompt{embeds: ctx.Reshape(embeds, b, t, d), mask: mask}
}

// Forward runs the whole model once over a batch of prompts, as
// transformers' forward() does (for T5 with decoder input
// [decoder_start_token_id]), calling tr (if not nil) with intermediate
// tensors. It returns the logits with their shape: [B, T, vocab] for LLaMA
// (every prompt position), [B, 1, vocab] for T5.
func (m *Model) Forward(ctx context.Context, in *Inputs, tr Trace) ([]float32, []int, error) {
	if err := m.validate(in); err != nil {
		return nil, nil, err
	}
	g := m.backend.NewContext()
	defer g.Close()
	p := m.embedPrompt(g, in, tr)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	logits := m.Language.forward(g, p, tr)
	tr.emit(g, "logits", logits)
	shape := append([]int(nil), logits.Shape()...)
	return g.Read(logits), shape, ctx.Err()
}

// visionQFormerParams turns the vision and Q-Former configs into
// hyperparameters.
func visionQFormerParams(cfg *config.Model) (VisionParams, QFormerParams, error) {
	v, q := cfg.Vision, cfg.QFormer
	vact, err := ungatedActivation(v.HiddenAct)
	if err != nil {
		return VisionParams{}, QFormerParams{}, fmt.Errorf("vision_config: %w", err)
	}
	qact, err := ungatedActivation(q.HiddenAct)
	if err != nil {
		return VisionParams{}, QFormerParams{}, fmt.Errorf("qformer_config: %w", err)
	}
	if q.PositionEmbeddingType != "" && q.PositionEmbeddingType != "absolute" {
		return VisionParams{}, QFormerParams{}, fmt.Errorf("qformer_config: position_embedding_type %q is not supported", q.PositionEmbeddingType)
	}
	vp := VisionParams{
		Hidden: v.HiddenSize, Intermediate: v.IntermediateSize, Heads: v.NumAttentionHeads, Layers: v.NumHiddenLayers,
		ImageSize: v.ImageSize, PatchSize: v.PatchSize, Eps: float32(v.LayerNormEps), Act: vact,
	}
	qp := QFormerParams{
		Hidden: q.HiddenSize, Intermediate: q.IntermediateSize, Heads: q.NumAttentionHeads, Layers: q.NumHiddenLayers,
		CrossAttentionFrequency: q.CrossAttentionFrequency, EncoderHidden: q.EncoderHiddenSize,
		Vocab: q.VocabSize, MaxPositions: q.MaxPositionEmbeddings, Eps: float32(q.LayerNormEps), Act: qact,
	}
	return vp, qp, nil
}

// llamaParams turns a LLaMA text config into hyperparameters.
func llamaParams(c *config.Llama) (LlamaParams, error) {
	act, err := activation(c.HiddenAct)
	if err != nil {
		return LlamaParams{}, fmt.Errorf("text_config: %w", err)
	}
	if c.Rope.Type != "" && c.Rope.Type != "default" {
		return LlamaParams{}, fmt.Errorf("text_config: rotary scaling %q is not supported", c.Rope.Type)
	}
	return LlamaParams{
		Hidden: c.HiddenSize, Intermediate: c.IntermediateSize, Layers: c.NumHiddenLayers,
		Heads: c.NumAttentionHeads, KVHeads: c.NumKeyValueHeads, HeadDim: c.HeadDim, Vocab: c.VocabSize,
		Eps: float32(c.RMSNormEps), RopeTheta: float32(c.Rope.Theta), Act: act,
	}, nil
}

// t5Params turns a T5 text config into hyperparameters.
func t5Params(c *config.T5) (T5Params, error) {
	act, err := activation(c.DenseActFn)
	if !c.IsGatedAct {
		act, err = ungatedActivation(c.DenseActFn)
	}
	if err != nil {
		return T5Params{}, fmt.Errorf("text_config: %w", err)
	}
	return T5Params{
		DModel: c.DModel, DFF: c.DFF, DKV: c.DKV, Heads: c.NumHeads,
		EncoderLayers: c.NumLayers, DecoderLayers: c.NumDecoderLayers,
		Buckets: c.RelativeAttentionNumBuckets, MaxDistance: c.RelativeAttentionMaxDistance,
		Vocab: c.VocabSize, Eps: float32(c.LayerNormEps), Act: act, Gated: c.IsGatedAct,
		ScaleDecoderOutput: c.ScaleDecoderOutputs, DecoderStart: int32(c.DecoderStartTokenID),
	}, nil
}
