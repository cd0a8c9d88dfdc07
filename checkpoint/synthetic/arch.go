package synthetic

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// The vision encoder (EVA ViT-g/14) and the Q-Former (BERT-base) are the
// same in all four models; only the language model differs.
const (
	visionHidden       = 1408
	visionIntermediate = 6144
	visionLayers       = 39
	visionHeads        = 16 // head dim 88
	imageSize          = 224
	patchSize          = 14
	visionTokens       = (imageSize/patchSize)*(imageSize/patchSize) + 1 // 256 patches + class token

	qformerHidden       = 768
	qformerIntermediate = 3072
	qformerLayers       = 12
	qformerHeads        = 12
	qformerVocab        = 30523 // bert-base-uncased's 30522 + [DEC]
	qformerPositions    = 512
	crossAttentionEvery = 2 // cross-attention in layers 0, 2, 4, …
	numQueryTokens      = 32

	// relativeBuckets is T5's relative_attention_num_buckets.
	relativeBuckets = 32
)

// arch is one catalogue model's language model, as its config.json says.
type arch struct {
	name    string // the catalogue name without the "instructblip-" prefix
	repo    string
	decoder string // "llama" or "t5"
	// hidden is LLaMA's hidden_size or T5's d_model; intermediate is
	// intermediate_size or d_ff; layers is num_hidden_layers or (T5) the
	// encoder's and the decoder's num_layers.
	hidden, intermediate, layers int
	heads, headDim               int
	vocab                        int // embedding rows
	imageToken                   int // image_token_index, the id of <image>
}

// archs are the four catalogue models (shared/notes/checkpoints.md; the
// catalogue in glimpse/downloads names them "instructblip-"+name).
var archs = []arch{
	{name: "vicuna-7b", repo: "Salesforce/instructblip-vicuna-7b", decoder: "llama",
		hidden: 4096, intermediate: 11008, layers: 32, heads: 32, headDim: 128, vocab: 32064, imageToken: 32001},
	{name: "vicuna-13b", repo: "Salesforce/instructblip-vicuna-13b", decoder: "llama",
		hidden: 5120, intermediate: 13824, layers: 40, heads: 40, headDim: 128, vocab: 32064, imageToken: 32001},
	{name: "flan-t5-xl", repo: "Salesforce/instructblip-flan-t5-xl", decoder: "t5",
		hidden: 2048, intermediate: 5120, layers: 24, heads: 32, headDim: 64, vocab: 32128, imageToken: 32100},
	{name: "flan-t5-xxl", repo: "Salesforce/instructblip-flan-t5-xxl", decoder: "t5",
		hidden: 4096, intermediate: 10240, layers: 24, heads: 64, headDim: 64, vocab: 32128, imageToken: 32100},
}

// Models returns the names Options.Model accepts, smallest language model
// first within each family.
func Models() []string {
	names := make([]string, len(archs))
	for i, a := range archs {
		names[i] = a.name
	}
	return names
}

// lookup finds a model by its short name, its catalogue name
// ("instructblip-vicuna-7b") or its Hub repository.
func lookup(name string) (arch, error) {
	n := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(name), "salesforce/"), "instructblip-")
	for _, a := range archs {
		if a.name == n {
			return a, nil
		}
	}
	return arch{}, fmt.Errorf("unknown model %q (use %s)", name, strings.Join(Models(), ", "))
}

// depth is the layer count of each stack after Options.Layers.
type depth struct{ vision, qformer, text int }

func depthOf(a arch, layers int) depth {
	cut := func(real int) int {
		if layers > 0 && layers < real {
			return layers
		}
		return real
	}
	return depth{vision: cut(visionLayers), qformer: cut(qformerLayers), text: cut(a.layers)}
}

// fill says how a tensor's values are drawn.
type fill uint8

const (
	normal fill = iota // weights and embeddings: normal-ish, std initStd
	ones               // norm scales
	zeros              // biases
)

