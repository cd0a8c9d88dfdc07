package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"glimpse/history"
)

// TestAutoPrecisionSaysWhy checks that ask with the automatic precision says
// which precision it chose and why, on one line of stderr (the tiny Vicuna
// needs about 21 MiB: fp32 on the CPU of any machine that runs the tests),
// and that a named precision is not explained.
func TestAutoPrecisionSaysWhy(t *testing.T) {
	t.Setenv(history.EnvHome, t.TempDir())
	vicuna := filepath.Join(askFixtures, "models", "tiny-instructblip-vicuna")
	why := regexp.MustCompile(`(?m)^glimpse: precision fp32 \(auto\): needs [0-9.]+ MB, [0-9.]+ GB available in system memory$`)
	for _, tc := range []struct {
		precision string
		explained bool
	}{{"auto", true}, {"q8", false}} {
		code, answer, errs := runAskCmd("--model", vicuna, "--image", filepath.Join(askFixtures, "images", "shapes.png"),
			"--prompt", "What is in the picture?", "--backend", "cpu", "--precision", tc.precision, "--num-beams", "1", "--max-new-tokens", "2")
		if code != 0 || strings.TrimSpace(answer) == "" {
			t.Fatalf("ask --precision %s: exit %d, answer %q, stderr %q", tc.precision, code, answer, errs)
		}
		if got := why.MatchString(errs); got != tc.explained {
			t.Errorf("ask --precision %s: stderr %q; want the auto line: %v", tc.precision, errs, tc.explained)
		}
		if !tc.explained && strings.Contains(errs, "(auto)") {
			t.Errorf("ask --precision %s explains a choice it did not make: %q", tc.precision, errs)
		}
	}
}
