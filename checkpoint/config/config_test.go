package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const fixtureModels = "../../../shared/fixtures/models"

func TestLoadFolderFixtures(t *testing.T) {
	clip := ImageProcessor{Width: 224, Height: 224, DoResize: true, Resample: ResampleBicubic, DoRescale: true,
		RescaleFactor: 0.00392156862745098, DoNormalize: true,
		Mean: [3]float64{0.48145466, 0.4578275, 0.40821073}, Std: [3]float64{0.26862954, 0.26130258, 0.27577711},
		DoConvertRGB: true}
	vision := Vision{HiddenSize: 96, IntermediateSize: 192, NumHiddenLayers: 3, NumAttentionHeads: 4, ImageSize: 224,
		PatchSize: 14, HiddenAct: "gelu", LayerNormEps: 1e-6, QKVBias: true}
	qformer := QFormer{VocabSize: 2001, HiddenSize: 64, NumHiddenLayers: 4, NumAttentionHeads: 4, IntermediateSize: 128,
		HiddenAct: "gelu", MaxPositionEmbeddings: 512, LayerNormEps: 1e-12, PositionEmbeddingType: "absolute",
		CrossAttentionFrequency: 2, EncoderHiddenSize: 96}
	cases := []struct {
		dir  string
		want Model
		gen  Generation
	}{
		{"tiny-instructblip-vicuna", Model{Vision: vision, QFormer: qformer, NumQueryTokens: 8, ImageTokenIndex: 1001,
			HasImageTokenIndex: true, DecoderOnly: true,
			Text: Text{ModelType: "llama", Language: &Llama{VocabSize: 1002, HiddenSize: 128, IntermediateSize: 256,
				NumHiddenLayers: 3, NumAttentionHeads: 4, NumKeyValueHeads: 4, HeadDim: 32, MaxPositionEmbeddings: 512,
				HiddenAct: "silu", RMSNormEps: 1e-6,
				Rope:       Rope{Type: "default", Theta: 10000, Params: map[string]any{"rope_theta": 10000.0, "rope_type": "default"}},
				BOSTokenID: TokenIDs{1}, EOSTokenID: TokenIDs{2}, PadTokenID: TokenIDs{1000}}}},
			func() Generation {
				g := DefaultGeneration()
				g.BOSTokenID, g.EOSTokenID, g.PadTokenID = TokenIDs{1}, TokenIDs{2}, TokenIDs{1000}
				return g
			}()},
		{"tiny-instructblip-flan-t5", Model{Vision: vision, QFormer: qformer, NumQueryTokens: 8, ImageTokenIndex: 1100,
			HasImageTokenIndex: true, DecoderOnly: false,
			Text: Text{ModelType: "t5", Language: &T5{VocabSize: 1101, DModel: 128, DKV: 32, DFF: 256, NumLayers: 3,
				NumDecoderLayers: 3, NumHeads: 4, RelativeAttentionNumBuckets: 32, RelativeAttentionMaxDistance: 128,
				LayerNormEps: 1e-6, FeedForwardProj: "gated-gelu", DenseActFn: "gelu", IsGatedAct: true,
				TieWordEmbeddings: false, ScaleDecoderOutputs: false, PadTokenID: 0, EOSTokenID: TokenIDs{1}, NPositions: 512,
				DecoderStartTokenID: 0}}},
			func() Generation {
				g := DefaultGeneration()
				g.DecoderStartTokenID, g.EOSTokenID, g.PadTokenID = TokenIDs{0}, TokenIDs{1}, TokenIDs{0}
				return g
			}()},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			f, err := LoadFolder(filepath.Join(fixtureModels, c.dir))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*f.Model, c.want) {
				t.Errorf("Model =\n%+v\nwant\n%+v", *f.Model, c.want)
				t.Errorf("text_config = %+v\nwant          %+v", f.Model.Text.Language, c.want.Text.Language)
			}
			if !reflect.DeepEqual(*f.Generation, c.gen) {
				t.Errorf("Generation = %+v, want %+v", *f.Generation, c.gen)
			}
			if want := (Processor{Image: clip, NumQueryTokens: 8}); !reflect.DeepEqual(*f.Processor, want) {
				t.Errorf("Processor = %+v, want %+v", *f.Processor, want)
			}
		})
	}
}

