// Package serve is `glimpse serve`: an HTTP server that lets other programs
// ask the local model questions about images, over the OpenAI chat
// completions API and the Ollama API, so that their existing clients work
// with Glimpse unchanged. The command line and the desktop app's settings
// start the same Server.
//
// The server is a front end like the others: it opens models, asks them
// and records exchanges through the application layer (glimpse/app), and a
// request that names no generation settings gets the answer `glimpse ask`
// gives (app.SeedSettings). What it adds is what a server needs: one model
// resident at a time behind a bounded queue (429 with Retry-After when
// full), generation stopped when its client leaves, limits on bodies and
// images, per-write deadlines that long streams survive, loopback-only
// unless an API key is set, and errors in each API's own format.
package serve

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"glimpse/app"
	"glimpse/history"
)

// DefaultAddr is where the server listens unless told otherwise: loopback
// only, one port above Ollama's 11434, so that both can run. Clients that
// insist on Ollama's port can be served with --addr 127.0.0.1:11434.
const DefaultAddr = "127.0.0.1:11435"

// Defaults for the zero values of Options.
const (
	DefaultQueue         = 4
	DefaultMaxBodyBytes  = 32 << 20 // a 20 MiB image in base64, and then some
	DefaultMaxImageBytes = 20 << 20 // OpenAI's own limit per image
	DefaultReadTimeout   = time.Minute
	DefaultWriteTimeout  = time.Minute
	DefaultIdleTimeout   = 2 * time.Minute
)

// Options configure a Server. The zero value serves nothing until Model is
// set; every other field has a safe default.
type Options struct {
	// Model is the model to serve: a folder, or the name of a model
	// installed with the model manager (see app.Open).
	Model string
	// Open chooses the compute engine and precision, as for `glimpse ask`.
	// Its Progress and Fallback, when set, hear about every load.
	Open app.OpenOptions
	// AllowModelSwitch lets a request that names another model load it in
	// place of the resident one; without it such requests get a 404.
	AllowModelSwitch bool
	// Queue is how many requests may wait while one runs; more are refused
	// with 429 and Retry-After. 0 means DefaultQueue; a negative value
	// lets none wait.
	Queue int
	// APIKey, when set, must come with every request as
	// "Authorization: Bearer KEY". Addresses other than loopback need one.
	APIKey string
	// AllowFiles lists the folders whose images requests may name as
	// file:// URLs; none, the default, refuses file:// URLs.
	AllowFiles []string
	// CORSOrigins lists the web origins (https://example.org) whose pages
	// may call the server, "*" for any; none, the default, refuses every
	// request a browser marks with another origin.
	CORSOrigins []string
	// MaxBodyBytes and MaxImageBytes bound a request's body and each image
	// in it; 0 means the defaults above.
	MaxBodyBytes, MaxImageBytes int64
	// ReadTimeout bounds reading a request, headers and body.
	// WriteTimeout bounds each write of a response (not the whole
	// response: a streamed answer may take minutes). IdleTimeout closes
	// kept-alive connections. 0 means the defaults above.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// History, when set, records every answered question there as a new
	// conversation; nil (the default) records nothing.
	History *history.Store
	// Version is reported by /api/version.
	Version string
	// Log receives a line per request and per model load; nil discards.
	Log *slog.Logger
}

// Server is the HTTP server. It is an http.Handler; Start listens and
// serves, Shutdown stops it and frees the model. A Server serves once:
// start a new one to serve again.
type Server struct {
	opt          Options
	log          *slog.Logger
	eng          *engine
	roots        []string // AllowFiles with links resolved
	rootsAsGiven []string // AllowFiles, absolute
	keyHash      [32]byte
	started      time.Time

	mu        sync.Mutex
	srv       *http.Server
	addr      net.Addr
	checkHost bool            // the listener is loopback: refuse other Host headers
	base      context.Context // of every request; done once Shutdown begins
	stop      context.CancelFunc
	done      chan struct{}
	serveErr  error
}

// route is one endpoint: its method, its API (for the error format) and
// its handler. A handler's error is answered in the API's format unless
// the handler already started its response.
type route struct {
	method string
	api    api
	handle func(s *Server, w http.ResponseWriter, r *http.Request) error
}

// routes lists the endpoints.
var routes = map[string]route{
	"/v1/chat/completions": {http.MethodPost, openAI, (*Server).chatCompletions},
	"/v1/models":           {http.MethodGet, openAI, (*Server).listModels},
	"/api/chat":            {http.MethodPost, ollama, (*Server).ollamaChat},
	"/api/generate":        {http.MethodPost, ollama, (*Server).ollamaGenerate},
	"/api/tags":            {http.MethodGet, ollama, (*Server).ollamaTags},
	"/api/version":         {http.MethodGet, ollama, (*Server).ollamaVersion},
	"/":                    {http.MethodGet, ollama, (*Server).root},
}

