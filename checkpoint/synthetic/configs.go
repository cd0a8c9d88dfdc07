package synthetic

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
)

// modelMaxLength is the "no limit" value transformers writes for
// model_max_length (int(1e30)), spelled as Python prints it.
const modelMaxLength = json.Number("1000000000000000019884624838656")

// clipMean and clipStd are OPENAI_CLIP_MEAN and OPENAI_CLIP_STD, the
// normalization of every InstructBLIP image processor.
var (
	clipMean = []float64{0.48145466, 0.4578275, 0.40821073}
	clipStd  = []float64{0.26862954, 0.26130258, 0.27577711}
)

// configJSON is config.json as the Hub's checkpoints have it (transformers
// 4 wrote them): every size spelled out, the layer counts cut to d.
//
// Vicuna keeps the inherited quirks on purpose: bos 0 / eos 1 / pad -1 in
// text_config (the tokenizer's `</s>`, id 2, is the real bos and eos) and a
// vocabulary padded to 32064 rows. Flan-T5 keeps exact GELU ("dense_act_fn":
// "gelu" beside "gated-gelu") and its untied head.
func configJSON(a arch, d depth) map[string]any {
	vision := map[string]any{
		"attention_dropout":   0.0,
		"hidden_act":          "gelu",
		"hidden_size":         visionHidden,
		"image_size":          imageSize,
		"initializer_range":   1e-10,
		"intermediate_size":   visionIntermediate,
		"layer_norm_eps":      1e-6,
		"model_type":          "instructblip_vision_model",
		"num_attention_heads": visionHeads,
		"num_hidden_layers":   d.vision,
		"patch_size":          patchSize,
		"qkv_bias":            true,
	}
	qformer := map[string]any{
		"attention_probs_dropout_prob": 0.1,
		"cross_attention_frequency":    crossAttentionEvery,
		"encoder_hidden_size":          visionHidden,
		"hidden_act":                   "gelu",
		"hidden_dropout_prob":          0.1,
		"hidden_size":                  qformerHidden,
		"initializer_range":            0.02,
		"intermediate_size":            qformerIntermediate,
		"layer_norm_eps":               1e-12,
		"max_position_embeddings":      qformerPositions,
		"model_type":                   "instructblip_qformer",
		"num_attention_heads":          qformerHeads,
		"num_hidden_layers":            d.qformer,
		"pad_token_id":                 0,
		"position_embedding_type":      "absolute",
		"vocab_size":                   qformerVocab,
	}
	var text map[string]any
	switch a.decoder {
	case "llama":
		text = map[string]any{
			"architectures":           []string{"LlamaForCausalLM"},
			"attention_bias":          false,
			"bos_token_id":            0,
			"eos_token_id":            1,
			"hidden_act":              "silu",
			"hidden_size":             a.hidden,
			"initializer_range":       0.02,
			"intermediate_size":       a.intermediate,
			"max_position_embeddings": 2048,
			"model_type":              "llama",
			"num_attention_heads":     a.heads,
			"num_hidden_layers":       d.text,
			"num_key_value_heads":     a.heads,
			"pad_token_id":            -1,
			"pretraining_tp":          1,
			"rms_norm_eps":            1e-6,
			"rope_scaling":            nil,
			"rope_theta":              10000.0,
			"tie_word_embeddings":     false,
			"torch_dtype":             "float16",
			"use_cache":               true,
			"vocab_size":              a.vocab,
		}
	case "t5":
		text = map[string]any{
			"architectures":                   []string{"T5ForConditionalGeneration"},
			"d_ff":                            a.intermediate,
			"d_kv":                            a.headDim,
			"d_model":                         a.hidden,
			"decoder_start_token_id":          0,
			"dense_act_fn":                    "gelu",
			"dropout_rate":                    0.1,
			"eos_token_id":                    1,
			"feed_forward_proj":               "gated-gelu",
			"initializer_factor":              1.0,
			"is_encoder_decoder":              true,
			"is_gated_act":                    true,
			"layer_norm_epsilon":              1e-6,
			"model_type":                      "t5",
			"n_positions":                     512,
			"num_decoder_layers":              d.text,
			"num_heads":                       a.heads,
			"num_layers":                      d.text,
			"output_past":                     true,
			"pad_token_id":                    0,
			"relative_attention_max_distance": 128,
			"relative_attention_num_buckets":  relativeBuckets,
			"tie_word_embeddings":             false,
			"torch_dtype":                     "bfloat16",
			"use_cache":                       true,
			"vocab_size":                      a.vocab,
		}
	}
	return map[string]any{
		"architectures":                   []string{"InstructBlipForConditionalGeneration"},
		"image_token_index":               a.imageToken,
		"initializer_factor":              1.0,
		"initializer_range":               0.02,
		"model_type":                      "instructblip",
		"num_query_tokens":                numQueryTokens,
		"qformer_config":                  qformer,
		"text_config":                     text,
		"tie_word_embeddings":             false,
		"torch_dtype":                     "float32",
		"transformers_version":            "4.46.0.dev0",
		"use_decoder_only_language_model": a.decoder == "llama",
		"vision_config":                   vision,
	}
}

// generationJSON is generation_config.json: the language model's token ids
// as the Hub's files carry them (Vicuna's inherited wrong ones included).
func generationJSON(a arch) map[string]any {
	g := map[string]any{"_from_model_config": true, "transformers_version": "4.46.0.dev0"}
	switch a.decoder {
	case "llama":
		g["bos_token_id"], g["eos_token_id"], g["pad_token_id"] = 0, 1, -1
	case "t5":
		g["decoder_start_token_id"], g["eos_token_id"], g["pad_token_id"] = 0, 1, 0
	}
	return g
}

// preprocessorJSON is preprocessor_config.json in the transformers 4 layout
// the Hub's repositories have: BlipImageProcessor's settings, flat.
func preprocessorJSON() map[string]any {
	return map[string]any{
		"do_convert_rgb":       true,
		"do_normalize":         true,
		"do_rescale":           true,
		"do_resize":            true,
		"image_mean":           clipMean,
		"image_processor_type": "BlipImageProcessor",
		"image_std":            clipStd,
		"processor_class":      "InstructBlipProcessor",
		"resample":             3, // PIL bicubic
		"rescale_factor":       1.0 / 255,
		"size":                 map[string]int{"height": imageSize, "width": imageSize},
	}
}

// processorJSON is processor_config.json: the number of `<image>` tokens
// the processor puts before the prompt.
func processorJSON() map[string]any {
	return map[string]any{"num_query_tokens": numQueryTokens, "processor_class": "InstructBlipProcessor"}
}

// writeJSON writes v as transformers does: sorted keys (Go's maps marshal
// sorted), two-space indent, a final newline; through a temporary file so
// that an interrupted run leaves no half-written file under the real name.
func writeJSON(path string, v any) error {
	js, err := marshalJSON(v, "  ")
	if err != nil {
		return err
	}
	return writeFile(path, js)
}

// marshalJSON encodes v with a final newline, indented unless indent is
// empty, and without Go's HTML escaping: tokenizer files are full of "<s>"
// and "<image>", which Python writes as they are.
func marshalJSON(v any, indent string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".partial"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
