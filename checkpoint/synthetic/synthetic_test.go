package synthetic_test

import (
	"encoding/json"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"glimpse/checkpoint/config"
	"glimpse/checkpoint/safetensors"
	"glimpse/checkpoint/synthetic"
	"glimpse/input/processor"
)

const fixtureModels = "../../../shared/fixtures/models"

// facts are each model's sizes as shared/notes/checkpoints.md records them.
type facts struct {
	model                  string
	fixture                string // the tiny fixture with the same architecture
	llama                  bool
	hidden, intermediate   int
	layers, heads, headDim int
	vocab, imageToken      int
	shards                 []float64 // GB per shard where the notes list them
	numShards              int
	totalGB, params        float64 // GB (decimal) and billions
	tokenizerSize          int     // the language model tokenizer's tokens, <image> included
}

var allFacts = []facts{
	{model: "vicuna-7b", fixture: "tiny-instructblip-vicuna", llama: true, hidden: 4096, intermediate: 11008,
		layers: 32, heads: 32, headDim: 128, vocab: 32064, imageToken: 32001,
		shards: []float64{9.90, 9.96, 9.92, 1.88}, numShards: 4, totalGB: 31.66, params: 7.91, tokenizerSize: 32002},
	{model: "vicuna-13b", fixture: "tiny-instructblip-vicuna", llama: true, hidden: 5120, intermediate: 13824,
		layers: 40, heads: 40, headDim: 128, vocab: 32064, imageToken: 32001,
		numShards: 6, totalGB: 56.77, params: 14.19, tokenizerSize: 32002},
	{model: "flan-t5-xl", fixture: "tiny-instructblip-flan-t5", hidden: 2048, intermediate: 5120,
		layers: 24, heads: 32, headDim: 64, vocab: 32128, imageToken: 32100,
		shards: []float64{9.98, 6.11}, numShards: 2, totalGB: 16.09, params: 4.02, tokenizerSize: 32101},
	{model: "flan-t5-xxl", fixture: "tiny-instructblip-flan-t5", hidden: 4096, intermediate: 10240,
		layers: 24, heads: 64, headDim: 64, vocab: 32128, imageToken: 32100,
		numShards: 5, totalGB: 49.25, params: 12.31, tokenizerSize: 32101},
}

// TestPlanMatchesHub compares full-size plans with the Hub's files: the
// shard count, each shard's size where known, the total (the notes' totals
// are sums of the shard sizes as the Hub rounds them) and the parameters.
func TestPlanMatchesHub(t *testing.T) {
	for _, f := range allFacts {
		t.Run(f.model, func(t *testing.T) {
			plan, err := synthetic.Plan(synthetic.Options{Model: f.model})
			if err != nil {
				t.Fatal(err)
			}
			var shards []string
			size := map[string]int64{}
			var total int64
			for _, x := range plan {
				if size[x.Shard] == 0 {
					shards = append(shards, x.Shard)
				}
				size[x.Shard] += x.Bytes()
				total += x.Bytes()
			}
			if len(shards) != f.numShards {
				t.Fatalf("%d shards, the Hub has %d", len(shards), f.numShards)
			}
			var rounded float64
			for i, s := range shards {
				if want := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, f.numShards); s != want {
					t.Errorf("shard %d is %s, want %s", i+1, s, want)
				}
				gb := math.Round(float64(size[s])/1e7) / 100
				rounded += gb
				if f.shards != nil && gb != f.shards[i] {
					t.Errorf("%s holds %.2f GB, the Hub's %.2f GB", s, gb, f.shards[i])
				}
			}
			if math.Abs(rounded-f.totalGB) > 0.005 {
				t.Errorf("shards sum to %.2f GB, the Hub's to %.2f GB", rounded, f.totalGB)
			}
			if p := math.Round(float64(total)/4/1e7) / 100; p != f.params {
				t.Errorf("%.2f B parameters, the Hub's checkpoint has %.2f B", p, f.params)
			}
		})
	}
}

