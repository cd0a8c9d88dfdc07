package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"glimpse/generate"
	"glimpse/history"
	"glimpse/input/imageproc"
	"glimpse/model"
	"glimpse/pipeline"
)

func init() {
	commands["ask"] = command{
		summary: "answer a question about an image, streaming the answer",
		run:     runAsk,
	}
}

// genFlags are the generation flags `ask` and `caption` share, under
// transformers' generate() names.
type genFlags struct {
	fs                                     *flag.FlagSet
	maxNewTokens, maxLength, minLength     *int
	numBeams, topK, noRepeatNgram          *int
	doSample                               *bool
	temperature, topP, repetition, lengthP *float64
	seed                                   *uint64
	backend, precision                     *string
}

// addGenFlags registers the generation and engine flags on fs with d's
// values as defaults.
func addGenFlags(fs *flag.FlagSet, d generate.Config) *genFlags {
	return &genFlags{
		fs:            fs,
		maxNewTokens:  fs.Int("max-new-tokens", d.MaxNewTokens, "most tokens to generate; overrides --max-length (0: use --max-length)"),
		maxLength:     fs.Int("max-length", d.MaxLength, "most tokens in the sequence, counting the prompt for Vicuna models and the start token for Flan-T5"),
		minLength:     fs.Int("min-length", d.MinLength, "no end of answer before this length (counted like --max-length)"),
		numBeams:      fs.Int("num-beams", d.NumBeams, "beam search width; 1 for greedy search or plain sampling (which stream word by word)"),
		doSample:      fs.Bool("do-sample", d.DoSample, "sample tokens instead of taking the most likely ones"),
		temperature:   fs.Float64("temperature", d.Temperature, "sampling temperature"),
		topP:          fs.Float64("top-p", d.TopP, "sampling: keep the most likely tokens up to this total probability"),
		topK:          fs.Int("top-k", d.TopK, "sampling: keep this many most likely tokens (0: all)"),
		repetition:    fs.Float64("repetition-penalty", d.RepetitionPenalty, "penalty for tokens already in the prompt or answer (1: none)"),
		lengthP:       fs.Float64("length-penalty", d.LengthPenalty, "beam search: exponent of the length that divides an answer's score (>0 favours longer answers)"),
		noRepeatNgram: fs.Int("no-repeat-ngram-size", d.NoRepeatNgramSize, "never repeat a sequence of this many tokens (0: off)"),
		seed:          fs.Uint64("seed", d.Seed, "random seed for sampling; the same seed gives the same answer"),
		backend:       fs.String("backend", "auto", "compute engine: gl (GPU through OpenGL), cpu, or auto (gl when available)"),
		precision:     fs.String("precision", "auto", "weight precision: fp32, fp16, or auto (fp16 on gl, fp32 on cpu)"),
	}
}

// config returns base with the flags' values.
func (g *genFlags) config(base generate.Config) generate.Config {
	base.MaxNewTokens, base.MaxLength, base.MinLength = *g.maxNewTokens, *g.maxLength, *g.minLength
	base.NumBeams, base.DoSample = *g.numBeams, *g.doSample
	base.Temperature, base.TopP, base.TopK = *g.temperature, *g.topP, *g.topK
	base.RepetitionPenalty, base.LengthPenalty = *g.repetition, *g.lengthP
	base.NoRepeatNgramSize, base.Seed = *g.noRepeatNgram, *g.seed
	return base
}

// openPipeline loads a model for a command, reporting loading progress on a
// terminal and a fallback to the CPU.
func openPipeline(ctx context.Context, modelArg, backend, precision string, stderr io.Writer) (*pipeline.Pipeline, error) {
	opt := pipeline.Options{Backend: backend, Precision: precision, Fallback: func(err error) {
		fmt.Fprintf(stderr, "glimpse: no usable GPU (%v); running on the CPU, which is much slower\n", err)
	}}
	tty := isTerminal(stderr)
	if tty {
		opt.Progress = func(p model.LoadProgress) {
			fmt.Fprintf(stderr, "\r\033[Kloading %s: %d%% (%d of %d tensors)", modelArg, int(100*p.Bytes/max(p.TotalBytes, 1)), p.Tensors, p.TotalTensors)
		}
	}
	p, err := pipeline.Open(ctx, modelArg, opt)
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if errors.Is(err, pipeline.ErrBadOption) {
		return nil, fmt.Errorf("%v", strings.Replace(err.Error(), "unknown option: ", "", 1))
	}
	return p, err
}

// askResult is the last line of `glimpse ask --json`.
type askResult struct {
	Sequence     []int32        `json:"sequence"`
	Text         string         `json:"text"`
	PromptTokens int            `json:"prompt_tokens"`
	NewTokens    int            `json:"new_tokens"`
	Timings      map[string]any `json:"timings"`
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// decodeImage reads an image file with a message for the user on failure.
func decodeImage(path string) (image.Image, error) {
	img, _, err := imageproc.DecodeFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("image %s does not exist", path)
		}
		return nil, fmt.Errorf("cannot read image %s: %v", path, trimPath(err, path))
	}
	return img, nil
}

