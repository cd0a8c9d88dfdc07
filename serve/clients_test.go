package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests in this file ask the tiny fixture models through the official
// OpenAI and Ollama JavaScript clients (npm's openai and ollama), the way
// other programs will. They need node and npm; without them, or without
// the npm registry, they fail and say what is missing: a skipped client
// test would let a broken API pass.
//
// The clients are installed once per test binary into a temporary folder
// (npm install --prefix DIR), or taken from GLIMPSE_TEST_NODE_MODULES, a
// folder whose node_modules already holds them (for machines that cache
// it or have no registry).

// clientPackages are the clients, with the major versions the tests were
// written against, so that a new major version cannot break CI silently.
var clientPackages = []string{"openai@^6", "ollama@^0.6"}

// clients is the folder the client driver runs in, set up once.
var clients struct {
	once sync.Once
	dir  string
	temp bool // made by the tests, removed by TestMain
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if clients.temp {
		os.RemoveAll(clients.dir)
	}
	os.Exit(code)
}

// clientsDir returns a folder holding node_modules with the clients and
// the driver script, installing the clients the first time.
func clientsDir(t *testing.T) string {
	t.Helper()
	clients.once.Do(func() { clients.dir, clients.err = setUpClients() })
	if clients.err != nil {
		t.Fatalf("the OpenAI and Ollama client tests cannot run: %v", clients.err)
	}
	return clients.dir
}

func setUpClients() (string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("node is not installed (install Node.js 18 or later with npm, e.g. apt-get install nodejs npm): %v", err)
	}
	driver, err := os.ReadFile(filepath.Join("testdata", "clients.mjs"))
	if err != nil {
		return "", err
	}
	dir := os.Getenv("GLIMPSE_TEST_NODE_MODULES")
	if dir != "" {
		for _, p := range []string{"openai", "ollama"} {
			if _, err := os.Stat(filepath.Join(dir, "node_modules", p, "package.json")); err != nil {
				return "", fmt.Errorf("GLIMPSE_TEST_NODE_MODULES=%s lacks node_modules/%s (npm install --prefix %s %s)", dir, p, dir, strings.Join(clientPackages, " "))
			}
		}
		// The driver goes beside node_modules, where Node looks for the
		// packages it imports.
		tmp, err := os.MkdirTemp("", "glimpse-clients-")
		if err != nil {
			return "", err
		}
		clients.temp = true
		if err := os.Symlink(filepath.Join(dir, "node_modules"), filepath.Join(tmp, "node_modules")); err != nil {
			return "", err
		}
		return tmp, os.WriteFile(filepath.Join(tmp, "clients.mjs"), driver, 0o644)
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "", fmt.Errorf("npm is not installed (install it with Node.js, e.g. apt-get install npm): %v", err)
	}
	tmp, err := os.MkdirTemp("", "glimpse-clients-")
	if err != nil {
		return "", err
	}
	clients.temp = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{"install", "--prefix", tmp, "--no-audit", "--no-fund", "--loglevel=error"}, clientPackages...)
	out, err := exec.CommandContext(ctx, "npm", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("npm %s failed (is the npm registry reachable?): %v\n%s", strings.Join(args, " "), err, out)
	}
	return tmp, os.WriteFile(filepath.Join(tmp, "clients.mjs"), driver, 0o644)
}

// clientCall is one call for the driver: op is chat, generate, models,
// tags or version; request is the client's argument.
type clientCall struct {
	Op             string         `json:"op"`
	Request        map[string]any `json:"request,omitempty"`
	AbortAfterText bool           `json:"abort_after_text,omitempty"`
}

// clientResult is what the driver reports for a call.
type clientResult struct {
	Text   string   `json:"text"`
	Pieces int      `json:"pieces"`
	Finish string   `json:"finish"`
	Model  string   `json:"model"`
	Models []string `json:"models"`
	// Version is /api/version's.
	Version string `json:"version"`
	Usage   *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error *struct {
		Name       string `json:"name"`
		Status     int    `json:"status"`
		Message    string `json:"message"`
		Type       string `json:"type"`
		Param      string `json:"param"`
		Code       string `json:"code"`
		RetryAfter string `json:"retry_after"`
	} `json:"error"`
	Aborted   bool    `json:"aborted"`
	AbortedAt float64 `json:"aborted_at"` // ms since the driver started
	Start     float64 `json:"start"`
	End       float64 `json:"end"`
}

