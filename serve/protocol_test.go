package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"glimpse/history"
)

// sseEvents splits a server-sent-events body into its data payloads.
func sseEvents(t *testing.T, body []byte) []string {
	t.Helper()
	var events []string
	for _, block := range strings.Split(string(body), "\n\n") {
		for _, line := range strings.Split(block, "\n") {
			if rest, ok := strings.CutPrefix(line, "data: "); ok {
				events = append(events, rest)
			} else if line != "" && !strings.HasPrefix(line, ":") {
				t.Errorf("not an SSE line: %q", line)
			}
		}
	}
	return events
}

// streamed is an answer read from a raw stream of either API.
type streamed struct {
	text, finish string
	pieces       int
	usage        map[string]int
	done         bool // OpenAI's [DONE] or Ollama's done
}

// readOpenAIStream reads a raw chat completion stream.
func readOpenAIStream(t *testing.T, r response) streamed {
	t.Helper()
	if r.status != 200 || r.header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var s streamed
	events := sseEvents(t, r.body)
	for i, ev := range events {
		if ev == "[DONE]" {
			if i != len(events)-1 {
				t.Errorf("[DONE] is not the last event")
			}
			s.done = true
			continue
		}
		var c struct {
			Object  string `json:"object"`
			Choices []struct {
				Delta struct {
					Role    string  `json:"role"`
					Content *string `json:"content"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage map[string]int `json:"usage"`
		}
		if err := json.Unmarshal([]byte(ev), &c); err != nil || c.Object != "chat.completion.chunk" {
			t.Fatalf("event %d is not a chunk (%v): %s", i, err, ev)
		}
		if i == 0 && (len(c.Choices) != 1 || c.Choices[0].Delta.Role != "assistant") {
			t.Errorf("the first chunk does not say the assistant speaks: %s", ev)
		}
		if c.Usage != nil {
			s.usage = c.Usage
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil && *ch.Delta.Content != "" {
				s.text += *ch.Delta.Content
				s.pieces++
			}
			if ch.FinishReason != nil {
				s.finish = *ch.FinishReason
			}
		}
	}
	return s
}

// readOllamaStream reads a raw NDJSON stream of /api/chat or /api/generate.
func readOllamaStream(t *testing.T, r response) streamed {
	t.Helper()
	if r.status != 200 || r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("status %d, Content-Type %q: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var s streamed
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	for sc.Scan() {
		var m struct {
			Message *struct {
				Content string `json:"content"`
			} `json:"message"`
			Response   *string `json:"response"`
			Done       bool    `json:"done"`
			DoneReason string  `json:"done_reason"`
			EvalCount  int     `json:"eval_count"`
			Error      string  `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil || m.Error != "" {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if s.done {
			t.Errorf("a line after done: %s", sc.Text())
		}
		piece := ""
		if m.Message != nil {
			piece = m.Message.Content
		} else if m.Response != nil {
			piece = *m.Response
		}
		if piece != "" {
			s.text += piece
			s.pieces++
		}
		if m.Done {
			s.done, s.finish = true, m.DoneReason
			s.usage = map[string]int{"completion_tokens": m.EvalCount}
		}
	}
	return s
}

// ask sends a question through one of the four ways (OpenAI or Ollama
// chat, each streamed or not) with settings in the API's place, and
// returns the answer and its finish reason.
func ask(t *testing.T, s *Server, way, model string, messages []map[string]any, settings map[string]any) (text, finish string) {
	t.Helper()
	stream := strings.HasSuffix(way, "-stream")
	if strings.HasPrefix(way, "openai") {
		var msgs []any
		for _, m := range messages {
			content := []any{map[string]any{"type": "text", "text": m["text"]}}
			if img, ok := m["image"].(string); ok {
				content = append(content, map[string]any{"type": "image_url", "image_url": map[string]any{"url": dataURL(t, img)}})
			}
			msgs = append(msgs, map[string]any{"role": m["role"], "content": content})
		}
		req := map[string]any{"model": model, "messages": msgs, "stream": stream}
		for k, v := range settings {
			req[k] = v
		}
		r := do(t, "POST", s.URL()+"/v1/chat/completions", req, nil)
		if !stream {
			var c struct {
				Choices []struct {
					Message      struct{ Content string } `json:"message"`
					FinishReason string                   `json:"finish_reason"`
				} `json:"choices"`
			}
			if r.status != 200 || json.Unmarshal(r.body, &c) != nil || len(c.Choices) != 1 {
				t.Fatalf("%s: %d %s", way, r.status, r.body)
			}
			return c.Choices[0].Message.Content, c.Choices[0].FinishReason
		}
		st := readOpenAIStream(t, r)
		if !st.done {
			t.Errorf("%s: no [DONE]", way)
		}
		return st.text, st.finish
	}
	var msgs []any
	for _, m := range messages {
		om := map[string]any{"role": m["role"], "content": m["text"]}
		if img, ok := m["image"].(string); ok {
			om["images"] = []string{imageB64(t, img)}
		}
		msgs = append(msgs, om)
	}
	r := do(t, "POST", s.URL()+"/api/chat", map[string]any{"model": model, "messages": msgs, "stream": stream, "options": settings}, nil)
	if !stream {
		var m struct {
			Message    struct{ Content string } `json:"message"`
			Done       bool                     `json:"done"`
			DoneReason string                   `json:"done_reason"`
		}
		if r.status != 200 || json.Unmarshal(r.body, &m) != nil || !m.Done {
			t.Fatalf("%s: %d %s", way, r.status, r.body)
		}
		return m.Message.Content, m.DoneReason
	}
	st := readOllamaStream(t, r)
	if !st.done {
		t.Errorf("%s: no done line", way)
	}
	return st.text, st.finish
}

var ways = []string{"openai", "openai-stream", "ollama", "ollama-stream"}

// greedySettings are golden.json's greedy settings as request fields.
var greedySettings = map[string]any{"num_beams": 1, "max_new_tokens": 24, "repetition_penalty": 1}

// TestFollowUp asks follow-up questions in a conversation: they are about
// the last image the user sent, as in the app.
func TestFollowUp(t *testing.T) {
	g := readGolden(t, tinyVicuna)
	s, _ := start(t, Options{Model: tinyVicuna})
	c0, c2 := g.Cases[0], g.Cases[2]
	tests := []struct {
		name     string
		messages []map[string]any
		want     string
	}{
		{"follow-up about the first image", []map[string]any{
			{"role": "user", "text": "Look at this.", "image": c2.Image},
			{"role": "assistant", "text": "I see it."},
			{"role": "user", "text": c2.Prompt},
		}, g.answer(t, 2, "greedy")},
		{"the last image wins", []map[string]any{
			{"role": "system", "text": "Be brief."},
			{"role": "user", "text": "And this?", "image": c2.Image},
			{"role": "assistant", "text": "A picture."},
			{"role": "user", "text": "Now this one.", "image": c0.Image},
			{"role": "assistant", "text": "Another."},
			{"role": "user", "text": c0.Prompt},
		}, g.answer(t, 0, "greedy")},
	}
	for _, tt := range tests {
		for _, way := range ways {
			t.Run(tt.name+"/"+way, func(t *testing.T) {
				if got, _ := ask(t, s, way, "", tt.messages, greedySettings); got != tt.want {
					t.Errorf("answer %q, want %q", got, tt.want)
				}
			})
		}
	}
}

// TestStopSequences cuts golden answers at stop sequences: the answer ends
// just before the first one, nothing of it is sent, even when it spans
// several streamed pieces, and the finish reason is "stop".
func TestStopSequences(t *testing.T) {
	g := readGolden(t, tinyVicuna)
	gc := g.Cases[0]
	s, _ := start(t, Options{Model: tinyVicuna})
	greedy := g.answer(t, 0, "greedy")
	beams := g.answer(t, 0, "beam5_seed_settings")
	// Stops taken from the golden answers: a short one, one that spans
	// several tokens, and one the answer does not hold.
	short := string([]rune(greedy)[8:10])
	long := string([]rune(greedy)[12:20])
	tests := []struct {
		name     string
		settings map[string]any
		stops    []string
		want     string
		finish   string
	}{
		{"short stop", greedySettings, []string{short}, greedy[:strings.Index(greedy, short)], "stop"},
		{"stop across tokens", greedySettings, []string{long}, greedy[:strings.Index(greedy, long)], "stop"},
		{"the earlier of two", greedySettings, []string{long, short}, greedy[:min(strings.Index(greedy, long), strings.Index(greedy, short))], "stop"},
		{"absent stop", greedySettings, []string{"no such text"}, greedy, "length"},
		{"beam search", goldenSettings["beam5_seed_settings"], []string{string([]rune(beams)[10:12])}, beams[:strings.Index(beams, string([]rune(beams)[10:12]))], "stop"},
	}
	for _, tt := range tests {
		for _, way := range ways {
			t.Run(tt.name+"/"+way, func(t *testing.T) {
				settings := map[string]any{}
				for k, v := range tt.settings {
					settings[k] = v
				}
				// Both APIs call it stop: OpenAI at the top level,
				// Ollama in options, where ask puts settings.
				settings["stop"] = tt.stops
				got, finish := ask(t, s, way, "", []map[string]any{{"role": "user", "text": gc.Prompt, "image": gc.Image}}, settings)
				if got != tt.want || finish != tt.finish {
					t.Errorf("answer %q (%s), want %q (%s)", got, finish, tt.want, tt.finish)
				}
			})
		}
	}
}

// TestModelSwitch lets requests load the other fixture model, and back;
// one model is resident at a time, and the listings follow it.
func TestModelSwitch(t *testing.T) {
	gv, gt := readGolden(t, tinyVicuna), readGolden(t, tinyT5)
	s, l := start(t, Options{Model: tinyVicuna, AllowModelSwitch: true})
	msg := func(c goldenCase) []map[string]any {
		return []map[string]any{{"role": "user", "text": c.Prompt, "image": c.Image}}
	}
	steps := []struct {
		model, want, listed string
	}{
		{tinyT5, gt.answer(t, 0, "greedy"), "tiny-instructblip-flan-t5"},
		{"tiny-instructblip-flan-t5", gt.answer(t, 0, "greedy"), "tiny-instructblip-flan-t5"},
		{"", gt.answer(t, 0, "greedy"), "tiny-instructblip-flan-t5"},
		{tinyVicuna, gv.answer(t, 0, "greedy"), "tiny-instructblip-vicuna"},
	}
	if gv.Cases[0].Image != gt.Cases[0].Image || gv.Cases[0].Prompt != gt.Cases[0].Prompt {
		t.Fatal("the fixtures' first cases differ; this test asks both models the same question")
	}
	for i, st := range steps {
		if got, _ := ask(t, s, "openai", st.model, msg(gv.Cases[0]), greedySettings); got != st.want {
			t.Errorf("step %d (model %q): %q, want %q", i, st.model, got, st.want)
		}
		r := do(t, "GET", s.URL()+"/v1/models", nil, nil)
		if !strings.Contains(string(r.body), `"id":"`+st.listed+`"`) {
			t.Errorf("step %d: /v1/models lists %s, want %s", i, r.body, st.listed)
		}
	}
	// Loads by requests (the first one, at the start, is Load's): the
	// switch to T5 and the switch back.
	if n := len(l.find("model loaded")); n != 2 {
		t.Errorf("%d loads logged after the start, want 2 (to T5 and back)", n)
	}
	r := do(t, "POST", s.URL()+"/v1/chat/completions", openAIChat("Hi", dataURL(t, "shapes.png"), map[string]any{"model": filepath.Join(t.TempDir(), "nothing")}), nil)
	if msg, _, _, code := openAIErr(t, r); r.status != 404 || code != "model_not_found" {
		t.Errorf("switching to a missing model: %d %s", r.status, msg)
	}
}

// TestTimeouts checks that answers outlive the read and write timeouts
// (which bound each read and write, not a whole generation), while a
// client that sends its body too slowly is cut off and the server goes on.
func TestTimeouts(t *testing.T) {
	const timeout = 150 * time.Millisecond
	s, l := start(t, Options{Model: tinyVicuna, ReadTimeout: timeout, WriteTimeout: timeout})
	g := readGolden(t, tinyVicuna)
	gc := g.Cases[0]
	// Greedy with 480 new tokens: several times the timeouts.
	long := map[string]any{"num_beams": 1, "repetition_penalty": 1, "max_new_tokens": 480, "min_new_tokens": 480}
	for _, way := range ways {
		t.Run(way, func(t *testing.T) {
			text, finish := ask(t, s, way, "", []map[string]any{{"role": "user", "text": gc.Prompt, "image": gc.Image}}, long)
			ran := lastDuration(t, l, "answered", "ran")
			if !strings.HasPrefix(text, g.answer(t, 0, "greedy")) || finish != "length" {
				t.Errorf("the long answer (%v) came back as %q… (%s)", ran, text[:min(len(text), 40)], finish)
			}
			if ran < 2*timeout {
				t.Logf("the long answer took only %v; the timeouts are %v", ran, timeout)
			}
		})
	}
	t.Run("slow body", func(t *testing.T) {
		conn, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\":", s.Addr())
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		start := time.Now()
		b, err := io.ReadAll(conn)
		if err != nil {
			t.Fatalf("the server kept a stalled upload open for %v: %v", time.Since(start), err)
		}
		if firstLine(b) != "HTTP/1.1 408 Request Timeout" {
			t.Errorf("a stalled upload was answered %q", firstLine(b))
		}
		t.Logf("a stalled upload was closed after %v", time.Since(start).Round(time.Millisecond))
	})
	if got, _ := ask(t, s, "openai", "", []map[string]any{{"role": "user", "text": gc.Prompt, "image": gc.Image}}, greedySettings); got != g.answer(t, 0, "greedy") {
		t.Errorf("after the timeouts: %q", got)
	}
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\r\n")
	return line
}

// TestRecord records served exchanges in the history when asked to, with
// the question, its image and the answer, and not otherwise.
func TestRecord(t *testing.T) {
	g := readGolden(t, tinyVicuna)
	gc := g.Cases[0]
	for _, record := range []bool{false, true} {
		t.Run(fmt.Sprintf("record=%v", record), func(t *testing.T) {
			store, err := history.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			opt := Options{Model: tinyVicuna}
			if record {
				opt.History = store
			}
			s, _ := start(t, opt)
			want := g.answer(t, 0, "greedy")
			if got, _ := ask(t, s, "ollama", "", []map[string]any{{"role": "user", "text": gc.Prompt, "image": gc.Image}}, greedySettings); got != want {
				t.Fatalf("answer %q, want %q", got, want)
			}
			convs, err := store.Recent(context.Background(), 10)
			if err != nil {
				t.Fatal(err)
			}
			if !record {
				if len(convs) != 0 {
					t.Errorf("%d conversations recorded by a server that records none", len(convs))
				}
				return
			}
			if len(convs) != 1 {
				t.Fatalf("%d conversations recorded, want 1", len(convs))
			}
			conv, err := store.Get(context.Background(), convs[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(conv.Messages) != 2 || conv.Messages[0].Text != gc.Prompt || len(conv.Messages[0].Attachments) != 1 ||
				conv.Messages[1].Text != want || conv.Messages[1].Model != "tiny-instructblip-vicuna" || conv.Messages[1].OutputTokens != 24 {
				t.Errorf("recorded %+v", conv.Messages)
			}
		})
	}
}

// TestShutdown stops a server while it generates: the client gets an
// error that says so, and the server lets go of the model.
func TestShutdown(t *testing.T) {
	g := readGolden(t, tinyVicuna)
	gc := g.Cases[0]
	s, err := New(Options{Model: tinyVicuna, Open: openCPU})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	// Beam search over many tokens: long enough to be caught running.
	long := map[string]any{"num_beams": 8, "max_tokens": 480, "min_new_tokens": 480}
	got := make(chan response, 1)
	go func() {
		got <- do(t, "POST", s.URL()+"/v1/chat/completions", openAIChat(gc.Prompt, dataURL(t, gc.Image), long), nil)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for len(s.eng.turn) == 0 || s.eng.description() == nil {
		select {
		case r := <-got:
			t.Fatalf("the question ended before the shutdown: %d %s", r.status, r.body)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the question never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case r := <-got:
		if msg, _, _, _ := openAIErr(t, r); r.status != http.StatusServiceUnavailable || !strings.Contains(msg, "shutting down") {
			t.Errorf("the question running at shutdown got %d %s", r.status, msg)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the question running at shutdown got no answer")
	}
	if s.eng.description() != nil {
		t.Error("the model is still resident after Shutdown")
	}
	<-s.Done()
}

// TestSecurity checks the API key on every endpoint, the Host check that
// stops DNS rebinding, and CORS.
func TestSecurity(t *testing.T) {
	s, _ := start(t, Options{Model: tinyT5, APIKey: "s3cret", CORSOrigins: []string{"https://ok.example"}})
	bearer := map[string]string{"Authorization": "Bearer s3cret"}
	for _, ep := range []struct{ method, path string }{
		{"GET", "/v1/models"}, {"POST", "/v1/chat/completions"}, {"GET", "/api/tags"}, {"GET", "/api/version"},
		{"POST", "/api/chat"}, {"POST", "/api/generate"}, {"GET", "/"},
	} {
		for _, auth := range []string{"", "Bearer wrong", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "s3cret"} {
			r := do(t, ep.method, s.URL()+ep.path, `{}`, map[string]string{"Authorization": auth})
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s %s with %q: %d, want 401", ep.method, ep.path, auth, r.status)
				continue
			}
			if strings.HasPrefix(ep.path, "/v1/") {
				if _, typ, _, code := openAIErr(t, r); typ != "authentication_error" || code != "invalid_api_key" {
					t.Errorf("%s: type %q code %q", ep.path, typ, code)
				}
			} else {
				ollamaErr(t, r)
			}
		}
	}
	if r := do(t, "GET", s.URL()+"/api/version", nil, bearer); r.status != 200 {
		t.Errorf("with the key: %d %s", r.status, r.body)
	}
	tests := []struct {
		name   string
		method string
		header map[string]string
		status int
		allow  string // Access-Control-Allow-Origin
	}{
		{"rebound host", "GET", map[string]string{"Authorization": "Bearer s3cret", "Host": "evil.example:80"}, 403, ""},
		{"localhost", "GET", map[string]string{"Authorization": "Bearer s3cret", "Host": "localhost"}, 200, ""},
		{"other origin", "GET", map[string]string{"Authorization": "Bearer s3cret", "Origin": "https://evil.example"}, 403, ""},
		{"allowed origin", "GET", map[string]string{"Authorization": "Bearer s3cret", "Origin": "https://ok.example"}, 200, "https://ok.example"},
		{"preflight", "OPTIONS", map[string]string{"Origin": "https://ok.example", "Access-Control-Request-Method": "POST"}, 204, "https://ok.example"},
		{"preflight from another origin", "OPTIONS", map[string]string{"Origin": "https://evil.example"}, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, s.URL()+"/api/tags", nil, tt.header)
			if r.status != tt.status || r.header.Get("Access-Control-Allow-Origin") != tt.allow {
				t.Errorf("%d with Access-Control-Allow-Origin %q, want %d and %q: %s", r.status, r.header.Get("Access-Control-Allow-Origin"), tt.status, tt.allow, r.body)
			}
		})
	}
	// CORS is off by default: a web page's request is refused.
	s2, _ := start(t, Options{Model: tinyT5})
	if r := do(t, "GET", s2.URL()+"/api/tags", nil, map[string]string{"Origin": "http://localhost:3000"}); r.status != 403 {
		t.Errorf("CORS off: a request from a web page got %d", r.status)
	}
}

// TestCheckAddr: loopback is served without a key, anything else needs one.
func TestCheckAddr(t *testing.T) {
	tests := []struct {
		addr, key string
		ok        bool
	}{
		{"127.0.0.1:11435", "", true},
		{"localhost:11435", "", true},
		{"[::1]:11435", "", true},
		{"127.0.0.2:0", "", true},
		{"0.0.0.0:11435", "", false},
		{":11435", "", false},
		{"[::]:11435", "", false},
		{"192.168.1.5:11435", "", false},
		{"example.org:80", "", false},
		{"0.0.0.0:11435", "key", true},
		{"11435", "", false},
	}
	for _, tt := range tests {
		if err := CheckAddr(tt.addr, tt.key); (err == nil) != tt.ok {
			t.Errorf("CheckAddr(%q, %q) = %v, want ok %v", tt.addr, tt.key, err, tt.ok)
		}
	}
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("0.0.0.0:0"); err == nil || !strings.Contains(err.Error(), "API key") {
		s.Shutdown(context.Background())
		t.Errorf("Start on every interface without a key: %v", err)
	}
}

// TestDisconnect: a client that leaves stops its question, whether it is
// running (not streamed: nothing is written until the end, so only the
// connection says it) or still waiting in the queue, and frees its place.
func TestDisconnect(t *testing.T) {
	g := readGolden(t, tinyVicuna)
	gc := g.Cases[0]
	s, l := start(t, Options{Model: tinyVicuna})
	long := openAIChat(gc.Prompt, dataURL(t, gc.Image), map[string]any{"num_beams": 1, "repetition_penalty": 1, "max_tokens": 480, "min_new_tokens": 480})
	body, err := json.Marshal(long)
	if err != nil {
		t.Fatal(err)
	}
	send := func(ctx context.Context) chan error {
		done := make(chan error, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "POST", s.URL()+"/v1/chat/completions", bytes.NewReader(body))
			resp, err := httpClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		return done
	}
	running, leaveRunning := context.WithCancel(context.Background())
	waiting, leaveWaiting := context.WithCancel(context.Background())
	defer leaveRunning()
	defer leaveWaiting()
	first := send(running)
	waitFor(t, "the first question to run", func() bool { return len(s.eng.turn) == 1 })
	second := send(waiting)
	waitFor(t, "the second question to queue", func() bool { return len(s.eng.slots) == 2 })

	leaveWaiting()
	if err := <-second; err == nil {
		t.Fatal("the waiting request was answered")
	}
	waitFor(t, "the waiting question to leave the queue", func() bool { return len(s.eng.slots) == 1 })
	waitLog(t, l, "client left while waiting", 1)

	leaveRunning()
	if err := <-first; err == nil {
		t.Fatal("the running request was answered")
	}
	stopped := waitLog(t, l, "client left; generation stopped", 1)
	if n := stopped[0]["new_tokens"].(int64); n >= 480 {
		t.Errorf("the generation of a client that left ran to its end (%d tokens)", n)
	}
	waitFor(t, "the engine to be free", func() bool { return len(s.eng.slots) == 0 && len(s.eng.turn) == 0 })
	if got, _ := ask(t, s, "openai", "", []map[string]any{{"role": "user", "text": gc.Prompt, "image": gc.Image}}, greedySettings); got != g.answer(t, 0, "greedy") {
		t.Errorf("after the disconnects: %q", got)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}