// New checks opt and makes a Server. It loads nothing: Load loads the
// model now, or the first request does.
func New(opt Options) (*Server, error) {
	switch {
	case opt.Queue == 0:
		opt.Queue = DefaultQueue
	case opt.Queue < 0:
		opt.Queue = 0
	}
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&opt.MaxBodyBytes, DefaultMaxBodyBytes)
	def(&opt.MaxImageBytes, DefaultMaxImageBytes)
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur(&opt.ReadTimeout, DefaultReadTimeout)
	defDur(&opt.WriteTimeout, DefaultWriteTimeout)
	defDur(&opt.IdleTimeout, DefaultIdleTimeout)
	s := &Server{opt: opt, log: opt.Log, started: time.Now(), done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, dir := range opt.AllowFiles {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("allowed folder %s: %v", dir, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return nil, fmt.Errorf("allowed folder %s: %v", dir, userErr(err))
		}
		if st, err := os.Stat(real); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("allowed folder %s is not a folder", dir)
		}
		s.roots = append(s.roots, real)
		s.rootsAsGiven = append(s.rootsAsGiven, abs)
	}
	for _, o := range opt.CORSOrigins {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			return nil, fmt.Errorf("CORS origin %q must be * or start with http:// or https://", o)
		}
	}
	s.keyHash = sha256.Sum256([]byte(opt.APIKey))
	open := func(ctx context.Context, name string) (*app.Model, error) { return app.Open(ctx, name, opt.Open) }
	s.eng = newEngine(opt.Queue, opt.Model, opt.AllowModelSwitch, open)
	return s, nil
}

// Load loads the model now rather than at the first request, so that a
// missing model is reported when the server starts.
func (s *Server) Load(ctx context.Context) (app.Description, error) {
	release, _, err := s.eng.acquire(ctx)
	if err != nil {
		return app.Description{}, err
	}
	defer release()
	m, _, err := s.eng.model(ctx, "")
	if err != nil {
		return app.Description{}, err
	}
	return m.Describe(), nil
}

// CheckAddr refuses to serve beyond this machine without a key: an
// address that is not loopback (127.0.0.1, ::1, localhost) needs apiKey.
// An empty host (":11435") means every interface.
func CheckAddr(addr, apiKey string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %v (use HOST:PORT, such as %s)", addr, err, DefaultAddr)
	}
	if apiKey == "" && !isLoopback(host) {
		return fmt.Errorf("address %s reaches beyond this machine: set an API key (--api-key, or GLIMPSE_API_KEY) to serve on it, or use 127.0.0.1", addr)
	}
	return nil
}

// isLoopback reports whether a host names this machine only.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Start listens on addr (see CheckAddr) and serves in the background
// until Shutdown. Addr then says where.
func (s *Server) Start(addr string) error {
	if err := CheckAddr(addr, s.opt.APIKey); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("the server is already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %v", addr, err)
	}
	tcp, _ := ln.Addr().(*net.TCPAddr)
	loopback := tcp != nil && tcp.IP.IsLoopback()
	if !loopback && s.opt.APIKey == "" {
		// "localhost" resolved to something else.
		ln.Close()
		return fmt.Errorf("%s is not a loopback address; set an API key to serve on it", ln.Addr())
	}
	ctx, stop := context.WithCancel(context.Background())
	s.base, s.stop, s.addr, s.checkHost = ctx, stop, ln.Addr(), loopback
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: min(s.opt.ReadTimeout, 10*time.Second),
		ReadTimeout:       s.opt.ReadTimeout,
		IdleTimeout:       s.opt.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	go func() {
		err := s.srv.Serve(ln)
		s.mu.Lock()
		if !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = err
		}
		s.mu.Unlock()
		close(s.done)
	}()
	s.log.Info("serving", "url", "http://"+ln.Addr().String())
	return nil
}

// Addr returns the address the server listens on ("127.0.0.1:11435"), or
// "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == nil {
		return ""
	}
	return s.addr.String()
}

// URL returns the base URL clients use ("http://127.0.0.1:11435"), or ""
// before Start.
func (s *Server) URL() string {
	a := s.Addr()
	if a == "" {
		return ""
	}
	return "http://" + a
}

// Done is closed when the server stops serving: after Shutdown, or when
// its listener fails (Err says why).
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns why the server stopped serving on its own, or nil.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serveErr
}

// Shutdown stops the server: it stops listening, stops the answers being
// generated (their clients get an error), waits for the requests to end
// until ctx does, and frees the model.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, stop := s.srv, s.stop
	s.mu.Unlock()
	var err error
	if srv != nil {
		stop()
		err = srv.Shutdown(ctx)
		if err != nil {
			srv.Close()
		}
	}
	// Wait for the running request to let go of the model, then free it.
	select {
	case s.eng.turn <- struct{}{}:
		s.eng.unload()
		<-s.eng.turn
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// stopping reports whether Shutdown has begun.
func (s *Server) stopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base != nil && s.base.Err() != nil
}

