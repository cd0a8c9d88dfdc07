//go:build unix

package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer a command can write while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServe runs `glimpse serve` on the tiny Vicuna, asks it a question
// that names no generation settings, and requires the answer `glimpse ask`
// gives with its defaults; then Ctrl+C (SIGINT, hence unix only) stops
// it. The server itself is tested in package serve.
func TestServe(t *testing.T) {
	vicuna := filepath.Join(askFixtures, "models", "tiny-instructblip-vicuna")
	image := filepath.Join(askFixtures, "images", "shapes.png")
	const prompt = "What is unusual about this image?"
	code, out, errs := runAskCmd("--model", vicuna, "--image", image, "--prompt", prompt, "--backend", "cpu")
	if code != 0 {
		t.Fatalf("glimpse ask: exit %d: %s", code, errs)
	}
	want := strings.TrimSuffix(out, "\n")

	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"serve", "--model", vicuna, "--addr", "127.0.0.1:0", "--backend", "cpu"},
			Env{Version: "1.2.3", Stdout: &stdout, Stderr: &stderr})
	}()
	urlRe := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	var url string
	for deadline := time.Now().Add(60 * time.Second); url == ""; {
		select {
		case code := <-done:
			t.Fatalf("glimpse serve ended with %d: %s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		url = urlRe.FindString(stdout.String())
		if time.Now().After(deadline) {
			t.Fatalf("glimpse serve did not say where it serves within 60 s: %q %q", stdout.String(), stderr.String())
		}
	}
	stopped := false
	defer func() {
		if !stopped {
			syscall.Kill(syscall.Getpid(), syscall.SIGINT)
			<-done
		}
	}()

	img, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"model": "tiny-instructblip-vicuna", "messages": []any{map[string]any{"role": "user", "content": []any{
		map[string]any{"type": "text", "text": prompt},
		map[string]any{"type": "image_url", "image_url": map[string]any{"url": "data:image/png;base64," + base64.StdEncoding.EncodeToString(img)}},
	}}}})
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Post(url+"/v1/chat/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var c struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(b, &c); err != nil || len(c.Choices) != 1 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if got := c.Choices[0].Message.Content; got != want {
		t.Errorf("served answer %q, want glimpse ask's %q", got, want)
	}

	syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	stopped = true
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(stderr.String(), "stopping the server") {
			t.Errorf("after Ctrl+C: exit %d, stderr %q", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("glimpse serve did not stop within 30 s of Ctrl+C")
	}
	if _, err := client.Get(url + "/api/version"); err == nil {
		t.Error("the server still answers after it stopped")
	}
}