// layerIndex finds the layer numbers of a stack in a tensor name (not T5's
// sub-layer numbers, block.N.layer.0/1/2).
var layerIndex = regexp.MustCompile(`(?:layers|encoder\.layer|block)\.(\d+)\.`)

// fixtureNames lists the tensor names of a tiny fixture model (transformers
// 5 wrote it) as the Hub's transformers 4 checkpoints name them, keeping
// layers below n: the fused vision qkv.bias is stored as q_bias and v_bias
// (EVA has no key bias), and T5's encoder and decoder embed_tokens, tied to
// shared.weight, are not stored.
func fixtureNames(t *testing.T, fixture string, n int) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureModels, fixture, "model.safetensors.index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	var names []string
next:
	for name := range idx.WeightMap {
		for _, m := range layerIndex.FindAllStringSubmatch(name, -1) {
			if i, _ := strconv.Atoi(m[1]); i >= n {
				continue next
			}
		}
		switch {
		case strings.HasSuffix(name, ".self_attn.qkv.bias"):
			p := strings.TrimSuffix(name, "qkv.bias")
			names = append(names, p+"q_bias", p+"v_bias")
		case name == "language_model.encoder.embed_tokens.weight", name == "language_model.decoder.embed_tokens.weight":
		default:
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// TestPlanNamesMatchFixtures checks every name against the tiny fixtures,
// which have the real architecture: at three layers per stack the Q-Former
// has cross-attention in layers 0 and 2 only, and T5 a relative position
// bias in block 0 only.
func TestPlanNamesMatchFixtures(t *testing.T) {
	for _, f := range allFacts {
		t.Run(f.model, func(t *testing.T) {
			plan, err := synthetic.Plan(synthetic.Options{Model: f.model, Layers: 3})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range plan {
				got = append(got, x.Name)
			}
			sort.Strings(got)
			if want := fixtureNames(t, f.fixture, 3); !slices.Equal(got, want) {
				t.Errorf("names differ from the fixture's:\n only here: %v\n only in the fixture: %v", minus(got, want), minus(want, got))
			}
		})
	}
}

// TestPlanFullDepth checks the layer counts of the full-size plans.
func TestPlanFullDepth(t *testing.T) {
	for _, f := range allFacts {
		t.Run(f.model, func(t *testing.T) {
			plan, err := synthetic.Plan(synthetic.Options{Model: f.model})
			if err != nil {
				t.Fatal(err)
			}
			count := map[string][]int{}
			for _, x := range plan {
				for _, pat := range []string{`^vision_model\.encoder\.layers\.(\d+)\.mlp\.fc1\.weight$`,
					`^qformer\.encoder\.layer\.(\d+)\.attention\.attention\.query\.weight$`,
					`^qformer\.encoder\.layer\.(\d+)\.crossattention\.attention\.query\.weight$`,
					`^language_model\.model\.layers\.(\d+)\.mlp\.down_proj\.weight$`,
					`^language_model\.encoder\.block\.(\d+)\.layer\.1\.DenseReluDense\.wo\.weight$`,
					`^language_model\.decoder\.block\.(\d+)\.layer\.2\.DenseReluDense\.wo\.weight$`} {
					if m := regexp.MustCompile(pat).FindStringSubmatch(x.Name); m != nil {
						i, _ := strconv.Atoi(m[1])
						count[pat] = append(count[pat], i)
					}
				}
			}
			seq := func(n, step int) []int {
				var s []int
				for i := 0; i < n; i += step {
					s = append(s, i)
				}
				return s
			}
			want := map[string][]int{
				`^vision_model\.encoder\.layers\.(\d+)\.mlp\.fc1\.weight$`:                   seq(39, 1),
				`^qformer\.encoder\.layer\.(\d+)\.attention\.attention\.query\.weight$`:      seq(12, 1),
				`^qformer\.encoder\.layer\.(\d+)\.crossattention\.attention\.query\.weight$`: seq(12, 2),
			}
			if f.llama {
				want[`^language_model\.model\.layers\.(\d+)\.mlp\.down_proj\.weight$`] = seq(f.layers, 1)
			} else {
				want[`^language_model\.encoder\.block\.(\d+)\.layer\.1\.DenseReluDense\.wo\.weight$`] = seq(f.layers, 1)
				want[`^language_model\.decoder\.block\.(\d+)\.layer\.2\.DenseReluDense\.wo\.weight$`] = seq(f.layers, 1)
			}
			for pat := range count {
				sort.Ints(count[pat])
			}
			if !reflect.DeepEqual(count, want) {
				t.Errorf("layers %v\nwant %v", count, want)
			}
		})
	}
}

// minus returns the elements of a not in b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// wantShape is the shape the architecture gives a tensor, from the notes'
// sizes: the vision encoder 1408 wide (MLP 6144, 257 tokens), the Q-Former
// 768 (FFN 3072, 30523 tokens, 512 positions, 32 queries), then the
// language model's.
func wantShape(f facts, name string) []int {
	const v, vi, q, qi = 1408, 6144, 768, 3072
	h, inner, ff, vocab := f.hidden, f.heads*f.headDim, f.intermediate, f.vocab
	n := regexp.MustCompile(`\.\d+\.`).ReplaceAllString(name, ".N.")
	exact := map[string][]int{
		"query_tokens": {1, 32, q},
		"vision_model.embeddings.class_embedding":                       {1, 1, v},
		"vision_model.embeddings.patch_embedding.weight":                {v, 3, 14, 14},
		"vision_model.embeddings.position_embedding":                    {1, 257, v},
		"vision_model.encoder.layers.N.self_attn.qkv.weight":            {3 * v, v},
		"vision_model.encoder.layers.N.self_attn.projection.weight":     {v, v},
		"vision_model.encoder.layers.N.mlp.fc1.weight":                  {vi, v},
		"vision_model.encoder.layers.N.mlp.fc1.bias":                    {vi},
		"vision_model.encoder.layers.N.mlp.fc2.weight":                  {v, vi},
		"qformer.embeddings.word_embeddings.weight":                     {30523, q},
		"qformer.embeddings.position_embeddings.weight":                 {512, q},
		"qformer.encoder.layer.N.crossattention.attention.key.weight":   {q, v},
		"qformer.encoder.layer.N.crossattention.attention.value.weight": {q, v},
		"qformer.encoder.layer.N.intermediate.dense.weight":             {qi, q},
		"qformer.encoder.layer.N.intermediate.dense.bias":               {qi},
		"qformer.encoder.layer.N.intermediate_query.dense.weight":       {qi, q},
		"qformer.encoder.layer.N.intermediate_query.dense.bias":         {qi},
		"qformer.encoder.layer.N.output.dense.weight":                   {q, qi},
		"qformer.encoder.layer.N.output_query.dense.weight":             {q, qi},
		"language_projection.weight":                                    {h, q},
		"language_projection.bias":                                      {h},
		"language_model.lm_head.weight":                                 {vocab, h},
		"language_model.model.embed_tokens.weight":                      {vocab, h},
		"language_model.shared.weight":                                  {vocab, h},
		"language_model.model.layers.N.self_attn.o_proj.weight":         {h, inner},
		"language_model.model.layers.N.mlp.gate_proj.weight":            {ff, h},
		"language_model.model.layers.N.mlp.up_proj.weight":              {ff, h},
		"language_model.model.layers.N.mlp.down_proj.weight":            {h, ff},
	}
	if s, ok := exact[n]; ok {
		return s
	}
	switch {
	case strings.HasPrefix(n, "vision_model."): // biases, norms
		return []int{v}
	case strings.HasPrefix(n, "qformer."):
		if strings.HasSuffix(n, ".weight") && !strings.Contains(n, "LayerNorm") && !strings.Contains(n, "layernorm") {
			return []int{q, q} // the attention projections
		}
		return []int{q}
	case strings.HasSuffix(n, "_proj.weight"): // LLaMA q, k, v
		return []int{inner, h}
	case strings.HasSuffix(n, "relative_attention_bias.weight"):
		return []int{32, f.heads}
	case strings.HasSuffix(n, "Attention.o.weight"):
		return []int{h, inner}
	case strings.HasSuffix(n, "Attention.q.weight"), strings.HasSuffix(n, "Attention.k.weight"), strings.HasSuffix(n, "Attention.v.weight"):
		return []int{inner, h}
	case strings.HasSuffix(n, "DenseReluDense.wo.weight"):
		return []int{h, ff}
	case strings.Contains(n, "DenseReluDense.wi_"):
		return []int{ff, h}
	case strings.HasSuffix(n, "norm.weight"), strings.HasSuffix(n, "layernorm.weight"):
		return []int{h}
	}
	return nil
}

// TestWriteReadBack writes each model with one layer per stack and small
// shards, and reads it back with the repository's own readers: the real
// sizes from config.LoadFolder, every tensor name and shape from
// safetensors.OpenDir, the tokenizers through processor.Load.
func TestWriteReadBack(t *testing.T) {
	clip := config.ImageProcessor{Width: 224, Height: 224, DoResize: true, Resample: config.ResampleBicubic,
		DoRescale: true, RescaleFactor: 1.0 / 255, DoNormalize: true,
		Mean: [3]float64{0.48145466, 0.4578275, 0.40821073}, Std: [3]float64{0.26862954, 0.26130258, 0.27577711},
		DoConvertRGB: true}
	for _, f := range allFacts {
		t.Run(f.model, func(t *testing.T) {
			// One checkpoint on disk at a time: keeping Vicuna-7B's and
			// Flan-T5-XL's (3.2 GB, for the answer tests) while writing
			// Flan-T5-XXL's (2.8 GB) took 6 GB, and with the other
			// packages' tests running beside this one, a CI machine's
			// disk filled. A test run after this one writes its model again.
			dropCachedExcept(f.model)
			dir := oneLayer(t, f.model)
			defer dropCached(f.model)
			folder, err := config.LoadFolder(dir)
			if err != nil {
				t.Fatal(err)
			}
			m := folder.Model
			wantVision := config.Vision{HiddenSize: 1408, IntermediateSize: 6144, NumHiddenLayers: 1, NumAttentionHeads: 16,
				ImageSize: 224, PatchSize: 14, HiddenAct: "gelu", LayerNormEps: 1e-6, QKVBias: true}
			if m.Vision != wantVision || m.Vision.HiddenSize/m.Vision.NumAttentionHeads != 88 {
				t.Errorf("vision %+v\nwant   %+v (head dim 88)", m.Vision, wantVision)
			}
			wantQ := config.QFormer{VocabSize: 30523, HiddenSize: 768, NumHiddenLayers: 1, NumAttentionHeads: 12,
				IntermediateSize: 3072, HiddenAct: "gelu", MaxPositionEmbeddings: 512, LayerNormEps: 1e-12,
				PositionEmbeddingType: "absolute", CrossAttentionFrequency: 2, EncoderHiddenSize: 1408}
			if m.QFormer != wantQ {
				t.Errorf("qformer %+v\nwant    %+v", m.QFormer, wantQ)
			}
			if m.NumQueryTokens != 32 || !m.HasImageTokenIndex || m.ImageTokenIndex != f.imageToken || m.DecoderOnly != f.llama {
				t.Errorf("queries %d, image token %d (%v), decoder-only %v", m.NumQueryTokens, m.ImageTokenIndex, m.HasImageTokenIndex, m.DecoderOnly)
			}
			wantGen := config.DefaultGeneration()
			if f.llama {
				l, ok := m.Text.Language.(*config.Llama)
				if !ok {
					t.Fatalf("text model %T, want LLaMA", m.Text.Language)
				}
				got := []any{l.VocabSize, l.HiddenSize, l.IntermediateSize, l.NumHiddenLayers, l.NumAttentionHeads,
					l.NumKeyValueHeads, l.HeadDim, l.MaxPositionEmbeddings, l.HiddenAct, l.RMSNormEps, l.Rope.Theta,
					l.TieWordEmbeddings, l.BOSTokenID, l.EOSTokenID, l.PadTokenID}
				want := []any{f.vocab, f.hidden, f.intermediate, 1, f.heads, f.heads, 128, 2048, "silu", 1e-6, 10000.0,
					false, config.TokenIDs{0}, config.TokenIDs{1}, config.TokenIDs{-1}}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("llama %v\nwant  %v", got, want)
				}
				wantGen.BOSTokenID, wantGen.EOSTokenID, wantGen.PadTokenID = config.TokenIDs{0}, config.TokenIDs{1}, config.TokenIDs{-1}
			} else {
				want := config.T5{VocabSize: 32128, DModel: f.hidden, DKV: 64, DFF: f.intermediate, NumLayers: 1,
					NumDecoderLayers: 1, NumHeads: f.heads, RelativeAttentionNumBuckets: 32, RelativeAttentionMaxDistance: 128,
					LayerNormEps: 1e-6, FeedForwardProj: "gated-gelu", DenseActFn: "gelu", IsGatedAct: true,
					EOSTokenID: config.TokenIDs{1}, NPositions: 512}
				if x, ok := m.Text.Language.(*config.T5); !ok || !reflect.DeepEqual(*x, want) {
					t.Errorf("t5 %+v\nwant %+v", m.Text.Language, want)
				}
				wantGen.DecoderStartTokenID, wantGen.EOSTokenID, wantGen.PadTokenID = config.TokenIDs{0}, config.TokenIDs{1}, config.TokenIDs{0}
			}
			if !reflect.DeepEqual(*folder.Generation, wantGen) {
				t.Errorf("generation %+v\nwant       %+v", *folder.Generation, wantGen)
			}
			if want := (config.Processor{Image: clip, NumQueryTokens: 32}); !reflect.DeepEqual(*folder.Processor, want) {
				t.Errorf("processor %+v\nwant      %+v", *folder.Processor, want)
			}

			checkWeights(t, f, dir)
			checkTokenizers(t, f, dir)
		})
	}
}

// checkWeights opens the shards and compares names and shapes with the
// fixture's names and the architecture's shapes.
func checkWeights(t *testing.T, f facts, dir string) {
	t.Helper()
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if want := fixtureNames(t, f.fixture, 1); !slices.Equal(set.Names(), want) {
		t.Errorf("tensor names differ from the fixture's:\n only here: %v\n only in the fixture: %v",
			minus(set.Names(), want), minus(want, set.Names()))
	}
	var total int64
	for _, name := range set.Names() {
		info, _ := set.Info(name)
		total += info.Size
		if want := wantShape(f, name); info.DType != safetensors.F32 || !slices.Equal(info.Shape, want) {
			t.Errorf("%s is %s %v, want F32 %v", name, info.DType, info.Shape, want)
		}
	}
	if files := len(set.Files()); files < 3 {
		t.Errorf("%d shards of at most 256 MiB for %s", files, gb(total))
	}
	if size, ok := set.Meta["total_size"].(float64); !ok || int64(size) != total {
		t.Errorf("index total_size %v, the tensors hold %d bytes", set.Meta["total_size"], total)
	}
	// Norm scales are 1, biases 0, weights small and varied.
	for name, check := range map[string]func([]float32) bool{
		"vision_model.post_layernorm.weight": func(v []float32) bool { return allEqual(v, 1) },
		"vision_model.post_layernorm.bias":   func(v []float32) bool { return allEqual(v, 0) },
		"language_projection.weight": func(v []float32) bool {
			mean, std := moments(v)
			return math.Abs(mean) < 1e-3 && math.Abs(std-0.02) < 1e-3
		},
	} {
		v, err := set.Float32(name)
		if err != nil || !check(v) {
			t.Errorf("%s has unexpected values (%v)", name, err)
		}
	}
}

func allEqual(v []float32, x float32) bool {
	for _, y := range v {
		if y != x {
			return false
		}
	}
	return len(v) > 0
}

func moments(v []float32) (mean, std float64) {
	for _, x := range v {
		mean += float64(x)
	}
	mean /= float64(len(v))
	for _, x := range v {
		std += (float64(x) - mean) * (float64(x) - mean)
	}
	return mean, math.Sqrt(std / float64(len(v)))
}

// checkTokenizers loads the tokenizers through the processor and checks
// the real models' ids: LLaMA's and BERT's vocabularies, Vicuna's [PAD]
// 32000 and <image> 32001 with `</s>` as bos, Flan-T5's <image> 32100 and
// `</s>` appended, the Q-Former's [DEC] 30522.
func checkTokenizers(t *testing.T, f facts, dir string) {
	t.Helper()
	p, err := processor.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, q := p.Tokenizer, p.QFormerTokenizer
	ids := func(content string) int32 {
		id, ok := tok.TokenID(content)
		if !ok {
			return -1
		}
		return id
	}
	if p.ImageTokenID != int32(f.imageToken) || ids("<image>") != int32(f.imageToken) || tok.VocabSize() != f.tokenizerSize {
		t.Errorf("<image> %d (processor %d), %d tokens; want %d, %d tokens", ids("<image>"), p.ImageTokenID, tok.VocabSize(), f.imageToken, f.tokenizerSize)
	}
	if id, ok := q.TokenID("[DEC]"); !ok || id != 30522 || q.VocabSize() != 30523 {
		t.Errorf("Q-Former [DEC] %d, %d tokens; want 30522 and 30523", id, q.VocabSize())
	}
	if got := q.Encode("Hello World", true).IDs; !slices.Equal(got, []int32{101, 7592, 2088, 102}) {
		t.Errorf("Q-Former ids for %q: %v, want bert-base-uncased's [CLS] hello world [SEP] = [101 7592 2088 102]", "Hello World", got)
	}
	in, err := p.Process([]image.Image{image.NewRGBA(image.Rect(0, 0, 8, 8))}, []string{"Hello world"})
	if err != nil {
		t.Fatal(err)
	}
	var want []int32
	for range 32 {
		want = append(want, int32(f.imageToken))
	}
	if f.llama {
		if ids("[PAD]") != 32000 {
			t.Errorf("[PAD] is %d, want 32000", ids("[PAD]"))
		}
		for _, get := range []func() (int32, bool){tok.BOS, tok.EOS, tok.UNK} {
			if id, ok := get(); !ok || id != 2 {
				t.Errorf("bos/eos/unk %d, want </s> = 2", id)
			}
		}
		// LLaMA's ids for ▁Hello and ▁world, after `</s>` as bos.
		want = append(want, 2, 15043, 3186)
	} else {
		if id, ok := tok.EOS(); !ok || id != 1 || ids("<extra_id_0>") != 32099 || ids("<pad>") != 0 {
			t.Errorf("eos %d, <extra_id_0> %d, <pad> %d; want 1, 32099, 0", id, ids("<extra_id_0>"), ids("<pad>"))
		}
		ids := in.InputIDs[0]
		if n := len(ids); n < 34 || ids[n-1] != 1 {
			t.Errorf("T5 prompt %v does not end with </s> (1)", ids)
		}
		want = in.InputIDs[0][:32] // the text's ids depend on the stand-in T5 vocabulary
	}
	if !slices.Equal(in.InputIDs[0][:len(want)], want) || (f.llama && len(in.InputIDs[0]) != len(want)) {
		t.Errorf("input ids %v, want %v", in.InputIDs[0], want)
	}
}
