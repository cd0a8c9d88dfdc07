package model

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"glimpse/compute"
)

// Precision is a weight precision policy: which dtype each weight matrix
// (a `kind:"matrix"` tensor) is stored in. Norms, biases and added
// embeddings stay float32 under every policy, and activations are float32
// in any case. docs/precision.md gives the reasons for each choice.
type Precision string

// The policies.
const (
	// FP32 keeps every matrix float32 (the zero value means FP32 too).
	FP32 Precision = "fp32"
	// FP16 stores every matrix as IEEE half.
	FP16 Precision = "fp16"
	// Q8 stores every matrix as Q8 (blocks of 32 weights with one scale,
	// llama.cpp's Q8_0 with a float32 scale).
	Q8 Precision = "q8"
	// Q4 is llama.cpp's Q4_K_M mix: the LLaMA and T5 block linears as Q4K,
	// with the tensors that errors hurt most in more bits: as in llama.cpp,
	// Q6K for LLaMA's attention value and MLP down projections in the
	// layers it gives more bits (moreBits) and for lm_head; Q8 for T5's
	// attention outputs and feed-forward outputs in every layer, the
	// embedding tables, the vision encoder, the Q-Former and the language
	// projection.
	Q4 Precision = "q4"
)

// ParsePrecision returns the policy named s ("fp32", "fp16", "q8", "q4").
func ParsePrecision(s string) (Precision, error) {
	switch p := Precision(s); p {
	case FP32, FP16, Q8, Q4:
		return p, nil
	}
	return "", fmt.Errorf("unknown weight precision %q (use fp32, fp16, q8 or q4)", s)
}

// String returns the policy's name; the zero value is "fp32".
func (p Precision) String() string {
	if p == "" {
		return string(FP32)
	}
	return string(p)
}

// layerIndex finds a transformer stack's layer number in a checkpoint name:
// the stack is everything up to "layers"/"block" ("language_model.model.layers",
// "language_model.encoder.block"), the layer the number after it.
var layerIndex = regexp.MustCompile(`^(.*?\.(?:layers|block))\.(\d+)\.`)

// stackLayers counts the layers of each stack among a checkpoint's tensor
// names (the highest index plus one), for moreBits.
func stackLayers(names []string) map[string]int {
	n := map[string]int{}
	for _, name := range names {
		if m := layerIndex.FindStringSubmatch(name); m != nil {
			i, _ := strconv.Atoi(m[2])
			n[m[1]] = max(n[m[1]], i+1)
		}
	}
	return n
}

// moreBits reports whether layer i of n is one that llama.cpp's Q4_K_M mix
// stores with more bits (use_more_bits in llama-quant.cpp): the first and
// last eighth of the stack, and every third layer between.
func moreBits(i, n int) bool {
	return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2
}

// dtypeFor returns the dtype p stores the matrix name (a checkpoint tensor
// name) of the given 2-D shape in. layers holds stackLayers of the
// checkpoint. A matrix whose rows do not fit the chosen format's blocks
// falls back: Q4K and Q6K rows that are not a multiple of 256 (ViT-g's
// 1408, the tiny fixtures' 128) become Q8, and Q8 rows that are not a
// multiple of 32 (the patch embedding's 3·14·14 = 588) become F16.
func (p Precision) dtypeFor(name string, shape []int, layers map[string]int) compute.DType {
	var dt compute.DType
	switch p {
	case "", FP32:
		return compute.F32
	case FP16:
		return compute.F16
	case Q8:
		dt = compute.Q8
	case Q4:
		dt = q4DType(name, layers)
	default:
		panic(fmt.Sprintf("model: unknown precision %q", string(p)))
	}
	k := shape[len(shape)-1]
	if (dt == compute.Q4K || dt == compute.Q6K) && k%compute.SuperBlockSize != 0 {
		dt = compute.Q8
	}
	if dt == compute.Q8 && k%compute.BlockSize != 0 {
		dt = compute.F16
	}
	return dt
}

// q4DType is the Q4 mix (see Q4 and docs/precision.md).
func q4DType(name string, layers map[string]int) compute.DType {
	if name == "language_model.lm_head.weight" {
		// llama.cpp's Q4_K_M keeps the output head in Q6_K.
		return compute.Q6K
	}
	m := layerIndex.FindStringSubmatch(name)
	if !strings.HasPrefix(name, "language_model.") || m == nil {
		// Embedding tables, the vision encoder, the Q-Former and the
		// projection.
		return compute.Q8
	}
	rest := strings.TrimPrefix(name, m[0])
	switch {
	case strings.Contains(rest, "DenseReluDense.wo."), strings.HasSuffix(rest, "Attention.o.weight"):
		// T5's feed-forward and attention outputs: the tensors whose
		// errors overflow Flan-T5 in half precision.
		return compute.Q8
	case strings.HasSuffix(rest, "self_attn.v_proj.weight"), strings.HasSuffix(rest, "mlp.down_proj.weight"):
		i, _ := strconv.Atoi(m[2])
		if moreBits(i, layers[m[1]]) {
			return compute.Q6K
		}
	}
	return compute.Q4K
}

// WeightBytes is the memory the model's weights occupy on its backend as
// loaded: each tensor at its dtype's packed size, with the block scales of
// Q8 (Q4K's and Q6K's are inside their super-blocks), so a q8 or q4 model
// counts exactly the mix of formats it holds.
func (m *Model) WeightBytes() int64 {
	var n int64
	for _, t := range m.weights.tensors {
		n += tensorBytes(t.DType(), t.Shape())
	}
	return n
}

// tensorBytes is what a tensor of the given dtype and shape occupies on a
// backend: its packed words and, for Q8 and Q4, its block scales (Q4K's
// and Q6K's are inside their super-blocks). WeightBytes counts loaded
// tensors with it, and Plan.WeightBytes (fit.go) the tensors a load would
// make.
func tensorBytes(dt compute.DType, shape []int) int64 {
	n := compute.NumElements(shape)
	return 4 * int64(compute.PackedWords(dt, n)+compute.PackedScales(dt, n))
}
