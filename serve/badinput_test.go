package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bombPNG is a valid PNG header that claims width × height pixels, with
// no pixel data: a decoder that trusted it would allocate them all.
func bombPNG(width, height uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], width)
	binary.BigEndian.PutUint32(ihdr[4:], height)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk("IHDR", ihdr)
	chunk("IEND", nil)
	return b.Bytes()
}

// TestBadInput sends requests that cannot be answered, through both APIs:
// each gets a clear error in the API's own format with a status that says
// what went wrong, no internals, and the server keeps serving.
func TestBadInput(t *testing.T) {
	allowed := t.TempDir()
	outside := t.TempDir()
	shapes := mustRead(t, filepath.Join(fixtures, "images", "shapes.png"))
	for _, dir := range []string{allowed, outside} {
		if err := os.WriteFile(filepath.Join(dir, "shapes.png"), shapes, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A link inside the allowed folder that leads out of it.
	if err := os.Symlink(filepath.Join(outside, "shapes.png"), filepath.Join(allowed, "escape.png")); err != nil {
		t.Fatal(err)
	}
	const maxBody, maxImage = 1 << 20, 256 << 10
	s, _ := start(t, Options{Model: tinyVicuna, AllowFiles: []string{allowed}, MaxBodyBytes: maxBody, MaxImageBytes: maxImage})

	g := readGolden(t, tinyVicuna)
	gc := g.Cases[0]
	img := dataURL(t, gc.Image)
	b64 := imageB64(t, gc.Image)
	greedy := map[string]any{"num_beams": 1, "max_tokens": 24, "repetition_penalty": 1}
	chat := func(image string, extra map[string]any) map[string]any {
		return openAIChat(gc.Prompt, image, extra)
	}
	pngData := func(b []byte) string { return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b) }
	ollamaGen := func(image string, opts map[string]any) map[string]any {
		req := map[string]any{"model": "tiny-instructblip-vicuna", "prompt": gc.Prompt, "stream": false, "options": opts}
		if image != "" {
			req["images"] = []string{image}
		}
		return req
	}
	bigImage := base64.StdEncoding.EncodeToString(append(append([]byte{}, shapes...), make([]byte, maxImage)...))

	const chatPath, genPath, ollamaChatPath = "/v1/chat/completions", "/api/generate", "/api/chat"
	tests := []struct {
		name   string
		path   string
		body   any
		header map[string]string
		status int
		param  string // OpenAI's param, "" when none is expected
		code   string // OpenAI's code
		want   string // in the message
	}{
		{"malformed JSON", chatPath, `{"model": "x", "messages": [`, nil, 400, "", "invalid_json", "not valid JSON"},
		{"empty body", chatPath, ``, nil, 400, "", "invalid_json", "empty"},
		{"not an object", chatPath, `[1, 2]`, nil, 400, "", "invalid_json", "must be a JSON object"},
		{"messages of the wrong type", chatPath, map[string]any{"messages": "hello"}, nil, 400, "messages", "invalid_type", "messages must be an array"},
		{"max_tokens of the wrong type", chatPath, chat(img, map[string]any{"max_tokens": "ten"}), nil, 400, "max_tokens", "invalid_type", "max_tokens must be a whole number"},
		{"num_beams not whole", chatPath, chat(img, map[string]any{"num_beams": 1.5}), nil, 400, "num_beams", "invalid_type", "num_beams must be a whole number"},
		{"content of the wrong type", chatPath, map[string]any{"messages": []any{map[string]any{"role": "user", "content": 42}}}, nil, 400, "messages[0].content", "invalid_type", "string or an array"},
		{"unknown part", chatPath, map[string]any{"messages": []any{map[string]any{"role": "user", "content": []any{map[string]any{"type": "audio"}}}}}, nil, 400, "messages[0].content[0].type", "invalid_type", "text or image_url"},
		{"no messages", chatPath, map[string]any{"messages": []any{}}, nil, 400, "messages", "missing_message", "messages is empty"},
		{"missing image", chatPath, map[string]any{"messages": []any{map[string]any{"role": "user", "content": "What is it?"}}}, nil, 400, "messages", "missing_image", "no image"},
		{"empty image_url", chatPath, chat("", nil), nil, 400, "messages[0].content[1].image_url", "missing_image", "url"},
		{"last message not the user's", chatPath, map[string]any{"messages": []any{
			map[string]any{"role": "user", "content": []any{map[string]any{"type": "image_url", "image_url": map[string]any{"url": img}}, map[string]any{"type": "text", "text": "Hi"}}},
			map[string]any{"role": "assistant", "content": "Hello"}}}, nil, 400, "messages[1].role", "invalid_role", "last message"},
		{"not an image", chatPath, chat(pngData([]byte("hello, not an image")), nil), nil, 400, "messages[0].content", "invalid_image", "not an image Glimpse can read"},
		{"not base64", chatPath, chat("data:image/png;base64,@@@@", nil), nil, 400, "messages[0].content", "invalid_image", "not valid base64"},
		{"decompression bomb", chatPath, chat(pngData(bombPNG(100000, 100000)), nil), nil, 413, "messages[0].content", "image_too_large", "100000×100000"},
		{"image over the limit", chatPath, chat("data:image/png;base64,"+bigImage, nil), nil, 413, "messages[0].content", "image_too_large", "image limit"},
		{"body over the limit", chatPath, chat("data:image/png;base64,"+strings.Repeat("A", maxBody), nil), nil, 413, "", "request_too_large", "limit of 1 MiB"},
		{"web image", chatPath, chat("https://example.org/cat.png", nil), nil, 400, "messages[0].content", "unsupported_image_url", "does not fetch"},
		{"file outside the allowed folders", chatPath, chat("file://"+filepath.ToSlash(filepath.Join(outside, "shapes.png")), nil), nil, 403, "messages[0].content", "file_not_allowed", "outside the folders"},
		{"dot-dot out of the allowed folder", chatPath, chat("file://"+filepath.ToSlash(allowed)+"/../"+filepath.Base(outside)+"/shapes.png", nil), nil, 403, "messages[0].content", "file_not_allowed", "outside the folders"},
		{"link out of the allowed folder", chatPath, chat("file://"+filepath.ToSlash(filepath.Join(allowed, "escape.png")), nil), nil, 403, "messages[0].content", "file_not_allowed", "outside the folders"},
		{"missing file inside", chatPath, chat("file://"+filepath.ToSlash(filepath.Join(allowed, "gone.png")), nil), nil, 400, "messages[0].content", "invalid_image", "cannot be read"},
		{"a bad setting", chatPath, chat(img, map[string]any{"num_beams": 0}), nil, 400, "", "invalid_setting", "num_beams"},
		{"negative temperature", chatPath, chat(img, map[string]any{"temperature": -1}), nil, 400, "temperature", "invalid_setting", "temperature"},
		{"conflicting lengths", chatPath, chat(img, map[string]any{"max_tokens": 5, "max_new_tokens": 6}), nil, 400, "max_tokens", "conflicting_settings", "same setting"},
		{"n of 2", chatPath, chat(img, map[string]any{"n": 2}), nil, 400, "n", "unsupported_setting", "n must be 1"},
		{"tools", chatPath, chat(img, map[string]any{"tools": []any{map[string]any{"type": "function"}}}), nil, 400, "tools", "unsupported_setting", "tools"},
		{"an empty stop", chatPath, chat(img, map[string]any{"stop": []string{""}}), nil, 400, "stop", "invalid_setting", "stop sequence"},
		{"unknown model", chatPath, chat(img, map[string]any{"model": "gpt-4o"}), nil, 404, "model", "model_not_found", "--allow-model-switch"},
		{"wrong method", chatPath, nil, map[string]string{"X-Method": "GET"}, 405, "", "method_not_allowed", "takes POST"},
		{"unknown endpoint", "/v1/embeddings", chat(img, nil), nil, 404, "", "unknown_endpoint", "not an endpoint"},

		{"ollama malformed JSON", genPath, `{"prompt": `, nil, 400, "", "", "not valid JSON"},
		{"ollama wrong type", genPath, map[string]any{"prompt": 7}, nil, 400, "", "", "prompt must be a string"},
		{"ollama options wrong type", genPath, ollamaGen(b64, map[string]any{"num_beams": "five"}), nil, 400, "", "", "options.num_beams must be a whole number"},
		{"ollama missing image", genPath, ollamaGen("", nil), nil, 400, "", "", "no image"},
		{"ollama chat missing image", ollamaChatPath, map[string]any{"messages": []any{map[string]any{"role": "user", "content": "What?"}}}, nil, 400, "", "", "no image"},
		{"ollama not an image", genPath, ollamaGen(base64.StdEncoding.EncodeToString([]byte("just some text")), nil), nil, 400, "", "", "not an image Glimpse can read"},
		{"ollama decompression bomb", genPath, ollamaGen(base64.StdEncoding.EncodeToString(bombPNG(100000, 100000)), nil), nil, 413, "", "", "100000×100000"},
		{"ollama body over the limit", genPath, ollamaGen(strings.Repeat("A", maxBody), nil), nil, 413, "", "", "limit of 1 MiB"},
		{"ollama format json", genPath, map[string]any{"prompt": "x", "images": []string{b64}, "format": "json"}, nil, 400, "", "", "format is not supported"},
		{"ollama conflicting penalties", genPath, ollamaGen(b64, map[string]any{"repeat_penalty": 1.1, "repetition_penalty": 1.2}), nil, 400, "", "", "same setting"},
		{"ollama unknown endpoint", "/api/pull", map[string]any{"model": "x"}, nil, 404, "", "", "not an endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "POST"
			if m := tt.header["X-Method"]; m != "" {
				method = m
			}
			r := do(t, method, s.URL()+tt.path, tt.body, tt.header)
			if r.status != tt.status {
				t.Errorf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			var msg string
			if strings.HasPrefix(tt.path, "/v1/") {
				var param, code string
				msg, _, param, code = openAIErr(t, r)
				if param != tt.param || code != tt.code {
					t.Errorf("param %q, code %q; want %q, %q (%s)", param, code, tt.param, tt.code, msg)
				}
			} else {
				msg = ollamaErr(t, r)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not mention %q", msg, tt.want)
			}
			for _, internal := range []string{"goroutine", ".go:", "panic", "serve.", "json: cannot"} {
				if strings.Contains(msg, internal) {
					t.Errorf("message %q shows internals (%q)", msg, internal)
				}
			}
		})
	}

	// After all that, the server answers, also from an allowed file.
	want := g.answer(t, 0, "greedy")
	for _, image := range []string{img, "file://" + filepath.ToSlash(filepath.Join(allowed, "shapes.png"))} {
		r := do(t, "POST", s.URL()+chatPath, chat(image, greedy), nil)
		if got := openAIText(t, r); got != want {
			t.Errorf("after the bad requests, %.40s…: %q, want %q", image, got, want)
		}
	}
}

// openAIText is the answer of a whole chat completion response.
func openAIText(t *testing.T, r response) string {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var c struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := jsonUnmarshal(r.body, &c); err != nil || len(c.Choices) != 1 {
		t.Fatalf("not a chat completion (%v): %s", err, r.body)
	}
	return c.Choices[0].Message.Content
}
