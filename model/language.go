package model

import (
	"context"

	"glimpse/checkpoint/config"
	"glimpse/compute"
)

// LanguageModel is the text half of InstructBLIP: it embeds the prompt's
// tokens, runs the prompt (with the projected image queries written into
// it) and then one token at a time, keeping a KV cache, and turns hidden
// states into logits. *Llama (decoder-only, Vicuna) and *T5
// (encoder–decoder, Flan-T5) implement it; the rest of the model and the
// generation loop never ask which one they have.
//
// The interface is sealed (its working methods are unexported) because
// implementations share the package's prompt, cache and trace types.
type LanguageModel interface {
	// Kind names the architecture as config.json's text_config does:
	// "llama" or "t5".
	Kind() string

	// embeddings returns the table prompt tokens are looked up in and its
	// module name in transformers (for tracing).
	embeddings() (table compute.Tensor, module string)
	// forward runs a whole batch of prompts without a cache, as
	// transformers' forward() does (T5 with decoder input
	// [decoder_start_token_id]), and returns the logits: [B, T, vocab] for
	// a decoder-only model, [B, 1, vocab] for T5.
	forward(g compute.Context, p prompt, tr Trace) compute.Tensor
	// prefill runs a batch of prompts into a new decoding state whose
	// long-lived tensors (KV cache, encoder output) live in long, and
	// returns the logits [B, vocab] of each prompt's next token. Per-call
	// scratch goes in g.
	prefill(ctx context.Context, g, long compute.Context, p prompt) (decoding, compute.Tensor, error)
	// prefix is what generate() continues for each prompt: the prompt ids
	// for a decoder-only model, the decoder start token for T5 (start,
	// when set, overrides the config's, as generation_config.json may).
	prefix(promptIDs [][]int32, start config.TokenIDs) [][]int32
	// check validates the loaded shapes against the hyperparameters.
	check(c *shapeCheck)
	// requestBytes estimates what a request needs in the language model
	// beyond its weights (see Model.RequestBytes).
	requestBytes(r Request) int64
}

// decoding is one batch's generation state inside a language model: its
// KV cache and whatever else each live sequence carries (LLaMA's masks
// and positions, T5's encoder keys and values).
type decoding interface {
	// step feeds tokens[i] to live sequence i and returns the logits
	// [n, vocab] of each sequence's next position.
	step(g compute.Context, tokens []int32) compute.Tensor
	// reorder makes the live sequences idx[0], idx[1], … of the current
	// ones (beam search); rows[i] is the prompt new sequence i continues.
	reorder(idx []int32, rows []int)
}
