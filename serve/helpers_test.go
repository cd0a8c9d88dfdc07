package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"glimpse/app"
)

// fixtures is the shared ground truth, seen from serve/.
const fixtures = "../../shared/fixtures"

var (
	tinyVicuna = filepath.Join(fixtures, "models", "tiny-instructblip-vicuna")
	tinyT5     = filepath.Join(fixtures, "models", "tiny-instructblip-flan-t5")
)

// goldenCase is one (image, prompt) case of a fixture model's golden.json,
// with transformers' answers for each setting.
type goldenCase struct {
	Image    string `json:"image"`
	Prompt   string `json:"prompt"`
	Generate map[string]struct {
		Kwargs map[string]any `json:"kwargs"`
		Text   string         `json:"text"`
	} `json:"generate"`
}

type golden struct {
	Kind  string       `json:"kind"`
	Cases []goldenCase `json:"cases"`
}

func readGolden(t *testing.T, modelDir string) golden {
	t.Helper()
	var g golden
	if err := json.Unmarshal(mustRead(t, filepath.Join(modelDir, "golden.json")), &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// answer is what the model must answer in a golden case: golden.json's
// text is transformers' decoded output, which for the decoder-only Vicuna
// starts with the prompt; the answer is exactly the rest.
func (g golden) answer(t *testing.T, c int, setting string) string {
	t.Helper()
	gc := g.Cases[c]
	gen, ok := gc.Generate[setting]
	if !ok {
		t.Fatalf("golden case %d has no %q", c, setting)
	}
	if g.Kind != "llama" {
		return gen.Text
	}
	if !strings.HasPrefix(gen.Text, gc.Prompt) {
		t.Fatalf("golden %s text %q does not start with the prompt %q", setting, gen.Text, gc.Prompt)
	}
	return gen.Text[len(gc.Prompt):]
}

// goldenSettings are request fields that make the server's settings those
// of a golden case, starting from the seed settings the server defaults
// to (5 beams, max_length 256, repetition_penalty 1.5, length_penalty 1,
// min_length 1): each case names what differs from them. min_length 1
// never binds (every prefix is longer), and top_p does nothing without
// sampling.
var goldenSettings = map[string]map[string]any{
	"greedy":             {"num_beams": 1, "max_new_tokens": 24, "repetition_penalty": 1},
	"greedy_rep_penalty": {"num_beams": 1, "max_new_tokens": 24},
	"beam3_len_penalty":  {"num_beams": 3, "max_new_tokens": 16, "length_penalty": 2, "no_repeat_ngram_size": 2, "repetition_penalty": 1},
	// Only the length differs from the seed: this checks the defaults.
	"beam5_seed_settings": {"max_length": 48},
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// imageB64 is a fixture image in base64.
func imageB64(t *testing.T, name string) string {
	t.Helper()
	return base64.StdEncoding.EncodeToString(mustRead(t, filepath.Join(fixtures, "images", name)))
}

// dataURL is a fixture image as a data: URL.
func dataURL(t *testing.T, name string) string {
	t.Helper()
	mime := "image/png"
	if strings.HasSuffix(name, ".jpg") {
		mime = "image/jpeg"
	}
	return "data:" + mime + ";base64," + imageB64(t, name)
}

// logs collects the server's log records, for tests that check what the
// server did (a generation stopped, how long a request waited).
type logs struct {
	mu   sync.Mutex
	recs []map[string]any
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) WithAttrs(as []slog.Attr) slog.Handler {
	return &logsWith{l: l, attrs: as}
}
func (l *logs) WithGroup(string) slog.Handler                 { return l }
func (l *logs) Handle(_ context.Context, r slog.Record) error { return l.add(r, nil) }

func (l *logs) add(r slog.Record, pre []slog.Attr) error {
	m := map[string]any{"msg": r.Message}
	for _, a := range pre {
		m[a.Key] = a.Value.Any()
	}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
	l.mu.Lock()
	l.recs = append(l.recs, m)
	l.mu.Unlock()
	return nil
}

// find returns the records with message msg.
func (l *logs) find(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, r := range l.recs {
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

type logsWith struct {
	l     *logs
	attrs []slog.Attr
}

func (h *logsWith) Enabled(context.Context, slog.Level) bool { return true }
func (h *logsWith) WithAttrs(as []slog.Attr) slog.Handler {
	return &logsWith{l: h.l, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}
func (h *logsWith) WithGroup(string) slog.Handler { return h }
func (h *logsWith) Handle(_ context.Context, r slog.Record) error {
	return h.l.add(r, h.attrs)
}

// start runs a server on the CPU with opt on a free loopback port, its
// model loaded, and stops it when the test ends. It returns the server
// and its log.
func start(t *testing.T, opt Options) (*Server, *logs) {
	t.Helper()
	l := &logs{}
	opt.Log = slog.New(l)
	opt.Open = openCPU
	if opt.Version == "" {
		opt.Version = "0.0.0-test"
	}
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Model != "" {
		if _, err := s.Load(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, l
}

// openCPU runs the fixture models on the CPU engine, which every machine
// has.
var openCPU = app.OpenOptions{Backend: "cpu"}

// httpClient bounds every hand-made request, so that no test can hang.
var httpClient = &http.Client{Timeout: 60 * time.Second}

// response is a hand-made request's outcome.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with a JSON body (or raw bytes) and reads the whole
// response.
func do(t *testing.T, method, url string, body any, header map[string]string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the response: %v", method, url, err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// openAIChat is a chat completion request about image (a data: URL or a
// file:// URL) with extra fields.
func openAIChat(prompt, image string, extra map[string]any) map[string]any {
	req := map[string]any{"model": "tiny-instructblip-vicuna", "messages": []any{map[string]any{"role": "user",
		"content": []any{
			map[string]any{"type": "text", "text": prompt},
			map[string]any{"type": "image_url", "image_url": map[string]any{"url": image}},
		}}}}
	for k, v := range extra {
		req[k] = v
	}
	return req
}

// openAIErr decodes OpenAI's error format, failing the test when the body
// is not in it.
func openAIErr(t *testing.T, r response) (msg, typ, param, code string) {
	t.Helper()
	var body struct {
		Error *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error == nil || body.Error.Message == "" || body.Error.Type == "" {
		t.Fatalf("not an OpenAI error (%v): %s", err, r.body)
	}
	e := body.Error
	if e.Param != nil {
		param = *e.Param
	}
	if e.Code != nil {
		code = *e.Code
	}
	return e.Message, e.Type, param, code
}

// ollamaErr decodes Ollama's error format.
func ollamaErr(t *testing.T, r response) string {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("not JSON (%v): %s", err, r.body)
	}
	msg, ok := body["error"].(string)
	if !ok || msg == "" || len(body) != 1 {
		t.Fatalf(`not an Ollama error {"error": "…"}: %s`, r.body)
	}
	return msg
}
