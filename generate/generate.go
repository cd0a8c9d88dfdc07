// Package generate turns a language model's next-token logits into text the
// way Hugging Face transformers' generate() does (version 5.17), flag for
// flag: greedy search, multinomial sampling, beam search and beam sampling,
// with the same logits processors applied in the same order and the same
// float32 arithmetic wherever it decides which token wins.
//
// The model is behind the Session interface, so the search algorithms here
// are plain Go over []float32 logits and know nothing about devices. The
// networks in package model implement Session for the LLaMA/Vicuna decoder
// and the T5 encoder–decoder.
//
// Conventions follow transformers: a row's prefix is what generate() calls
// input_ids inside its loop (the whole prompt, image tokens and left padding
// included, for a decoder-only model; [decoder_start_token_id] for T5),
// max_length counts that prefix, and a returned sequence is prefix plus
// generated tokens, filled after an early end as transformers fills it.
package generate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Session is a language model primed with a batch of prompts, stepping sequences forward.
type Session interface {
	// Prefill runs the prompts and returns, for each batch row, the logits [vocab] at its last position.
	// Live sequences are then numbered 0..B-1 (one per batch row).
	Prefill(ctx context.Context) ([][]float32, error)
	// Reorder makes the live sequences idx[0], idx[1], … of the current ones (beam selection and the
	// initial expansion of each row to num_beams copies; idx may repeat and change the count).
	Reorder(idx []int32) error
	// Step appends tokens[i] to live sequence i and returns each sequence's logits for the new position.
	Step(ctx context.Context, tokens []int32) ([][]float32, error)
	// Close frees the session's device memory.
	Close()
}

// EarlyStopping is transformers' early_stopping flag for beam search.
type EarlyStopping int

const (
	// EarlyStopHeuristic is early_stopping=False (transformers' default): a
	// batch row is done once it holds num_beams finished hypotheses and its
	// best running beam, scored at its current length, cannot beat the
	// worst of them.
	EarlyStopHeuristic EarlyStopping = iota
	// EarlyStopAll is early_stopping=True: a batch row is done as soon as it
	// holds num_beams finished hypotheses.
	EarlyStopAll
	// EarlyStopNever is early_stopping="never": like the heuristic, but with a
	// positive length penalty the running beams are scored as if they could
	// grow to max_length (the canonical beam search stopping rule).
	EarlyStopNever
)

func (e EarlyStopping) String() string {
	switch e {
	case EarlyStopHeuristic:
		return "False"
	case EarlyStopAll:
		return "True"
	case EarlyStopNever:
		return "never"
	}
	return fmt.Sprintf("EarlyStopping(%d)", int(e))
}

