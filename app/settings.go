package app

import (
	"encoding/json"
	"fmt"

	"glimpse/generate"
)

// SeedSettings are the generation settings InstructBLIP was published with
// (LAVIS and the original demo), which both front ends start from: 5 beams,
// max_length 256, min_length 1, repetition_penalty 1.5, length_penalty 1,
// and top_p 0.9 / temperature 1 for when sampling is switched on.
func SeedSettings() generate.Config {
	c := generate.DefaultConfig()
	c.NumBeams = 5
	c.MaxLength = 256
	c.MinLength = 1
	c.RepetitionPenalty = 1.5
	c.LengthPenalty = 1
	c.TopP = 0.9
	c.Temperature = 1
	return c
}

// CaptionPrompt is InstructBLIP's short-caption instruction, used for alt
// text by `glimpse caption` and the app's caption mode.
const CaptionPrompt = "A short image caption:"

// CaptionSettings are the seed's beam-search settings with a short answer:
// alt text, not a description.
func CaptionSettings() generate.Config {
	c := SeedSettings()
	c.MaxLength = 0
	c.MaxNewTokens = 30
	return c
}

// SettingsRecord is how an answer's settings are recorded in the history,
// the one shape both front ends write: every generation setting under
// transformers' generate() names (generate.Config.Settings), so an answer
// can be made again from its record, plus "backend", "precision" and
// "device", which change the answer's numbers too.
//
// Rows the desktop app wrote before this shape hold a subset of the same
// keys (num_beams, max_length or max_new_tokens, min_length, penalties,
// do_sample, and the sampling settings when sampling); the history keeps
// settings as an opaque JSON object, so those rows read as they always did.
//
// The error, an ErrBadSetting, says a setting is not a finite number, which
// JSON cannot hold.
func SettingsRecord(cfg generate.Config, d Description) (json.RawMessage, error) {
	s := cfg.Settings()
	s["backend"], s["precision"], s["device"] = d.Backend, d.Precision, d.Device
	b, err := json.Marshal(s)
	if err != nil {
		return nil, &Error{Kind: ErrBadSetting, Err: err,
			Msg: fmt.Sprintf("the generation settings cannot be recorded: %v", err)}
	}
	return b, nil
}
