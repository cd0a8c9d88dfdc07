package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"glimpse/history"
)

// TestSettingsDefaults holds the seed's generation settings.
func TestSettingsDefaults(t *testing.T) {
	d := DefaultSettings()
	c := d.Generation()
	if c.NumBeams != 5 || c.MaxLength != 256 || c.MinLength != 1 || c.RepetitionPenalty != 1.5 ||
		c.LengthPenalty != 1 || c.TopP != 0.9 || c.Temperature != 1 || c.DoSample {
		t.Errorf("defaults %+v", c)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}

// TestSettingsRoundTrip stores every field and reads it back.
func TestSettingsRoundTrip(t *testing.T) {
	a := test.NewTempApp(t)
	s := Settings{NumBeams: 3, MaxLength: 100, MaxNewTokens: 40, MinLength: 2, RepetitionPenalty: 1.2,
		LengthPenalty: 0.5, DoSample: true, Temperature: 0.7, TopP: 0.8, TopK: 30, Seed: 1<<63 + 5,
		Model: "instructblip-vicuna-7b", Backend: "gl", Precision: "fp16", Theme: ThemeHighContrast,
		TextScale: 1.5, DataFolder: "/data/glimpse", HFToken: "hf_x", HFEndpoint: "https://mirror.example"}
	s.Save(a.Preferences())
	if got := LoadSettings(a.Preferences()); got != s {
		t.Errorf("read back %+v\nwant %+v", got, s)
	}
	if got := LoadSettings(test.NewTempApp(t).Preferences()); got != DefaultSettings() {
		t.Errorf("fresh preferences give %+v", got)
	}
}

// TestSettingsValidate names what is out of range.
func TestSettingsValidate(t *testing.T) {
	cases := []struct {
		change func(*Settings)
		want   string
	}{
		{func(s *Settings) { s.NumBeams = 0 }, "beams"},
		{func(s *Settings) { s.TopP = 1.5 }, "top-p"},
		{func(s *Settings) { s.Temperature = 0 }, "temperature"},
		{func(s *Settings) { s.RepetitionPenalty = -1 }, "repetition penalty"},
		{func(s *Settings) { s.MaxLength, s.MaxNewTokens = 0, 0 }, "max length"},
		{func(s *Settings) { s.TextScale = 5 }, "text size"},
		{func(s *Settings) { s.Backend = "cuda" }, "backend"},
		{func(s *Settings) { s.Precision = "fp8" }, "precision"},
		{func(s *Settings) { s.Precision = "q8" }, ""},
		{func(s *Settings) { s.Precision = "q4" }, ""},
		{func(s *Settings) { s.MaxLength, s.MaxNewTokens = 0, 10 }, ""},
	}
	for _, c := range cases {
		s := DefaultSettings()
		c.change(&s)
		err := s.Validate()
		if c.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", s, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one about %s", err, c.want)
		}
	}
}

// TestSettingsForm refuses what is not a number, naming the field.
func TestSettingsForm(t *testing.T) {
	a, _ := testApp(t, withTinyModel)
	v := a.setView
	v.topK.SetText("many")
	v.hfEndpoint.SetText("ftp://x")
	v.apply()
	if !v.errLabel.Visible() || !strings.Contains(v.errLabel.Text, "Top-k") || !strings.Contains(v.errLabel.Text, "endpoint") {
		t.Errorf("error %q", v.errLabel.Text)
	}
	v.restore()
	v.hfEndpoint.SetText("")
	v.apply()
	if v.errLabel.Visible() {
		t.Errorf("defaults refused: %s", v.errLabel.Text)
	}
}

// TestDataFolder keeps the history in the folder chosen in Settings, and
// falls back to the default folder, saying so, when that one is unusable.
func TestDataFolder(t *testing.T) {
	xdg := t.TempDir()
	chosen := filepath.Join(t.TempDir(), "my history")
	blocked := filepath.Join(t.TempDir(), "a file")
	os.WriteFile(blocked, []byte("not a folder"), 0o644)
	cases := []struct {
		folder, dir string
		warned      bool
	}{
		{chosen, chosen, false},
		{blocked, filepath.Join(xdg, "glimpse"), true},
	}
	for _, c := range cases {
		t.Setenv(history.EnvHome, "")
		t.Setenv("XDG_DATA_HOME", xdg)
		t.Setenv("HF_HUB_CACHE", t.TempDir())
		fa := test.NewTempApp(t)
		fa.Preferences().SetString(prefDataFolder, c.folder)
		withTinyModel(fa.Preferences())
		q := make(uiQueue, 100000)
		a, err := newApp(fa, Options{}, q.do)
		if err != nil {
			t.Fatal(err)
		}
		if a.store.Dir() != c.dir || a.chat.errLabel.Visible() != c.warned {
			t.Errorf("data folder %q: history in %q, warning %q", c.folder, a.store.Dir(), a.chat.errLabel.Text)
		}
		go func() {
			for range q {
			}
		}()
		a.Close()
	}
}

// TestPrecisionChoice offers every precision the command line takes in the
// Models view, and keeps the one chosen as the engine's, in the saved
// preferences too.
func TestPrecisionChoice(t *testing.T) {
	a, _ := testApp(t, nil)
	a.showTab("Models")
	sel := a.models.precision
	want := []string{"auto", "fp32", "fp16", "q8", "q4"}
	if strings.Join(sel.Options, " ") != strings.Join(want, " ") {
		t.Errorf("choices %q, want %q", sel.Options, want)
	}
	for _, p := range []string{"q4", "q8", "fp32"} {
		sel.SetSelected(p)
		if a.settings.Precision != p || a.engineChoice().Precision != p {
			t.Errorf("chose %s: settings say %q, the engine choice %q", p, a.settings.Precision, a.engineChoice().Precision)
		}
		if got := LoadSettings(a.fyne.Preferences()).Precision; got != p {
			t.Errorf("chose %s: the preferences keep %q", p, got)
		}
	}
}
