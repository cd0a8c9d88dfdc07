package ui

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"image"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"glimpse/model/generate"
	"glimpse/model/imageproc"
	"glimpse/model/pipeline"
)

// captionFixtures is the shared ground truth, seen from ui/.
const captionFixtures = "../../shared/fixtures"

// captionModel is the tiny Vicuna fixture model on the CPU, opened once for
// all of caption mode's tests.
var captionModel struct {
	once sync.Once
	p    *pipeline.Pipeline
	err  error
	mu   sync.Mutex // Ask runs one at a time, as the app's worker runs it
}

// captionAsk is CaptionEnv.Ask backed by the real pipeline on the tiny
// fixture model; asks, when not nil, counts the images it is given.
func captionAsk(t *testing.T, asks *[]int) askFunc {
	t.Helper()
	captionModel.once.Do(func() {
		captionModel.p, captionModel.err = pipeline.Open(context.Background(),
			filepath.Join(captionFixtures, "models", "tiny-instructblip-vicuna"), pipeline.Options{Backend: "cpu"})
	})
	if captionModel.err != nil {
		t.Fatal(captionModel.err)
	}
	var mu sync.Mutex
	return func(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config) (*pipeline.Result, error) {
		if asks != nil {
			mu.Lock()
			*asks = append(*asks, len(images))
			mu.Unlock()
		}
		captionModel.mu.Lock()
		defer captionModel.mu.Unlock()
		return captionModel.p.Ask(ctx, images, prompts, cfg, nil)
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
		var imgs []image.Image
		for _, n := range batch {
			img, _, err := imageproc.DecodeFile(filepath.Join(dir, filepath.FromSlash(n)))
			if err != nil {
				t.Fatal(err)
			}
			imgs = append(imgs, img)
		}
		caps, err := captionImages(context.Background(), ask, imgs, captionPrompt, captionConfig())
		if err != nil {
			t.Fatal(err)
		}
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

func readSidecars(t *testing.T, dir string, rels []string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, rel := range rels {
		b, err := os.ReadFile(sidecarPath(dir, rel))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(string(b), "\n") {
			t.Errorf("%s's sidecar does not end with a newline: %q", rel, b)
		}
		got[rel] = strings.TrimSuffix(string(b), "\n")
	}
	return got
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

func readCaptionJSON(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []batchEntry
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatalf("captions.json: %v\n%s", err, b)
	}
	got := map[string]string{}
	for _, r := range recs {
		got[r.Path] = r.Caption
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

// TestBatchOutputs captions a folder of the fixture images in each output
// format and checks every caption against the pipeline's own, batch for
// batch.
func TestBatchOutputs(t *testing.T) {
	tests := []struct {
		format    string
		recursive bool
		size      int
	}{
		{BatchSidecars, false, 3},
		{BatchSidecars, true, 4},
		{BatchCSV, true, 2},
		{BatchJSON, false, 4},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			dir := t.TempDir()
			rels := copyFixtureImages(t, dir, map[string]bool{"noise.jpg": true, "tiny.png": true})
			var taken []string
			for _, r := range rels {
				if tc.recursive || !strings.Contains(r, "/") {
					taken = append(taken, r)
				}
			}
			want := expectedCaptions(t, dir, taken, tc.size)
			var asks []int
			var last BatchProgress
			rep, err := runBatch(context.Background(), BatchOptions{Folder: dir, Recursive: tc.recursive, Format: tc.format,
				BatchSize: tc.size, Prompt: captionPrompt, Config: captionConfig()}, captionAsk(t, &asks),
				func(p BatchProgress) { last = p })
			if err != nil {
				t.Fatal(err)
			}
			if rep.Total != len(taken) || rep.Captioned != len(taken) || rep.Done != len(taken) || rep.Failed != 0 {
				t.Errorf("report %+v, want %d captioned", rep.BatchProgress, len(taken))
			}
			if last.Done != len(taken) {
				t.Errorf("last progress %+v, want all %d done", last, len(taken))
			}
			for i, n := range asks {
				if n > tc.size || (i < len(asks)-1 && n != tc.size) {
					t.Errorf("asks took %v images, want batches of %d", asks, tc.size)
					break
				}
			}
			switch tc.format {
			case BatchSidecars:
				diffCaptions(t, "sidecars", readSidecars(t, dir, rels), want)
			case BatchCSV:
				diffCaptions(t, "CSV", readCaptionCSV(t, rep.Output), want)
			case BatchJSON:
				diffCaptions(t, "JSON", readCaptionJSON(t, rep.Output), want)
			}
			state, err := readBatchState(filepath.Join(dir, batchStateName))
			if err != nil {
				t.Fatal(err)
			}
			diffCaptions(t, "state", state, want)
		})
	}
}
