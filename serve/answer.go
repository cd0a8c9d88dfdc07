package serve

import (
	"context"
	"errors"
	"image"
	"log/slog"
	"net/http"
	"time"

	"glimpse/app"
	"glimpse/generate"
)

// answer is what the model said, for either API to write.
type answer struct {
	text   string
	finish string // "stop" (an end-of-answer token or a stop sequence) or "length"
	// promptTokens counts the language model's prompt, image tokens
	// included; 0 when a stop sequence ended the answer (generation was
	// stopped before the model reported it).
	promptTokens int
	newTokens    int
	model        app.Description
	timings      app.Timings
	load         time.Duration // loading the model, when this request did
	total        time.Duration // from arrival to the last token
}

// sink receives an answer as it is generated; both functions are nil when
// the client asked for the whole answer at once. An error from either
// means the client is gone, and stops the generation.
type sink struct {
	// text gets the answer's new text, in order.
	text func(delta string) error
	// alive is called now and then while nothing else is sent (beam
	// search sends its text only at the end), so that the connection
	// neither looks dead to the client nor stays open after it left.
	alive func() error
}

// keepAliveEvery is how often a stream without new text says it is alive.
const keepAliveEvery = time.Second

// ask answers q: it waits for its turn in the queue (or fails with a 429),
// loads the model the request names if it is not resident (and the server
// may), and generates, passing text to out as it comes. The generation
// stops when ctx ends (the client left), when out fails, or at a stop
// sequence, which is no failure.
func (s *Server) ask(ctx context.Context, q *question, out sink) (*answer, error) {
	arrived := time.Now()
	release, waited, err := s.eng.acquire(ctx)
	if err != nil {
		if ctx.Err() != nil && !s.stopping() {
			s.log.Info("client left while waiting", "waited", waited.Round(time.Millisecond))
			return nil, errClientGone
		}
		return nil, err
	}
	defer release()
	log := s.log.With("model", q.model, "waited", waited.Round(time.Millisecond))

	loadStart := time.Now()
	m, loaded, err := s.eng.model(ctx, q.model)
	if err != nil {
		log.Warn("model not available", "error", err)
		return nil, err
	}
	a := &answer{model: m.Describe()}
	if loaded {
		a.load = time.Since(loadStart)
		log.Info("model loaded", "name", a.model.Name, "backend", a.model.Backend, "precision", a.model.Precision,
			"took", a.load.Round(time.Millisecond))
	}

	gctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		st       = stopper{stops: q.stops}
		text     []byte
		steps    int
		hit      bool  // a stop sequence ended the answer
		outErr   error // the client is gone
		lastSent = time.Now()
	)
	send := func(delta string) {
		text = append(text, delta...)
		if delta == "" || out.text == nil || outErr != nil {
			return
		}
		if outErr = out.text(delta); outErr != nil {
			stop()
		}
		lastSent = time.Now()
	}
	onEvent := func(e generate.Event) {
		if hit || outErr != nil {
			return
		}
		if e.Index < 0 { // beam search progress
			steps = e.Step
			if out.alive != nil && time.Since(lastSent) >= keepAliveEvery {
				if outErr = out.alive(); outErr != nil {
					stop()
				}
				lastSent = time.Now()
			}
			return
		}
		if e.Index != 0 {
			return
		}
		steps = max(steps, e.Step)
		delta, h := st.add(e.Text)
		if e.Final && !h {
			delta += st.flush()
		}
		send(delta)
		if h {
			hit = true
			stop()
		}
	}
	res, err := m.Ask(gctx, []image.Image{q.image.Image}, []string{q.prompt}, q.cfg, onEvent)
	if res != nil {
		a.timings = res.Timings
		for _, w := range res.Warnings {
			log.Warn("question adjusted", "warning", w)
		}
	}
	switch {
	case err != nil && s.stopping():
		return nil, err // answered as the server shutting down
	case outErr != nil || (err != nil && ctx.Err() != nil):
		log.Info("client left; generation stopped", "new_tokens", steps, "ran", time.Since(arrived).Round(time.Millisecond)-waited)
		return nil, errClientGone
	case hit:
		a.text, a.finish, a.newTokens = string(text), "stop", steps
	case err != nil:
		log.Warn("no answer", "error", err)
		return nil, err
	default:
		r := res.Answers[0]
		a.text, a.promptTokens, a.newTokens = r.Text, r.PromptTokens, r.NewTokens
		a.finish = "length"
		if r.EOS {
			a.finish = "stop"
		}
	}
	a.total = time.Since(arrived)
	log.Info("answered", "new_tokens", a.newTokens, "finish", a.finish, "ran", (a.total - waited).Round(time.Millisecond))
	s.record(q, a, res)
	return a, nil
}

// record saves a served exchange in the history when the server was
// started with one, through app's Record like the other front ends. A
// failure is logged: the client has its answer either way.
func (s *Server) record(q *question, a *answer, res *app.Result) {
	if s.opt.History == nil {
		return
	}
	r := app.Answer{Text: a.text, PromptTokens: a.promptTokens, NewTokens: a.newTokens, EOS: a.finish == "stop"}
	if res != nil && len(res.Answers) > 0 {
		r.Sequence, r.Score = res.Answers[0].Sequence, res.Answers[0].Score
	}
	ex := app.Exchange{Prompt: q.prompt, Image: q.image, Config: q.cfg, Model: a.model,
		Result: &app.Result{Answers: []app.Answer{r}, Timings: a.timings}}
	if _, err := app.Record(context.Background(), s.opt.History, 0, ex); err != nil {
		s.log.Warn("the answer was not saved to the history", "error", err)
	}
}

// stream writes a streamed response: the status and headers go out with
// the first bytes (so that an error before them is still a plain HTTP
// error), each write gets its own deadline (a whole-response
// WriteTimeout would cut off every long answer), and each is flushed at
// once.
type stream struct {
	w           http.ResponseWriter
	rc          *http.ResponseController
	contentType string
	timeout     time.Duration
	started     bool
}

func newStream(w http.ResponseWriter, contentType string, timeout time.Duration) *stream {
	return &stream{w: w, rc: http.NewResponseController(w), contentType: contentType, timeout: timeout}
}

// write sends b; an error means the client is gone.
func (st *stream) write(b []byte) error {
	if st.timeout > 0 {
		if err := st.rc.SetWriteDeadline(time.Now().Add(st.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	if !st.started {
		h := st.w.Header()
		h.Set("Content-Type", st.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no") // a reverse proxy must not buffer the stream
		st.w.WriteHeader(http.StatusOK)
		st.started = true
	}
	if _, err := st.w.Write(b); err != nil {
		return err
	}
	return st.rc.Flush()
}

// logError logs a failed request's cause (never sent to the client).
func (s *Server) logError(r *http.Request, e *apiError) {
	level := slog.LevelInfo
	if e.status >= 500 {
		level = slog.LevelError
	}
	attrs := []any{"path", r.URL.Path, "status", e.status, "message", e.msg}
	if e.cause != nil && e.cause.Error() != e.msg {
		attrs = append(attrs, "cause", e.cause)
	}
	s.log.Log(r.Context(), level, "request failed", attrs...)
}
