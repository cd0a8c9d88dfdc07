package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// askFixtures is ../shared/fixtures beside the repository, seen from cli/.
const askFixtures = "../../shared/fixtures"

type askGolden struct {
	Kind  string `json:"kind"`
	Cases []struct {
		Image    string  `json:"image"`
		Prompt   string  `json:"prompt"`
		InputIDs []int32 `json:"input_ids"` // the processor's, image tokens included
		Generate map[string]struct {
			Kwargs   map[string]any `json:"kwargs"`
			Sequence []int32        `json:"sequence"`
			Text     string         `json:"text"`
		} `json:"generate"`
	} `json:"cases"`
}

func loadAskGolden(t *testing.T, name string) askGolden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(askFixtures, "models", name, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g askGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// kwargFlags turns generate() kwargs into `glimpse ask` flags. Settings the
// kwargs leave out get transformers' defaults explicitly, since the
// command's own defaults are the seed's settings.
func kwargFlags(t *testing.T, kw map[string]any) []string {
	t.Helper()
	flags := map[string]string{"repetition-penalty": "1", "min-length": "0", "length-penalty": "1"}
	keys := make([]string, 0, len(kw))
	for k := range kw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := kw[k].(type) {
		case bool:
			if k != "do_sample" {
				t.Fatalf("unexpected bool kwarg %s", k)
			}
			if v {
				flags["do-sample"] = "true"
			}
		case float64:
			flags[strings.ReplaceAll(k, "_", "-")] = fmt.Sprint(v)
		default:
			t.Fatalf("kwarg %s = %v", k, v)
		}
	}
	var args []string
	for _, k := range slices.Sorted(maps.Keys(flags)) {
		args = append(args, "--"+k+"="+flags[k])
	}
	return args
}

// runAskCmd runs `glimpse ask` and returns the exit code, the answer lines
// and standard error.
func runAskCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"ask"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestAskGolden answers the fixture prompts with the fixture models on the
// CPU, under generate() settings of the golden file, and requires
// transformers' sequences and texts. The command reads the image files
// itself, so this also covers image decoding and the processor.
func TestAskGolden(t *testing.T) {
	for _, name := range []string{"tiny-instructblip-vicuna", "tiny-instructblip-flan-t5"} {
		g := loadAskGolden(t, name)
		dir := filepath.Join(askFixtures, "models", name)
		for i, c := range g.Cases {
			settings := []string{"greedy"}
			if i == 0 {
				settings = []string{"greedy", "beam5_seed_settings", "beam3_len_penalty", "greedy_rep_penalty"}
			}
			for _, setting := range settings {
				run := c.Generate[setting]
				t.Run(fmt.Sprintf("%s/case%d/%s", name, i, setting), func(t *testing.T) {
					args := append([]string{"--model", dir, "--image", filepath.Join(askFixtures, "images", c.Image),
						"--prompt", c.Prompt, "--backend", "cpu", "--json"}, kwargFlags(t, run.Kwargs)...)
					code, out, errs := runAskCmd(args...)
					if code != 0 {
						t.Fatalf("exit %d: %s", code, errs)
					}
					lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
					if len(lines) < 2 {
						t.Fatalf("output %q: want the answer, then the JSON line", out)
					}
					var res askResult
					if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
						t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
					}
					if !slices.Equal(res.Sequence, run.Sequence) {
						t.Errorf("sequence\n got %v\nwant %v", res.Sequence, run.Sequence)
					}
					// The golden text is stripped of surrounding spaces.
					if want := goldenAnswer(t, g.Kind, c.Prompt, run.Text); strings.TrimSpace(res.Text) != want {
						t.Errorf("text %q, want transformers' %q", res.Text, want)
					}
					if answer := strings.Join(lines[:len(lines)-1], "\n"); answer != res.Text {
						t.Errorf("printed answer %q, JSON text %q", answer, res.Text)
					}
					prefix := 1
					if g.Kind == "llama" {
						prefix = res.PromptTokens
					}
					if res.NewTokens != len(res.Sequence)-prefix || res.Timings["backend"] != "cpu/fp32" {
						t.Errorf("new_tokens %d for %d-token sequence, timings %v", res.NewTokens, len(res.Sequence), res.Timings)
					}
				})
			}
		}
	}
}