// runClients runs calls through api's client ("openai" or "ollama")
// against s, one after another or all at once, and returns their results.
// The whole run is bounded: a hung call fails the test.
func runClients(t *testing.T, s *Server, api, key string, concurrent bool, calls []clientCall) []clientResult {
	t.Helper()
	dir := clientsDir(t)
	job, err := json.Marshal(map[string]any{"api": api, "base": s.URL(), "key": key, "concurrent": concurrent, "calls": calls})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "clients.mjs")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(job)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the %s client driver failed: %v\nstderr: %s\nstdout: %s", api, err, stderr.String(), stdout.String())
	}
	var res []clientResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || len(res) != len(calls) {
		t.Fatalf("the %s client driver wrote %d results for %d calls (%v): %s\nstderr: %s", api, len(res), len(calls), err, stdout.String(), stderr.String())
	}
	return res
}

// goldenRequest is the client request for golden case c under setting,
// in the API's own words: OpenAI's max_tokens and Glimpse's extra fields
// at the top level; Ollama's num_predict and repeat_penalty, and Glimpse's
// settings, in options. The model is named as each API's clients name it.
func goldenRequest(t *testing.T, api, op, model string, gc goldenCase, setting string, stream bool) map[string]any {
	t.Helper()
	settings, ok := goldenSettings[setting]
	if !ok {
		t.Fatalf("no request settings for golden setting %q", setting)
	}
	if api == "openai" {
		req := map[string]any{"model": model, "stream": stream, "messages": []any{map[string]any{"role": "user", "content": []any{
			map[string]any{"type": "text", "text": gc.Prompt},
			map[string]any{"type": "image_url", "image_url": map[string]any{"url": dataURL(t, gc.Image)}},
		}}}}
		if stream {
			req["stream_options"] = map[string]any{"include_usage": true}
		}
		for k, v := range settings {
			if k == "max_new_tokens" {
				k = "max_tokens"
			}
			req[k] = v
		}
		return req
	}
	opts := map[string]any{}
	for k, v := range settings {
		switch k {
		case "max_new_tokens":
			k = "num_predict"
		case "repetition_penalty":
			k = "repeat_penalty"
		}
		opts[k] = v
	}
	req := map[string]any{"model": model + ":latest", "stream": stream, "options": opts}
	if op == "chat" {
		req["messages"] = []any{map[string]any{"role": "user", "content": gc.Prompt, "images": []string{imageB64(t, gc.Image)}}}
	} else {
		req["prompt"], req["images"] = gc.Prompt, []string{imageB64(t, gc.Image)}
	}
	return req
}

