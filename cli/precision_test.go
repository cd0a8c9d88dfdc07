package cli

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"glimpse/history"
)

// TestPrecisionFlag checks that every command that loads a model documents
// the 8- and 4-bit precisions, and that bench (whose JSON reports the
// precision it loaded) and ask run the tiny Vicuna at each of them.
func TestPrecisionFlag(t *testing.T) {
	t.Setenv(history.EnvHome, t.TempDir()) // the converted copies' folder
	for _, cmd := range []string{"ask", "caption", "bench", "serve"} {
		var out, errb bytes.Buffer
		run([]string{cmd, "-h"}, &out, &errb)
		usage := errb.String()
		i := strings.Index(usage, "-precision")
		if i < 0 {
			t.Errorf("glimpse %s -h: no --precision in %q", cmd, usage)
			continue
		}
		line := usage[i:]
		line = line[:strings.Index(line, "(default")]
		for _, p := range []string{"fp32", "fp16", "q8", "q4", "auto"} {
			if !strings.Contains(line, p) {
				t.Errorf("glimpse %s -h: --precision's help %q does not name %s", cmd, line, p)
			}
		}
	}
	vicuna := filepath.Join(askFixtures, "models", "tiny-instructblip-vicuna")
	for _, p := range []string{"fp16", "q8", "q4"} {
		t.Run(p, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run([]string{"bench", "--model", vicuna, "--backend", "cpu", "--precision", p,
				"--tokens", "2", "--beams", "1", "--runs", "1", "--json"}, &out, &errb)
			if code != 0 {
				t.Fatalf("bench: exit %d: %s", code, errb.String())
			}
			var r benchResult
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("%v in %q", err, out.String())
			}
			if r.Precision != p || r.Tokens != 2 {
				t.Errorf("bench --precision %s: precision %q, %d tokens", p, r.Precision, r.Tokens)
			}
			code, answer, errs := runAskCmd("--model", vicuna, "--image", filepath.Join(askFixtures, "images", "shapes.png"),
				"--prompt", "What is in the picture?", "--backend", "cpu", "--precision", p, "--num-beams", "1", "--max-new-tokens", "3")
			if code != 0 || strings.TrimSpace(answer) == "" {
				t.Errorf("ask --precision %s: exit %d, answer %q, stderr %q", p, code, answer, errs)
			}
		})
	}
}
