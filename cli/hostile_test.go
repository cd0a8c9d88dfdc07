package cli

import (
	"bytes"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestHostileNumbers gives `glimpse ask` lengths far past any model's
// context and settings that are not numbers, on the tiny fixture model: each
// ends with exit code 1 and one line that says what is wrong, with no stack
// trace and without allocating for the length asked.
func TestHostileNumbers(t *testing.T) {
	vicuna := filepath.Join(askFixtures, "models", "tiny-instructblip-vicuna")
	c := loadAskGolden(t, "tiny-instructblip-vicuna").Cases[0]
	base := []string{"ask", "--model", vicuna, "--image", filepath.Join(askFixtures, "images", c.Image),
		"--prompt", c.Prompt, "--backend", "cpu"}
	// The fixture's config.json gives the model 512 positions
	// (max_position_embeddings); the prompt takes len(InputIDs) of them.
	const positions = 512
	tooMany := func(n string) string {
		return fmt.Sprintf("glimpse: invalid generation settings: max_new_tokens %s does not fit: "+
			"the model holds %d positions, so at most %d new tokens follow this %d-token prompt",
			n, positions, positions-len(c.InputIDs), len(c.InputIDs))
	}
	tests := []struct {
		flags []string
		want  string // the error line, exactly
	}{
		{[]string{"--max-new-tokens", "1000000000"}, tooMany("1000000000")},
		{[]string{"--max-new-tokens", "9223372036854775807"}, tooMany("9223372036854775807")},
		{[]string{"--num-beams", "1", "--max-new-tokens", "9223372036854775807"}, tooMany("9223372036854775807")},
		{[]string{"--max-new-tokens", "0", "--max-length", "1000000000"}, "glimpse: invalid generation settings: max_length 1000000000 does not fit: the model holds 512 positions"},
		{[]string{"--do-sample", "--temperature", "Inf"}, "glimpse ask: --temperature must be a finite number, got +Inf"},
		{[]string{"--length-penalty", "NaN"}, "glimpse ask: --length-penalty must be a finite number, got NaN"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.flags, " "), func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var out, errb bytes.Buffer
			code := run(append(append([]string{}, base...), tc.flags...), &out, &errb)
			runtime.ReadMemStats(&after)
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstderr: %s", code, errb.String())
			}
			if got := errorLines(errb.String()); len(got) != 1 || got[0] != tc.want {
				t.Errorf("stderr %q: want the one error line %q", errb.String(), tc.want)
			}
			if out.Len() > 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
			// The tiny model and its inputs take a few MiB; a cache sized
			// for the length asked would take gigabytes.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
				t.Errorf("the refused request allocated %d MiB", grew>>20)
			}
		})
	}
}

// errorLines is standard error without the progress line a non-terminal
// gets while a model loads, and the line saying which precision auto chose:
// what a command said went wrong, or warned.
func errorLines(stderr string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if !strings.HasPrefix(l, "glimpse: loading ") && !strings.HasPrefix(l, "glimpse: precision ") && l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
