package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// TokenIDs holds a token id field that transformers allows to be null, an
// int or a list of ints (eos_token_id often is a list).
type TokenIDs []int

// UnmarshalJSON accepts null, a number or an array of numbers.
func (t *TokenIDs) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*t = nil
		return nil
	}
	if strings.HasPrefix(s, "[") {
		var ids []int
		if err := json.Unmarshal(b, &ids); err != nil {
			return err
		}
		*t = ids
		return nil
	}
	var id int
	if err := json.Unmarshal(b, &id); err != nil {
		return err
	}
	*t = TokenIDs{id}
	return nil
}

// First returns the first id and whether there is one.
func (t TokenIDs) First() (int, bool) {
	if len(t) == 0 {
		return 0, false
	}
	return t[0], true
}

// Contains reports whether id is one of t.
func (t TokenIDs) Contains(id int) bool {
	for _, x := range t {
		if x == id {
			return true
		}
	}
	return false
}

// Llama is a LLaMA/Vicuna language model (LlamaConfig).
type Llama struct {
	VocabSize             int // rows of the embedding and lm_head (32064 for the re-saved Vicuna)
	HiddenSize            int
	IntermediateSize      int
	NumHiddenLayers       int
	NumAttentionHeads     int
	NumKeyValueHeads      int // defaults to NumAttentionHeads (no grouped-query attention)
	HeadDim               int // defaults to HiddenSize / NumAttentionHeads
	MaxPositionEmbeddings int
	HiddenAct             string
	RMSNormEps            float64
	Rope                  Rope
	AttentionBias         bool
	MLPBias               bool
	TieWordEmbeddings     bool // lm_head shares the embedding (false for Vicuna)
	// BOSTokenID, EOSTokenID and PadTokenID are as written in the file.
	// For Vicuna they are wrong (bos 0, eos 1): use the tokenizer's ids.
	BOSTokenID TokenIDs
	EOSTokenID TokenIDs
	PadTokenID TokenIDs
}

// Rope is the rotary position embedding's settings, from either the
// transformers 5 form (rope_parameters) or the older rope_theta plus
// rope_scaling.
type Rope struct {
	Type   string  // "default", or a scaling type such as "linear", "dynamic", "llama3"
	Theta  float64 // base frequency
	Factor float64 // scaling factor; 0 when there is none
	// Params holds every key of rope_parameters/rope_scaling, for scaling
	// types that need more than Factor.
	Params map[string]any
}

// Vocab is VocabSize.
func (l *Llama) Vocab() int { return l.VocabSize }

// Width is HiddenSize.
func (l *Llama) Width() int { return l.HiddenSize }

// ContextLength is MaxPositionEmbeddings: rotary positions past it were
// never trained.
func (l *Llama) ContextLength() int { return l.MaxPositionEmbeddings }

func (l *Llama) generationDefaults(g *Generation) {
	g.BOSTokenID, g.EOSTokenID, g.PadTokenID = l.BOSTokenID, l.EOSTokenID, l.PadTokenID
}

type rawLlama struct {
	VocabSize             int            `json:"vocab_size"`
	HiddenSize            int            `json:"hidden_size"`
	IntermediateSize      int            `json:"intermediate_size"`
	NumHiddenLayers       int            `json:"num_hidden_layers"`
	NumAttentionHeads     int            `json:"num_attention_heads"`
	NumKeyValueHeads      int            `json:"num_key_value_heads"`
	HeadDim               int            `json:"head_dim"`
	MaxPositionEmbeddings int            `json:"max_position_embeddings"`
	HiddenAct             string         `json:"hidden_act"`
	RMSNormEps            float64        `json:"rms_norm_eps"`
	AttentionBias         bool           `json:"attention_bias"`
	MLPBias               bool           `json:"mlp_bias"`
	TieWordEmbeddings     bool           `json:"tie_word_embeddings"`
	BOSTokenID            TokenIDs       `json:"bos_token_id"`
	EOSTokenID            TokenIDs       `json:"eos_token_id"`
	PadTokenID            TokenIDs       `json:"pad_token_id"`
	RopeTheta             *float64       `json:"rope_theta"`
	RopeScaling           map[string]any `json:"rope_scaling"`
	RopeParameters        map[string]any `json:"rope_parameters"`
}

