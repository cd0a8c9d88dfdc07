package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
)

// Generation is generation_config.json: the decoding defaults the model
// ships with. Absent keys take GenerationConfig's defaults.
type Generation struct {
	// BOSTokenID, EOSTokenID and PadTokenID are as written. For Vicuna they
	// are the inherited wrong ids (bos 0, eos 1): generation must stop on
	// the tokenizer's `</s>`.
	BOSTokenID          TokenIDs `json:"bos_token_id"`
	EOSTokenID          TokenIDs `json:"eos_token_id"`
	PadTokenID          TokenIDs `json:"pad_token_id"`
	DecoderStartTokenID TokenIDs `json:"decoder_start_token_id"`
	MaxLength           int      `json:"max_length"`
	MaxNewTokens        int      `json:"max_new_tokens"` // 0: unset, MaxLength rules
	MinLength           int      `json:"min_length"`
	MinNewTokens        int      `json:"min_new_tokens"`
	NumBeams            int      `json:"num_beams"`
	DoSample            bool     `json:"do_sample"`
	Temperature         float64  `json:"temperature"`
	TopK                int      `json:"top_k"`
	TopP                float64  `json:"top_p"`
	RepetitionPenalty   float64  `json:"repetition_penalty"`
	LengthPenalty       float64  `json:"length_penalty"`
	NoRepeatNgramSize   int      `json:"no_repeat_ngram_size"`
	EarlyStopping       any      `json:"early_stopping"` // bool or "never", as transformers allows
}

// DefaultGeneration returns GenerationConfig's defaults.
func DefaultGeneration() Generation {
	return Generation{MaxLength: 20, NumBeams: 1, Temperature: 1, TopK: 50, TopP: 1,
		RepetitionPenalty: 1, LengthPenalty: 1, EarlyStopping: false}
}

// LoadGeneration reads generation_config.json. A folder without one gets
// the defaults with the token ids of the language model's config, as
// transformers derives them.
func LoadGeneration(dir string, m *Model) (*Generation, error) {
	b, err := readFile(dir, GenerationFile)
	if errors.Is(err, ErrMissing) {
		g := DefaultGeneration()
		if m != nil {
			m.Text.Language.generationDefaults(&g)
		}
		return &g, nil
	}
	if err != nil {
		return nil, err
	}
	g, err := ParseGeneration(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, GenerationFile), err)
	}
	return g, nil
}

// ParseGeneration decodes the contents of a generation_config.json.
func ParseGeneration(b []byte) (*Generation, error) {
	g := DefaultGeneration()
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if g.NumBeams < 1 {
		return nil, fmt.Errorf("num_beams must be at least 1, is %d", g.NumBeams)
	}
	if g.MaxLength < 0 || g.MaxNewTokens < 0 || g.MinLength < 0 || g.MinNewTokens < 0 {
		return nil, errors.New("lengths must not be negative")
	}
	return &g, nil
}
