package serve

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// chatRequest is an OpenAI chat completion request. Fields OpenAI defines
// and Glimpse cannot honour are refused when they would change the answer
// (tools, logprobs, n > 1, …) and ignored when they would not (user,
// metadata, …). Glimpse's own generation settings come as extra fields.
type chatRequest struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	Stream        bool          `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	N                   *int            `json:"n"`
	Stop                json.RawMessage `json:"stop"`
	FrequencyPenalty    *float64        `json:"frequency_penalty"`
	PresencePenalty     *float64        `json:"presence_penalty"`
	Logprobs            *bool           `json:"logprobs"`
	Tools               json.RawMessage `json:"tools"`
	ResponseFormat      *struct {
		Type string `json:"type"`
	} `json:"response_format"`
	genSettings
}

// chatMessage is one message; Content is a string or an array of parts.
type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// contentPart is a text or image part of a message's content. ImageURL is
// {"url": …} as OpenAI defines it, or a plain string as some clients send.
type contentPart struct {
	Type     string          `json:"type"`
	Text     string          `json:"text"`
	ImageURL json.RawMessage `json:"image_url"`
}

// chatCompletions answers POST /v1/chat/completions.
func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) error {
	var req chatRequest
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	q, err := s.openAIQuestion(&req)
	if err != nil {
		return err
	}
	id := "chatcmpl-" + randomID()
	created := time.Now().Unix()
	if !req.Stream {
		a, err := s.ask(r.Context(), q, sink{})
		if err != nil {
			return err
		}
		s.setWriteDeadline(w)
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": a.model.Name,
			"choices": []any{map[string]any{
				"index":         0,
				"message":       map[string]any{"role": "assistant", "content": a.text},
				"finish_reason": a.finish,
				"logprobs":      nil,
			}},
			"usage": openAIUsage(a),
		})
		return nil
	}

	st := newStream(w, "text/event-stream", s.opt.WriteTimeout)
	model := q.model
	chunk := func(delta map[string]any, finish any) error {
		return sendEvent(st, map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": nil}},
		})
	}
	// The first chunk says who speaks, as OpenAI's does; it goes out with
	// the first text or keep-alive, so that errors before any text are
	// still plain HTTP errors.
	begin := func() error {
		if st.started {
			return nil
		}
		if d := s.eng.description(); d != nil {
			model = d.Name
		}
		return chunk(map[string]any{"role": "assistant", "content": ""}, nil)
	}
	a, err := s.ask(r.Context(), q, sink{
		text: func(delta string) error {
			if err := begin(); err != nil {
				return err
			}
			return chunk(map[string]any{"content": delta}, nil)
		},
		alive: func() error {
			if err := begin(); err != nil {
				return err
			}
			return st.write([]byte(": thinking\n\n")) // an SSE comment: clients skip it
		},
	})
	if err != nil {
		if !st.started {
			return err
		}
		if err != errClientGone {
			e := toAPIError(err)
			s.logError(r, e)
			sendEvent(st, openAI.errorBody(e))
		}
		return nil
	}
	model = a.model.Name
	if err := begin(); err != nil {
		return nil
	}
	if err := chunk(map[string]any{}, a.finish); err != nil {
		return nil
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		if err := sendEvent(st, map[string]any{"id": id, "object": "chat.completion.chunk", "created": created,
			"model": model, "choices": []any{}, "usage": openAIUsage(a)}); err != nil {
			return nil
		}
	}
	st.write([]byte("data: [DONE]\n\n"))
	return nil
}

// sendEvent writes v as one server-sent event.
func sendEvent(st *stream, v any) error {
	b, err := marshal(v)
	if err != nil {
		return err
	}
	b = bytes.TrimRight(b, "\n")
	return st.write(append(append([]byte("data: "), b...), '\n', '\n'))
}

func openAIUsage(a *answer) map[string]int {
	return map[string]int{"prompt_tokens": a.promptTokens, "completion_tokens": a.newTokens,
		"total_tokens": a.promptTokens + a.newTokens}
}

// openAIQuestion turns a chat request into a question: the text of the
// last message, which must be the user's, about the last image the user
// sent in the conversation, so that follow-up questions refer to the
// conversation's image as they do in the app. InstructBLIP sees no
// earlier turns and no system prompt: it answers one question about one
// image.
func (s *Server) openAIQuestion(req *chatRequest) (*question, error) {
	switch {
	case req.N != nil && *req.N != 1:
		return nil, badRequest("n", "unsupported_setting", "n must be 1: Glimpse returns one answer per request")
	case req.Logprobs != nil && *req.Logprobs:
		return nil, badRequest("logprobs", "unsupported_setting", "logprobs are not supported")
	case len(req.Tools) > 0 && string(req.Tools) != "null" && string(req.Tools) != "[]":
		return nil, badRequest("tools", "unsupported_setting", "tools are not supported: InstructBLIP answers questions about images")
	case req.ResponseFormat != nil && req.ResponseFormat.Type != "" && req.ResponseFormat.Type != "text":
		return nil, badRequest("response_format", "unsupported_setting", "response_format %q is not supported; only text", req.ResponseFormat.Type)
	case req.FrequencyPenalty != nil && *req.FrequencyPenalty != 0:
		return nil, badRequest("frequency_penalty", "unsupported_setting", "frequency_penalty is not supported; use repetition_penalty (transformers' name; 1 is off)")
	case req.PresencePenalty != nil && *req.PresencePenalty != 0:
		return nil, badRequest("presence_penalty", "unsupported_setting", "presence_penalty is not supported; use repetition_penalty (transformers' name; 1 is off)")
	}
	maxTokens, err := sameInt(req.MaxTokens, req.MaxCompletionTokens, "max_tokens", "max_completion_tokens")
	if err != nil {
		return nil, err
	}
	if maxTokens != nil && *maxTokens < 1 {
		return nil, badRequest("max_tokens", "invalid_setting", "max_tokens must be at least 1")
	}
	g := req.genSettings
	if g.MaxNewTokens, err = sameInt(maxTokens, g.MaxNewTokens, "max_tokens", "max_new_tokens"); err != nil {
		return nil, err
	}
	cfg, err := g.config("")
	if err != nil {
		return nil, err
	}
	stops, err := stopList(req.Stop)
	if err != nil {
		return nil, err
	}
	if len(req.Messages) == 0 {
		return nil, badRequest("messages", "missing_message", "messages is empty: send a user message with a question and an image")
	}
	var imgRef, imgParam, prompt string
	last := len(req.Messages) - 1
	for i, m := range req.Messages {
		param := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "developer", "assistant", "user", "tool":
		default:
			return nil, badRequest(param+".role", "invalid_role", "%s.role must be system, developer, user or assistant, not %q", param, m.Role)
		}
		texts, images, err := parseContent(m.Content, param+".content")
		if err != nil {
			return nil, err
		}
		switch {
		case len(images) > 0 && m.Role != "user":
			return nil, badRequest(param+".content", "invalid_image", "%s: only user messages may carry images", param)
		case len(images) > 1:
			return nil, badRequest(param+".content", "too_many_images", "%s has %d images; InstructBLIP answers about one image per question", param, len(images))
		case len(images) == 1:
			imgRef, imgParam = images[0], param+".content"
		}
		if i == last {
			if m.Role != "user" {
				return nil, badRequest(param+".role", "invalid_role", "the last message must be the user's question, not the %s's", m.Role)
			}
			prompt = strings.Join(texts, "\n")
		}
	}
	if strings.TrimSpace(prompt) == "" {
		return nil, badRequest(fmt.Sprintf("messages[%d].content", last), "missing_question", "the last message has no question: add a text part")
	}
	if imgRef == "" {
		return nil, badRequest("messages", "missing_image", "no image: InstructBLIP answers questions about an image; send one as an image_url part (a data: URL) in a user message")
	}
	img, err := s.imageFromURL(imgRef, imgParam)
	if err != nil {
		return nil, err
	}
	return &question{model: req.Model, image: img, prompt: prompt, cfg: cfg, stops: stops}, nil
}

// parseContent splits a message's content into its texts and image URLs.
func parseContent(raw json.RawMessage, param string) (texts, images []string, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, nil, badRequest(param, "invalid_type", "%s is not a valid string", param)
		}
		return []string{s}, nil, nil
	}
	var parts []contentPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, nil, badRequest(param, "invalid_type", "%s must be a string or an array of text and image_url parts", param)
	}
	for i, p := range parts {
		pp := fmt.Sprintf("%s[%d]", param, i)
		switch p.Type {
		case "text":
			texts = append(texts, p.Text)
		case "image_url":
			u, err := imageURL(p.ImageURL, pp+".image_url")
			if err != nil {
				return nil, nil, err
			}
			images = append(images, u)
		default:
			return nil, nil, badRequest(pp+".type", "invalid_type", "%s.type must be text or image_url, not %q", pp, p.Type)
		}
	}
	return texts, images, nil
}

// imageURL reads an image_url: {"url": "…"} or "…".
func imageURL(raw json.RawMessage, param string) (string, error) {
	var u string
	if err := json.Unmarshal(raw, &u); err == nil && u != "" {
		return u, nil
	}
	var obj struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.URL == "" {
		return "", badRequest(param, "missing_image", `%s must be {"url": "data:image/png;base64,…"}`, param)
	}
	return obj.URL, nil
}

// stopList reads OpenAI's stop: a string or an array of strings.
func stopList(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, checkStops([]string{one}, "stop")
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, badRequest("stop", "invalid_type", "stop must be a string or an array of strings")
	}
	return many, checkStops(many, "stop")
}

// listModels answers GET /v1/models: the resident model, or the one the
// server will load.
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) error {
	data := []any{}
	if name := s.servedName(); name != "" {
		data = append(data, map[string]any{"id": name, "object": "model", "created": s.started.Unix(), "owned_by": "glimpse"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
	return nil
}

// randomID makes a response id.
func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
