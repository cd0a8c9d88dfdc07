package ui

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"fyne.io/fyne/v2"

	"glimpse/app"
	"glimpse/downloads"
	"glimpse/generate"
)

// Theme names, as stored in the preferences.
const (
	ThemeLight        = "light"
	ThemeDark         = "dark"
	ThemeHighContrast = "high-contrast"
)

// Settings are everything the user can change in the Settings view, kept in
// Fyne's preferences (one file per user) so they survive restarts.
type Settings struct {
	// Generation, under transformers' generate() names.
	NumBeams          int
	MaxLength         int
	MaxNewTokens      int // 0: MaxLength applies
	MinLength         int
	RepetitionPenalty float64
	LengthPenalty     float64
	DoSample          bool
	Temperature       float64
	TopP              float64
	TopK              int
	Seed              uint64

	// Engine.
	Model     string // the active model: an installed model's name or a folder
	Backend   string // auto, gl or cpu
	Precision string // one of Precisions

	// Look.
	Theme     string  // ThemeLight, ThemeDark or ThemeHighContrast
	TextScale float64 // 1 is the theme's own text size

	// Where things are.
	DataFolder string // overrides the history's data folder (like GLIMPSE_HOME); empty: default
	HFToken    string // Hugging Face token for gated or private models
	HFEndpoint string // Hub mirror; empty: the Hub
}

// Precisions are the weight precisions the app offers, as the command
// line's --precision names them: auto first (fp16 on a GPU, fp32 on the
// CPU), then from the most exact to the smallest (docs/precision.md).
var Precisions = []string{"auto", "fp32", "fp16", "q8", "q4"}

// DefaultSettings returns the settings of a first run: the seed's generation
// settings (5 beams, max length 256, min length 1, repetition penalty 1.5,
// length penalty 1, top-p 0.9, temperature 1 for when sampling is on).
func DefaultSettings() Settings {
	c := app.SeedSettings()
	return Settings{
		NumBeams: c.NumBeams, MaxLength: c.MaxLength, MaxNewTokens: c.MaxNewTokens, MinLength: c.MinLength,
		RepetitionPenalty: c.RepetitionPenalty, LengthPenalty: c.LengthPenalty,
		DoSample: c.DoSample, Temperature: c.Temperature, TopP: c.TopP, TopK: c.TopK, Seed: c.Seed,
		Backend: "auto", Precision: "auto", Theme: ThemeLight, TextScale: 1,
	}
}

// Generation returns the generate() settings the user chose.
func (s Settings) Generation() generate.Config {
	c := app.SeedSettings()
	c.NumBeams, c.MaxLength, c.MaxNewTokens, c.MinLength = s.NumBeams, s.MaxLength, s.MaxNewTokens, s.MinLength
	c.RepetitionPenalty, c.LengthPenalty = s.RepetitionPenalty, s.LengthPenalty
	c.DoSample, c.Temperature, c.TopP, c.TopK, c.Seed = s.DoSample, s.Temperature, s.TopP, s.TopK, s.Seed
	return c
}

