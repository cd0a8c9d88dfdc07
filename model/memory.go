package model

// Memory estimates, so that a request that cannot fit is refused with the
// numbers before it allocates anything (a 1,000,000,000-token answer or a
// prompt of 100,000 characters would otherwise grow until the process
// dies). Activations are float32 on both engines.

// Request describes one generation request's size.
type Request struct {
	Prompts   int // images and prompts in the batch
	Sequences int // live sequences at most: prompts × beams (or × samples)
	PromptLen int // language-model prompt tokens per prompt, image tokens included
	Positions int // the most positions a sequence reaches, prompt included (T5: decoder positions)

	kvElem int64 // bytes per cached key or value: the model's KV dtype
}

// RequestBytes estimates the device memory a request needs beyond the
// weights: the vision encoder's and Q-Former's activations for its images,
// the language model's KV cache (F16, allocated once per request), T5's
// encoder output, cross-attention keys and values and position bias. It is
// an upper estimate, not an exact count.
func (m *Model) RequestBytes(r Request) int64 {
	r.kvElem = 2
	if m.kvFloat32 {
		r.kvElem = 4
	}
	return m.imageBytes(r.Prompts) + m.Language.requestBytes(r)
}

// imageBytes bounds the image side's live activations for n images: a
// few vision-encoder activations of the widest layer, one layer's
// attention scores, and the Q-Former's (smaller) share.
func (m *Model) imageBytes(n int) int64 {
	v := &m.Vision.VisionParams
	tokens := int64((v.ImageSize/v.PatchSize)*(v.ImageSize/v.PatchSize) + 1)
	wide := int64(max(v.Intermediate, 3*v.Hidden))
	perImage := 4 * tokens * (4*wide + int64(v.Heads)*tokens)
	return int64(n) * perImage * 2 // the Q-Former and projection need less than the encoder again
}

// kvBytes is keys and values of every layer for rows sequences of
// positions each, elem bytes per value.
func kvBytes(layers, rows, positions, width int, elem int64) int64 {
	return 2 * elem * int64(layers) * int64(rows) * int64(positions) * int64(width)
}

// cacheBytes is a session's KV cache (F16, or float32 for a float32
// model: Model.kvDType), allocated once for the request and reordered by
// its rows index, with that index and the padding mask ([sequences,
// positions] F32 each).
func cacheBytes(layers int, r Request, width int) int64 {
	return kvBytes(layers, r.Sequences, r.Positions, width, r.kvElem) + 2*4*int64(r.Sequences)*int64(r.Positions)
}

func (m *Llama) requestBytes(r Request) int64 {
	cache := cacheBytes(len(m.Layers), r, m.KVHeads*m.HeadDim)
	// The prompt's activations: its widest layer and one layer's scores.
	t := int64(r.PromptLen)
	prompt := 4 * int64(r.Prompts) * t * (4*int64(max(m.Intermediate, m.Hidden)) + int64(m.Heads)*t)
	logits := 4 * int64(r.Sequences) * int64(m.Vocab) * 2
	return cache + prompt + logits
}

func (m *T5) requestBytes(r Request) int64 {
	inner := m.Heads * m.DKV
	cache := cacheBytes(len(m.Decoder.Blocks), r, inner)
	// Encoder keys and values for every decoder block, per prompt and laid
	// out again per sequence.
	cross := kvBytes(len(m.Decoder.Blocks), r.Prompts+r.Sequences, r.PromptLen, inner, 4)
	t := int64(r.PromptLen)
	// The encoder's position bias [heads, T, T] and scores, and its widest
	// activations.
	encoder := 4*int64(m.Heads)*t*t*(1+int64(r.Prompts)) + 4*int64(r.Prompts)*t*4*int64(max(m.DFF, m.DModel))
	bias := 4 * int64(m.Heads) * int64(r.Positions) * int64(r.Positions) // the decoder's, at its longest
	logits := 4 * int64(r.Sequences) * int64(m.Vocab) * 2
	return cache + cross + encoder + bias + logits
}