// TestClientsGolden asks both fixture models through both clients (and
// both Ollama endpoints), streamed and not, with the settings of each
// golden case, and checks the answer is transformers' text exactly, with
// the token counts and finish reason transformers' sequence implies.
func TestClientsGolden(t *testing.T) {
	type check struct {
		c       int
		setting string
		stream  bool
	}
	var checks []check
	for _, stream := range []bool{false, true} {
		for _, setting := range []string{"greedy", "greedy_rep_penalty", "beam3_len_penalty", "beam5_seed_settings"} {
			checks = append(checks, check{0, setting, stream})
		}
		// Another image and prompt. (Case 1's beam search is where
		// transformers emits a token Glimpse never shows; see pipeline.)
		checks = append(checks, check{2, "greedy", stream})
	}
	for _, dir := range []string{tinyVicuna, tinyT5} {
		g := readGolden(t, dir)
		raw := readRawGolden(t, dir)
		name := filepath.Base(dir)
		s, _ := start(t, Options{Model: dir})
		for _, ep := range []struct{ api, op string }{{"openai", "chat"}, {"ollama", "chat"}, {"ollama", "generate"}} {
			t.Run(name+"/"+ep.api+"-"+ep.op, func(t *testing.T) {
				var calls []clientCall
				for _, ch := range checks {
					calls = append(calls, clientCall{Op: ep.op, Request: goldenRequest(t, ep.api, ep.op, name, g.Cases[ch.c], ch.setting, ch.stream)})
				}
				res := runClients(t, s, ep.api, "", false, calls)
				for i, ch := range checks {
					r := res[i]
					label := fmt.Sprintf("case %d %s stream=%v", ch.c, ch.setting, ch.stream)
					if r.Error != nil {
						t.Errorf("%s: %s %d: %s", label, r.Error.Name, r.Error.Status, r.Error.Message)
						continue
					}
					if want := g.answer(t, ch.c, ch.setting); r.Text != want {
						t.Errorf("%s: answer\n got %q\nwant %q (golden.json)", label, r.Text, want)
					}
					seq, prompt, finish := raw.expect(t, ch.c, ch.setting)
					if r.Usage == nil || r.Usage.CompletionTokens != seq || r.Usage.PromptTokens != prompt {
						t.Errorf("%s: usage %+v, want %d prompt and %d completion tokens", label, r.Usage, prompt, seq)
					}
					if r.Finish != finish {
						t.Errorf("%s: finish %q, want %q", label, r.Finish, finish)
					}
					wantModel := name
					if ep.api == "ollama" {
						wantModel += ":latest"
					}
					if r.Model != wantModel {
						t.Errorf("%s: model %q, want %q", label, r.Model, wantModel)
					}
					// Greedy search streams as it goes; beam search knows
					// its answer only at the end.
					if ch.stream && strings.HasPrefix(ch.setting, "greedy") && r.Pieces < 2 {
						t.Errorf("%s: the answer came in %d piece(s); greedy search should stream", label, r.Pieces)
					}
				}
			})
		}
	}
}

// rawGolden is golden.json's token-level data, for the counts an answer
// reports.
type rawGolden struct {
	kind  string
	eos   int32
	cases []struct {
		InputIDs []int32 `json:"input_ids"`
		Generate map[string]struct {
			Sequence []int32 `json:"sequence"`
		} `json:"generate"`
	}
}

