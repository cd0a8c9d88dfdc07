package serve

import (
	"strings"

	"glimpse/app"
	"glimpse/generate"
)

// question is one request for the model, whichever API it came by.
type question struct {
	model  string // as the request named it; "" for the loaded model
	image  *app.Image
	prompt string
	cfg    generate.Config
	stops  []string // the answer ends before the first of these
}

// genSettings are the generation settings a request may carry, under
// transformers' generate() names, the names `glimpse ask` takes as flags.
// OpenAI requests carry them as extra top-level fields, Ollama requests in
// "options". A nil field was not given: the seed settings hold.
type genSettings struct {
	MaxNewTokens      *int     `json:"max_new_tokens"`
	MaxLength         *int     `json:"max_length"`
	MinLength         *int     `json:"min_length"`
	MinNewTokens      *int     `json:"min_new_tokens"`
	NumBeams          *int     `json:"num_beams"`
	DoSample          *bool    `json:"do_sample"`
	Temperature       *float64 `json:"temperature"`
	TopP              *float64 `json:"top_p"`
	TopK              *int     `json:"top_k"`
	RepetitionPenalty *float64 `json:"repetition_penalty"`
	LengthPenalty     *float64 `json:"length_penalty"`
	NoRepeatNgramSize *int     `json:"no_repeat_ngram_size"`
	Seed              *int64   `json:"seed"`
}

// config returns the seed settings (what `glimpse ask` uses when given no
// flags) with the request's settings applied. where prefixes the names of
// fields in errors ("options." for Ollama).
//
// The APIs' sampling knobs switch sampling on the way their clients expect:
// a temperature above 0 samples unless do_sample says otherwise, and a
// temperature of 0 is deterministic, the seed's beam search. Sampling uses
// one beam unless num_beams says otherwise (beam sampling is rarely what
// an API client means). A request that says nothing keeps beam search, as
// the app does.
//
// Ranges are checked by generate itself (its errors name the transformers
// setting); only what cannot be given to it is refused here.
func (g *genSettings) config(where string) (generate.Config, error) {
	c := app.SeedSettings()
	setInt := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	setFloat := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	if g.MaxNewTokens != nil && *g.MaxNewTokens < 1 {
		return c, badRequest(where+"max_new_tokens", "invalid_setting", "%smax_new_tokens must be at least 1", where)
	}
	setInt(&c.MaxNewTokens, g.MaxNewTokens)
	setInt(&c.MaxLength, g.MaxLength)
	setInt(&c.MinLength, g.MinLength)
	setInt(&c.MinNewTokens, g.MinNewTokens)
	setInt(&c.NumBeams, g.NumBeams)
	setInt(&c.TopK, g.TopK)
	setInt(&c.NoRepeatNgramSize, g.NoRepeatNgramSize)
	setFloat(&c.TopP, g.TopP)
	setFloat(&c.RepetitionPenalty, g.RepetitionPenalty)
	setFloat(&c.LengthPenalty, g.LengthPenalty)
	if g.Seed != nil {
		if *g.Seed < 0 {
			return c, badRequest(where+"seed", "invalid_setting", "%sseed must not be negative", where)
		}
		c.Seed = uint64(*g.Seed)
	}
	switch t := g.Temperature; {
	case t == nil:
	case *t < 0:
		return c, badRequest(where+"temperature", "invalid_setting", "%stemperature must not be negative", where)
	case *t == 0:
		c.DoSample = false
	default:
		c.Temperature = *t
		c.DoSample = true
	}
	if g.DoSample != nil {
		c.DoSample = *g.DoSample
	}
	if c.DoSample && g.NumBeams == nil {
		c.NumBeams = 1
	}
	return c, nil
}

// sameInt merges two names for one setting (OpenAI's max_tokens and
// transformers' max_new_tokens): either may be given, or both when equal.
func sameInt(a, b *int, nameA, nameB string) (*int, error) {
	if a != nil && b != nil && *a != *b {
		return nil, badRequest(nameA, "conflicting_settings", "%s (%d) and %s (%d) name the same setting with different values", nameA, *a, nameB, *b)
	}
	if a != nil {
		return a, nil
	}
	return b, nil
}

// sameFloat is sameInt for a float setting.
func sameFloat(a, b *float64, nameA, nameB string) (*float64, error) {
	if a != nil && b != nil && *a != *b {
		return nil, badRequest(nameA, "conflicting_settings", "%s (%g) and %s (%g) name the same setting with different values", nameA, *a, nameB, *b)
	}
	if a != nil {
		return a, nil
	}
	return b, nil
}

// Limits on stop sequences, which are matched against the answer as it
// grows.
const (
	maxStops   = 16
	maxStopLen = 256
)

// checkStops refuses stop sequences that cannot be matched or would make
// matching expensive.
func checkStops(stops []string, param string) error {
	if len(stops) > maxStops {
		return badRequest(param, "invalid_setting", "%s holds %d sequences; at most %d are allowed", param, len(stops), maxStops)
	}
	for _, s := range stops {
		if s == "" || len(s) > maxStopLen {
			return badRequest(param, "invalid_setting", "%s: each stop sequence must be 1 to %d bytes long", param, maxStopLen)
		}
	}
	return nil
}

// stopper cuts an answer, as it streams, before the first stop sequence.
// It holds back a tail that could be the start of one until later text
// settles it, so that no part of a stop sequence is ever sent.
type stopper struct {
	stops []string
	held  string
}

// add takes new text and returns what can be passed on; hit reports that a
// stop sequence was met, and then out is the rest of the answer.
func (s *stopper) add(text string) (out string, hit bool) {
	if len(s.stops) == 0 {
		return text, false
	}
	buf := s.held + text
	cut := -1
	for _, stop := range s.stops {
		if i := strings.Index(buf, stop); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut >= 0 {
		s.held = ""
		return buf[:cut], true
	}
	keep := 0
	for _, stop := range s.stops {
		for n := min(len(stop)-1, len(buf)); n > keep; n-- {
			if strings.HasSuffix(buf, stop[:n]) {
				keep = n
				break
			}
		}
	}
	// A held tail starts where a stop sequence does, on a character
	// boundary, so out never splits a character.
	s.held = buf[len(buf)-keep:]
	return buf[:len(buf)-keep], false
}

// flush returns what was held back, once the answer has ended.
func (s *stopper) flush() string {
	out := s.held
	s.held = ""
	return out
}