// vicuna7B is config.json of Salesforce/instructblip-vicuna-7b as its facts
// are recorded in shared/notes/checkpoints.md: terse vision and Q-Former
// sections (the defaults are the real sizes), the re-saved vocabulary of
// 32064 rows, and the wrong bos 0 / eos 1 inherited from early LLaMA.
const vicuna7B = `{
  "architectures": ["InstructBlipForConditionalGeneration"],
  "model_type": "instructblip",
  "num_query_tokens": 32,
  "image_token_index": 32001,
  "use_decoder_only_language_model": true,
  "tie_word_embeddings": false,
  "vision_config": {"model_type": "instructblip_vision_model", "dropout": 0.0},
  "qformer_config": {"model_type": "instructblip_qformer", "vocab_size": 30523},
  "text_config": {
    "architectures": ["LlamaForCausalLM"],
    "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": -1,
    "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 11008,
    "max_position_embeddings": 2048, "model_type": "llama",
    "num_attention_heads": 32, "num_hidden_layers": 32, "rms_norm_eps": 1e-06,
    "rope_theta": 10000.0, "rope_scaling": null,
    "tie_word_embeddings": false, "torch_dtype": "float16", "vocab_size": 32064
  }
}`

// flanT5XL is the Flan-T5-XL InstructBLIP config.json from the same facts:
// exact GELU written beside "gated-gelu", an untied head.
const flanT5XL = `{
  "model_type": "instructblip",
  "num_query_tokens": 32,
  "vision_config": {},
  "qformer_config": {"vocab_size": 30523},
  "text_config": {
    "architectures": ["T5ForConditionalGeneration"],
    "d_ff": 5120, "d_kv": 64, "d_model": 2048, "dense_act_fn": "gelu",
    "decoder_start_token_id": 0, "eos_token_id": 1, "feed_forward_proj": "gated-gelu",
    "is_gated_act": true, "layer_norm_epsilon": 1e-06, "model_type": "t5",
    "num_decoder_layers": 24, "num_heads": 32, "num_layers": 24, "pad_token_id": 0,
    "tie_word_embeddings": false, "vocab_size": 32128
  }
}`

func TestParseRealShapes(t *testing.T) {
	m, err := Parse([]byte(vicuna7B))
	if err != nil {
		t.Fatal(err)
	}
	wantVision := defaultsVision()
	if m.Vision != wantVision || m.Vision.NumPatches() != 256 {
		t.Errorf("Vision = %+v (%d patches), want EVA ViT-g defaults with 256 patches", m.Vision, m.Vision.NumPatches())
	}
	if m.QFormer.VocabSize != 30523 || m.QFormer.HiddenSize != 768 || m.QFormer.EncoderHiddenSize != 1408 {
		t.Errorf("QFormer = %+v", m.QFormer)
	}
	var cross []int
	for i := 0; i < m.QFormer.NumHiddenLayers; i++ {
		if m.QFormer.HasCrossAttention(i) {
			cross = append(cross, i)
		}
	}
	if !reflect.DeepEqual(cross, []int{0, 2, 4, 6, 8, 10}) {
		t.Errorf("cross-attention layers %v, want 0,2,…,10", cross)
	}
	l, _ := m.Text.Language.(*Llama)
	want := Llama{VocabSize: 32064, HiddenSize: 4096, IntermediateSize: 11008, NumHiddenLayers: 32,
		NumAttentionHeads: 32, NumKeyValueHeads: 32, HeadDim: 128, MaxPositionEmbeddings: 2048, HiddenAct: "silu",
		RMSNormEps: 1e-6, Rope: Rope{Type: "default", Theta: 10000},
		BOSTokenID: TokenIDs{0}, EOSTokenID: TokenIDs{1}, PadTokenID: TokenIDs{-1}}
	if l == nil || !reflect.DeepEqual(*l, want) {
		t.Errorf("Llama = %+v\nwant    %+v", l, want)
	}
	if !m.DecoderOnly || m.ImageTokenIndex != 32001 || m.NumQueryTokens != 32 || m.Text.HiddenSize() != 4096 {
		t.Errorf("DecoderOnly %v, image token %d, queries %d", m.DecoderOnly, m.ImageTokenIndex, m.NumQueryTokens)
	}

	m, err = Parse([]byte(flanT5XL))
	if err != nil {
		t.Fatal(err)
	}
	wantT5 := T5{VocabSize: 32128, DModel: 2048, DKV: 64, DFF: 5120, NumLayers: 24, NumDecoderLayers: 24, NumHeads: 32,
		RelativeAttentionNumBuckets: 32, RelativeAttentionMaxDistance: 128, LayerNormEps: 1e-6,
		FeedForwardProj: "gated-gelu", DenseActFn: "gelu", IsGatedAct: true, EOSTokenID: TokenIDs{1}, NPositions: 512}
	if x, ok := m.Text.Language.(*T5); !ok || !reflect.DeepEqual(*x, wantT5) {
		t.Errorf("T5 = %+v\nwant  %+v", m.Text.Language, wantT5)
	}
	if m.DecoderOnly || m.HasImageTokenIndex {
		t.Errorf("DecoderOnly %v, HasImageTokenIndex %v; want both false", m.DecoderOnly, m.HasImageTokenIndex)
	}
}