// initStd is transformers' initializer_range for these models: small enough
// that a random network keeps finite activations through its real depth.
const initStd = 0.02

// spec is one tensor to write.
type spec struct {
	name  string
	shape []int
	fill  fill
}

func (s spec) elements() int64 {
	n := int64(1)
	for _, d := range s.shape {
		n *= int64(d)
	}
	return n
}

// tensors lists the checkpoint's tensors in the order transformers' state
// dict has them (which decides what lands in which shard), named as the
// Hub's checkpoints name them: the vision attention's q_bias and v_bias
// rather than the fused qkv.bias of transformers 5 re-saves, and for T5 only
// shared.weight, since transformers 4 does not save the encoder's and
// decoder's embed_tokens tied to it.
func tensors(a arch, d depth) []spec {
	var out []spec
	add := func(name string, f fill, shape ...int) { out = append(out, spec{name, shape, f}) }
	linear := func(prefix string, outDim, inDim int) {
		add(prefix+".weight", normal, outDim, inDim)
		add(prefix+".bias", zeros, outDim)
	}
	layerNorm := func(prefix string, dim int) {
		add(prefix+".weight", ones, dim)
		add(prefix+".bias", zeros, dim)
	}

	add("query_tokens", normal, 1, numQueryTokens, qformerHidden)

	v := "vision_model."
	add(v+"embeddings.class_embedding", normal, 1, 1, visionHidden)
	add(v+"embeddings.patch_embedding.weight", normal, visionHidden, 3, patchSize, patchSize)
	add(v+"embeddings.patch_embedding.bias", zeros, visionHidden)
	add(v+"embeddings.position_embedding", normal, 1, visionTokens, visionHidden)
	for i := 0; i < d.vision; i++ {
		p := v + "encoder.layers." + strconv.Itoa(i) + "."
		add(p+"self_attn.q_bias", zeros, visionHidden)
		add(p+"self_attn.v_bias", zeros, visionHidden)
		add(p+"self_attn.qkv.weight", normal, 3*visionHidden, visionHidden)
		linear(p+"self_attn.projection", visionHidden, visionHidden)
		layerNorm(p+"layer_norm1", visionHidden)
		linear(p+"mlp.fc1", visionIntermediate, visionHidden)
		linear(p+"mlp.fc2", visionHidden, visionIntermediate)
		layerNorm(p+"layer_norm2", visionHidden)
	}
	layerNorm(v+"post_layernorm", visionHidden)

	q := "qformer."
	layerNorm(q+"embeddings.layernorm", qformerHidden)
	add(q+"embeddings.word_embeddings.weight", normal, qformerVocab, qformerHidden)
	add(q+"embeddings.position_embeddings.weight", normal, qformerPositions, qformerHidden)
	attention := func(p string, kvDim int) {
		linear(p+"attention.query", qformerHidden, qformerHidden)
		linear(p+"attention.key", qformerHidden, kvDim)
		linear(p+"attention.value", qformerHidden, kvDim)
		linear(p+"output.dense", qformerHidden, qformerHidden)
		layerNorm(p+"output.LayerNorm", qformerHidden)
	}
	for i := 0; i < d.qformer; i++ {
		p := q + "encoder.layer." + strconv.Itoa(i) + "."
		attention(p+"attention.", qformerHidden)
		if i%crossAttentionEvery == 0 {
			attention(p+"crossattention.", visionHidden)
		}
		linear(p+"intermediate.dense", qformerIntermediate, qformerHidden)
		linear(p+"output.dense", qformerHidden, qformerIntermediate)
		layerNorm(p+"output.LayerNorm", qformerHidden)
		linear(p+"intermediate_query.dense", qformerIntermediate, qformerHidden)
		linear(p+"output_query.dense", qformerHidden, qformerIntermediate)
		layerNorm(p+"output_query.LayerNorm", qformerHidden)
	}
	linear("language_projection", a.hidden, qformerHidden)

	h, inner, ff := a.hidden, a.heads*a.headDim, a.intermediate
	switch a.decoder {
	case "llama":
		l := "language_model."
		add(l+"model.embed_tokens.weight", normal, a.vocab, h)
		for i := 0; i < d.text; i++ {
			p := l + "model.layers." + strconv.Itoa(i) + "."
			add(p+"self_attn.q_proj.weight", normal, inner, h)
			add(p+"self_attn.k_proj.weight", normal, inner, h)
			add(p+"self_attn.v_proj.weight", normal, inner, h)
			add(p+"self_attn.o_proj.weight", normal, h, inner)
			add(p+"mlp.gate_proj.weight", normal, ff, h)
			add(p+"mlp.up_proj.weight", normal, ff, h)
			add(p+"mlp.down_proj.weight", normal, h, ff)
			add(p+"input_layernorm.weight", ones, h)
			add(p+"post_attention_layernorm.weight", ones, h)
		}
		add(l+"model.norm.weight", ones, h)
		add(l+"lm_head.weight", normal, a.vocab, h)
	case "t5":
		l := "language_model."
		add(l+"shared.weight", normal, a.vocab, h)
		attention := func(p string, first bool) {
			add(p+"q.weight", normal, inner, h)
			add(p+"k.weight", normal, inner, h)
			add(p+"v.weight", normal, inner, h)
			add(p+"o.weight", normal, h, inner)
			if first {
				add(p+"relative_attention_bias.weight", normal, relativeBuckets, a.heads)
			}
		}
		feedForward := func(p string) {
			add(p+"wi_0.weight", normal, ff, h)
			add(p+"wi_1.weight", normal, ff, h)
			add(p+"wo.weight", normal, h, ff)
		}
		for _, stack := range []string{"encoder", "decoder"} {
			for i := 0; i < d.text; i++ {
				p := l + stack + ".block." + strconv.Itoa(i) + ".layer."
				attention(p+"0.SelfAttention.", i == 0)
				add(p+"0.layer_norm.weight", ones, h)
				ffLayer := "1"
				if stack == "decoder" {
					attention(p+"1.EncDecAttention.", false)
					add(p+"1.layer_norm.weight", ones, h)
					ffLayer = "2"
				}
				feedForward(p + ffLayer + ".DenseReluDense.")
				add(p+ffLayer+".layer_norm.weight", ones, h)
			}
			add(l+stack+".final_layer_norm.weight", ones, h)
		}
		add(l+"lm_head.weight", normal, a.vocab, h)
	default:
		panic("synthetic: unknown decoder " + a.decoder)
	}
	return out
}

