package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"glimpse/history"
)

// errDiskFull is what fullWriter's writes fail with.
var errDiskFull = errors.New("no space left on device")

// fullWriter takes room bytes, then fails every write as a full disk does.
type fullWriter struct {
	room    int
	written bytes.Buffer
}

func (w *fullWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.room)
	w.written.Write(p[:n])
	w.room -= n
	if n < len(p) {
		return n, errDiskFull
	}
	return n, nil
}

// stdoutCommands are command lines that write to standard output. It
// seeds GLIMPSE_HOME with conversations and points the model cache at an
// empty folder, for the history and models commands.
func stdoutCommands(t *testing.T) [][]string {
	t.Helper()
	_, zebra, _ := historySeed(t)
	z := strconv.FormatInt(zebra, 10)
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	t.Setenv("HF_HUB_OFFLINE", "1")
	vicuna := filepath.Join(askFixtures, "models", "tiny-instructblip-vicuna")
	img := filepath.Join(askFixtures, "images", "shapes.png")
	ask := []string{"ask", "--model", vicuna, "--image", img, "--prompt", "What is unusual about this image?", "--backend", "cpu", "--max-new-tokens", "8"}
	return [][]string{
		{"--version"},
		{"help"},
		append(ask, "--num-beams", "1"), // streams the answer
		append(ask, "--num-beams", "2"), // writes it when complete
		append(ask, "--num-beams", "1", "--json"),
		{"caption", "--model", vicuna, "--backend", "cpu", "--max-new-tokens", "4", "--num-beams", "1", img},
		{"caption", "--model", vicuna, "--backend", "cpu", "--max-new-tokens", "4", "--num-beams", "1", "--csv", img},
		{"history", "list"},
		{"history", "list", "--json"},
		{"history", "search", "zebra"},
		{"history", "search", "--json", "zebra"},
		{"history", "show", z},
		{"history", "export", z, "--format", "json"},
		{"history", "export", z, "--format", "html", "--out", "-"},
		{"models", "list"},
		{"models", "list", "--json"},
		{"tokenize", "--tokenizer", filepath.Join(tokenizeFixtures, "llama-legacy")},
		{"preprocess", "--model", vicuna, "--image", img, "--out", "-"},
	}
}

// TestStdoutFull: a command whose standard output cannot be written (a
// full disk, at once or after a few bytes) exits with code 1 and one line
// that says so, never with code 0 or a "stopped".
func TestStdoutFull(t *testing.T) {
	commands := stdoutCommands(t)
	for _, room := range []int{0, 8} {
		for _, args := range commands {
			t.Run(strconv.Itoa(room)+"/"+strings.Join(args, " "), func(t *testing.T) {
				out := &fullWriter{room: room}
				var errb bytes.Buffer
				stdin := strings.NewReader(strings.Repeat(`"a line to tokenize, long enough to fill the room"`+"\n", 200))
				code := Main(args, Env{Version: "1.2.3", Stdin: stdin, Stdout: out, Stderr: &errb})
				want := "glimpse: cannot write to standard output: " + errDiskFull.Error()
				if got := errorLines(errb.String()); code != 1 || len(got) != 1 || got[0] != want {
					t.Errorf("exit %d, stderr %q; want exit 1 and the one line %q", code, errb.String(), want)
				}
			})
		}
	}
}

// TestStdoutCommandsWrite checks that the commands of TestStdoutFull do
// write to standard output when it has room, so that the test above
// exercises their writes and not some earlier failure.
func TestStdoutCommandsWrite(t *testing.T) {
	for _, args := range stdoutCommands(t) {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			stdin := strings.NewReader(`"hello"` + "\n")
			code := Main(args, Env{Version: "1.2.3", Stdin: stdin, Stdout: &out, Stderr: &errb})
			if code != 0 || out.Len() <= 8 {
				t.Errorf("exit %d, %d bytes on standard output; want exit 0 and more than 8 bytes\nstderr: %s", code, out.Len(), errb.String())
			}
		})
	}
}

// TestExportFailureCleansUp makes `history export --format md` fail after
// it wrote the first of two images (the second's stored file is gone):
// exit 1 with one line, and neither the page nor the images folder is left.
func TestExportFailureCleansUp(t *testing.T) {
	home := t.TempDir()
	t.Setenv(history.EnvHome, home)
	s, err := history.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	var images []history.Image
	for _, name := range []string{"shapes.png", "noise.jpg"} {
		b, err := os.ReadFile(filepath.Join(askFixtures, "images", name))
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, history.Image{Name: name, Data: b})
	}
	c, err := s.SaveExchange(context.Background(), history.Exchange{Prompt: "Which is brighter?", Images: images, Answer: "The first."})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(c.Messages[0].Attachments[1].Path); err != nil {
		t.Fatal(err)
	}
	s.Close()
	dir := t.TempDir()
	code, stdout, stderr := historyRun("history", "export", strconv.FormatInt(c.ID, 10), "--out", filepath.Join(dir, "chat.md"))
	if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "missing from the data folder") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and one line saying an image is missing", code, stdout, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the failed export left %v", entries)
	}
}
