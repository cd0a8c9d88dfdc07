package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tokenizeFixtures is ../shared/fixtures/tokenizers beside the repository.
const tokenizeFixtures = "../../shared/fixtures/tokenizers"

type tokenizeCase struct {
	Text               string   `json:"text"`
	IDs                []int32  `json:"ids"`
	IDsNoSpecial       []int32  `json:"ids_no_special"`
	Tokens             []string `json:"tokens"`
	Decoded            string   `json:"decoded"`
	DecodedSkipSpecial string   `json:"decoded_skip_special"`
}

// runTokenizeWith runs `glimpse tokenize args…` with input on standard input.
func runTokenizeWith(t *testing.T, input string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(append([]string{"tokenize"}, args...), Env{Stdin: strings.NewReader(input), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

// TestTokenizeCommand feeds every fixture text through the command, with and
// without special tokens, and compares each output line with transformers'.
func TestTokenizeCommand(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(tokenizeFixtures, "cases.json"))
	if err != nil {
		t.Fatalf("reading fixtures: %v", err)
	}
	var all map[string]struct {
		Cases []tokenizeCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &all); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"llama-legacy", "llama-metaspace", "bert-uncased", "t5"} {
		cases := all[name].Cases
		if len(cases) == 0 {
			t.Fatalf("no cases for %s", name)
		}
		var in strings.Builder
		for _, c := range cases {
			line, _ := json.Marshal(c.Text)
			in.Write(line)
			in.WriteByte('\n')
		}
		for _, noSpecial := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "", true: "/no-special"}[noSpecial], func(t *testing.T) {
				args := []string{"--tokenizer", filepath.Join(tokenizeFixtures, name)}
				if noSpecial {
					args = append(args, "--no-special")
				}
				code, stdout, stderr := runTokenizeWith(t, in.String(), args...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
				if len(lines) != len(cases) {
					t.Fatalf("%d output lines for %d inputs", len(lines), len(cases))
				}
				for i, c := range cases {
					var got tokenizeResult
					if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
						t.Fatalf("line %d: %v: %s", i+1, err, lines[i])
					}
					wantIDs := c.IDs
					if noSpecial {
						wantIDs = c.IDsNoSpecial
					}
					if !slices.Equal(got.IDs, wantIDs) {
						t.Errorf("%q: ids %v, want %v", c.Text, got.IDs, wantIDs)
					}
					if !noSpecial && !slices.Equal(got.Tokens, c.Tokens) {
						t.Errorf("%q: tokens %q, want %q", c.Text, got.Tokens, c.Tokens)
					}
					if !noSpecial && got.Decoded != c.Decoded {
						t.Errorf("%q: decoded %q, want %q", c.Text, got.Decoded, c.Decoded)
					}
					if got.DecodedSkipSpecial != c.DecodedSkipSpecial {
						t.Errorf("%q: decoded_skip_special %q, want %q", c.Text, got.DecodedSkipSpecial, c.DecodedSkipSpecial)
					}
				}
			})
		}
	}
}

// TestTokenizeCommandErrors checks the failures a user can cause.
func TestTokenizeCommandErrors(t *testing.T) {
	bert := filepath.Join(tokenizeFixtures, "bert-uncased")
	tests := []struct {
		name     string
		input    string
		args     []string
		code     int
		inStderr string
		stdout   string
	}{
		{"no folder", "", nil, 2, "Usage", ""},
		{"missing folder", "", []string{"--tokenizer", t.TempDir()}, 1, "no tokenizer files", ""},
		{"not JSON", "\"the\"\nplain text\n", []string{"--tokenizer", bert}, 1, "line 2 is not a JSON string",
			`{"ids":[2,267,3],"tokens":["[CLS]","the","[SEP]"],"decoded":"[CLS] the [SEP]","decoded_skip_special":"the"}` + "\n"},
		{"blank lines and no final newline", "\n\"the\"", []string{"--tokenizer", bert}, 0, "",
			`{"ids":[2,267,3],"tokens":["[CLS]","the","[SEP]"],"decoded":"[CLS] the [SEP]","decoded_skip_special":"the"}` + "\n"},
		{"empty text without special tokens", "\"\"\n", []string{"--tokenizer", bert, "--no-special"}, 0, "",
			`{"ids":[],"tokens":[],"decoded":"","decoded_skip_special":""}` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runTokenizeWith(t, tc.input, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if !strings.Contains(stderr, tc.inStderr) {
				t.Errorf("stderr %q does not mention %q", stderr, tc.inStderr)
			}
			if stdout != tc.stdout {
				t.Errorf("stdout %q, want %q", stdout, tc.stdout)
			}
		})
	}
}