// Config holds generate()'s settings under transformers' names. Every field
// is taken literally (LengthPenalty 0 means no length normalisation, TopK 0
// means no top-k filter), so start from DefaultConfig, which holds
// transformers' GenerationConfig defaults, and change what you need.
type Config struct {
	// MaxLength bounds the whole sequence, prefix included (max_length).
	// When both it and MaxNewTokens are 0, 20 new tokens are allowed, as
	// transformers does when neither is set.
	MaxLength int
	// MaxNewTokens, when positive, overrides MaxLength with prefix length +
	// MaxNewTokens (max_new_tokens).
	MaxNewTokens int
	// PositionLimit, when positive, is the most positions a sequence may
	// reach, prefix included: the language model's context. Lengths past it
	// are refused before anything is allocated, with the limit named.
	PositionLimit int
	// MinLength forbids EOS while the sequence, prefix included, is shorter
	// (min_length; MinLengthLogitsProcessor).
	MinLength int
	// MinNewTokens forbids EOS before this many new tokens (min_new_tokens;
	// it also overrides MinLength with prefix length + MinNewTokens).
	MinNewTokens int
	// NumBeams is the beam width; 1 means greedy search or sampling.
	NumBeams int
	// DoSample draws tokens from the processed distribution instead of
	// taking the best ones (do_sample).
	DoSample bool
	// Temperature divides the scores when sampling (temperature; 1 is off).
	Temperature float64
	// TopK keeps the k best tokens when sampling (top_k; 0 is off).
	TopK int
	// TopP keeps the smallest set of tokens whose probability reaches it
	// when sampling (top_p; 1 is off).
	TopP float64
	// RepetitionPenalty penalises every token already in the sequence,
	// prefix included (repetition_penalty; 1 is off).
	RepetitionPenalty float64
	// LengthPenalty is the exponent of the length that divides a finished
	// beam's summed log-probability (length_penalty).
	LengthPenalty float64
	// EarlyStopping is the beam search stopping rule (early_stopping).
	EarlyStopping EarlyStopping
	// NumReturnSequences is how many sequences to return per batch row
	// (num_return_sequences): at most NumBeams for beam search, and only
	// with sampling when NumBeams is 1.
	NumReturnSequences int
	// NoRepeatNgramSize forbids any n-gram of this size from occurring twice
	// in the sequence, prefix included (no_repeat_ngram_size; 0 is off).
	NoRepeatNgramSize int
	// Seed seeds the sampler: the same seed gives the same tokens. It is a
	// Go random stream, so it cannot reproduce torch's samples.
	Seed uint64
	// EOS lists the end-of-sequence ids (eos_token_id). Without any,
	// generation runs to the maximum length.
	EOS []int32
	// PadID fills sequences that ended before others (pad_token_id).
	// transformers uses EOS[0] when the model has no pad token; pass that.
	PadID int32
	// Suppress lists ids that are never generated: their scores are set to
	// -inf (suppress_tokens; SuppressTokensLogitsProcessor).
	Suppress []int32
	// Decode turns generated ids into text for streaming and for
	// Result.Text. It gets the generated tokens only, without the prefix,
	// the EOS token or fill. Nil means no text.
	Decode func(ids []int32) string
	// Partial, when set, reports tokens whose text depends on the tokens
	// after them: byte-fallback tokens (<0xE2>), which the decoder turns
	// into text a whole run at a time, valid UTF-8 or one U+FFFD per byte.
	// Streaming holds a trailing run of them back until it ends. See
	// ByteFallback.
	Partial func(id int32) bool
}

