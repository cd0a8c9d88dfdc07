package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"glimpse/app"
	"glimpse/serve"
)

var serveCmd = &Command{
	Name:      "serve",
	UsageLine: "serve --model NAME|DIR [--addr 127.0.0.1:PORT] [flags]",
	Short:     "let other programs ask the model, over the OpenAI and Ollama APIs",
	Long: "Serves the model over HTTP until Ctrl+C, for programs that speak the OpenAI\n" +
		"chat completions API (POST /v1/chat/completions, GET /v1/models) or the\n" +
		"Ollama API (POST /api/chat and /api/generate, GET /api/tags and /api/version).\n" +
		"Point a client at http://ADDR/v1 (OpenAI) or http://ADDR (Ollama).\n\n" +
		"A request that names no generation settings is answered as `glimpse ask`\n" +
		"answers (InstructBLIP's published settings); requests may carry transformers'\n" +
		"settings (num_beams, repetition_penalty, …) as extra fields, or in Ollama's\n" +
		"options. One question runs at a time; --queue more wait, and the rest get\n" +
		"429 with Retry-After.\n\n" +
		"The server listens on this machine only unless given an API key, which\n" +
		"clients then send as Authorization: Bearer KEY.\n\n",
	Run: runServe,
}

// listFlag is a flag that may be given several times, each time with one
// value or a comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func runServe(env *Env, fs *flag.FlagSet, args []string) int {
	stdout, stderr := env.Stdout, env.Stderr
	modelArg := modelFlag(fs)
	addr := fs.String("addr", serve.DefaultAddr, "HOST:PORT to listen on; other than 127.0.0.1 or localhost needs --api-key")
	ef := addEngineFlags(fs)
	apiKey := fs.String("api-key", "", "require this key from clients (Authorization: Bearer KEY); default: $GLIMPSE_API_KEY")
	allowSwitch := fs.Bool("allow-model-switch", false, "let a request that names another model (a folder or an installed model) load it in place of this one")
	var allowFiles, cors listFlag
	fs.Var(&allowFiles, "allow-files", "a folder whose images requests may name as file:// URLs (repeatable; default: none)")
	fs.Var(&cors, "cors", "a web origin (https://example.org, or *) whose pages may call the server (repeatable; default: none)")
	queue := fs.Int("queue", serve.DefaultQueue, "questions that may wait while one runs")
	record := fs.Bool("record", false, "save the questions and answers served in the history, each as a new conversation")
	maxImage := fs.Int("max-image-mb", serve.DefaultMaxImageBytes>>20, "largest image a request may send, in MiB")
	maxBody := fs.Int("max-body-mb", serve.DefaultMaxBodyBytes>>20, "largest request body, in MiB")
	if code, ok := parse(fs, args, required("model"), noArgs, atLeast("queue", 0), atLeast("max-image-mb", 1), atLeast("max-body-mb", 1)); !ok {
		return code
	}
	ctx, stop := interruptible()
	defer stop()
	if *apiKey == "" {
		*apiKey = os.Getenv("GLIMPSE_API_KEY")
	}
	if err := serve.CheckAddr(*addr, *apiKey); err != nil {
		return fail(stderr, "%v", err)
	}
	opt := serve.Options{
		Model: *modelArg,
		Open: app.OpenOptions{Backend: *ef.backend, Precision: *ef.precision, Fallback: func(err error) {
			fmt.Fprintf(stderr, "glimpse: no usable GPU (%v); serving on the CPU, which is much slower\n", err)
		}},
		AllowModelSwitch: *allowSwitch,
		Queue:            *queue,
		APIKey:           *apiKey,
		AllowFiles:       allowFiles,
		CORSOrigins:      cors,
		MaxImageBytes:    int64(*maxImage) << 20,
		MaxBodyBytes:     int64(*maxBody) << 20,
		Version:          env.Version,
		Log:              slog.New(slog.NewTextHandler(stderr, nil)),
	}
	if *queue == 0 {
		opt.Queue = -1 // none may wait; serve's 0 means its default
	}
	if *record {
		store, unusable, err := app.OpenHistory("")
		if err != nil {
			return fail(stderr, "%v", err)
		}
		if unusable != nil {
			fmt.Fprintf(stderr, "glimpse: warning: %v\n", unusable)
		}
		defer store.Close()
		opt.History = store
	}
	if isTerminal(stderr) {
		opt.Open.Progress = func(p app.LoadProgress) {
			fmt.Fprintf(stderr, "\r\033[Kloading %s: %d%% (%d of %d tensors)", *modelArg, int(100*p.Bytes/max(p.TotalBytes, 1)), p.Tensors, p.TotalTensors)
		}
	}
	s, err := serve.New(opt)
	if err != nil {
		return fail(stderr, "%v", err)
	}

	d, err := s.Load(ctx)
	if opt.Open.Progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		return failErr(stderr, err)
	}
	if err := s.Start(*addr); err != nil {
		return fail(stderr, "%v", err)
	}
	url := s.URL()
	if d.Auto != nil {
		fmt.Fprintf(stderr, "glimpse: %s\n", app.PrecisionNote(d))
	}
	fmt.Fprintf(stdout, "Glimpse serves %s (%s, %s) at %s\n", d.Name, d.Backend, d.Precision, url)
	fmt.Fprintf(stdout, "  OpenAI clients: base URL %s/v1\n  Ollama clients: host %s\n", url, url)
	if *record {
		fmt.Fprintln(stdout, "  Questions and answers are saved in the history.")
	}
	fmt.Fprintln(stdout, "Press Ctrl+C to stop.")

	select {
	case <-ctx.Done():
	case <-s.Done():
		return fail(stderr, "the server stopped: %v", s.Err())
	}
	fmt.Fprintln(stderr, "glimpse: stopping the server")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		return fail(stderr, "stopping the server: %v", err)
	}
	return 0
}
