package ui

import (
	"context"
	"encoding/csv"
	"errors"
	"image"
	"os"
	"path/filepath"
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

	cacheMu sync.Mutex
	cache   map[string][]string // expected captions by batch (file base names)
}

// captionAsk is CaptionEnv.Ask backed by the real pipeline on the tiny
// fixture model; asks, when not nil, counts the images it is given.
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
	return func(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config) (*app.Result, error) {
		if asks != nil {
			mu.Lock()
			*asks = append(*asks, len(images))
			mu.Unlock()
		}
		captionModel.mu.Lock()
		defer captionModel.mu.Unlock()
		return captionModel.m.Ask(ctx, images, prompts, cfg, nil)
	}
}

// expectedCaptions captions the named fixture images straight through the
// pipeline, in batches of size (the padding of a batch is part of the
// computation, so the batches must be the ones the code under test makes).
func expectedCaptions(t *testing.T, dir string, names []string, size int) map[string]string {
	t.Helper()
	ask := captionAsk(t, nil)
	want := map[string]string{}
	for start := 0; start < len(names); start += size {
		batch := names[start:min(start+size, len(names))]
		// The fixtures are the same files wherever a test copies them, so
		// a batch's captions are computed once per test binary.
		var key []string
		for _, n := range batch {
			key = append(key, filepath.Base(n))
		}
		captionModel.cacheMu.Lock()
		caps, ok := captionModel.cache[strings.Join(key, "|")]
		captionModel.cacheMu.Unlock()
		if ok {
			for i, n := range batch {
				want[n] = caps[i]
			}
			continue
		}
		var imgs []image.Image
		for _, n := range batch {
			img, err := app.LoadImage(filepath.Join(dir, filepath.FromSlash(n)))
			if err != nil {
				t.Fatal(err)
			}
			imgs = append(imgs, img.Image)
		}
		caps, errs, err := app.Caption(context.Background(), ask, imgs, app.CaptionPrompt, app.CaptionSettings())
		if err == nil {
			err = errors.Join(errs...)
		}
		if err != nil {
			t.Fatal(err)
		}
		captionModel.cacheMu.Lock()
		if captionModel.cache == nil {
			captionModel.cache = map[string][]string{}
		}
		captionModel.cache[strings.Join(key, "|")] = caps
		captionModel.cacheMu.Unlock()
		for i, n := range batch {
			if caps[i] == "" {
				t.Fatalf("the tiny model gave %s an empty caption; the test needs text to compare", n)
			}
			want[n] = caps[i]
		}
	}
	return want
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

func diffCaptions(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s: %s missing (want %q)", what, k, w)
		} else if g != w {
			t.Errorf("%s: %s = %q, want %q", what, k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %s = %q", what, k, got[k])
		}
	}
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