// ByteFallback returns a Config.Partial for a byte-fallback vocabulary:
// it reports the ids whose token is spelled <0xNN>. token is the
// tokenizer's id-to-token lookup.
func ByteFallback(token func(id int32) (string, bool)) func(id int32) bool {
	return func(id int32) bool {
		s, ok := token(id)
		return ok && len(s) == 6 && strings.HasPrefix(s, "<0x") && s[5] == '>' && isHex(s[3]) && isHex(s[4])
	}
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' || 'a' <= c && c <= 'f' }

// DefaultConfig returns transformers' GenerationConfig defaults: greedy,
// max_length 20 new tokens, temperature 1, top_k 50, top_p 1,
// repetition_penalty 1, length_penalty 1, early_stopping False, one
// returned sequence. EOS, PadID and Suppress come from the model.
func DefaultConfig() Config {
	return Config{
		NumBeams:           1,
		Temperature:        1,
		TopK:               50,
		TopP:               1,
		RepetitionPenalty:  1,
		LengthPenalty:      1,
		NumReturnSequences: 1,
	}
}

// Event reports generation progress to the stream callback.
//
// Greedy search and sampling send, after each step, one event per sequence
// still running with the text it gained, possibly none. Only text that
// cannot change is sent: a trailing run of byte-fallback tokens (see
// Config.Partial), a trailing U+FFFD and an incomplete UTF-8 sequence are
// held back until later tokens settle them; a sequence's last event is
// marked Final and flushes what was held back. Beam search, whose best hypothesis
// is only known at the end, sends a progress event per step (Index -1, no
// text) and then one Final event per returned sequence with its whole text.
type Event struct {
	// Index is the sequence the event is about, an index into Generate's
	// results (batch row × NumReturnSequences + return index); -1 for a beam
	// search progress event, which covers the whole batch.
	Index int
	// Text is new text (greedy, sampling) or the whole answer (beam search's
	// Final events).
	Text string
	// Step is the number of tokens generated so far; MaxSteps the most there
	// can be (max_length minus the prefix length).
	Step, MaxSteps int
	// Final marks the last event of a sequence.
	Final bool
}

// Result is one generated sequence.
type Result struct {
	// Sequence is prefix + generated tokens, as transformers' generate()
	// returns it: all sequences of one call have the same length, so one that
	// ended early is filled (with PadID for greedy search and sampling; for
	// beam search with PadID, or EOS[0] when PadID is 0, as transformers does).
	Sequence []int32
	// NewTokens counts the generated tokens, EOS included, fill excluded.
	NewTokens int
	// EOS reports whether the sequence ended with an EOS token (otherwise it
	// reached the maximum length).
	EOS bool
	// Score is beam search's sequence score (sequences_scores: summed
	// log-probability over length**length_penalty); 0 for other searches.
	Score float32
	// Text is Config.Decode of the generated tokens, EOS and fill excluded.
	Text string
}

// Generate runs generate() over the session's batch and returns
// len(prefix) × NumReturnSequences results, batch row by batch row.
// prefix[i] is batch row i's prefix (all rows the same length: a padded
// batch). stream, when not nil, receives Events as they happen, on the
// calling goroutine.
//
// Generate owns s: it closes it before returning, whatever happens. When
// ctx is cancelled it stops within one model step and returns ctx.Err().
func Generate(ctx context.Context, s Session, prefix [][]int32, cfg Config, stream func(Event)) (results []Result, err error) {
	defer s.Close()
	g, err := newSearch(prefix, cfg, stream)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logits, err := s.Prefill(ctx)
	if err != nil {
		return nil, stepError(ctx, err)
	}
	g.checkLogits("Prefill", logits, len(prefix))
	if g.beams > 1 {
		return g.beamSearch(ctx, s, logits)
	}
	return g.sample(ctx, s, logits)
}

// stepError prefers the context's error, so that a model step interrupted
// by cancellation reports context.Canceled whatever the model said.
func stepError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return err
}

// search is one Generate call's resolved settings and state shared by the
// search algorithms.
type search struct {
	cfg       Config
	prefix    [][]int32
	batch     int
	prefixLen int
	maxLen    int // max_length after max_new_tokens is applied
	minLen    int // min_length after min_new_tokens is applied
	beams     int
	returns   int
	procs     []processor
	stream    func(Event)
	vocab     int // set from the first logits
}

// ErrConfig is wrapped by the errors for settings transformers would refuse.
var ErrConfig = errors.New("invalid generation settings")

func configErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, a...))
}

