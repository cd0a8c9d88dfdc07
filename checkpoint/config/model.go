// Package config reads the JSON settings of an InstructBLIP model folder laid
// out like a Hugging Face Hub repo: config.json (the networks),
// generation_config.json (decoding defaults) and processor_config.json or
// preprocessor_config.json (image preprocessing and the number of query
// tokens).
//
// Keys absent from a file take the defaults of transformers' configuration
// classes (InstructBlipVisionConfig, InstructBlipQFormerConfig, LlamaConfig,
// T5Config, GenerationConfig, BlipImageProcessor), so a terse config behaves
// as it does in transformers.
//
// Quirks of the real checkpoints that callers must know:
//
//   - Vicuna's config.json (and generation_config.json) carry bos 0 / eos 1,
//     inherited from an early LLaMA conversion; the tokenizer's `</s>` (id 2)
//     is the real bos and eos. The ids are exposed as written, and generation
//     must take its stop token from the tokenizer, not from here.
//   - The Vicuna embedding and lm_head are padded to 32064 rows while the
//     tokenizer has 32002 tokens: Llama.VocabSize is the row count of the
//     weights, not the tokenizer's size, and ids past the tokenizer's size
//     must never be emitted.
//   - ImageTokenIndex is the id of `<image>`, which the processor repeats
//     NumQueryTokens times; older configs lack it (HasImageTokenIndex false).
//   - T5: a dense_act_fn written in the file wins over the one derived from
//     feed_forward_proj (InstructBLIP Flan-T5 uses exact "gelu" with
//     "gated-gelu"), and the decoder output is scaled by d_model^-0.5 before
//     the head only when ScaleDecoderOutputs.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File names in a model folder.
const (
	ModelFile        = "config.json"
	GenerationFile   = "generation_config.json"
	ProcessorFile    = "processor_config.json"
	PreprocessorFile = "preprocessor_config.json"
)

// ErrMissing is wrapped by errors about a file that a model folder lacks.
var ErrMissing = errors.New("model folder is incomplete")

// Model is config.json of an InstructBlipForConditionalGeneration.
type Model struct {
	Vision  Vision
	QFormer QFormer
	Text    Text
	// NumQueryTokens is the number of learned Q-Former queries, and so the
	// number of `<image>` tokens in the language model's input.
	NumQueryTokens int
	// ImageTokenIndex is the id of the `<image>` token; valid only when
	// HasImageTokenIndex.
	ImageTokenIndex    int
	HasImageTokenIndex bool
	// DecoderOnly is true for a causal language model (LLaMA/Vicuna) and
	// false for an encoder-decoder (T5), as transformers derives it from the
	// text model type.
	DecoderOnly bool
}

// Vision is the EVA ViT image encoder (InstructBlipVisionConfig).
type Vision struct {
	HiddenSize        int     `json:"hidden_size"`
	IntermediateSize  int     `json:"intermediate_size"`
	NumHiddenLayers   int     `json:"num_hidden_layers"`
	NumAttentionHeads int     `json:"num_attention_heads"`
	ImageSize         int     `json:"image_size"`
	PatchSize         int     `json:"patch_size"`
	HiddenAct         string  `json:"hidden_act"`
	LayerNormEps      float64 `json:"layer_norm_eps"`
	QKVBias           bool    `json:"qkv_bias"`
}

// NumPatches is (ImageSize/PatchSize)²; the encoder sees one more token,
// the class embedding.
func (v Vision) NumPatches() int { return (v.ImageSize / v.PatchSize) * (v.ImageSize / v.PatchSize) }

// QFormer is the querying transformer (InstructBlipQFormerConfig).
type QFormer struct {
	VocabSize               int     `json:"vocab_size"`
	HiddenSize              int     `json:"hidden_size"`
	NumHiddenLayers         int     `json:"num_hidden_layers"`
	NumAttentionHeads       int     `json:"num_attention_heads"`
	IntermediateSize        int     `json:"intermediate_size"`
	HiddenAct               string  `json:"hidden_act"`
	MaxPositionEmbeddings   int     `json:"max_position_embeddings"`
	LayerNormEps            float64 `json:"layer_norm_eps"`
	PadTokenID              int     `json:"pad_token_id"`
	PositionEmbeddingType   string  `json:"position_embedding_type"`
	CrossAttentionFrequency int     `json:"cross_attention_frequency"`
	// EncoderHiddenSize is the width of the image features cross-attended
	// to; transformers overwrites the file's value with Vision.HiddenSize,
	// and so does Load.
	EncoderHiddenSize int `json:"encoder_hidden_size"`
}