// parseLlama applies LlamaConfig's defaults (the LLaMA-7B shape) to keys
// the file leaves out.
func parseLlama(b []byte) (*Llama, error) {
	r := rawLlama{VocabSize: 32000, HiddenSize: 4096, IntermediateSize: 11008, NumHiddenLayers: 32,
		NumAttentionHeads: 32, MaxPositionEmbeddings: 2048, HiddenAct: "silu", RMSNormEps: 1e-6,
		BOSTokenID: TokenIDs{1}, EOSTokenID: TokenIDs{2}}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	l := &Llama{VocabSize: r.VocabSize, HiddenSize: r.HiddenSize, IntermediateSize: r.IntermediateSize,
		NumHiddenLayers: r.NumHiddenLayers, NumAttentionHeads: r.NumAttentionHeads, NumKeyValueHeads: r.NumKeyValueHeads,
		HeadDim: r.HeadDim, MaxPositionEmbeddings: r.MaxPositionEmbeddings, HiddenAct: r.HiddenAct,
		RMSNormEps: r.RMSNormEps, AttentionBias: r.AttentionBias, MLPBias: r.MLPBias,
		TieWordEmbeddings: r.TieWordEmbeddings, BOSTokenID: r.BOSTokenID, EOSTokenID: r.EOSTokenID, PadTokenID: r.PadTokenID}
	for _, p := range []struct {
		name string
		v    int
	}{{"vocab_size", l.VocabSize}, {"hidden_size", l.HiddenSize}, {"intermediate_size", l.IntermediateSize},
		{"num_hidden_layers", l.NumHiddenLayers}, {"num_attention_heads", l.NumAttentionHeads}} {
		if p.v <= 0 {
			return nil, fmt.Errorf("%s must be positive, is %d", p.name, p.v)
		}
	}
	if l.NumKeyValueHeads == 0 {
		l.NumKeyValueHeads = l.NumAttentionHeads
	}
	if l.NumKeyValueHeads < 0 || l.NumAttentionHeads%l.NumKeyValueHeads != 0 {
		return nil, fmt.Errorf("num_attention_heads %d is not a multiple of num_key_value_heads %d", l.NumAttentionHeads, l.NumKeyValueHeads)
	}
	if l.HeadDim == 0 {
		if l.HiddenSize%l.NumAttentionHeads != 0 {
			return nil, fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", l.HiddenSize, l.NumAttentionHeads)
		}
		l.HeadDim = l.HiddenSize / l.NumAttentionHeads
	}
	if l.HeadDim < 0 || l.HeadDim%2 != 0 {
		return nil, fmt.Errorf("head_dim %d must be positive and even for rotary embeddings", l.HeadDim)
	}
	rope, err := parseRope(r)
	if err != nil {
		return nil, err
	}
	l.Rope = rope
	return l, nil
}

// parseRope merges the two spellings: rope_parameters (transformers 5)
// wins over rope_theta and rope_scaling (transformers 4).
func parseRope(r rawLlama) (Rope, error) {
	rope := Rope{Type: "default", Theta: 10000}
	if r.RopeTheta != nil {
		rope.Theta = *r.RopeTheta
	}
	for _, params := range []map[string]any{r.RopeScaling, r.RopeParameters} {
		if params == nil {
			continue
		}
		if rope.Params == nil {
			rope.Params = map[string]any{}
		}
		for k, v := range params {
			rope.Params[k] = v
		}
		// Older files spell the type "type"; transformers accepts both.
		for _, key := range []string{"type", "rope_type"} {
			if s, ok := params[key].(string); ok && s != "" {
				rope.Type = s
			}
		}
		if v, ok := params["rope_theta"].(float64); ok {
			rope.Theta = v
		}
		if v, ok := params["factor"].(float64); ok {
			rope.Factor = v
		}
	}
	if rope.Theta <= 0 {
		return Rope{}, fmt.Errorf("rope_theta must be positive, is %v", rope.Theta)
	}
	return rope, nil
}

// T5 is a T5/Flan-T5 encoder-decoder (T5Config).
type T5 struct {
	VocabSize                    int
	DModel                       int
	DKV                          int // per-head width; heads × DKV need not equal DModel
	DFF                          int
	NumLayers                    int // encoder blocks
	NumDecoderLayers             int // defaults to NumLayers
	NumHeads                     int
	RelativeAttentionNumBuckets  int
	RelativeAttentionMaxDistance int
	LayerNormEps                 float64
	FeedForwardProj              string // "relu", "gated-gelu", …
	// DenseActFn is the feed-forward activation. Derived from
	// FeedForwardProj ("gated-gelu" → "gelu_new", the tanh approximation)
	// unless the file names it: InstructBLIP's Flan-T5 says "gelu" (exact
	// erf GELU), and transformers honours the file.
	DenseActFn string
	IsGatedAct bool
	// TieWordEmbeddings is the file's tie_word_embeddings (true when
	// absent, T5Config's default).
	TieWordEmbeddings bool
	// ScaleDecoderOutputs: multiply the decoder output by DModel^-0.5
	// before lm_head. transformers 5.17 writes it; older files imply it
	// from tie_word_embeddings (original T5 scales, T5 v1.1/Flan-T5 with an
	// untied head do not).
	ScaleDecoderOutputs bool
	PadTokenID          int
	EOSTokenID          TokenIDs
	DecoderStartTokenID int // defaults to PadTokenID (0)
	// NPositions is the input length the model was trained for
	// (n_positions, 512 when absent as in T5Config's older versions).
	NPositions int
}

// Vocab is VocabSize.
func (t *T5) Vocab() int { return t.VocabSize }

// Width is DModel.
func (t *T5) Width() int { return t.DModel }