func newSearch(prefix [][]int32, cfg Config, stream func(Event)) (*search, error) {
	if len(prefix) == 0 {
		return nil, configErr("no prompts to generate from")
	}
	n := len(prefix[0])
	for i, p := range prefix {
		if len(p) != n {
			return nil, configErr("prompt %d has %d tokens and prompt 0 has %d: a batch must be padded to one length", i, len(p), n)
		}
	}
	if n == 0 {
		return nil, configErr("empty prompt: generation needs at least one token to start from")
	}
	switch {
	case cfg.NumBeams < 1:
		return nil, configErr("num_beams must be at least 1, got %d", cfg.NumBeams)
	case cfg.NumReturnSequences < 1:
		return nil, configErr("num_return_sequences must be at least 1, got %d", cfg.NumReturnSequences)
	case cfg.NumBeams > 1 && cfg.NumReturnSequences > cfg.NumBeams:
		return nil, configErr("num_return_sequences (%d) cannot exceed num_beams (%d)", cfg.NumReturnSequences, cfg.NumBeams)
	case cfg.NumBeams == 1 && !cfg.DoSample && cfg.NumReturnSequences > 1:
		return nil, configErr("greedy search returns one sequence per prompt; num_return_sequences %d needs sampling or beam search", cfg.NumReturnSequences)
	case !(cfg.RepetitionPenalty > 0):
		return nil, configErr("repetition_penalty must be a positive number, got %g", cfg.RepetitionPenalty)
	case math.IsInf(cfg.RepetitionPenalty, 0):
		return nil, configErr("repetition_penalty must be a finite number, got %g", cfg.RepetitionPenalty)
	case math.IsNaN(cfg.LengthPenalty) || math.IsInf(cfg.LengthPenalty, 0):
		return nil, configErr("length_penalty must be a finite number, got %g", cfg.LengthPenalty)
	case math.IsNaN(cfg.Temperature) || math.IsInf(cfg.Temperature, 0) || math.IsNaN(cfg.TopP) || math.IsInf(cfg.TopP, 0):
		return nil, configErr("temperature and top_p must be finite numbers, got %g and %g", cfg.Temperature, cfg.TopP)
	case cfg.DoSample && !(cfg.Temperature > 0):
		return nil, configErr("temperature must be a positive number when sampling, got %g", cfg.Temperature)
	case cfg.DoSample && !(cfg.TopP >= 0 && cfg.TopP <= 1):
		return nil, configErr("top_p must lie between 0 and 1, got %g", cfg.TopP)
	case cfg.TopK < 0:
		return nil, configErr("top_k must not be negative, got %d", cfg.TopK)
	case cfg.MaxLength < 0 || cfg.MaxNewTokens < 0 || cfg.MinLength < 0 || cfg.MinNewTokens < 0:
		return nil, configErr("lengths must not be negative (max_length %d, max_new_tokens %d, min_length %d, min_new_tokens %d)",
			cfg.MaxLength, cfg.MaxNewTokens, cfg.MinLength, cfg.MinNewTokens)
	case cfg.NoRepeatNgramSize < 0:
		return nil, configErr("no_repeat_ngram_size must not be negative, got %d", cfg.NoRepeatNgramSize)
	}
	switch cfg.EarlyStopping {
	case EarlyStopHeuristic, EarlyStopAll, EarlyStopNever:
	default:
		return nil, configErr("unknown early_stopping value %d", int(cfg.EarlyStopping))
	}

	maxLen, err := cfg.MaxPositions(n)
	if err != nil {
		return nil, err
	}
	limit := cfg.PositionLimit
	if limit <= 0 {
		limit = math.MaxInt32
	}
	if cfg.MinLength > limit || cfg.MinNewTokens > limit {
		return nil, configErr("min_length %d / min_new_tokens %d exceed the model's %d positions", cfg.MinLength, cfg.MinNewTokens, limit)
	}
	minLen := cfg.MinLength
	if cfg.MinNewTokens > 0 {
		minLen = cfg.MinNewTokens + n
	}

	g := &search{
		cfg:       cfg,
		prefix:    prefix,
		batch:     len(prefix),
		prefixLen: n,
		maxLen:    maxLen,
		minLen:    minLen,
		beams:     cfg.NumBeams,
		returns:   cfg.NumReturnSequences,
		stream:    stream,
	}
	g.procs = buildProcessors(cfg, n, minLen)
	return g, nil
}

