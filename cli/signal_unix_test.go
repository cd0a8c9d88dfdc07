//go:build unix

package cli

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSignalStops sends SIGINT or SIGTERM to a real `glimpse ask` while it
// loads a real-width model and while it generates: it must end within 2 s
// with exit code 130 and one line saying it stopped, having printed no
// stack trace and, when stopped while loading, no answer.
func TestSignalStops(t *testing.T) {
	model := syntheticModel(t)
	base := []string{"ask", "--model", model, "--image", filepath.Join(askFixtures, "images", "shapes.png"),
		"--prompt", "Describe the image in detail.", "--backend", "cpu"}
	// Greedy search streams the answer, so its first text shows that
	// generation has begun; min_length keeps a random-weight model from
	// ending it early.
	generating := append(append([]string{}, base...), "--num-beams", "1", "--max-new-tokens", "500", "--min-length", "500")
	loading := func(_, stderr string) bool { return strings.Contains(stderr, "glimpse: loading ") }
	answering := func(stdout, _ string) bool { return strings.TrimSpace(stdout) != "" }
	tests := []struct {
		name   string
		args   []string
		sig    syscall.Signal
		stage  string
		reach  func(stdout, stderr string) bool
		answer bool // some answer was printed before the signal
	}{
		{"SIGINT while loading", base, syscall.SIGINT, "the model loading", loading, false},
		{"SIGTERM while loading", base, syscall.SIGTERM, "the model loading", loading, false},
		{"SIGINT while generating", generating, syscall.SIGINT, "the answer's first text", answering, true},
		{"SIGTERM while generating", generating, syscall.SIGTERM, "the answer's first text", answering, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := startChild(t, tc.args...)
			c.waitFor(t, tc.stage, 2*time.Minute, tc.reach)
			sent := time.Now()
			if err := c.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			code := c.wait(t, 2*time.Second)
			took := time.Since(sent)
			stdout, stderr := c.output()
			t.Logf("ended %v after the signal", took.Round(time.Millisecond))
			if code != 130 {
				t.Errorf("exit %d, want 130\nstderr: %s", code, stderr)
			}
			if got := errorLines(stderr); len(got) != 1 || got[0] != "glimpse: stopped" {
				t.Errorf("stderr %q: want the one line \"glimpse: stopped\"", stderr)
			}
			if !tc.answer && stdout != "" {
				t.Errorf("stopped while loading, it printed %q", stdout)
			}
		})
	}
}