// withText wraps a text_config in an otherwise default InstructBLIP config.
func withText(text string) []byte {
	return []byte(`{"model_type":"instructblip","text_config":` + text + `}`)
}

func TestLlamaRopeAndHeads(t *testing.T) {
	cases := []struct {
		name string
		text string
		rope Rope
		kv   int
		head int
	}{
		{"v5 rope_parameters", `{"model_type":"llama","rope_parameters":{"rope_theta":500000.0,"rope_type":"default"}}`,
			Rope{Type: "default", Theta: 500000, Params: map[string]any{"rope_theta": 500000.0, "rope_type": "default"}}, 32, 128},
		{"v4 rope_theta", `{"model_type":"llama","rope_theta":1e6}`, Rope{Type: "default", Theta: 1e6}, 32, 128},
		{"v4 linear scaling spelled type", `{"model_type":"llama","rope_scaling":{"type":"linear","factor":2.0}}`,
			Rope{Type: "linear", Theta: 10000, Factor: 2, Params: map[string]any{"type": "linear", "factor": 2.0}}, 32, 128},
		{"grouped-query and explicit head_dim", `{"model_type":"llama","num_key_value_heads":8,"head_dim":64,"num_attention_heads":32}`,
			Rope{Type: "default", Theta: 10000}, 8, 64},
		{"null head_dim", `{"model_type":"llama","head_dim":null,"hidden_size":1024,"num_attention_heads":8}`,
			Rope{Type: "default", Theta: 10000}, 8, 128},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse(withText(c.text))
			if err != nil {
				t.Fatal(err)
			}
			l := m.Text.Language.(*Llama)
			if !reflect.DeepEqual(l.Rope, c.rope) || l.NumKeyValueHeads != c.kv || l.HeadDim != c.head {
				t.Errorf("rope %+v kv %d head %d; want %+v %d %d", l.Rope, l.NumKeyValueHeads, l.HeadDim, c.rope, c.kv, c.head)
			}
		})
	}
}