// MaxPositions is the length generate() lets a sequence reach after a
// prefix of prefixLen tokens, prefix included, as transformers'
// _prepare_generated_length resolves it: max_new_tokens wins over
// max_length; with neither set, 20 new tokens. Each length is checked
// against PositionLimit before it is added to anything, so that no huge
// value overflows or reaches an allocation; its errors are the ones
// Generate returns for the same settings. Callers use it to size a request
// before they start one.
func (c Config) MaxPositions(prefixLen int) (int, error) {
	n := prefixLen
	limit := c.PositionLimit
	if limit <= 0 {
		limit = math.MaxInt32
	}
	if n >= limit {
		return 0, configErr("the prompt is %d tokens, and the model holds %d positions in all", n, limit)
	}
	maxLen := c.MaxLength
	switch {
	case c.MaxNewTokens > limit-n:
		return 0, configErr("max_new_tokens %d does not fit: the model holds %d positions, so at most %d new tokens follow this %d-token prompt",
			c.MaxNewTokens, limit, limit-n, n)
	case c.MaxNewTokens > 0:
		maxLen = c.MaxNewTokens + n
	case maxLen > limit:
		return 0, configErr("max_length %d does not fit: the model holds %d positions", maxLen, limit)
	case maxLen == 0:
		maxLen = min(20+n, limit)
	}
	if n >= maxLen {
		return 0, configErr("the prompt is %d tokens but max_length is %d: raise max_length or set max_new_tokens", n, maxLen)
	}
	return maxLen, nil
}

// checkLogits panics when a Session breaks its contract: the search cannot
// continue on logits of the wrong shape.
func (g *search) checkLogits(op string, logits [][]float32, rows int) {
	if len(logits) != rows {
		panic(fmt.Sprintf("generate: Session.%s returned %d logit rows for %d live sequences", op, len(logits), rows))
	}
	for i, l := range logits {
		if g.vocab == 0 {
			g.vocab = len(l)
			if g.vocab == 0 {
				panic(fmt.Sprintf("generate: Session.%s returned empty logits", op))
			}
		}
		if len(l) != g.vocab {
			panic(fmt.Sprintf("generate: Session.%s returned logits [%d] for row %d and [%d] for row 0", op, len(l), i, g.vocab))
		}
	}
}

func (g *search) emit(e Event) {
	if g.stream != nil {
		g.stream(e)
	}
}

func (g *search) isEOS(tok int32) bool { return slices.Contains(g.cfg.EOS, tok) }

// text decodes the generated part of a sequence, without EOS and fill.
func (g *search) text(generated []int32) string {
	if g.cfg.Decode == nil {
		return ""
	}
	return g.cfg.Decode(g.answer(generated))
}

// answer cuts generated tokens at the first EOS.
func (g *search) answer(generated []int32) []int32 {
	for i, t := range generated {
		if g.isEOS(t) {
			return generated[:i]
		}
	}
	return generated
}

// expand returns the Reorder index that repeats each of rows live sequences
// n times in place (torch's repeat_interleave).
func expand(rows, n int) []int32 {
	idx := make([]int32, 0, rows*n)
	for r := range rows {
		for range n {
			idx = append(idx, int32(r))
		}
	}
	return idx
}

func isIdentity(idx []int32, n int) bool {
	if len(idx) != n {
		return false
	}
	for i, v := range idx {
		if int(v) != i {
			return false
		}
	}
	return true
}

// Settings returns the user-chosen settings under transformers' names
// (max_length, num_beams, …), for records such as the conversation history;
// the model-dependent fields (EOS, PadID, Suppress, Decode) are left out.
func (c Config) Settings() map[string]any {
	return map[string]any{
		"max_length": c.MaxLength, "max_new_tokens": c.MaxNewTokens,
		"min_length": c.MinLength, "min_new_tokens": c.MinNewTokens,
		"num_beams": c.NumBeams, "do_sample": c.DoSample,
		"temperature": c.Temperature, "top_k": c.TopK, "top_p": c.TopP,
		"repetition_penalty": c.RepetitionPenalty, "length_penalty": c.LengthPenalty,
		"early_stopping": c.EarlyStopping.String(), "num_return_sequences": c.NumReturnSequences,
		"no_repeat_ngram_size": c.NoRepeatNgramSize, "seed": c.Seed,
	}
}