func readRawGolden(t *testing.T, dir string) rawGolden {
	t.Helper()
	var g struct {
		Kind  string `json:"kind"`
		Cases []struct {
			InputIDs []int32 `json:"input_ids"`
			Generate map[string]struct {
				Sequence []int32 `json:"sequence"`
			} `json:"generate"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(dir, "golden.json")), &g); err != nil {
		t.Fatal(err)
	}
	var gen struct {
		EOS int32 `json:"eos_token_id"`
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(dir, "generation_config.json")), &gen); err != nil {
		t.Fatal(err)
	}
	r := rawGolden{kind: g.Kind, eos: gen.EOS}
	r.cases = g.Cases
	return r
}

// expect returns the new tokens, the prompt tokens (image tokens
// included) and the finish reason that transformers' sequence implies: its
// length past the prefix (the prompt for Vicuna, the start token for T5),
// the processor's input_ids, and whether it ends with EOS.
func (g rawGolden) expect(t *testing.T, c int, setting string) (newTokens, promptTokens int, finish string) {
	t.Helper()
	seq := g.cases[c].Generate[setting].Sequence
	prompt := len(g.cases[c].InputIDs)
	prefix := 1
	if g.kind == "llama" {
		prefix = prompt
	}
	finish = "length"
	if seq[len(seq)-1] == g.eos {
		finish = "stop"
	}
	return len(seq) - prefix, prompt, finish
}

// TestClientsListing checks the model listings and the version through the
// clients.
func TestClientsListing(t *testing.T) {
	s, _ := start(t, Options{Model: tinyT5})
	res := runClients(t, s, "openai", "", false, []clientCall{{Op: "models"}})
	if r := res[0]; r.Error != nil || len(r.Models) != 1 || r.Models[0] != "tiny-instructblip-flan-t5" {
		t.Errorf("OpenAI models.list: %+v, want [tiny-instructblip-flan-t5]", r)
	}
	res = runClients(t, s, "ollama", "", false, []clientCall{{Op: "tags"}, {Op: "version"}})
	if r := res[0]; r.Error != nil || len(r.Models) != 1 || r.Models[0] != "tiny-instructblip-flan-t5:latest" {
		t.Errorf("Ollama list: %+v, want [tiny-instructblip-flan-t5:latest]", r)
	}
	if r := res[1]; r.Error != nil || r.Version != "0.0.0-test" {
		t.Errorf("Ollama version: %+v, want the server's version", r)
	}
}

// TestClientsCancel aborts a long streamed answer after its first text,
// with each client's own abort, and checks that the generation stopped at
// once: the server's log says it stopped early, and the next question
// waits far less than the rest of the long answer would have taken.
func TestClientsCancel(t *testing.T) {
	g := readGolden(t, tinyVicuna)
	gc := g.Cases[0]
	want := g.answer(t, 0, "greedy")
	// 480 new tokens, no early end: about half a second on a fast CPU.
	long := map[string]any{"num_beams": 1, "repetition_penalty": 1, "max_new_tokens": 480, "min_new_tokens": 480}

	s, l := start(t, Options{Model: tinyVicuna})
	// How long the long answer takes when nobody stops it.
	r := do(t, "POST", s.URL()+"/v1/chat/completions", openAIChat(gc.Prompt, dataURL(t, gc.Image), long), nil)
	if r.status != 200 {
		t.Fatalf("the long answer: %d %s", r.status, r.body)
	}
	full := lastDuration(t, l, "answered", "ran")
	t.Logf("the long answer takes %v", full)

	for _, api := range []string{"openai", "ollama"} {
		t.Run(api, func(t *testing.T) {
			before := len(l.find("client left; generation stopped"))
			longReq := goldenRequest(t, api, "chat", "tiny-instructblip-vicuna", gc, "greedy", true)
			shortReq := goldenRequest(t, api, "chat", "tiny-instructblip-vicuna", gc, "greedy", false)
			for k, v := range long {
				if api == "ollama" {
					longReq["options"].(map[string]any)[k] = v
				} else {
					longReq[k] = v
				}
			}
			if api == "ollama" {
				delete(longReq["options"].(map[string]any), "num_predict")
			} else {
				delete(longReq, "max_tokens")
			}
			res := runClients(t, s, api, "", false, []clientCall{
				{Op: "chat", Request: longReq, AbortAfterText: true},
				{Op: "chat", Request: shortReq},
			})
			if res[0].Error != nil || res[0].AbortedAt == 0 || res[0].Text == "" {
				t.Fatalf("the long answer was not aborted after its first text: %+v", res[0])
			}
			if res[1].Error != nil || res[1].Text != want {
				t.Fatalf("the question after the abort: %+v, want the golden greedy answer %q", res[1], want)
			}
			stopped := waitLog(t, l, "client left; generation stopped", before+1)
			if n := stopped[len(stopped)-1]["new_tokens"].(int64); n >= 480 {
				t.Errorf("the aborted generation ran to its end (%d tokens)", n)
			}
			waited := lastDuration(t, l, "answered", "waited")
			if waited > full/2 {
				t.Errorf("the question after the abort waited %v for the engine; the whole long answer takes %v", waited, full)
			}
			t.Logf("after the abort at %.0f ms the next question waited %v and was answered at %.0f ms", res[0].AbortedAt, waited, res[1].End)
		})
	}
}

// lastDuration returns attribute key of the last log record msg.
func lastDuration(t *testing.T, l *logs, msg, key string) time.Duration {
	t.Helper()
	recs := l.find(msg)
	if len(recs) == 0 {
		t.Fatalf("no %q in the server's log", msg)
	}
	d, ok := recs[len(recs)-1][key].(time.Duration)
	if !ok {
		t.Fatalf("%q has no duration %q: %v", msg, key, recs[len(recs)-1])
	}
	return d
}

// waitLog waits (boundedly) until the log holds n records msg: the server
// notices a disconnect on its own goroutine.
func waitLog(t *testing.T, l *logs, msg string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := l.find(msg)
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %q in the server's log after 10 s, want %d", len(recs), msg, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClientsLoad sends 20 questions at once through the OpenAI client to
// a server whose queue holds 4: each gets the golden answer or a 429 with
// Retry-After, all within the driver's deadline, and the server answers
// normally afterwards.
func TestClientsLoad(t *testing.T) {
	g := readGolden(t, tinyVicuna)
	s, _ := start(t, Options{Model: tinyVicuna, Queue: 4})
	req := goldenRequest(t, "openai", "chat", "tiny-instructblip-vicuna", g.Cases[0], "beam5_seed_settings", false)
	want := g.answer(t, 0, "beam5_seed_settings")
	calls := make([]clientCall, 20)
	for i := range calls {
		calls[i] = clientCall{Op: "chat", Request: req}
	}
	start := time.Now()
	res := runClients(t, s, "openai", "", true, calls)
	answered, refused := 0, 0
	for i, r := range res {
		switch {
		case r.Error == nil && r.Text == want:
			answered++
		case r.Error != nil && r.Error.Status == 429 && r.Error.RetryAfter != "" && r.Error.RetryAfter != "0" && r.Error.Code == "queue_full":
			refused++
		default:
			t.Errorf("call %d: %+v, want the golden answer or a 429 with Retry-After", i, r)
		}
	}
	t.Logf("%d answered, %d refused with 429, in %v", answered, refused, time.Since(start))
	if answered == 0 || refused == 0 || answered > 1+4+(20-5) {
		t.Errorf("%d answered and %d refused; with 20 at once and room for 5, want both", answered, refused)
	}
	if n := len(s.eng.slots); n != 0 {
		t.Errorf("%d queue slots still taken after every call ended", n)
	}
	res = runClients(t, s, "openai", "", false, []clientCall{{Op: "chat", Request: req}})
	if res[0].Error != nil || res[0].Text != want {
		t.Errorf("after the load: %+v", res[0])
	}
}

// TestClientsErrors checks that the clients see the server's errors as
// their own error types, with the status and message.
func TestClientsErrors(t *testing.T) {
	g := readGolden(t, tinyVicuna)
	gc := g.Cases[0]
	s, _ := start(t, Options{Model: tinyVicuna, APIKey: "right-key"})
	ok := goldenRequest(t, "openai", "chat", "tiny-instructblip-vicuna", gc, "greedy", false)
	noImage := map[string]any{"model": "tiny-instructblip-vicuna", "messages": []any{map[string]any{"role": "user", "content": "What is it?"}}}
	otherModel := goldenRequest(t, "openai", "chat", "instructblip-vicuna-13b", gc, "greedy", false)
	tests := []struct {
		name, api, key string
		call           clientCall
		status         int
		want           string // in the message
	}{
		{"openai wrong key", "openai", "wrong-key", clientCall{Op: "chat", Request: ok}, 401, "API key"},
		{"ollama wrong key", "ollama", "wrong-key", clientCall{Op: "chat", Request: goldenRequest(t, "ollama", "chat", "tiny-instructblip-vicuna", gc, "greedy", false)}, 401, "API key"},
		{"openai no image", "openai", "right-key", clientCall{Op: "chat", Request: noImage}, 400, "no image"},
		{"openai other model", "openai", "right-key", clientCall{Op: "chat", Request: otherModel}, 404, "--allow-model-switch"},
		{"ollama other model", "ollama", "right-key", clientCall{Op: "generate", Request: goldenRequest(t, "ollama", "generate", "instructblip-flan-t5-xl", gc, "greedy", true)}, 404, "--allow-model-switch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runClients(t, s, tt.api, tt.key, false, []clientCall{tt.call})[0]
			if r.Error == nil || r.Error.Status != tt.status || !strings.Contains(r.Error.Message, tt.want) {
				t.Errorf("got %+v, want a %d error mentioning %q", r, tt.status, tt.want)
			}
		})
	}
	// And the right key is answered.
	if r := runClients(t, s, "openai", "right-key", false, []clientCall{{Op: "chat", Request: ok}})[0]; r.Error != nil || r.Text != g.answer(t, 0, "greedy") {
		t.Errorf("with the right key: %+v", r)
	}
}