// trimPath drops a leading "path: " the decoder already put in err.
func trimPath(err error, path string) string {
	return strings.TrimPrefix(err.Error(), path+": ")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func runAsk(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ask", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelArg := fs.String("model", "", "model folder, or the name of a model installed with `glimpse models pull`")
	imagePath := fs.String("image", "", "image file (PNG, JPEG, GIF, WebP, BMP, TIFF)")
	prompt := fs.String("prompt", "", "the question or instruction")
	asJSON := fs.Bool("json", false, `after the answer, write {"sequence", "text", "prompt_tokens", "new_tokens", "timings"} as the last line`)
	save := fs.Bool("save", false, "record the image, question, answer and settings as a new conversation in the history")
	gf := addGenFlags(fs, pipeline.SeedSettings())
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: glimpse ask --model DIR --image FILE --prompt TEXT [flags]\n\n"+
			"Answers the prompt about the image and streams the answer to standard output\n"+
			"(beam search, the default, shows the answer when it is complete).\n"+
			"Generation flags carry transformers' generate() names and default to the\n"+
			"settings InstructBLIP was published with.\n\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 || *imagePath == "" || *prompt == "" || *modelArg == "" {
		fs.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()

	img, err := decodeImage(*imagePath)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	p, err := openPipeline(ctx, *modelArg, *gf.backend, *gf.precision, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer p.Close()
	loaded := time.Now()

	cfg := gf.config(pipeline.SeedSettings())
	tty := isTerminal(stderr)
	streamed := false
	res, err := p.Ask(ctx, []image.Image{img}, []string{*prompt}, cfg, func(e generate.Event) {
		switch {
		case e.Index < 0: // beam search progress
			if tty {
				fmt.Fprintf(stderr, "\r\033[Kthinking… step %d of at most %d", e.Step, e.MaxSteps)
			}
		case e.Index == 0 && cfg.NumBeams == 1:
			io.WriteString(stdout, e.Text)
			streamed = true
		}
	})
	if tty && cfg.NumBeams > 1 {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if res != nil {
		for _, w := range res.Warnings {
			fmt.Fprintf(stderr, "glimpse: warning: %s\n", w)
		}
	}
	if err != nil {
		if streamed {
			fmt.Fprintln(stdout)
		}
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "glimpse: stopped")
			return 130
		}
		return fail(stderr, "%v", err)
	}
	r := res.Answers[0]
	if cfg.NumBeams > 1 {
		io.WriteString(stdout, r.Text)
	}
	fmt.Fprintln(stdout)
	if *save {
		if err := saveExchange(ctx, *imagePath, *prompt, cfg, p.Describe(), res); err != nil {
			return fail(stderr, "the answer was not saved to the history: %v", err)
		}
	}
	if *asJSON {
		d, t := p.Describe(), res.Timings
		timings := map[string]any{
			"backend":       d.Backend + "/" + d.Precision,
			"device":        d.Device,
			"load_ms":       ms(loaded.Sub(start)),
			"preprocess_ms": ms(t.Preprocess),
			"prefill_ms":    ms(t.Prefill),
			"decode_ms":     ms(t.Decode),
			"total_ms":      ms(time.Since(start)),
		}
		if t.Decode > 0 && t.Steps > 0 {
			timings["decode_tokens_per_s"] = float64(t.Steps) / t.Decode.Seconds()
		}
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(askResult{Sequence: r.Sequence, Text: r.Text, PromptTokens: r.PromptTokens,
			NewTokens: r.NewTokens, Timings: timings}); err != nil {
			return fail(stderr, "writing the result: %v", err)
		}
	}
	return 0
}

// saveExchange records an answered question as a new conversation.
func saveExchange(ctx context.Context, imagePath, prompt string, cfg generate.Config, d pipeline.Description, res *pipeline.Result) error {
	data, err := os.ReadFile(imagePath)
	if err != nil {
		return err
	}
	settings := cfg.Settings()
	settings["backend"], settings["precision"], settings["device"] = d.Backend, d.Precision, d.Device
	js, err := json.Marshal(settings)
	if err != nil {
		return err
	}
	store, err := history.OpenDefault()
	if err != nil {
		return err
	}
	defer store.Close()
	a := res.Answers[0]
	_, err = store.SaveExchange(ctx, history.Exchange{
		Prompt:   prompt,
		Images:   []history.Image{{Name: filepath.Base(imagePath), Data: data}},
		Answer:   a.Text,
		Model:    d.Name,
		Revision: d.Revision,
		Settings: js,
		// The pipeline times the image encoder together with the prompt.
		Timings:      history.Timings{Prefill: res.Timings.Preprocess + res.Timings.Prefill, Decode: res.Timings.Decode},
		PromptTokens: a.PromptTokens,
		OutputTokens: a.NewTokens,
	})
	return err
}
