package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glimpse/app"
)

func runCaptionCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"caption"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestCaptionGolden captions the fixture image whose golden prompt is the
// captioning prompt, with the golden beam settings, in a batch with other
// images: its caption must be transformers' answer, and every image's
// caption must not depend on the batch it was in.
func TestCaptionGolden(t *testing.T) {
	for _, name := range []string{"tiny-instructblip-flan-t5", "tiny-instructblip-vicuna"} {
		t.Run(name, func(t *testing.T) {
			g := loadAskGolden(t, name)
			c := g.Cases[2]
			if c.Prompt != app.CaptionPrompt {
				t.Fatalf("golden case 2 prompt %q is not the caption prompt", c.Prompt)
			}
			want := goldenAnswer(t, g.Kind, c.Prompt, c.Generate["beam5_seed_settings"].Text)
			dir := filepath.Join(askFixtures, "models", name)
			images := filepath.Join(askFixtures, "images")
			files := []string{filepath.Join(images, "shapes.png"), filepath.Join(images, c.Image), filepath.Join(images, "gray.jpg")}
			args := []string{"--model", dir, "--backend", "cpu", "--max-new-tokens", "0", "--max-length", "48", "--json"}
			code, out, errs := runCaptionCmd(append(append(args, "--batch-size", "3"), files...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			recs := decodeCaptions(t, out)
			if len(recs) != 3 {
				t.Fatalf("%d captions, want 3:\n%s", len(recs), out)
			}
			for i, r := range recs {
				if r.Path != files[i] || r.Caption == "" {
					t.Errorf("record %d: %+v", i, r)
				}
			}
			if got := recs[1].Caption; got != want {
				t.Errorf("caption %q, want transformers' %q", got, want)
			}
			// One at a time: the same captions.
			code, out, errs = runCaptionCmd(append(append(args, "--batch-size", "1"), files...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			for i, r := range decodeCaptions(t, out) {
				if r != recs[i] {
					t.Errorf("image %d: alone %q, in a batch %q", i, r.Caption, recs[i].Caption)
				}
			}
		})
	}
}

// goldenAnswer is the answer in a golden text: transformers decoded a
// Vicuna model's prompt and answer together (its sequence starts with the
// prompt), then stripped the whole; a Flan-T5 model's text is the answer.
func goldenAnswer(t *testing.T, kind, prompt, text string) string {
	t.Helper()
	if kind != "llama" {
		return text
	}
	answer, ok := strings.CutPrefix(text, prompt)
	if !ok {
		t.Fatalf("golden text %q does not start with its prompt %q", text, prompt)
	}
	return strings.TrimSpace(answer)
}

func decodeCaptions(t *testing.T, out string) []captionRecord {
	t.Helper()
	var recs []captionRecord
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r captionRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestCaptionFolderAndFormats captions a folder holding images, a file
// that is not an image and a non-image file type, as CSV and as text.
func TestCaptionFolderAndFormats(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"tiny.png", "palette.png"} {
		b, err := os.ReadFile(filepath.Join(askFixtures, "images", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.jpg"), []byte("no pixels here"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "readme.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	t5 := filepath.Join(askFixtures, "models", "tiny-instructblip-flan-t5")
	common := []string{"--model", t5, "--backend", "cpu", "--num-beams", "2", "--max-new-tokens", "4"}

	code, out, errs := runCaptionCmd(append(append(common, "--csv"), dir)...)
	// The broken image is reported and the exit code says so; the others
	// are captioned.
	if code != 1 || !strings.Contains(errs, "broken.jpg is not an image Glimpse can read") || !strings.Contains(errs, "broken.jpg") {
		t.Errorf("exit %d, stderr %q: want exit 1 naming broken.jpg", code, errs)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("CSV %q: %v", out, err)
	}
	wantPaths := []string{"path", filepath.Join(dir, "palette.png"), filepath.Join(dir, "tiny.png")}
	if len(rows) != 3 {
		t.Fatalf("rows %q, want a header and 2 captions", rows)
	}
	for i, row := range rows {
		if len(row) != 2 || row[0] != wantPaths[i] || row[1] == "" {
			t.Errorf("row %d: %q", i, row)
		}
	}

	code, out, errs = runCaptionCmd(append(common, filepath.Join(dir, "tiny.png"))...)
	if code != 0 || out != filepath.Join(dir, "tiny.png")+": "+rows[2][1]+"\n" {
		t.Errorf("text output %q (exit %d, %s), want the CSV caption %q", out, code, errs, rows[2][1])
	}
}

func TestCaptionErrors(t *testing.T) {
	t5 := filepath.Join(askFixtures, "models", "tiny-instructblip-flan-t5")
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no images", []string{"--model", t5}, 2, "Usage: glimpse caption"},
		{"json and csv", []string{"--model", t5, "--json", "--csv", empty}, 2, "Usage: glimpse caption"},
		{"missing file", []string{"--model", t5, filepath.Join(empty, "x.png")}, 1, "does not exist"},
		{"folder without images", []string{"--model", t5, empty}, 1, "has no images"},
		{"missing model", []string{"--model", filepath.Join(empty, "m"), filepath.Join(askFixtures, "images", "tiny.png")}, 1, "neither a folder nor an installed model"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runCaptionCmd(tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errs, tc.code, tc.want)
			}
		})
	}
}
