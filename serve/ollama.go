package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"glimpse/app"
)

// ollamaOptions are an Ollama request's "options": Ollama's names for the
// settings it shares with transformers, and Glimpse's own settings under
// transformers' names. Options Glimpse has no use for (num_ctx, mirostat,
// …) are ignored, as Ollama ignores those a model does not use.
type ollamaOptions struct {
	genSettings
	NumPredict    *int     `json:"num_predict"`
	RepeatPenalty *float64 `json:"repeat_penalty"`
	Stop          []string `json:"stop"`
}

// ollamaMessage is one message of /api/chat; Images hold base64 files.
type ollamaMessage struct {
	Role    string   `json:"role"`
	Content string   `json:"content"`
	Images  []string `json:"images"`
}

// ollamaChatRequest is the body of POST /api/chat.
type ollamaChatRequest struct {
	Model    string          `json:"model"`
	Messages []ollamaMessage `json:"messages"`
	Stream   *bool           `json:"stream"` // Ollama streams unless told not to
	Options  *ollamaOptions  `json:"options"`
	Format   json.RawMessage `json:"format"`
	Tools    json.RawMessage `json:"tools"`
}

// ollamaGenerateRequest is the body of POST /api/generate.
type ollamaGenerateRequest struct {
	Model   string          `json:"model"`
	Prompt  string          `json:"prompt"`
	Images  []string        `json:"images"`
	Stream  *bool           `json:"stream"`
	Options *ollamaOptions  `json:"options"`
	Format  json.RawMessage `json:"format"`
}

// config returns the generation settings; nil options are the seed's.
func (o *ollamaOptions) config() (*ollamaOptions, error) {
	if o == nil {
		o = &ollamaOptions{}
	}
	var err error
	g := &o.genSettings
	if o.NumPredict != nil && *o.NumPredict <= 0 {
		// Ollama's -1 (no limit) and -2 (fill the context): the model's
		// own limit, the seed's max_length, holds.
		o.NumPredict = nil
	}
	if g.MaxNewTokens, err = sameInt(o.NumPredict, g.MaxNewTokens, "options.num_predict", "options.max_new_tokens"); err != nil {
		return nil, err
	}
	if g.RepetitionPenalty, err = sameFloat(o.RepeatPenalty, g.RepetitionPenalty, "options.repeat_penalty", "options.repetition_penalty"); err != nil {
		return nil, err
	}
	return o, checkStops(o.Stop, "options.stop")
}

// ollamaQuestion makes the question of either Ollama endpoint.
func (s *Server) ollamaQuestion(model, prompt string, image, imageParam string, opts *ollamaOptions, format json.RawMessage) (*question, error) {
	if f := strings.TrimSpace(string(format)); f != "" && f != "null" && f != `""` {
		return nil, badRequest("format", "unsupported_setting", "format is not supported: Glimpse answers in plain text")
	}
	o, err := opts.config()
	if err != nil {
		return nil, err
	}
	cfg, err := o.genSettings.config("options.")
	if err != nil {
		return nil, err
	}
	if image == "" {
		return nil, badRequest("images", "missing_image", "no image: InstructBLIP answers questions about an image; send one, base64-encoded, in images")
	}
	if strings.TrimSpace(prompt) == "" {
		return nil, badRequest("prompt", "missing_question", "the question is empty")
	}
	// Ollama's own clients send bare base64; a data: URL is taken too.
	var img *app.Image
	if strings.HasPrefix(image, "data:") {
		img, err = s.imageFromDataURL(image, imageParam)
	} else {
		img, err = s.imageFromBase64(image, imageParam)
	}
	if err != nil {
		return nil, err
	}
	return &question{model: model, image: img, prompt: prompt, cfg: cfg, stops: o.Stop}, nil
}

// ollamaChat answers POST /api/chat: the last message, the user's, about
// the last image the user sent, so that a conversation's follow-up
// questions refer to its image, as in the app.
func (s *Server) ollamaChat(w http.ResponseWriter, r *http.Request) error {
	var req ollamaChatRequest
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if len(req.Tools) > 0 && string(req.Tools) != "null" && string(req.Tools) != "[]" {
		return badRequest("tools", "unsupported_setting", "tools are not supported: InstructBLIP answers questions about images")
	}
	if len(req.Messages) == 0 {
		// Ollama loads the model for a chat without messages.
		return s.ollamaLoad(w, r, req.Model, "message", map[string]any{"role": "assistant", "content": ""})
	}
	var image, imageParam string
	last := len(req.Messages) - 1
	for i, m := range req.Messages {
		param := fmt.Sprintf("messages[%d]", i)
		switch {
		case len(m.Images) > 0 && m.Role != "user":
			return badRequest(param+".images", "invalid_image", "%s: only user messages may carry images", param)
		case len(m.Images) > 1:
			return badRequest(param+".images", "too_many_images", "%s has %d images; InstructBLIP answers about one image per question", param, len(m.Images))
		case len(m.Images) == 1:
			image, imageParam = m.Images[0], param+".images[0]"
		}
	}
	if req.Messages[last].Role != "user" {
		return badRequest(fmt.Sprintf("messages[%d].role", last), "invalid_role", "the last message must be the user's question, not the %s's", req.Messages[last].Role)
	}
	if image == "" {
		return badRequest("messages", "missing_image", "no image: InstructBLIP answers questions about an image; send one, base64-encoded, in a user message's images")
	}
	q, err := s.ollamaQuestion(req.Model, req.Messages[last].Content, image, imageParam, req.Options, req.Format)
	if err != nil {
		return err
	}
	return s.ollamaAnswer(w, r, q, req.Stream, func(text string) map[string]any {
		return map[string]any{"message": map[string]any{"role": "assistant", "content": text}}
	})
}

