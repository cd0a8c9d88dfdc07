package app

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

	"glimpse/generate"
	"glimpse/input/imageproc"
)

// expected caches the captions computed for each batch of fixture images.
var expected struct {
	mu    sync.Mutex
	cache map[string][]string // by batch (file base names)
}

// expectedCaptions captions the named fixture images straight through the
// pipeline (the model's Ask, which the golden tests check against
// transformers), in batches of size (the padding of a batch is part of the
// computation, so the batches must be the ones the code under test makes).
// Nothing of the captioning code under test computes them: the images are
// decoded by imageproc and the answers trimmed here.
func expectedCaptions(t *testing.T, dir string, names []string, size int) map[string]string {
	t.Helper()
	ask := tinyAsk(t, nil)
	want := map[string]string{}
	for start := 0; start < len(names); start += size {
		batch := names[start:min(start+size, len(names))]
		// The fixtures are the same files wherever a test copies them, so
		// a batch's captions are computed once per test binary.
		var key []string
		for _, n := range batch {
			key = append(key, filepath.Base(n))
		}
		expected.mu.Lock()
		caps, ok := expected.cache[strings.Join(key, "|")]
		expected.mu.Unlock()
		if ok {
			for i, n := range batch {
				want[n] = caps[i]
			}
			continue
		}
		var imgs []image.Image
		var prompts []string
		for _, n := range batch {
			img, _, err := imageproc.DecodeFile(filepath.Join(dir, filepath.FromSlash(n)))
			if err != nil {
				t.Fatal(err)
			}
			imgs = append(imgs, img)
			prompts = append(prompts, CaptionPrompt)
		}
		res, err := ask(context.Background(), imgs, prompts, CaptionSettings())
		caps = nil
		if err == nil {
			for _, a := range res.Answers {
				caps = append(caps, strings.TrimSpace(a.Text))
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		expected.mu.Lock()
		if expected.cache == nil {
			expected.cache = map[string][]string{}
		}
		expected.cache[strings.Join(key, "|")] = caps
		expected.mu.Unlock()
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
		b, err := os.ReadFile(filepath.Join(fixtures, "images", n))
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
		{BatchSidecars, true, 4},
		{BatchCSV, false, 2},
		{BatchJSON, true, 3},
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
			rep, err := CaptionFolder(context.Background(), BatchOptions{Folder: dir, Recursive: tc.recursive, Format: tc.format,
				BatchSize: tc.size, Prompt: CaptionPrompt, Config: CaptionSettings()}, tinyAsk(t, &asks),
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

// TestBatchResume stops a batch after its first Ask, then runs it again:
// only the remaining images go to the model, and the output (in another
// format the second time, to check outputs are rebuilt from the state)
// holds every caption.
func TestBatchResume(t *testing.T) {
	tests := []struct{ first, second string }{
		{BatchCSV, BatchSidecars},
		{BatchSidecars, BatchJSON},
	}
	for _, tc := range tests {
		t.Run(tc.first+"-then-"+tc.second, func(t *testing.T) {
			dir := t.TempDir()
			rels := copyFixtureImages(t, dir, nil)
			const size = 2
			want := expectedCaptions(t, dir, rels, size)
			opt := BatchOptions{Folder: dir, Format: tc.first, BatchSize: size, Prompt: CaptionPrompt, Config: CaptionSettings()}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			real := tinyAsk(t, nil)
			var firstAsks []int
			stopAfterOne := func(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config) (*Result, error) {
				firstAsks = append(firstAsks, len(images))
				res, err := real(ctx, images, prompts, cfg)
				cancel() // the user presses Stop while the first batch is captioned
				return res, err
			}
			rep, err := CaptionFolder(ctx, opt, stopAfterOne, nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("stopped batch returned %v, want context.Canceled", err)
			}
			if rep.Captioned != size || len(firstAsks) != 1 {
				t.Fatalf("stopped batch captioned %d in asks %v, want %d in one", rep.Captioned, firstAsks, size)
			}
			if tc.first != BatchSidecars {
				// The stopped batch's file already holds what was done.
				got := map[string]string{}
				if tc.first == BatchCSV {
					got = readCaptionCSV(t, rep.Output)
				}
				diffCaptions(t, "stopped output", got, map[string]string{rels[0]: want[rels[0]], rels[1]: want[rels[1]]})
			}

			var asks []int
			opt.Format = tc.second
			rep, err = CaptionFolder(context.Background(), opt, tinyAsk(t, &asks), nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Resumed != size || rep.Captioned != len(rels)-size || rep.Done != len(rels) {
				t.Errorf("resumed batch %+v, want %d resumed and %d captioned", rep.BatchProgress, size, len(rels)-size)
			}
			if n := sum(asks); n != len(rels)-size {
				t.Errorf("resumed batch sent %d images to the model (asks %v), want only the %d left", n, asks, len(rels)-size)
			}
			switch tc.second {
			case BatchSidecars:
				diffCaptions(t, "sidecars", readSidecars(t, dir, rels), want)
			case BatchJSON:
				diffCaptions(t, "JSON", readCaptionJSON(t, rep.Output), want)
			}

			// A third run has nothing left to do.
			asks = nil
			rep, err = CaptionFolder(context.Background(), opt, tinyAsk(t, &asks), nil)
			if err != nil || len(asks) != 0 || rep.Resumed != len(rels) {
				t.Errorf("finished batch run again: %+v, asks %v, err %v; want everything resumed", rep.BatchProgress, asks, err)
			}
		})
	}
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// TestBatchUnreadable puts files that are not images among the images: they
// are reported and skipped, the rest is captioned, and a rerun tries only
// them again.
func TestBatchUnreadable(t *testing.T) {
	dir := t.TempDir()
	rels := copyFixtureImages(t, dir, nil)
	bad := map[string][]byte{
		"broken.png": []byte("this is not a PNG"),
		"empty.jpg":  nil,
		"cut.png":    mustRead(t, filepath.Join(fixtures, "images", "shapes.png"))[:100],
	}
	for n, b := range bad {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := expectedCaptions(t, dir, rels, len(rels))
	var asks []int
	rep, err := CaptionFolder(context.Background(), BatchOptions{Folder: dir, Format: BatchCSV, BatchSize: len(rels),
		Prompt: CaptionPrompt, Config: CaptionSettings()}, tinyAsk(t, &asks), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total != len(rels)+len(bad) || rep.Failed != len(bad) || rep.Captioned != len(rels) {
		t.Errorf("report %+v, want %d failed and %d captioned", rep.BatchProgress, len(bad), len(rels))
	}
	failed := map[string]bool{}
	for _, f := range rep.Failures {
		failed[f.Path] = true
		if !errors.Is(f.Err, ErrUnreadableImage) || !strings.Contains(f.Err.Error(), "not an image Glimpse can read") {
			t.Errorf("%s: failure %q does not say the file is unreadable", f.Path, f.Err)
		}
	}
	for n := range bad {
		if !failed[n] {
			t.Errorf("%s not reported (failures %v)", n, rep.Failures)
		}
	}
	diffCaptions(t, "CSV", readCaptionCSV(t, rep.Output), want)

	asks = nil
	rep, err = CaptionFolder(context.Background(), BatchOptions{Folder: dir, Format: BatchCSV, BatchSize: len(rels),
		Prompt: CaptionPrompt, Config: CaptionSettings()}, tinyAsk(t, &asks), nil)
	if err != nil || len(asks) != 0 || rep.Failed != len(bad) || rep.Resumed != len(rels) {
		t.Errorf("rerun: %+v, asks %v, err %v; want the unreadable files reported again and nothing sent to the model", rep.BatchProgress, asks, err)
	}
}

// TestBatchModelFailure makes the model fail on one image of a batch: the
// batch is retried one image at a time, so only that image goes without a
// caption.
func TestBatchModelFailure(t *testing.T) {
	dir := t.TempDir()
	rels := copyFixtureImages(t, dir, nil)
	real := tinyAsk(t, nil)
	// tiny.png is 16×9; the failure stands for an image the model cannot
	// take (in the app: out of GPU memory for one odd size, say).
	failTiny := func(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config) (*Result, error) {
		for _, img := range images {
			if img.Bounds().Dx() == 16 {
				return nil, errors.New("the model cannot take this image")
			}
		}
		return real(ctx, images, prompts, cfg)
	}
	var good []string
	for _, r := range rels {
		if r != "tiny.png" {
			good = append(good, r)
		}
	}
	want := map[string]string{}
	for _, r := range good {
		want[r] = expectedCaptions(t, dir, []string{r}, 1)[r]
	}
	rep, err := CaptionFolder(context.Background(), BatchOptions{Folder: dir, Format: BatchSidecars, BatchSize: 3,
		Prompt: CaptionPrompt, Config: CaptionSettings()}, failTiny, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || len(rep.Failures) != 1 || rep.Failures[0].Path != "tiny.png" ||
		!strings.Contains(rep.Failures[0].Err.Error(), "cannot take") {
		t.Errorf("failures %v, want tiny.png's", rep.Failures)
	}
	// The batch with tiny.png was captioned one by one; the others in their
	// batch of three, so compare those batches' captions.
	wantBatch := expectedCaptions(t, dir, []string{"alpha.png", "gray.jpg", "noise.jpg"}, 3)
	for k, v := range wantBatch {
		want[k] = v
	}
	diffCaptions(t, "sidecars", readSidecars(t, dir, rels), want)
}

// TestBatchSidecarOwnership checks that a text file Glimpse did not write is
// never replaced, even by a redo, while Glimpse's own sidecars are.
func TestBatchSidecarOwnership(t *testing.T) {
	dir := t.TempDir()
	rels := copyFixtureImages(t, dir, nil)
	want := expectedCaptions(t, dir, rels, len(rels))
	mine := "my own description of the gray photo\n"
	if err := os.WriteFile(sidecarPath(dir, "gray.jpg"), []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}
	// An earlier run (another model, say) captioned shapes.png and wrote
	// its sidecar; the last state line was cut short by a crash.
	old := `{"path":"shapes.png","caption":"an old caption"}` + "\n" + `{"path":"tiny.png","capt`
	if err := os.WriteFile(filepath.Join(dir, batchStateName), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sidecarPath(dir, "shapes.png"), []byte("an old caption\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opt := BatchOptions{Folder: dir, Format: BatchSidecars, BatchSize: len(rels), Prompt: CaptionPrompt, Config: CaptionSettings()}

	// Resuming keeps the earlier caption; tiny.png's cut line is not done.
	var asks []int
	rep, err := CaptionFolder(context.Background(), opt, tinyAsk(t, &asks), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Resumed != 1 || sum(asks) != len(rels)-1 {
		t.Errorf("resume: %+v, asks %v; want shapes.png resumed and the rest captioned", rep.BatchProgress, asks)
	}
	got := readSidecars(t, dir, rels)
	if got["shapes.png"] != "an old caption" {
		t.Errorf("resume changed shapes.png's sidecar to %q", got["shapes.png"])
	}
	if got["gray.jpg"]+"\n" != mine {
		t.Errorf("the user's gray.jpg.txt was replaced by %q", got["gray.jpg"])
	}
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "gray.jpg") || !strings.Contains(rep.Notes[0], "did not write") {
		t.Errorf("notes %q, want one about gray.jpg's own text file", rep.Notes)
	}
	state, err := readBatchState(filepath.Join(dir, batchStateName))
	if err != nil {
		t.Fatal(err)
	}
	if len(state) != len(rels) {
		t.Errorf("state after resume has %d images, want %d (a line was lost after the cut one?)", len(state), len(rels))
	}

	// A redo captions everything again and replaces Glimpse's sidecars, but
	// still not the user's.
	asks = nil
	opt.Redo = true
	if _, err := CaptionFolder(context.Background(), opt, tinyAsk(t, &asks), nil); err != nil {
		t.Fatal(err)
	}
	if sum(asks) != len(rels) {
		t.Errorf("redo sent %v images, want all %d", asks, len(rels))
	}
	got = readSidecars(t, dir, rels)
	wantSide := map[string]string{}
	for k, v := range want {
		wantSide[k] = v
	}
	wantSide["gray.jpg"] = strings.TrimSuffix(mine, "\n")
	diffCaptions(t, "sidecars after redo", got, wantSide)
}

// TestBatchErrors checks the errors a batch returns before it starts.
func TestBatchErrors(t *testing.T) {
	empty := t.TempDir()
	file := filepath.Join(empty, "notes.txt")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opt  BatchOptions
		want string
	}{
		{"no images", BatchOptions{Folder: empty, Format: BatchCSV}, "has no images"},
		{"missing", BatchOptions{Folder: filepath.Join(empty, "gone"), Format: BatchCSV}, "cannot be opened"},
		{"file", BatchOptions{Folder: file, Format: BatchCSV}, "is not a folder"},
		{"format", BatchOptions{Folder: empty, Format: "xml"}, "unknown caption output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ask := func(context.Context, []image.Image, []string, generate.Config) (*Result, error) {
				t.Fatal("the model was asked")
				return nil, nil
			}
			_, err := CaptionFolder(context.Background(), tc.opt, ask, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestBatchStoppedByApp has the app stop the model's work (Esc pressed
// while another tab shows): the Ask ends with context.Canceled although the
// batch's own context goes on. The batch stops as if stopped itself, keeps
// what was captioned, and reports no image as failed.
func TestBatchStoppedByApp(t *testing.T) {
	dir := t.TempDir()
	rels := copyFixtureImages(t, dir, nil)
	real := tinyAsk(t, nil)
	calls := 0
	ask := func(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config) (*Result, error) {
		calls++
		if calls == 2 {
			return nil, context.Canceled
		}
		return real(ctx, images, prompts, cfg)
	}
	rep, err := CaptionFolder(context.Background(), BatchOptions{Folder: dir, Format: BatchJSON, BatchSize: 2,
		Prompt: CaptionPrompt, Config: CaptionSettings()}, ask, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if rep.Captioned != 2 || rep.Failed != 0 || calls != 2 {
		t.Errorf("report %+v after %d asks, want 2 captioned, none failed, 2 asks", rep.BatchProgress, calls)
	}
	want := expectedCaptions(t, dir, rels[:2], 2)
	diffCaptions(t, "JSON", readCaptionJSON(t, rep.Output), want)
}

// TestCaptionGolden captions the fixture image whose golden prompt is the
// caption prompt, with the golden beam settings, in a batch with other
// images: its caption must be transformers' answer, and every image's
// caption must not depend on the batch it was in.
func TestCaptionGolden(t *testing.T) {
	for _, dir := range []string{tinyT5, tinyVicuna} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c := readGolden(t, dir).Cases[2]
			if c.Prompt != CaptionPrompt {
				t.Fatalf("golden case 2 prompt %q is not the caption prompt", c.Prompt)
			}
			m, err := Open(context.Background(), dir, OpenOptions{Backend: "cpu"})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			var imgs []image.Image
			for _, n := range []string{"shapes.png", c.Image, "gray.jpg"} {
				img, err := LoadImage(filepath.Join(fixtures, "images", n))
				if err != nil {
					t.Fatal(err)
				}
				imgs = append(imgs, img.Image)
			}
			// The golden beam5_seed_settings: the seed's, with max_length 48.
			cfg := CaptionSettings()
			cfg.MaxNewTokens, cfg.MaxLength = 0, 48
			batch, errs, err := Caption(context.Background(), m.AskFunc(), imgs, CaptionPrompt, cfg)
			if err != nil || errs[0] != nil || errs[1] != nil || errs[2] != nil {
				t.Fatalf("Caption: %v %v", err, errs)
			}
			if want := c.Generate["beam5_seed_settings"].Text; batch[1] == "" || !strings.HasSuffix(want, batch[1]) {
				t.Errorf("caption %q is not the end of transformers' %q", batch[1], want)
			}
			for i := range imgs {
				alone, _, err := Caption(context.Background(), m.AskFunc(), imgs[i:i+1], CaptionPrompt, cfg)
				if err != nil || alone[0] != batch[i] {
					t.Errorf("image %d: alone %q (%v), in a batch %q", i, alone, err, batch[i])
				}
			}
		})
	}
}

// TestCaptionModelErrors: an error that is about the model or the settings,
// not the images, ends the captioning at once, without trying the images
// one by one; a stopped ask ends it as stopped.
func TestCaptionModelErrors(t *testing.T) {
	img, err := LoadImage(filepath.Join(fixtures, "images", "shapes.png"))
	if err != nil {
		t.Fatal(err)
	}
	imgs := []image.Image{img.Image, img.Image, img.Image}
	tests := []struct {
		name string
		err  error
		kind error
	}{
		{"no model", &Error{Kind: ErrNoModel, Msg: "no model given"}, ErrNoModel},
		{"bad setting", &Error{Kind: ErrBadSetting, Msg: "max_length is 5"}, ErrBadSetting},
		{"backend", &Error{Kind: ErrBackendUnavailable, Msg: "no GPU"}, ErrBackendUnavailable},
		{"stopped by the app", context.Canceled, ErrCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			asks := 0
			ask := func(context.Context, []image.Image, []string, generate.Config) (*Result, error) {
				asks++
				return nil, tc.err
			}
			caps, errs, err := Caption(context.Background(), ask, imgs, CaptionPrompt, CaptionSettings())
			if !errors.Is(err, tc.kind) || caps != nil || errs != nil || asks != 1 {
				t.Errorf("Caption = %v, %v, %v after %d asks; want only a %v error after one ask", caps, errs, err, asks, tc.kind)
			}
		})
	}
}
