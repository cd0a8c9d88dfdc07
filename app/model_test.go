package app

import (
	"bytes"
	"context"
	"errors"
	"image"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"glimpse/downloads"
	"glimpse/downloads/hubtest"
	"glimpse/generate"
)

// TestResolve turns what a person typed into a model folder, or says why
// it cannot.
func TestResolve(t *testing.T) {
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	t.Setenv("HF_HUB_OFFLINE", "1")
	tests := []struct {
		name, model string
		kind        error
		want        string // in the message
	}{
		{"no model", "", ErrNoModel, "no model given"},
		{"a file", filepath.Join(tinyVicuna, "config.json"), ErrModelNotFound, "is a file; give the model's folder"},
		{"missing folder", filepath.Join(t.TempDir(), "gone"), ErrModelNotFound, "neither a folder nor an installed model"},
		{"unknown name", "Salesforce/no-such-model", ErrModelNotFound, "neither a folder nor an installed model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, err := Resolve(context.Background(), tt.model)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Resolve(%q) = %q, %v; want a %v error mentioning %q", tt.model, dir, err, tt.kind, tt.want)
			}
		})
	}
	if dir, err := Resolve(context.Background(), tinyVicuna); err != nil || dir != tinyVicuna {
		t.Errorf("Resolve(folder) = %q, %v; want the folder itself", dir, err)
	}
}

// TestOpenErrors checks the kind and the words of each error Open returns.
func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name, model string
		opt         OpenOptions
		kind        error
		want        string
	}{
		{"no model", "", OpenOptions{}, ErrNoModel, "no model given"},
		{"bad backend", tinyVicuna, OpenOptions{Backend: "tpu"}, ErrBadSetting, `backend "tpu" (use gl, cpu or auto)`},
		{"bad precision", tinyVicuna, OpenOptions{Backend: "cpu", Precision: "fp8"}, ErrBadSetting, `precision "fp8" (use fp32, fp16, q8, q4 or auto)`},
		{"empty folder", t.TempDir(), OpenOptions{Backend: "cpu"}, ErrModelIncomplete, "lacks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Open(context.Background(), tt.model, tt.opt)
			if err == nil {
				m.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q (%T), want a %v error mentioning %q", err, err, tt.kind, tt.want)
			}
			if strings.Contains(err.Error(), "unknown option") {
				t.Errorf("error %q keeps the pipeline's prefix", err)
			}
		})
	}
}

// TestOpenInstalledModel pulls the tiny Vicuna from a stand-in Hub with the
// model manager, opens it by its repository name, and asks it the golden
// greedy question: transformers' sequence, and a description that names
// the model and its revision.
func TestOpenInstalledModel(t *testing.T) {
	const repoName = "Salesforce/tiny-instructblip-vicuna"
	h := hubtest.New()
	t.Cleanup(h.Close)
	repo, err := h.AddDir(repoName, tinyVicuna, hubtest.NewFile("pytorch_model.bin", bytes.Repeat([]byte{7}, 100)))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HF_ENDPOINT", h.URL)
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	if _, err := downloads.New(downloads.ConfigFromEnv()).Pull(context.Background(), repoName, downloads.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := Open(context.Background(), repoName, OpenOptions{Backend: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if d := m.Describe(); d.Name != repoName || d.Revision != repo.Commit || d.Backend != "cpu" || d.Precision != "fp32" {
		t.Errorf("Describe() = %+v, want %s at %s on cpu/fp32", d, repoName, repo.Commit)
	}
	g := readGolden(t, tinyVicuna)
	c := g.Cases[0]
	img, err := LoadImage(filepath.Join(fixtures, "images", c.Image))
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Ask(context.Background(), []image.Image{img.Image}, []string{c.Prompt}, greedy(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := c.Generate["greedy"].Sequence; !slices.Equal(res.Answers[0].Sequence, want) {
		t.Errorf("sequence\n got %v\nwant %v", res.Answers[0].Sequence, want)
	}
}

// TestOpenFolderName: a folder is described by its base name.
func TestOpenFolderName(t *testing.T) {
	if d := tinyModel(t).Describe(); d.Name != "tiny-instructblip-vicuna" || d.Revision != "" {
		t.Errorf("Describe() = %+v, want the folder's name and no revision", d)
	}
}

// TestAskErrors checks the kinds of Ask's errors: a stopped question, and
// settings transformers would refuse.
func TestAskErrors(t *testing.T) {
	m := tinyModel(t)
	img, err := LoadImage(filepath.Join(fixtures, "images", "shapes.png"))
	if err != nil {
		t.Fatal(err)
	}
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	tooShort := greedy()
	tooShort.MaxNewTokens, tooShort.MaxLength = 0, 5
	badPenalty := greedy()
	badPenalty.RepetitionPenalty = 0
	tests := []struct {
		name  string
		ctx   context.Context
		cfg   generate.Config
		kinds []error // all must match
		want  string
	}{
		{"stopped", stopped, greedy(), []error{ErrCancelled, context.Canceled}, "stopped"},
		{"prompt beyond max_length", context.Background(), tooShort, []error{ErrBadSetting}, "max_length is 5"},
		{"invalid penalty", context.Background(), badPenalty, []error{ErrBadSetting}, "repetition_penalty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tiny.mu.Lock()
			defer tiny.mu.Unlock()
			_, err := m.Ask(tc.ctx, []image.Image{img.Image}, []string{"What is it?"}, tc.cfg, nil)
			for _, k := range tc.kinds {
				if !errors.Is(err, k) {
					t.Errorf("error %v is not %v", err, k)
				}
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v does not mention %q", err, tc.want)
			}
		})
	}
}