func TestT5Activation(t *testing.T) {
	cases := []struct {
		name   string
		text   string
		act    string
		gated  bool
		tie    bool
		scale  bool
		layers int
	}{
		{"stock T5 v1.1 gated-gelu is the tanh GELU", `{"model_type":"t5","feed_forward_proj":"gated-gelu","tie_word_embeddings":false}`, "gelu_new", true, false, false, 6},
		{"InstructBLIP writes exact gelu", `{"model_type":"t5","feed_forward_proj":"gated-gelu","dense_act_fn":"gelu"}`, "gelu", true, true, true, 6},
		{"original T5 relu, tied and scaled", `{"model_type":"t5","num_layers":4}`, "relu", false, true, true, 4},
		{"gated-silu", `{"model_type":"t5","feed_forward_proj":"gated-silu","num_decoder_layers":2}`, "silu", true, true, true, 2},
		{"scale written by transformers 5", `{"model_type":"t5","tie_word_embeddings":true,"scale_decoder_outputs":false}`, "relu", false, true, false, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse(withText(c.text))
			if err != nil {
				t.Fatal(err)
			}
			x := m.Text.Language.(*T5)
			if x.DenseActFn != c.act || x.IsGatedAct != c.gated || x.TieWordEmbeddings != c.tie ||
				x.ScaleDecoderOutputs != c.scale || x.NumDecoderLayers != c.layers {
				t.Errorf("got act %q gated %v tie %v scale %v decoder layers %d", x.DenseActFn, x.IsGatedAct,
					x.TieWordEmbeddings, x.ScaleDecoderOutputs, x.NumDecoderLayers)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		json string
		want string
	}{
		{"not JSON", `{"model_type":`, "not valid JSON"},
		{"other model", `{"model_type":"blip-2"}`, `"blip-2"`},
		{"no text config", `{"model_type":"instructblip"}`, "text_config: missing"},
		{"OPT text model", string(withText(`{"model_type":"opt"}`)), `"opt" is not supported`},
		{"untyped text model", string(withText(`{"hidden_size":4}`)), "model_type is missing"},
		{"bad feed_forward_proj", string(withText(`{"model_type":"t5","feed_forward_proj":"fancy-gelu"}`)), "feed_forward_proj"},
		{"heads do not divide", string(withText(`{"model_type":"llama","hidden_size":100,"num_attention_heads":3}`)), "not a multiple"},
		{"kv heads do not divide", string(withText(`{"model_type":"llama","num_key_value_heads":5}`)), "num_key_value_heads"},
		{"zero layers", string(withText(`{"model_type":"llama","num_hidden_layers":0}`)), "num_hidden_layers must be positive"},
		{"wrong field type", string(withText(`{"model_type":"llama","hidden_size":"big"}`)), "text_config"},
		{"decoder-only flag contradicts", `{"model_type":"instructblip","use_decoder_only_language_model":true,"text_config":{"model_type":"t5"}}`, "use_decoder_only_language_model"},
		{"image token outside vocabulary", `{"model_type":"instructblip","image_token_index":40000,"text_config":{"model_type":"llama"}}`, "image_token_index"},
		{"vision heads", `{"model_type":"instructblip","vision_config":{"num_attention_heads":3},"text_config":{"model_type":"llama"}}`, "vision_config.hidden_size"},
		{"zero query tokens", `{"model_type":"instructblip","num_query_tokens":0,"text_config":{"model_type":"llama"}}`, "num_query_tokens"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.json))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse error = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestGeneration(t *testing.T) {
	g, err := ParseGeneration([]byte(`{"bos_token_id":0,"eos_token_id":[1,2],"num_beams":5,"max_length":256,"top_p":0.9,"repetition_penalty":1.5}`))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultGeneration()
	want.BOSTokenID, want.EOSTokenID, want.NumBeams, want.MaxLength, want.TopP, want.RepetitionPenalty =
		TokenIDs{0}, TokenIDs{1, 2}, 5, 256, 0.9, 1.5
	if !reflect.DeepEqual(*g, want) {
		t.Errorf("got %+v, want %+v", *g, want)
	}
	if !g.EOSTokenID.Contains(2) || g.EOSTokenID.Contains(3) {
		t.Error("TokenIDs.Contains is wrong")
	}
	for _, bad := range []string{`{"num_beams":0}`, `{"max_length":-1}`, `[`, `{"eos_token_id":"x"}`} {
		if _, err := ParseGeneration([]byte(bad)); err == nil {
			t.Errorf("ParseGeneration(%s) succeeded", bad)
		}
	}
}

// writeFolder makes a model folder with the given files in a temp dir.
func writeFolder(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadProcessorLayouts(t *testing.T) {
	flat := `{"do_convert_rgb": true, "do_normalize": true, "do_rescale": true, "do_resize": true,
	  "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
	  "image_processor_type": "BlipImageProcessor", "processor_class": "InstructBlipProcessor",
	  "resample": 3, "rescale_factor": 0.00392156862745098, "size": {"height": 224, "width": 224}}`
	cases := []struct {
		name    string
		files   map[string]string
		width   int
		queries int
		mean    [3]float64
		want    string // error fragment; "" for success
	}{
		{"transformers 4 layout", map[string]string{PreprocessorFile: flat, ProcessorFile: `{"num_query_tokens": 32}`}, 224, 32, [3]float64{0.48145466, 0.4578275, 0.40821073}, ""},
		{"preprocessor only: queries from config.json", map[string]string{PreprocessorFile: flat}, 224, 16, [3]float64{0.48145466, 0.4578275, 0.40821073}, ""},
		{"int size and scalar mean", map[string]string{PreprocessorFile: `{"size": 364, "image_mean": 0.5}`}, 364, 16, [3]float64{0.5, 0.5, 0.5}, ""},
		{"nested wins", map[string]string{PreprocessorFile: `{"size": 100}`, ProcessorFile: `{"image_processor": {"size": 300}, "num_query_tokens": 4}`}, 300, 4, DefaultImageProcessor().Mean, ""},
		{"nothing", map[string]string{}, 0, 0, [3]float64{}, PreprocessorFile},
		{"processor without image settings", map[string]string{ProcessorFile: `{"num_query_tokens": 32}`}, 0, 0, [3]float64{}, PreprocessorFile},
		{"shortest edge", map[string]string{PreprocessorFile: `{"size": {"shortest_edge": 224}}`}, 0, 0, [3]float64{}, "height and width"},
		{"two means", map[string]string{PreprocessorFile: `{"image_mean": [0.1, 0.2]}`}, 0, 0, [3]float64{}, "image_mean"},
		{"zero std", map[string]string{PreprocessorFile: `{"image_std": 0}`}, 0, 0, [3]float64{}, "zero"},
		{"bad resample", map[string]string{PreprocessorFile: `{"resample": 9}`}, 0, 0, [3]float64{}, "resample"},
		{"bad JSON", map[string]string{ProcessorFile: `{`}, 0, 0, [3]float64{}, "not valid JSON"},
	}
	model := &Model{NumQueryTokens: 16}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := LoadProcessor(writeFolder(t, c.files), model)
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %v, want one mentioning %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Image.Width != c.width || p.Image.Height != c.width || p.NumQueryTokens != c.queries || p.Image.Mean != c.mean {
				t.Errorf("got %+v", *p)
			}
		})
	}
}

func TestLoadFolderNamesMissingFiles(t *testing.T) {
	complete := map[string]string{
		ModelFile:                      vicuna7B,
		"model.safetensors.index.json": `{}`,
		PreprocessorFile:               `{}`,
		"tokenizer.model":              "x",
		"qformer_tokenizer/vocab.txt":  "x",
	}
	cases := []struct {
		drop string
		want string
	}{
		{ModelFile, "config.json"},
		{"model.safetensors.index.json", "model.safetensors.index.json or model.safetensors"},
		{PreprocessorFile, "preprocessor_config.json or processor_config.json"},
		{"tokenizer.model", "tokenizer.json or tokenizer.model or spiece.model"},
		{"qformer_tokenizer/vocab.txt", "qformer_tokenizer/tokenizer.json"},
	}
	for _, c := range cases {
		t.Run(c.drop, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range complete {
				if k != c.drop {
					files[k] = v
				}
			}
			_, err := LoadFolder(writeFolder(t, files))
			if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrMissing naming %q", err, c.want)
			}
		})
	}
	// With everything present the folder loads, and the absent
	// generation_config.json falls back to config.json's (wrong) ids.
	f, err := LoadFolder(writeFolder(t, complete))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Generation.EOSTokenID, TokenIDs{1}) || f.Processor.NumQueryTokens != 32 {
		t.Errorf("generation %+v, processor %+v", *f.Generation, *f.Processor)
	}
	if _, err := LoadFolder(filepath.Join(t.TempDir(), "absent")); !errors.Is(err, ErrMissing) {
		t.Errorf("absent folder: %v", err)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "has no config.json") {
		t.Errorf("Load of an empty folder: %v", err)
	}
}