// shard is one planned safetensors file: its tensors, sorted by name as the
// safetensors format lays them out, and their offsets in the data area.
type shard struct {
	file    string
	tensors []spec
	offsets []int64 // begin of each tensor's bytes in the data area
	bytes   int64   // data area size
}

// shardFile is the Hub's name for shard i (from 1) of n.
func shardFile(i, n int) string { return fmt.Sprintf("model-%05d-of-%05d.safetensors", i, n) }

// planShards splits tensors into shards the way transformers'
// save_pretrained does: in state-dict order, starting a new shard when the
// next tensor would push a non-empty shard past maxBytes (so one tensor
// larger than maxBytes gets a shard of its own).
func planShards(all []spec, maxBytes int64) []shard {
	var groups [][]spec
	var cur []spec
	var size int64
	for _, t := range all {
		b := 4 * t.elements()
		if len(cur) > 0 && size+b > maxBytes {
			groups = append(groups, cur)
			cur, size = nil, 0
		}
		cur = append(cur, t)
		size += b
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	shards := make([]shard, len(groups))
	for i, g := range groups {
		sort.Slice(g, func(a, b int) bool { return g[a].name < g[b].name })
		s := shard{file: shardFile(i+1, len(groups)), tensors: g, offsets: make([]int64, len(g))}
		for j, t := range g {
			s.offsets[j] = s.bytes
			s.bytes += 4 * t.elements()
		}
		shards[i] = s
	}
	return shards
}