// ContextLength is NPositions. T5's relative position buckets would take
// any length, but Flan-T5 was trained on 512-token inputs and its position
// bias costs heads × T² floats, so longer prompts are truncated (as LAVIS
// truncates them) rather than run.
func (t *T5) ContextLength() int { return t.NPositions }

func (t *T5) generationDefaults(g *Generation) {
	g.EOSTokenID, g.PadTokenID = t.EOSTokenID, TokenIDs{t.PadTokenID}
	g.DecoderStartTokenID = TokenIDs{t.DecoderStartTokenID}
}

type rawT5 struct {
	VocabSize                    int      `json:"vocab_size"`
	DModel                       int      `json:"d_model"`
	DKV                          int      `json:"d_kv"`
	DFF                          int      `json:"d_ff"`
	NumLayers                    int      `json:"num_layers"`
	NumDecoderLayers             *int     `json:"num_decoder_layers"`
	NumHeads                     int      `json:"num_heads"`
	RelativeAttentionNumBuckets  int      `json:"relative_attention_num_buckets"`
	RelativeAttentionMaxDistance int      `json:"relative_attention_max_distance"`
	LayerNormEpsilon             float64  `json:"layer_norm_epsilon"`
	FeedForwardProj              string   `json:"feed_forward_proj"`
	DenseActFn                   *string  `json:"dense_act_fn"`
	IsGatedAct                   *bool    `json:"is_gated_act"`
	TieWordEmbeddings            *bool    `json:"tie_word_embeddings"`
	ScaleDecoderOutputs          *bool    `json:"scale_decoder_outputs"`
	PadTokenID                   int      `json:"pad_token_id"`
	EOSTokenID                   TokenIDs `json:"eos_token_id"`
	DecoderStartTokenID          *int     `json:"decoder_start_token_id"`
	NPositions                   int      `json:"n_positions"`
}

// parseT5 applies T5Config's defaults (t5-small) to keys the file leaves out.
func parseT5(b []byte) (*T5, error) {
	r := rawT5{VocabSize: 32128, DModel: 512, DKV: 64, DFF: 2048, NumLayers: 6, NumHeads: 8,
		RelativeAttentionNumBuckets: 32, RelativeAttentionMaxDistance: 128, LayerNormEpsilon: 1e-6,
		FeedForwardProj: "relu", PadTokenID: 0, EOSTokenID: TokenIDs{1}, NPositions: 512}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	t := &T5{VocabSize: r.VocabSize, DModel: r.DModel, DKV: r.DKV, DFF: r.DFF, NumLayers: r.NumLayers,
		NumDecoderLayers: r.NumLayers, NumHeads: r.NumHeads, RelativeAttentionNumBuckets: r.RelativeAttentionNumBuckets,
		RelativeAttentionMaxDistance: r.RelativeAttentionMaxDistance, LayerNormEps: r.LayerNormEpsilon,
		FeedForwardProj: r.FeedForwardProj, PadTokenID: r.PadTokenID, EOSTokenID: r.EOSTokenID,
		DecoderStartTokenID: r.PadTokenID, TieWordEmbeddings: true, NPositions: r.NPositions}
	if r.NumDecoderLayers != nil {
		t.NumDecoderLayers = *r.NumDecoderLayers
	}
	if r.DecoderStartTokenID != nil {
		t.DecoderStartTokenID = *r.DecoderStartTokenID
	}
	act := strings.Split(t.FeedForwardProj, "-")
	if len(act) > 2 || (len(act) == 2 && act[0] != "gated") || act[len(act)-1] == "" {
		return nil, fmt.Errorf("feed_forward_proj %q is not of the form \"gated-ACT\" or \"ACT\"", t.FeedForwardProj)
	}
	t.DenseActFn, t.IsGatedAct = act[len(act)-1], act[0] == "gated"
	if t.FeedForwardProj == "gated-gelu" {
		t.DenseActFn = "gelu_new" // transformers' backwards-compatibility rule
	}
	if r.DenseActFn != nil {
		t.DenseActFn = *r.DenseActFn
	}
	if r.IsGatedAct != nil {
		t.IsGatedAct = *r.IsGatedAct
	}
	if r.TieWordEmbeddings != nil {
		t.TieWordEmbeddings = *r.TieWordEmbeddings
	}
	t.ScaleDecoderOutputs = t.TieWordEmbeddings
	if r.ScaleDecoderOutputs != nil {
		t.ScaleDecoderOutputs = *r.ScaleDecoderOutputs
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"vocab_size", t.VocabSize}, {"d_model", t.DModel}, {"d_kv", t.DKV}, {"d_ff", t.DFF},
		{"num_layers", t.NumLayers}, {"num_decoder_layers", t.NumDecoderLayers}, {"num_heads", t.NumHeads},
		{"relative_attention_num_buckets", t.RelativeAttentionNumBuckets},
		{"relative_attention_max_distance", t.RelativeAttentionMaxDistance}} {
		if p.v <= 0 {
			return nil, fmt.Errorf("%s must be positive, is %d", p.name, p.v)
		}
	}
	if t.DenseActFn == "" {
		return nil, errors.New("dense_act_fn is empty")
	}
	return t, nil
}