// Validate says, in words for the settings form, what is out of range.
func (s Settings) Validate() error {
	var bad []string
	if s.NumBeams < 1 || s.NumBeams > 16 {
		bad = append(bad, "beams must be between 1 and 16")
	}
	if s.MaxLength < 1 && s.MaxNewTokens < 1 {
		bad = append(bad, "max length must be at least 1")
	}
	if s.MaxNewTokens < 0 || s.MinLength < 0 || s.TopK < 0 {
		bad = append(bad, "lengths and top-k cannot be negative")
	}
	if !(s.RepetitionPenalty > 0) || math.IsInf(s.RepetitionPenalty, 0) {
		bad = append(bad, "repetition penalty must be above 0 (1 is none)")
	}
	if math.IsNaN(s.LengthPenalty) || math.IsInf(s.LengthPenalty, 0) {
		bad = append(bad, "length penalty must be a number")
	}
	if !(s.Temperature > 0) || math.IsInf(s.Temperature, 0) {
		bad = append(bad, "temperature must be above 0")
	}
	if !(s.TopP > 0 && s.TopP <= 1) {
		bad = append(bad, "top-p must be above 0 and at most 1")
	}
	if !(s.TextScale >= 0.5 && s.TextScale <= 3) {
		bad = append(bad, "text size must be between 50% and 300%")
	}
	switch s.Backend {
	case "auto", "gl", "cpu":
	default:
		bad = append(bad, fmt.Sprintf("backend %q: use auto, gl or cpu", s.Backend))
	}
	if !slices.Contains(Precisions, s.Precision) {
		bad = append(bad, fmt.Sprintf("precision %q: use %s", s.Precision, strings.Join(Precisions, ", ")))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// Download returns the model manager's configuration: the Hugging Face
// environment, with the token and endpoint from the settings when set.
func (s Settings) Download() downloads.Config {
	c := downloads.ConfigFromEnv()
	if s.HFToken != "" {
		c.Token = s.HFToken
	}
	if s.HFEndpoint != "" {
		c.Endpoint = strings.TrimRight(s.HFEndpoint, "/")
	}
	return c
}

// Preference keys.
const (
	prefBeams, prefMaxLen, prefMaxNew, prefMinLen = "gen.num_beams", "gen.max_length", "gen.max_new_tokens", "gen.min_length"
	prefRep, prefLenPen, prefSample               = "gen.repetition_penalty", "gen.length_penalty", "gen.do_sample"
	prefTemp, prefTopP, prefTopK, prefSeed        = "gen.temperature", "gen.top_p", "gen.top_k", "gen.seed"
	prefModel, prefBackend, prefPrecision         = "engine.model", "engine.backend", "engine.precision"
	prefTheme, prefTextScale                      = "look.theme", "look.text_scale"
	prefDataFolder, prefHFToken, prefHFEndpoint   = "data.folder", "hf.token", "hf.endpoint"
)

// LoadSettings reads the settings from p, with defaults for what was never set.
func LoadSettings(p fyne.Preferences) Settings {
	d := DefaultSettings()
	// Fyne's preferences have no uint64; the seed is kept as a decimal string.
	var seed uint64
	if _, err := fmt.Sscan(p.StringWithFallback(prefSeed, fmt.Sprint(d.Seed)), &seed); err != nil {
		seed = d.Seed
	}
	return Settings{
		NumBeams:          p.IntWithFallback(prefBeams, d.NumBeams),
		MaxLength:         p.IntWithFallback(prefMaxLen, d.MaxLength),
		MaxNewTokens:      p.IntWithFallback(prefMaxNew, d.MaxNewTokens),
		MinLength:         p.IntWithFallback(prefMinLen, d.MinLength),
		RepetitionPenalty: p.FloatWithFallback(prefRep, d.RepetitionPenalty),
		LengthPenalty:     p.FloatWithFallback(prefLenPen, d.LengthPenalty),
		DoSample:          p.BoolWithFallback(prefSample, d.DoSample),
		Temperature:       p.FloatWithFallback(prefTemp, d.Temperature),
		TopP:              p.FloatWithFallback(prefTopP, d.TopP),
		TopK:              p.IntWithFallback(prefTopK, d.TopK),
		Seed:              seed,
		Model:             p.StringWithFallback(prefModel, d.Model),
		Backend:           p.StringWithFallback(prefBackend, d.Backend),
		Precision:         p.StringWithFallback(prefPrecision, d.Precision),
		Theme:             p.StringWithFallback(prefTheme, d.Theme),
		TextScale:         p.FloatWithFallback(prefTextScale, d.TextScale),
		DataFolder:        p.StringWithFallback(prefDataFolder, d.DataFolder),
		HFToken:           p.StringWithFallback(prefHFToken, d.HFToken),
		HFEndpoint:        p.StringWithFallback(prefHFEndpoint, d.HFEndpoint),
	}
}

// Save writes the settings to p.
func (s Settings) Save(p fyne.Preferences) {
	p.SetInt(prefBeams, s.NumBeams)
	p.SetInt(prefMaxLen, s.MaxLength)
	p.SetInt(prefMaxNew, s.MaxNewTokens)
	p.SetInt(prefMinLen, s.MinLength)
	p.SetFloat(prefRep, s.RepetitionPenalty)
	p.SetFloat(prefLenPen, s.LengthPenalty)
	p.SetBool(prefSample, s.DoSample)
	p.SetFloat(prefTemp, s.Temperature)
	p.SetFloat(prefTopP, s.TopP)
	p.SetInt(prefTopK, s.TopK)
	p.SetString(prefSeed, fmt.Sprint(s.Seed))
	p.SetString(prefModel, s.Model)
	p.SetString(prefBackend, s.Backend)
	p.SetString(prefPrecision, s.Precision)
	p.SetString(prefTheme, s.Theme)
	p.SetFloat(prefTextScale, s.TextScale)
	p.SetString(prefDataFolder, s.DataFolder)
	p.SetString(prefHFToken, s.HFToken)
	p.SetString(prefHFEndpoint, s.HFEndpoint)
}
