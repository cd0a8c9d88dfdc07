package ui

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"glimpse/app"
	"glimpse/generate"
)

// captionFixtures is the shared ground truth, seen from ui/.
const captionFixtures = "../../shared/fixtures"

// captionModel is the tiny Vicuna fixture model on the CPU, opened once for
// all of caption mode's tests.
var captionModel struct {
	once sync.Once
	m    *app.Model
	err  error
	mu   sync.Mutex // Ask runs one at a time, as the app's worker runs it
}

// captionAsk is CaptionEnv.Ask backed by the real pipeline on the tiny
// fixture model, at the golden file's length (see atGoldenLength); asks,
// when not nil, counts the images it is given.
func captionAsk(t *testing.T, asks *[]int) app.AskFunc {
	t.Helper()
	captionModel.once.Do(func() {
		captionModel.m, captionModel.err = app.Open(context.Background(),
			filepath.Join(captionFixtures, "models", "tiny-instructblip-vicuna"), app.OpenOptions{Backend: "cpu"})
	})
	if captionModel.err != nil {
		t.Fatal(captionModel.err)
	}
	var mu sync.Mutex
	return atGoldenLength(t, func(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config) (*app.Result, error) {
		if asks != nil {
			mu.Lock()
			*asks = append(*asks, len(images))
			mu.Unlock()
		}
		captionModel.mu.Lock()
		defer captionModel.mu.Unlock()
		return captionModel.m.Ask(ctx, images, prompts, cfg, nil)
	})
}

// atGoldenLength runs caption mode's asks at the length of the golden
// file's caption. Caption mode asks with app.CaptionSettings(), checked
// here: the seed's beam settings with max_new_tokens 30. transformers'
// caption in golden.json was made with the same settings and max_length 48
// instead (its "beam5_seed_settings"), so that is the one change made
// before the model answers, and the captions can be compared with it.
func atGoldenLength(t *testing.T, ask app.AskFunc) app.AskFunc {
	want := app.CaptionSettings().Settings()
	return func(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config) (*app.Result, error) {
		if got := cfg.Settings(); !reflect.DeepEqual(got, want) {
			t.Errorf("caption mode asked with %v, want the caption settings %v", got, want)
		}
		for _, p := range prompts {
			if p != app.CaptionPrompt {
				t.Errorf("caption mode asked %q, want the caption prompt %q", p, app.CaptionPrompt)
			}
		}
		cfg.MaxNewTokens, cfg.MaxLength = 0, 48
		return ask(ctx, images, prompts, cfg)
	}
}

// goldenCaption is transformers' caption of the golden file's caption case
// (its third, whose prompt is the caption prompt) with the settings
// atGoldenLength gives, and the fixture image it is of. The tiny Vicuna's
// golden text holds the prompt and the answer, decoded together, then
// stripped: the caption is what follows the prompt.
func goldenCaption(t *testing.T) (imageName, caption string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(captionFixtures, "models", "tiny-instructblip-vicuna", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []struct {
			Image    string `json:"image"`
			Prompt   string `json:"prompt"`
			Generate map[string]struct {
				Kwargs map[string]any `json:"kwargs"`
				Text   string         `json:"text"`
			} `json:"generate"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	c := g.Cases[2]
	run := c.Generate["beam5_seed_settings"]
	if c.Prompt != app.CaptionPrompt || run.Kwargs["max_length"] != 48.0 || run.Kwargs["num_beams"] != 5.0 {
		t.Fatalf("golden case 2 (%q, %v) is no longer the caption prompt at max_length 48 with 5 beams", c.Prompt, run.Kwargs)
	}
	caption, ok := strings.CutPrefix(run.Text, c.Prompt)
	if !ok || strings.TrimSpace(caption) == "" {
		t.Fatalf("golden text %q does not start with its prompt and an answer", run.Text)
	}
	return c.Image, strings.TrimSpace(caption)
}

// copyGoldenImage copies the golden caption's image into dir under each of
// names and returns its caption, which each copy must get.
func copyGoldenImage(t *testing.T, dir string, names ...string) string {
	t.Helper()
	name, caption := goldenCaption(t)
	b, err := os.ReadFile(filepath.Join(captionFixtures, "images", name))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		path := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return caption
}

// copyFixtureImages copies the fixture images into dir (under sub/ for
// those listed in nested) and returns their relative paths, sorted.
func copyFixtureImages(t *testing.T, dir string, nested map[string]bool) []string {
	t.Helper()
	var rels []string
	for _, n := range []string{"alpha.png", "gray.jpg", "noise.jpg", "palette.png", "shapes.png", "tiny.png"} {
		b, err := os.ReadFile(filepath.Join(captionFixtures, "images", n))
		if err != nil {
			t.Fatal(err)
		}
		rel := n
		if nested[n] {
			rel = "sub/" + n
		}
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	return rels
}

func readCaptionCSV(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 || recs[0][0] != "path" || recs[0][1] != "caption" {
		t.Fatalf("CSV header = %v, want path,caption", recs)
	}
	got := map[string]string{}
	for _, r := range recs[1:] {
		got[r[0]] = r[1]
	}
	return got
}

// TestBatchProgressText checks the words under the progress bar.
func TestBatchProgressText(t *testing.T) {
	tests := []struct {
		p    app.BatchProgress
		want string
	}{
		{app.BatchProgress{Total: 40, Done: 12, ETA: 90 * time.Second}, "12 of 40 images · about 2 min left"},
		{app.BatchProgress{Total: 40, Done: 12, Resumed: 10, Failed: 1, ETA: 3 * time.Second, Current: "a/b.png"},
			"12 of 40 images · 10 captioned before · 1 could not be read · about a few seconds left · now a/b.png"},
		{app.BatchProgress{Total: 5, Done: 5, ETA: time.Minute}, "5 of 5 images"},
		{app.BatchProgress{Total: 900, Done: 1, ETA: 2*time.Hour + 20*time.Minute}, "1 of 900 images · about 2 h 20 min left"},
		{app.BatchProgress{Total: 9, Done: 1, ETA: 42 * time.Second}, "1 of 9 images · about 40 s left"},
	}
	for _, tc := range tests {
		if got := batchProgressText(tc.p); got != tc.want {
			t.Errorf("batchProgressText(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}
