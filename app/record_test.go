package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"glimpse/history"
)

// TestRecord asks the golden greedy question and records it, then a
// follow-up in the same conversation: every answer carries the model, the
// settings in the one shape, the timings and the token counts.
func TestRecord(t *testing.T) {
	store, err := history.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	m := tinyModel(t)
	c := readGolden(t, tinyVicuna).Cases[0]
	img, err := LoadImage(filepath.Join(fixtures, "images", c.Image))
	if err != nil {
		t.Fatal(err)
	}
	ask := func() *Result {
		tiny.mu.Lock()
		defer tiny.mu.Unlock()
		res, err := m.Ask(context.Background(), []image.Image{img.Image}, []string{c.Prompt}, greedy(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	want := strings.TrimPrefix(c.Generate["greedy"].Text, c.Prompt)
	res := ask()
	ex := Exchange{Prompt: c.Prompt, Image: img, Config: greedy(), Model: m.Describe(), Result: res}
	id, err := Record(context.Background(), store, 0, ex)
	if err != nil {
		t.Fatal(err)
	}
	if id2, err := Record(context.Background(), store, id, Exchange{Prompt: c.Prompt, Image: img, Config: greedy(),
		Model: m.Describe(), Result: ask()}); err != nil || id2 != id {
		t.Fatalf("follow-up recorded in %d (%v), want %d", id2, err, id)
	}
	conv, err := store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(conv.Messages) != 4 || conv.Title != history.TitleFrom(c.Prompt) {
		t.Fatalf("conversation %q has %d messages, want 4", conv.Title, len(conv.Messages))
	}
	for i := 0; i < 4; i += 2 {
		q, a := conv.Messages[i], conv.Messages[i+1]
		if q.Role != history.RoleUser || q.Text != c.Prompt || len(q.Attachments) != 1 || q.Attachments[0].Name != c.Image {
			t.Errorf("question %d: %+v", i, q)
		}
		if a.Role != history.RoleAssistant || a.Text != want || a.Model != "tiny-instructblip-vicuna" ||
			a.PromptTokens != res.Answers[0].PromptTokens || a.OutputTokens != res.Answers[0].NewTokens {
			t.Errorf("answer %d: %+v, want %q", i+1, a, want)
		}
		if a.Timings.Prefill <= 0 || a.Timings.Decode <= 0 || a.Timings.Vision != 0 {
			t.Errorf("answer %d timings %+v: want the time to the first token in Prefill, decoding in Decode", i+1, a.Timings)
		}
		var s map[string]any
		if err := json.Unmarshal(a.Settings, &s); err != nil {
			t.Fatal(err)
		}
		if s["num_beams"] != 1.0 || s["max_new_tokens"] != 24.0 || s["backend"] != "cpu" || s["precision"] != "fp32" {
			t.Errorf("answer %d settings %s", i+1, a.Settings)
		}
	}
	first := conv.Messages[1].Timings
	if rt := res.Timings; first.Prefill != rt.Preprocess+rt.Prefill || first.Decode != rt.Decode {
		t.Errorf("recorded timings %+v for the pipeline's %+v", first, rt)
	}
}

// TestSettingsRecord holds the one shape of recorded settings:
// transformers' generate() names for every setting, and the engine.
func TestSettingsRecord(t *testing.T) {
	d := Description{Backend: "gl", Precision: "fp16", Device: "NVIDIA H100"}
	b, err := SettingsRecord(SeedSettings(), d)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	want := []string{"backend", "device", "do_sample", "early_stopping", "length_penalty", "max_length",
		"max_new_tokens", "min_length", "min_new_tokens", "no_repeat_ngram_size", "num_beams",
		"num_return_sequences", "precision", "repetition_penalty", "seed", "temperature", "top_k", "top_p"}
	if got := slices.Sorted(maps.Keys(s)); !slices.Equal(got, want) {
		t.Errorf("keys %v\nwant %v", got, want)
	}
	if s["num_beams"] != 5.0 || s["max_length"] != 256.0 || s["repetition_penalty"] != 1.5 || s["device"] != "NVIDIA H100" {
		t.Errorf("settings %s", b)
	}
	bad := SeedSettings()
	bad.LengthPenalty = math.NaN()
	if _, err := SettingsRecord(bad, d); !errors.Is(err, ErrBadSetting) {
		t.Errorf("NaN length penalty: %v, want ErrBadSetting", err)
	}
}

// TestOldSettingsRows: rows the app wrote before the settings had one shape
// (a subset of the same names) read back, and export, as they were.
func TestOldSettingsRows(t *testing.T) {
	store, err := history.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	old := `{"do_sample":false,"length_penalty":1,"max_length":256,"min_length":1,"num_beams":5,"repetition_penalty":1.5}`
	png := mustRead(t, filepath.Join(fixtures, "images", "shapes.png"))
	c, err := store.SaveExchange(context.Background(), history.Exchange{Prompt: "What is it?", Answer: "shapes",
		Images: []history.Image{{Name: "shapes.png", Data: png}}, Model: "tiny", Settings: json.RawMessage(old)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(got.Messages[1].Settings); s != old {
		t.Errorf("old settings read back as %s", s)
	}
	var js strings.Builder
	if err := store.WriteJSON(context.Background(), c.ID, &js); err != nil {
		t.Fatal(err)
	}
	var exported struct {
		Messages []struct {
			Settings json.RawMessage `json:"settings"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(js.String()), &exported); err != nil || len(exported.Messages) != 2 {
		t.Fatalf("export %s: %v", js.String(), err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, exported.Messages[1].Settings); err != nil || compact.String() != old {
		t.Errorf("exported settings %s (%v), want %s", exported.Messages[1].Settings, err, old)
	}
}

// TestOpenHistory opens the history in the folder chosen in the settings,
// unless GLIMPSE_HOME says otherwise, and in the default folder, with the
// reason, when the chosen one cannot be used.
func TestOpenHistory(t *testing.T) {
	home := t.TempDir()
	chosen := t.TempDir()
	notFolder := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notFolder, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env, folder string
		wantDir           string
		unusable          bool
	}{
		{"environment wins", home, chosen, home, false},
		{"chosen folder", "", chosen, chosen, false},
		{"chosen folder unusable", "", notFolder, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(history.EnvHome, tc.env)
			if tc.env == "" {
				os.Unsetenv(history.EnvHome)
				t.Setenv("XDG_DATA_HOME", home)
			}
			s, unusable, err := OpenHistory(tc.folder)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if (unusable != nil) != tc.unusable {
				t.Errorf("unusable = %v, want %v", unusable, tc.unusable)
			}
			if tc.wantDir != "" && s.Dir() != tc.wantDir {
				t.Errorf("history in %s, want %s", s.Dir(), tc.wantDir)
			}
			if tc.unusable && (s.Dir() == tc.folder || os.Getenv(history.EnvHome) != "") {
				t.Errorf("history in %s with %s=%q, want the default folder", s.Dir(), history.EnvHome, os.Getenv(history.EnvHome))
			}
		})
	}
}