// FuzzParse feeds arbitrary config.json contents to Parse and the other
// parsers: errors are expected, panics are not, and an accepted config
// must satisfy the invariants the networks divide by.
func FuzzParse(f *testing.F) {
	f.Add([]byte(vicuna7B))
	f.Add([]byte(flanT5XL))
	f.Add(withText(`{"model_type":"llama","num_key_value_heads":-4,"head_dim":-2}`))
	f.Add(withText(`{"model_type":"t5","feed_forward_proj":"gated-","num_heads":0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseGeneration(b)
		ParseImageProcessor(b)
		m, err := Parse(b)
		if err != nil {
			return
		}
		v, q := m.Vision, m.QFormer
		if v.HiddenSize%v.NumAttentionHeads != 0 || q.HiddenSize%q.NumAttentionHeads != 0 || v.NumPatches() <= 0 {
			t.Fatalf("accepted inconsistent sizes: %+v %+v", v, q)
		}
		if l, ok := m.Text.Language.(*Llama); ok && (l.HeadDim <= 0 || l.NumKeyValueHeads <= 0 || l.NumAttentionHeads%l.NumKeyValueHeads != 0) {
			t.Fatalf("accepted LLaMA %+v", *l)
		}
		if x, ok := m.Text.Language.(*T5); ok && (x.NumHeads <= 0 || x.DKV <= 0 || x.DenseActFn == "") {
			t.Fatalf("accepted T5 %+v", *x)
		}
	})
}
