package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRefuses checks the mistakes `glimpse serve` refuses before it
// serves anything: each ends the command at once with what to do.
func TestServeRefuses(t *testing.T) {
	vicuna := filepath.Join(askFixtures, "models", "tiny-instructblip-vicuna")
	t.Setenv("GLIMPSE_API_KEY", "")
	tests := []struct {
		name string
		args []string
		code int
		want string // in standard error
	}{
		{"no model", []string{"--addr", "127.0.0.1:0"}, 2, "--model is required"},
		{"a stray argument", []string{"--model", vicuna, "photo.jpg"}, 2, `unexpected argument "photo.jpg"`},
		{"every interface without a key", []string{"--model", vicuna, "--addr", "0.0.0.0:0"}, 1, "set an API key"},
		{"a bad address", []string{"--model", vicuna, "--addr", "11435"}, 1, "use HOST:PORT"},
		{"a missing model", []string{"--model", filepath.Join(t.TempDir(), "none"), "--addr", "127.0.0.1:0", "--backend", "cpu"}, 1, "neither a folder nor an installed model"},
		{"a missing allowed folder", []string{"--model", vicuna, "--addr", "127.0.0.1:0", "--allow-files", filepath.Join(t.TempDir(), "none")}, 1, "allowed folder"},
		{"a bad CORS origin", []string{"--model", vicuna, "--addr", "127.0.0.1:0", "--cors", "example.org"}, 1, "must be * or start with http"},
		{"a negative queue", []string{"--model", vicuna, "--queue", "-1"}, 2, "--queue must be at least 0"},
		{"no room for images", []string{"--model", vicuna, "--max-image-mb", "0"}, 2, "--max-image-mb must be at least 1"},
		{"a bad backend", []string{"--model", vicuna, "--addr", "127.0.0.1:0", "--backend", "tpu"}, 1, `backend "tpu"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"serve"}, tt.args...), &out, &errb)
			if code != tt.code || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errb.String(), tt.code, tt.want)
			}
		})
	}
}
