package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestCommandLineMistakes: every mistake in a command line is said in one
// line that names the flag or argument and why, then the command's usage
// follows, and the exit code is 2. A number that parses but that no
// setting can take (NaN, Inf) is said in one line, without the usage, and
// the exit code is 1, before anything is loaded.
func TestCommandLineMistakes(t *testing.T) {
	t.Setenv("GLIMPSE_HOME", t.TempDir())
	const m, img = "some-model", "photo.png"
	ask := []string{"ask", "--model", m, "--image", img, "--prompt", "hi"}
	tests := []struct {
		args  []string
		code  int
		line  string // the first line of standard error, exactly
		usage string // the start of the line after it ("" when no usage follows)
	}{
		{[]string{"ask"}, 2, "glimpse ask: --model is required", "Usage: glimpse ask "},
		{[]string{"ask", "--model", m, "--image", img}, 2, "glimpse ask: --prompt is required", "Usage: glimpse ask "},
		{[]string{"ask", "--model", m, "--image", img, "--prompt", ""}, 2, "glimpse ask: --prompt is empty", "Usage: glimpse ask "},
		{[]string{"ask", "--model", " ", "--image", img, "--prompt", "hi"}, 2, "glimpse ask: --model is empty", "Usage: glimpse ask "},
		{append(ask, "extra"), 2, `glimpse ask: unexpected argument "extra" (this command takes flags only)`, "Usage: glimpse ask "},
		{append(ask, "--num-beams", "five"), 2, `glimpse ask: invalid value "five" for --num-beams: not a number`, "Usage: glimpse ask "},
		{append(ask, "--max-new-tokens", "99999999999999999999"), 2, `glimpse ask: invalid value "99999999999999999999" for --max-new-tokens: out of range`, "Usage: glimpse ask "},
		{append(ask, "--top-p", "most"), 2, `glimpse ask: invalid value "most" for --top-p: not a number`, "Usage: glimpse ask "},
		{append(ask, "--do-sample=maybe"), 2, `glimpse ask: invalid value "maybe" for --do-sample: use true or false`, "Usage: glimpse ask "},
		{append(ask, "--colour"), 2, "glimpse ask: unknown flag --colour", "Usage: glimpse ask "},
		{[]string{"ask", "--image", img, "--prompt", "hi", "--model"}, 2, "glimpse ask: --model needs a value", "Usage: glimpse ask "},
		{append(ask, "--do-sample", "--temperature", "Inf"), 1, "glimpse ask: --temperature must be a finite number, got +Inf", ""},
		{append(ask, "--length-penalty", "NaN"), 1, "glimpse ask: --length-penalty must be a finite number, got NaN", ""},
		{append(ask, "--repetition-penalty", "-inf"), 1, "glimpse ask: --repetition-penalty must be a finite number, got -Inf", ""},
		{[]string{"caption", "--model", m, "--csv", "--json", img}, 2, "glimpse caption: --csv and --json cannot be used together", "Usage: glimpse caption "},
		{[]string{"caption", "--model", m, "--batch-size", "0", img}, 2, "glimpse caption: --batch-size must be at least 1, got 0", "Usage: glimpse caption "},
		{[]string{"caption", "--model", m}, 2, "glimpse caption: name at least one image or folder to caption", "Usage: glimpse caption "},
		{[]string{"caption", img}, 2, "glimpse caption: --model is required", "Usage: glimpse caption "},
		{[]string{"caption", "--model", m, "--top-p", "NaN", img}, 1, "glimpse caption: --top-p must be a finite number, got NaN", ""},
		{[]string{"bench", "--model", m, "--tokens", "0"}, 2, "glimpse bench: --tokens must be at least 1, got 0", "Usage: glimpse bench "},
		{[]string{"bench", "--model", m, "--beams", "-1"}, 2, "glimpse bench: --beams must be at least 0, got -1", "Usage: glimpse bench "},
		{[]string{"preprocess", "--model", m, "--image", img}, 2, "glimpse preprocess: --out is required", "Usage: glimpse preprocess "},
		{[]string{"tokenize"}, 2, "glimpse tokenize: --tokenizer is required", "Usage: glimpse tokenize "},
		{[]string{"info", "now"}, 2, `glimpse info: unexpected argument "now" (this command takes flags only)`, "Usage: glimpse info "},
		{[]string{"models", "path"}, 2, "glimpse models path: NAME is required", "Usage: glimpse models path "},
		{[]string{"models", "rm", "a", "b"}, 2, `glimpse models rm: unexpected argument "b" after a (one NAME only)`, "Usage: glimpse models rm "},
		{[]string{"models", "list", "all"}, 2, `glimpse models list: unexpected argument "all" (this command takes flags only)`, "Usage: glimpse models list"},
		{[]string{"history", "show"}, 2, "glimpse history show: expected one conversation ID, got 0 arguments", "Usage: glimpse history show ID"},
		{[]string{"history", "list", "--limit", "ten"}, 2, `glimpse history list: invalid value "ten" for --limit: not a number`, "Usage: glimpse history list "},
		{[]string{"history", "search"}, 2, "glimpse history search: what should it look for? e.g. glimpse history search red car", "Usage: glimpse history search "},
		{[]string{"history", "export", "1", "--format", "md"}, 2, "glimpse history export: Markdown needs --out PATH, for its images", "Usage: glimpse history export "},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			lines := strings.Split(errb.String(), "\n")
			if code != tc.code || lines[0] != tc.line {
				t.Fatalf("exit %d, first line %q; want exit %d, %q\nstderr:\n%s", code, lines[0], tc.code, tc.line, errb.String())
			}
			if tc.usage == "" {
				if errb.String() != tc.line+"\n" {
					t.Errorf("stderr %q, want the one line", errb.String())
				}
			} else if len(lines) < 2 || !strings.HasPrefix(lines[1], tc.usage) {
				t.Errorf("the line after the error is %q, want the usage %q…", lines[1], tc.usage)
			}
			if out.Len() > 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
		})
	}
}

// TestHelpExitsZero: -h prints the usage and is not a mistake.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"ask", "-h"}, {"caption", "--help"}, {"models", "pull", "-h"}, {"tokenize", "-h"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 || !strings.HasPrefix(errb.String(), "Usage: glimpse "+args[0]) {
			t.Errorf("glimpse %s: exit %d, stderr %q", strings.Join(args, " "), code, errb.String())
		}
	}
}