// HasCrossAttention reports whether Q-Former layer i cross-attends to the
// image (every CrossAttentionFrequency-th layer, starting at 0).
func (q QFormer) HasCrossAttention(i int) bool {
	return q.CrossAttentionFrequency > 0 && i%q.CrossAttentionFrequency == 0
}

// Text is the language model's config: Language is a *Llama or a *T5, as
// ModelType says. Code that needs the concrete settings switches on
// Language's type once (the model package builds its network that way);
// everything else asks the Language interface.
type Text struct {
	ModelType string // "llama" or "t5"
	Language  Language
}

// Language is what every language model's config answers, whatever its
// architecture.
type Language interface {
	// Vocab is the number of rows of the embedding and the output layer
	// (which may exceed the tokenizer's size: Vicuna's 32064).
	Vocab() int
	// Width is the hidden size, the language projection's output size.
	Width() int
	// ContextLength is the most positions the model can attend over, or 0
	// when its position encoding sets no limit (T5's relative buckets).
	ContextLength() int
	// generationDefaults fills the token ids transformers derives for a
	// folder without generation_config.json.
	generationDefaults(g *Generation)
}

// defaultsVision are InstructBlipVisionConfig's defaults (EVA ViT-g/14).
func defaultsVision() Vision {
	return Vision{HiddenSize: 1408, IntermediateSize: 6144, NumHiddenLayers: 39, NumAttentionHeads: 16,
		ImageSize: 224, PatchSize: 14, HiddenAct: "gelu", LayerNormEps: 1e-6, QKVBias: true}
}

// defaultsQFormer are InstructBlipQFormerConfig's defaults (BERT-base).
func defaultsQFormer() QFormer {
	return QFormer{VocabSize: 30522, HiddenSize: 768, NumHiddenLayers: 12, NumAttentionHeads: 12,
		IntermediateSize: 3072, HiddenAct: "gelu", MaxPositionEmbeddings: 512, LayerNormEps: 1e-12,
		PadTokenID: 0, PositionEmbeddingType: "absolute", CrossAttentionFrequency: 2, EncoderHiddenSize: 1408}
}

type rawModel struct {
	ModelType                   string          `json:"model_type"`
	VisionConfig                json.RawMessage `json:"vision_config"`
	QFormerConfig               json.RawMessage `json:"qformer_config"`
	TextConfig                  json.RawMessage `json:"text_config"`
	NumQueryTokens              *int            `json:"num_query_tokens"`
	ImageTokenIndex             *int            `json:"image_token_index"`
	UseDecoderOnlyLanguageModel *bool           `json:"use_decoder_only_language_model"`
	TieWordEmbeddings           *bool           `json:"tie_word_embeddings"`
}

// Load reads config.json from a model folder.
func Load(dir string) (*Model, error) {
	b, err := readFile(dir, ModelFile)
	if err != nil {
		return nil, err
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ModelFile), err)
	}
	return m, nil
}