// ollamaGenerate answers POST /api/generate: prompt about images[0].
func (s *Server) ollamaGenerate(w http.ResponseWriter, r *http.Request) error {
	var req ollamaGenerateRequest
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if req.Prompt == "" && len(req.Images) == 0 {
		// Ollama loads the model for an empty prompt.
		return s.ollamaLoad(w, r, req.Model, "response", "")
	}
	if len(req.Images) > 1 {
		return badRequest("images", "too_many_images", "images has %d images; InstructBLIP answers about one image per question", len(req.Images))
	}
	var image string
	if len(req.Images) == 1 {
		image = req.Images[0]
	}
	q, err := s.ollamaQuestion(req.Model, req.Prompt, image, "images[0]", req.Options, req.Format)
	if err != nil {
		return err
	}
	return s.ollamaAnswer(w, r, q, req.Stream, func(text string) map[string]any {
		return map[string]any{"response": text}
	})
}

// ollamaLoad loads the model a request names, as Ollama does for a
// request without a question, and says so.
func (s *Server) ollamaLoad(w http.ResponseWriter, r *http.Request, model, field string, empty any) error {
	release, _, err := s.eng.acquire(r.Context())
	if err != nil {
		return err
	}
	defer release()
	m, _, err := s.eng.model(r.Context(), model)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"model": ollamaName(m.Describe().Name), "created_at": now(),
		field: empty, "done": true, "done_reason": "load"})
	return nil
}

// ollamaAnswer writes an answer to either endpoint: body gives the
// endpoint's field for a piece of text ("message" or "response").
func (s *Server) ollamaAnswer(w http.ResponseWriter, r *http.Request, q *question, streamPtr *bool, body func(text string) map[string]any) error {
	msg := func(model, text string, done bool) map[string]any {
		m := body(text)
		m["model"], m["created_at"], m["done"] = ollamaName(model), now(), done
		return m
	}
	final := func(a *answer, text string) map[string]any {
		m := msg(a.model.Name, text, true)
		m["done_reason"] = a.finish
		m["total_duration"] = a.total.Nanoseconds()
		m["load_duration"] = a.load.Nanoseconds()
		m["prompt_eval_count"] = a.promptTokens
		m["prompt_eval_duration"] = (a.timings.Preprocess + a.timings.Prefill).Nanoseconds()
		m["eval_count"] = a.newTokens
		m["eval_duration"] = a.timings.Decode.Nanoseconds()
		return m
	}
	if streamPtr != nil && !*streamPtr {
		a, err := s.ask(r.Context(), q, sink{})
		if err != nil {
			return err
		}
		s.setWriteDeadline(w)
		writeJSON(w, http.StatusOK, final(a, a.text))
		return nil
	}
	st := newStream(w, "application/x-ndjson", s.opt.WriteTimeout)
	line := func(v any) error {
		b, err := marshal(v)
		if err != nil {
			return err
		}
		return st.write(b)
	}
	model := func() string {
		if d := s.eng.description(); d != nil {
			return d.Name
		}
		return q.model
	}
	a, err := s.ask(r.Context(), q, sink{
		text:  func(delta string) error { return line(msg(model(), delta, false)) },
		alive: func() error { return line(msg(model(), "", false)) }, // an empty piece: clients add nothing
	})
	if err != nil {
		if !st.started {
			return err
		}
		if err != errClientGone {
			e := toAPIError(err)
			s.logError(r, e)
			line(ollama.errorBody(e))
		}
		return nil
	}
	line(final(a, ""))
	return nil
}

// ollamaTags answers GET /api/tags: the resident model, or the one the
// server will load, as Ollama lists its models.
func (s *Server) ollamaTags(w http.ResponseWriter, r *http.Request) error {
	models := []any{}
	if name := s.servedName(); name != "" {
		details := map[string]any{"format": "safetensors", "family": "", "families": nil, "parameter_size": "", "quantization_level": ""}
		entry := map[string]any{"name": ollamaName(name), "model": ollamaName(name), "modified_at": s.started.Format(time.RFC3339),
			"size": 0, "digest": "", "details": details}
		if d := s.eng.description(); d != nil {
			details["family"], details["families"] = d.Decoder, []string{d.Decoder}
			details["quantization_level"] = strings.ToUpper(strings.Replace(d.Precision, "fp", "F", 1))
			entry["size"], entry["digest"] = d.WeightBytes, d.Revision
		}
		models = append(models, entry)
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": models})
	return nil
}

// ollamaVersion answers GET /api/version with Glimpse's version.
func (s *Server) ollamaVersion(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"version": s.opt.Version})
	return nil
}

// ollamaName is a model's name as Ollama writes names: with a tag.
func ollamaName(name string) string {
	if name == "" || strings.Contains(name, ":") {
		return name
	}
	return name + ":latest"
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }
