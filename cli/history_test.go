package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"glimpse/history"
)

// historyRun runs `glimpse args...` and returns its exit code and output.
func historyRun(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// historySeed fills a fresh GLIMPSE_HOME with two conversations, the first
// with an image, and returns their IDs.
func historySeed(t *testing.T) (home string, withImage, plain int64) {
	t.Helper()
	home = t.TempDir()
	t.Setenv(history.EnvHome, home)
	s, err := history.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	a, err := s.SaveExchange(context.Background(), history.Exchange{
		Title: "Zebra picture", Prompt: "What animal is this?", Images: []history.Image{{Name: "zebra.png", Data: buf.Bytes()}},
		Answer: "A zebra standing in tall grass.", Model: "Salesforce/instructblip-vicuna-7b", Revision: "main",
		Settings: json.RawMessage(`{"max_new_tokens":20}`), PromptTokens: 12, OutputTokens: 8,
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.SaveExchange(context.Background(), history.Exchange{Prompt: "Is it raining?", Answer: "No, the sky is clear."})
	if err != nil {
		t.Fatal(err)
	}
	return home, a.ID, b.ID
}

// historyIDs reads the "id" of every object in a JSON array.
func historyIDs(t *testing.T, out string) []int64 {
	t.Helper()
	var objs []map[string]any
	if err := json.Unmarshal([]byte(out), &objs); err != nil {
		t.Fatalf("not a JSON array of objects: %v\n%s", err, out)
	}
	ids := []int64{}
	for _, o := range objs {
		id, ok := o["id"].(float64)
		if !ok {
			t.Fatalf("object without a numeric id: %v", o)
		}
		ids = append(ids, int64(id))
	}
	return ids
}

func TestHistoryCommands(t *testing.T) {
	home, zebra, rain := historySeed(t)
	z, r := strconv.FormatInt(zebra, 10), strconv.FormatInt(rain, 10)
	out := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings
		stderr   []string
		jsonIDs  []int64 // when set, stdout is a JSON array with these ids in order
		wantFile string
	}{
		{name: "list", args: []string{"list"}, stdout: []string{"ID", "TITLE", z + "  ", "Zebra picture", "Is it raining?"}},
		{name: "list json", args: []string{"list", "--json"}, jsonIDs: []int64{rain, zebra}},
		{name: "list json limit", args: []string{"list", "--limit", "1", "--json"}, jsonIDs: []int64{rain}},
		{name: "show", args: []string{"show", z}, stdout: []string{"Zebra picture", "[user]", "zebra.png (png, 32×24): " + home,
			"[assistant · Salesforce/instructblip-vicuna-7b@main]", "A zebra standing", "tokens: 12 in, 8 out", `settings: {"max_new_tokens":20}`}},
		{name: "show missing", args: []string{"show", "999"}, code: 1, stderr: []string{"conversation 999: no such conversation"}},
		{name: "show not a number", args: []string{"show", "abc"}, code: 1, stderr: []string{`"abc" is not a conversation ID`}},
		{name: "show no ID", args: []string{"show"}, code: 2, stderr: []string{"expected one conversation ID"}},
		{name: "search", args: []string{"search", "zebra"}, stdout: []string{z + "  Zebra picture  (assistant", "A [zebra] standing"}},
		{name: "search words", args: []string{"search", "sky", "clear"}, stdout: []string{r + "  Is it raining?", "the [sky] is [clear]"}},
		{name: "search json", args: []string{"search", "--json", "zebra"}, jsonIDs: []int64{zebra}},
		{name: "search punctuation", args: []string{"search", `"(zebra`, "--json"}, jsonIDs: []int64{zebra}},
		{name: "search nothing", args: []string{"search", "--json", "elephant"}, jsonIDs: []int64{}},
		{name: "search only punctuation", args: []string{"search", "?!*"}, stdout: []string{"Nothing found."}},
		{name: "search no text", args: []string{"search"}, code: 2, stderr: []string{"what should it look for"}},
		{name: "export md", args: []string{"export", z, "--format", "md", "--out", filepath.Join(out, "z.md")},
			stderr: []string{"Wrote"}, wantFile: filepath.Join(out, "z.md")},
		{name: "export html, format from extension", args: []string{"export", "--out", filepath.Join(out, "z.html"), z},
			wantFile: filepath.Join(out, "z.html")},
		{name: "export json to stdout", args: []string{"export", z, "--format", "json"}, stdout: []string{`"format": "glimpse-conversation"`}},
		{name: "export md to stdout", args: []string{"export", z, "--format", "md"}, code: 2, stderr: []string{"Markdown needs --out"}},
		{name: "export bad format", args: []string{"export", z, "--format", "pdf", "--out", "x.pdf"}, code: 1, stderr: []string{`unknown export format "pdf"`}},
		{name: "export no format", args: []string{"export", z, "--out", filepath.Join(out, "noext")}, code: 2, stderr: []string{"--format"}},
		{name: "export missing", args: []string{"export", "999", "--format", "json", "--out", filepath.Join(out, "m.json")}, code: 1, stderr: []string{"no such conversation"}},
		{name: "bad flag", args: []string{"list", "--color"}, code: 2, stderr: []string{"glimpse history list: unknown flag --color\nUsage: glimpse history list"}},
		{name: "unknown subcommand", args: []string{"frobnicate"}, code: 2, stderr: []string{`unknown command "frobnicate"`, "Usage: glimpse history"}},
		{name: "no subcommand", args: nil, code: 2, stderr: []string{"Usage: glimpse history"}},
		{name: "help", args: []string{"--help"}, stdout: []string{"search", "export", history.EnvHome}},
		{name: "subcommand help", args: []string{"export", "-h"}, stdout: []string{"--format md|json|html --out PATH"}},
		{name: "import missing file", args: []string{"import", filepath.Join(out, "nope.json")}, code: 1, stderr: []string{"nope.json"}},
		{name: "import not an export", args: []string{"import", filepath.Join(home, history.DBName)}, code: 1, stderr: []string{"not a Glimpse conversation export"}},
		{name: "rm bad ID deletes nothing", args: []string{"rm", r, "x"}, code: 1, stderr: []string{`"x" is not a conversation ID`}},
		{name: "rm missing", args: []string{"rm", "999"}, code: 1, stderr: []string{"conversation 999: no such conversation"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := historyRun(append([]string{"history"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			for _, want := range tt.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if tt.jsonIDs != nil {
				if got := historyIDs(t, stdout); !slicesEqual(got, tt.jsonIDs) {
					t.Errorf("ids %v, want %v", got, tt.jsonIDs)
				}
			}
			if tt.wantFile != "" {
				if fi, err := os.Stat(tt.wantFile); err != nil || fi.Size() == 0 {
					t.Errorf("no file %s written (%v)", tt.wantFile, err)
				}
			}
		})
	}
	// The Markdown export's image is beside it.
	if imgs, _ := filepath.Glob(filepath.Join(out, "z-images", "*.png")); len(imgs) != 1 {
		t.Errorf("Markdown export wrote %d images beside it, want 1", len(imgs))
	}
	// Nothing above may have deleted anything.
	if code, stdout, _ := historyRun("history", "list", "--json"); code != 0 || len(historyIDs(t, stdout)) != 2 {
		t.Errorf("after the table: %s", stdout)
	}
}

func slicesEqual(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestHistoryExportImportRemove(t *testing.T) {
	_, zebra, rain := historySeed(t)
	z := strconv.FormatInt(zebra, 10)
	file := filepath.Join(t.TempDir(), "zebra.json")
	if code, _, stderr := historyRun("history", "export", z, "--format", "json", "--out", file); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	code, stdout, stderr := historyRun("history", "import", file)
	if code != 0 || !strings.HasPrefix(stdout, "Imported conversation ") {
		t.Fatalf("import: %d %s %s", code, stdout, stderr)
	}
	var copyID int64
	if _, err := fmt.Sscanf(stdout, "Imported conversation %d:", &copyID); err != nil || copyID == zebra {
		t.Fatalf("import printed %q", stdout)
	}
	// The copy exports exactly like the original.
	_, orig, _ := historyRun("history", "export", z, "--format", "json")
	_, copied, _ := historyRun("history", "export", strconv.FormatInt(copyID, 10), "--format", "json")
	if orig != copied || orig == "" {
		t.Errorf("the imported copy exports differently:\n%s\n---\n%s", orig, copied)
	}
	// Both use the same stored image: removing the original keeps it for the copy.
	if code, stdout, stderr := historyRun("history", "rm", z); code != 0 || !strings.Contains(stdout, "Deleted conversation "+z) {
		t.Fatalf("rm: %d %s %s", code, stdout, stderr)
	}
	if code, stdout, stderr := historyRun("history", "show", strconv.FormatInt(copyID, 10)); code != 0 || !strings.Contains(stdout, "zebra.png") {
		t.Errorf("show copy: %d %s %s", code, stdout, stderr)
	}
	if code, _, stderr := historyRun("history", "export", strconv.FormatInt(copyID, 10), "--format", "html", "--out", filepath.Join(t.TempDir(), "c.html")); code != 0 {
		t.Errorf("the copy's image went with the original: %s", stderr)
	}
	if code, _, _ := historyRun("history", "rm", strconv.FormatInt(copyID, 10), strconv.FormatInt(rain, 10)); code != 0 {
		t.Error("rm of two conversations failed")
	}
	if code, stdout, _ := historyRun("history", "list", "--json"); code != 0 || strings.TrimSpace(stdout) != "[]" {
		t.Errorf("after removing everything, list --json printed %q", stdout)
	}
	if code, stdout, _ := historyRun("history", "list"); code != 0 || !strings.Contains(stdout, "No conversations yet.") {
		t.Errorf("empty list printed %q", stdout)
	}
}