// Parse decodes the contents of an InstructBLIP config.json.
func Parse(b []byte) (*Model, error) {
	var raw rawModel
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if raw.ModelType != "" && raw.ModelType != "instructblip" {
		return nil, fmt.Errorf("model_type is %q; Glimpse runs InstructBLIP models (model_type \"instructblip\")", raw.ModelType)
	}
	m := &Model{Vision: defaultsVision(), QFormer: defaultsQFormer(), NumQueryTokens: 32}
	if err := unmarshalOver(raw.VisionConfig, &m.Vision); err != nil {
		return nil, fmt.Errorf("vision_config: %v", err)
	}
	if err := unmarshalOver(raw.QFormerConfig, &m.QFormer); err != nil {
		return nil, fmt.Errorf("qformer_config: %v", err)
	}
	m.QFormer.EncoderHiddenSize = m.Vision.HiddenSize
	if raw.NumQueryTokens != nil {
		m.NumQueryTokens = *raw.NumQueryTokens
	}
	if raw.ImageTokenIndex != nil {
		m.ImageTokenIndex, m.HasImageTokenIndex = *raw.ImageTokenIndex, true
	}
	text, err := parseText(raw.TextConfig)
	if err != nil {
		return nil, fmt.Errorf("text_config: %v", err)
	}
	m.Text = text
	m.DecoderOnly = text.ModelType == "llama"
	if raw.UseDecoderOnlyLanguageModel != nil && *raw.UseDecoderOnlyLanguageModel != m.DecoderOnly {
		return nil, fmt.Errorf("use_decoder_only_language_model is %v but the text model is %q", *raw.UseDecoderOnlyLanguageModel, text.ModelType)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

func parseText(b json.RawMessage) (Text, error) {
	if isAbsent(b) {
		return Text{}, errors.New("missing; an InstructBLIP config needs the language model's settings")
	}
	var head struct {
		ModelType string `json:"model_type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Text{}, err
	}
	switch head.ModelType {
	case "llama":
		l, err := parseLlama(b)
		return Text{ModelType: "llama", Language: l}, err
	case "t5":
		t, err := parseT5(b)
		return Text{ModelType: "t5", Language: t}, err
	case "":
		// transformers would fall back to OPT, which InstructBLIP never shipped with.
		return Text{}, errors.New("model_type is missing; Glimpse supports \"llama\" (Vicuna) and \"t5\" (Flan-T5)")
	default:
		return Text{}, fmt.Errorf("model_type %q is not supported; Glimpse supports \"llama\" (Vicuna) and \"t5\" (Flan-T5)", head.ModelType)
	}
}

func (m *Model) validate() error {
	positive := []struct {
		name string
		v    int
	}{
		{"vision_config.hidden_size", m.Vision.HiddenSize},
		{"vision_config.intermediate_size", m.Vision.IntermediateSize},
		{"vision_config.num_hidden_layers", m.Vision.NumHiddenLayers},
		{"vision_config.num_attention_heads", m.Vision.NumAttentionHeads},
		{"vision_config.image_size", m.Vision.ImageSize},
		{"vision_config.patch_size", m.Vision.PatchSize},
		{"qformer_config.hidden_size", m.QFormer.HiddenSize},
		{"qformer_config.vocab_size", m.QFormer.VocabSize},
		{"qformer_config.num_hidden_layers", m.QFormer.NumHiddenLayers},
		{"qformer_config.num_attention_heads", m.QFormer.NumAttentionHeads},
		{"qformer_config.intermediate_size", m.QFormer.IntermediateSize},
		{"qformer_config.max_position_embeddings", m.QFormer.MaxPositionEmbeddings},
		{"qformer_config.cross_attention_frequency", m.QFormer.CrossAttentionFrequency},
		{"num_query_tokens", m.NumQueryTokens},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return fmt.Errorf("%s must be positive, is %d", p.name, p.v)
		}
	}
	if m.Vision.HiddenSize%m.Vision.NumAttentionHeads != 0 {
		return fmt.Errorf("vision_config.hidden_size %d is not a multiple of num_attention_heads %d", m.Vision.HiddenSize, m.Vision.NumAttentionHeads)
	}
	if m.QFormer.HiddenSize%m.QFormer.NumAttentionHeads != 0 {
		return fmt.Errorf("qformer_config.hidden_size %d is not a multiple of num_attention_heads %d", m.QFormer.HiddenSize, m.QFormer.NumAttentionHeads)
	}
	if m.Vision.ImageSize%m.Vision.PatchSize != 0 {
		return fmt.Errorf("vision_config.image_size %d is not a multiple of patch_size %d", m.Vision.ImageSize, m.Vision.PatchSize)
	}
	if m.HasImageTokenIndex && (m.ImageTokenIndex < 0 || m.ImageTokenIndex >= m.Text.VocabSize()) {
		return fmt.Errorf("image_token_index %d is outside the language model's %d embedding rows", m.ImageTokenIndex, m.Text.VocabSize())
	}
	return nil
}

// VocabSize is the number of rows of the language model's embedding.
func (t Text) VocabSize() int { return t.Language.Vocab() }

// HiddenSize is the language model's width, the output size of the
// language projection.
func (t Text) HiddenSize() int { return t.Language.Width() }

// isAbsent reports whether a raw JSON value was missing or null.
func isAbsent(b json.RawMessage) bool {
	return len(b) == 0 || string(b) == "null"
}

// unmarshalOver decodes b over v, so keys absent from b keep v's defaults.
func unmarshalOver(b json.RawMessage, v any) error {
	if isAbsent(b) {
		return nil
	}
	return json.Unmarshal(b, v)
}

// readFile reads a file of a model folder, turning "not found" into an
// error that names the file.
func readFile(dir, name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		if st, serr := os.Stat(dir); serr != nil || !st.IsDir() {
			return nil, fmt.Errorf("%w: %s is not a folder", ErrMissing, dir)
		}
		return nil, fmt.Errorf("%w: %s has no %s", ErrMissing, dir, name)
	}
	return b, err
}