// TestAskErrors checks the messages for the mistakes a user can make.
func TestAskErrors(t *testing.T) {
	vicuna := filepath.Join(askFixtures, "models", "tiny-instructblip-vicuna")
	img := filepath.Join(askFixtures, "images", "shapes.png")
	tmp := t.TempDir()
	incomplete := filepath.Join(tmp, "incomplete")
	if err := os.Mkdir(incomplete, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(vicuna, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(incomplete, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	notImage := filepath.Join(tmp, "notes.png")
	if err := os.WriteFile(notImage, []byte("not an image at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string // in standard error
	}{
		{"no arguments", nil, 2, "Usage: glimpse ask"},
		{"missing model folder", []string{"--model", filepath.Join(tmp, "nowhere"), "--image", img, "--prompt", "hi"}, 1, "neither a folder nor an installed model"},
		{"incomplete model folder", []string{"--model", incomplete, "--image", img, "--prompt", "hi"}, 1, "lacks the weights"},
		{"model is a file", []string{"--model", img, "--image", img, "--prompt", "hi"}, 1, "is a file"},
		{"missing image", []string{"--model", vicuna, "--image", filepath.Join(tmp, "none.png"), "--prompt", "hi"}, 1, "does not exist"},
		{"unreadable image", []string{"--model", vicuna, "--image", notImage, "--prompt", "hi"}, 1, "is not an image Glimpse can read"},
		{"bad backend", []string{"--model", vicuna, "--image", img, "--prompt", "hi", "--backend", "tpu"}, 1, "use gl, cpu or auto"},
		{"bad precision", []string{"--model", vicuna, "--image", img, "--prompt", "hi", "--backend", "cpu", "--precision", "fp8"}, 1, `precision "fp8" (use fp32, fp16, q8, q4 or auto)`},
		{"prompt beyond max_length", []string{"--model", vicuna, "--image", img, "--prompt", "hi", "--backend", "cpu", "--max-length", "5"}, 1, "max_length is 5"},
		{"invalid setting", []string{"--model", vicuna, "--image", img, "--prompt", "hi", "--backend", "cpu", "--repetition-penalty", "0"}, 1, "repetition_penalty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runAskCmd(tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errs, tc.code, tc.want)
			}
		})
	}
}

// TestAskLongPrompt gives a prompt longer than the tiny Vicuna's context:
// it is cut from the left with a warning, and the answer still comes.
func TestAskLongPrompt(t *testing.T) {
	vicuna := filepath.Join(askFixtures, "models", "tiny-instructblip-vicuna")
	prompt := strings.Repeat("describe the shapes and colours ", 200)
	code, out, errs := runAskCmd("--model", vicuna, "--image", filepath.Join(askFixtures, "images", "shapes.png"),
		"--prompt", prompt, "--backend", "cpu", "--num-beams", "1", "--max-new-tokens", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "warning") || !strings.Contains(errs, "cut from its start") {
		t.Errorf("stderr %q: want a truncation warning", errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var res askResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatal(err)
	}
	// max_position_embeddings 512: 8 image tokens and 502 prompt tokens,
	// leaving room for the 2 new ones.
	if res.PromptTokens != 510 || res.NewTokens != 2 {
		t.Errorf("prompt_tokens %d new_tokens %d, want 510 and 2", res.PromptTokens, res.NewTokens)
	}
	if !strings.Contains(errs, "to leave room for 2 new tokens in the model's 512 positions") {
		t.Errorf("stderr %q: want a warning that the prompt was cut to leave room", errs)
	}
}

// askJSON runs `glimpse ask --json` and returns the result line.
func askJSON(t *testing.T, args ...string) (askResult, string) {
	t.Helper()
	code, out, errs := runAskCmd(append(args, "--json", "--backend", "cpu")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var res askResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	return res, strings.Join(lines[:len(lines)-1], "\n")
}

// TestAskNeverGeneratesImageToken uses the golden Flan-T5 setting in which
// transformers' beam search emits the `<image>` token (id 1100): the
// command suppresses it, so its answer has none.
func TestAskNeverGeneratesImageToken(t *testing.T) {
	name := "tiny-instructblip-flan-t5"
	g := loadAskGolden(t, name)
	c := g.Cases[1]
	run := c.Generate["beam5_seed_settings"]
	if !slices.Contains(run.Sequence, 1100) {
		t.Fatal("the golden sequence no longer contains the image token; pick another case")
	}
	res, _ := askJSON(t, append([]string{"--model", filepath.Join(askFixtures, "models", name),
		"--image", filepath.Join(askFixtures, "images", c.Image), "--prompt", c.Prompt}, kwargFlags(t, run.Kwargs)...)...)
	for i, id := range res.Sequence[1:] {
		if id == 1100 || id == 0 {
			t.Errorf("answer token %d is %d, a suppressed id: %v", i, id, res.Sequence)
		}
	}
}

// TestAskSampling checks that sampling streams its answer and that a seed
// reproduces it.
func TestAskSampling(t *testing.T) {
	args := []string{"--model", filepath.Join(askFixtures, "models", "tiny-instructblip-vicuna"),
		"--image", filepath.Join(askFixtures, "images", "gray.jpg"), "--prompt", "Describe the image in detail.",
		"--do-sample", "--num-beams", "1", "--top-k", "20", "--top-p", "0.95", "--temperature", "0.8", "--max-new-tokens", "12"}
	a, streamed := askJSON(t, append(args, "--seed", "3")...)
	b, _ := askJSON(t, append(args, "--seed", "3")...)
	if !slices.Equal(a.Sequence, b.Sequence) {
		t.Errorf("seed 3 gave %v, then %v", a.Sequence, b.Sequence)
	}
	if streamed != a.Text || a.NewTokens != 12 {
		t.Errorf("streamed %q, text %q, %d new tokens", streamed, a.Text, a.NewTokens)
	}
	differs := false
	for seed := 4; seed < 8 && !differs; seed++ {
		c, _ := askJSON(t, append(args, "--seed", fmt.Sprint(seed))...)
		differs = !slices.Equal(c.Sequence, a.Sequence)
	}
	if !differs {
		t.Error("four other seeds all gave seed 3's answer")
	}
}

// TestAskSave records an exchange with --save and finds it through
// `glimpse history`, as a user of both commands would.
func TestAskSave(t *testing.T) {
	t.Setenv("GLIMPSE_HOME", t.TempDir())
	g := loadAskGolden(t, "tiny-instructblip-vicuna")
	c := g.Cases[0]
	code, out, errs := runAskCmd("--model", filepath.Join(askFixtures, "models", "tiny-instructblip-vicuna"),
		"--image", filepath.Join(askFixtures, "images", c.Image), "--prompt", c.Prompt,
		"--backend", "cpu", "--num-beams", "1", "--max-new-tokens", "24", "--save")
	if code != 0 {
		t.Fatalf("ask --save: exit %d: %s", code, errs)
	}
	answer := strings.TrimSpace(out)
	var lst, lerr bytes.Buffer
	if code := run([]string{"history", "list", "--json"}, &lst, &lerr); code != 0 {
		t.Fatalf("history list: %s", lerr.String())
	}
	var convs []struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(lst.Bytes(), &convs); err != nil || len(convs) != 1 {
		t.Fatalf("history list --json = %s (%v), want one conversation", lst.String(), err)
	}
	var show, serr bytes.Buffer
	if code := run([]string{"history", "show", strconv.FormatInt(convs[0].ID, 10)}, &show, &serr); code != 0 {
		t.Fatalf("history show: %s", serr.String())
	}
	for _, want := range []string{c.Prompt, answer, c.Image} {
		if !strings.Contains(show.String(), want) {
			t.Errorf("history show lacks %q:\n%s", want, show.String())
		}
	}
}
