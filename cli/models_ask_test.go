package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPulledModelAnswers downloads the tiny Vicuna-style model from the
// stand-in Hub with `glimpse models pull`, then asks it a question by its
// repository name (not a folder) through `glimpse ask`: the answer must be
// transformers' greedy sequence from the fixture's golden.json.
func TestPulledModelAnswers(t *testing.T) {
	cliHub(t)
	if code, _, errs := runCLI("models", "pull", "--quiet", cliRepo); code != 0 {
		t.Fatalf("pull: %s", errs)
	}
	b, err := os.ReadFile(filepath.Join(fixtureModel("tiny-instructblip-vicuna"), "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Cases []struct {
			Image    string `json:"image"`
			Prompt   string `json:"prompt"`
			Generate map[string]struct {
				Sequence []int32 `json:"sequence"`
			} `json:"generate"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	c := golden.Cases[0]
	want := c.Generate["greedy"].Sequence
	if len(want) == 0 {
		t.Fatal("golden.json has no greedy sequence for case 0")
	}
	image := filepath.Join("..", "..", "shared", "fixtures", "images", c.Image)
	code, out, errs := runCLI("ask", "--model", cliRepo, "--image", image, "--prompt", c.Prompt,
		"--backend", "cpu", "--precision", "fp32", "--num-beams", "1", "--max-new-tokens", "24", "--repetition-penalty", "1", "--json")
	if code != 0 {
		t.Fatalf("glimpse ask --model %s: exit %d: %s", cliRepo, code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var res struct {
		Sequence []int32 `json:"sequence"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line of ask --json: %v\n%s", err, out)
	}
	if !slices.Equal(res.Sequence, want) {
		t.Errorf("answer from the pulled model:\n got %v\nwant %v", res.Sequence, want)
	}
}