// servedName is the model's name for listings: the resident model's, or
// the name of the one the server will load.
func (s *Server) servedName() string {
	if d := s.eng.description(); d != nil {
		return d.Name
	}
	name := s.opt.Model
	if st, err := os.Stat(name); err == nil && st.IsDir() {
		name = filepath.Base(filepath.Clean(name))
	}
	return name
}

// root answers GET / as Ollama does, for clients that check the server is
// up.
func (s *Server) root(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "Glimpse is running\n")
	return nil
}

// ServeHTTP checks a request (panics, the Host header, CORS, the route,
// the API key, the body limit) and hands it to its endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := openAI
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		a = ollama
	}
	fail := func(e *apiError) {
		s.logError(r, e)
		// An error may come after a long generation: its write gets
		// its own deadline too.
		s.setWriteDeadline(w)
		a.writeError(w, e)
	}
	defer func() {
		// A panic must neither leak a stack trace nor kill the
		// connection without an answer.
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic while answering", "path", r.URL.Path, "panic", fmt.Sprint(p))
			fail(&apiError{status: http.StatusInternalServerError, typ: typeServer, code: "internal_error",
				msg: "Glimpse failed while answering; see the server's log"})
		}
	}()
	if s.checkHost && !isLoopback(hostOnly(r.Host)) {
		// A web page that rebinds its own domain to 127.0.0.1 would
		// otherwise reach a loopback server with its own Host header.
		fail(&apiError{status: http.StatusForbidden, typ: typeInvalid, code: "host_not_allowed",
			msg: fmt.Sprintf("host %q is not this server's: it listens on loopback and answers to localhost or 127.0.0.1", r.Host)})
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if !s.corsAllowed(origin) {
			fail(&apiError{status: http.StatusForbidden, typ: typeInvalid, code: "origin_not_allowed",
				msg: fmt.Sprintf("origin %s may not call this server: start it with --cors %s to let that web page in", origin, origin)})
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	rt, ok := routes[r.URL.Path]
	switch {
	case !ok:
		fail(&apiError{status: http.StatusNotFound, typ: typeNotFound, code: "unknown_endpoint",
			msg: fmt.Sprintf("%s is not an endpoint of Glimpse (it serves /v1/chat/completions, /v1/models, /api/chat, /api/generate, /api/tags and /api/version)", r.URL.Path)})
		return
	case r.Method != rt.method && !(r.Method == http.MethodHead && rt.method == http.MethodGet):
		w.Header().Set("Allow", rt.method)
		fail(&apiError{status: http.StatusMethodNotAllowed, typ: typeInvalid, code: "method_not_allowed",
			msg: fmt.Sprintf("%s takes %s, not %s", r.URL.Path, rt.method, r.Method)})
		return
	case !s.authorized(r):
		w.Header().Set("WWW-Authenticate", `Bearer realm="glimpse"`)
		fail(&apiError{status: http.StatusUnauthorized, typ: typeAuth, code: "invalid_api_key",
			msg: "missing or wrong API key: send it as Authorization: Bearer KEY"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes)
	if err := rt.handle(s, w, r); err != nil && err != errClientGone {
		fail(toAPIError(err))
	}
}

// authorized checks the API key in constant time: the hashes have one
// length whatever the key sent, so not even the key's length leaks.
func (s *Server) authorized(r *http.Request) bool {
	if s.opt.APIKey == "" {
		return true
	}
	scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	got := sha256.Sum256([]byte(strings.TrimSpace(key)))
	ok := subtle.ConstantTimeCompare(got[:], s.keyHash[:]) == 1
	return ok && strings.EqualFold(scheme, "Bearer")
}

// corsAllowed reports whether a web page from origin may call the server.
func (s *Server) corsAllowed(origin string) bool {
	return slices.Contains(s.opt.CORSOrigins, "*") || slices.Contains(s.opt.CORSOrigins, origin)
}

// hostOnly strips the port from a Host header.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// readJSON reads the whole body (bounded by MaxBodyBytes and ReadTimeout)
// and decodes it into v. Reading it all matters: only then does net/http
// watch the connection (with ReadTimeout lifted, so a long generation
// outlives it) and cancel the request's context when the client leaves.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return toAPIError(err)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return &apiError{status: http.StatusRequestTimeout, typ: typeInvalid, code: "request_timeout", cause: err,
				msg: fmt.Sprintf("the request body did not arrive within %v", s.opt.ReadTimeout)}
		}
		return badRequest("", "invalid_body", "the request body could not be read: %v", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return badRequest("", "invalid_json", "the request body is empty: send a JSON object")
	}
	if err := jsonUnmarshal(body, v); err != nil {
		return jsonError(err)
	}
	return nil
}

// setWriteDeadline gives a whole, unstreamed response its write deadline,
// counted from now: the generation before it may have taken long.
func (s *Server) setWriteDeadline(w http.ResponseWriter) {
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opt.WriteTimeout))
}
