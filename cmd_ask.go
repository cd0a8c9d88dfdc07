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
	"strings"
	"syscall"
	"time"

	"glimpse/compute"
	"glimpse/downloads"
	"glimpse/model"
	"glimpse/model/config"
	"glimpse/model/generate"
	"glimpse/model/imageproc"
	"glimpse/model/processor"
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

// seedSettings are the generation settings LAVIS and the original demo use:
// 5 beams, max_length 256, min_length 1, repetition_penalty 1.5,
// length_penalty 1, and top_p 0.9 / temperature 1 for when sampling is on.
func seedSettings() generate.Config {
	c := generate.DefaultConfig()
	c.NumBeams = 5
	c.MaxLength = 256
	c.MinLength = 1
	c.RepetitionPenalty = 1.5
	c.LengthPenalty = 1
	c.TopP = 0.9
	c.Temperature = 1
	return c
}

// loadedModel is a model folder opened for generation.
type loadedModel struct {
	dir     string
	folder  *config.Folder
	proc    *processor.Processor
	net     *model.Model
	backend compute.Backend
	name    string // backend and precision, for messages
}

func (l *loadedModel) Close() {
	l.net.Close()
	l.backend.Close()
}

// resolveModel turns --model into a folder: a folder path as given, or the
// name of a model installed with `glimpse models pull`.
func resolveModel(ctx context.Context, arg string) (string, error) {
	if arg == "" {
		return "", errors.New("--model is required: a model folder or the name of an installed model")
	}
	if st, err := os.Stat(arg); err == nil {
		if !st.IsDir() {
			return "", fmt.Errorf("--model %s is a file; give the model's folder", arg)
		}
		return arg, nil
	}
	dir, err := downloads.LocalPath(ctx, arg)
	if err != nil {
		return "", fmt.Errorf("--model %s is neither a folder nor an installed model: %v", arg, err)
	}
	return dir, nil
}

// openModel checks and loads a model folder on the chosen backend,
// reporting loading progress on a terminal.
func openModel(ctx context.Context, arg, backend, precision string, stderr io.Writer) (*loadedModel, error) {
	dir, err := resolveModel(ctx, arg)
	if err != nil {
		return nil, err
	}
	folder, err := config.LoadFolder(dir)
	if err != nil {
		return nil, err
	}
	proc, err := processor.Load(dir)
	if err != nil {
		return nil, err
	}
	var be compute.Backend
	switch backend {
	case "cpu":
		be = compute.NewCPU()
	case "gl", "auto":
		be, err = compute.NewGL()
		if err != nil {
			if backend == "gl" {
				return nil, fmt.Errorf("the GPU (OpenGL 4.3) backend cannot start: %v", err)
			}
			fmt.Fprintf(stderr, "glimpse: no usable GPU (%v); running on the CPU, which is much slower\n", err)
			be, backend = compute.NewCPU(), "cpu"
		} else {
			backend = "gl"
		}
	default:
		return nil, fmt.Errorf("--backend %q: use gl, cpu or auto", backend)
	}
	dtype := compute.F32
	switch precision {
	case "fp32":
	case "fp16":
		dtype = compute.F16
	case "auto":
		if backend == "gl" {
			dtype, precision = compute.F16, "fp16"
		} else {
			precision = "fp32"
		}
	default:
		be.Close()
		return nil, fmt.Errorf("--precision %q: use fp32, fp16 or auto", precision)
	}
	opt := model.LoadOptions{Precision: dtype}
	tty := isTerminal(stderr)
	if tty {
		opt.Progress = func(p model.LoadProgress) {
			fmt.Fprintf(stderr, "\r\033[Kloading %s: %d%% (%d of %d tensors)", dir, int(100*p.Bytes/max(p.TotalBytes, 1)), p.Tensors, p.TotalTensors)
		}
	}
	net, err := model.Load(ctx, be, dir, opt)
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		be.Close()
		return nil, err
	}
	return &loadedModel{dir: dir, folder: folder, proc: proc, net: net, backend: be, name: backend + "/" + precision}, nil
}

// baseConfig fills in what generation takes from the model: EOS from the
// tokenizer (Vicuna's configs name the wrong id), the pad id, the tokens
// never to generate, and the decoder for the text.
func (l *loadedModel) baseConfig(c generate.Config) generate.Config {
	tok := l.proc.Tokenizer
	c.EOS = nil
	if eos, ok := tok.EOS(); ok {
		c.EOS = []int32{eos}
	} else if id, ok := l.folder.Generation.EOSTokenID.First(); ok {
		c.EOS = []int32{int32(id)}
	}
	// The pad id generate() uses: the generation config's, else the
	// tokenizer's, else EOS (as transformers falls back).
	if pad, ok := l.folder.Generation.PadTokenID.First(); ok {
		c.PadID = int32(pad)
	} else if p, ok := tok.PAD(); ok {
		c.PadID = p
	} else if len(c.EOS) > 0 {
		c.PadID = c.EOS[0]
	}
	c.Suppress = l.suppressed(c.EOS)
	c.Decode = func(ids []int32) string { return tok.Decode(ids, true) }
	c.Partial = generate.ByteFallback(tok.IDToToken)
	return c
}

// suppressed lists the ids an answer must never contain: the `<image>`
// placeholder, the padding token (unless it ends answers), and the rows of
// a padded output layer that the tokenizer has no token for (Vicuna's
// 32064 rows for 32002 tokens). transformers would let the model pick
// them; they are never text. Flan-T5's <extra_id_*> tokens are real
// vocabulary and stay allowed.
func (l *loadedModel) suppressed(eos []int32) []int32 {
	tok := l.proc.Tokenizer
	ids := []int32{l.proc.ImageTokenID}
	if pad, ok := tok.PAD(); ok && !containsID(eos, pad) {
		ids = append(ids, pad)
	}
	for id := tok.VocabSize(); id < l.net.VocabSize(); id++ {
		ids = append(ids, int32(id))
	}
	return ids
}

func containsID(ids []int32, id int32) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

// prefix is what generate() starts from: the prompt ids for Vicuna, the
// decoder start token for Flan-T5.
func (l *loadedModel) prefix(in *processor.Inputs) [][]int32 {
	if l.net.Llama != nil {
		return in.InputIDs
	}
	start := int32(l.net.Config.Text.T5.DecoderStartTokenID)
	if s, ok := l.folder.Generation.DecoderStartTokenID.First(); ok {
		start = int32(s)
	}
	out := make([][]int32, len(in.InputIDs))
	for i := range out {
		out[i] = []int32{start}
	}
	return out
}

// modelInputs converts the processor's batch for the network.
func modelInputs(in *processor.Inputs) *model.Inputs {
	return &model.Inputs{PixelValues: in.PixelValues, InputIDs: in.InputIDs, AttentionMask: in.AttentionMask,
		QFormerInputIDs: in.QFormerInputIDs, QFormerAttentionMask: in.QFormerAttentionMask}
}

// timedSession measures the prefill and the steps of a generation.
type timedSession struct {
	generate.Session
	prefill, steps time.Duration
}

func (s *timedSession) Prefill(ctx context.Context) ([][]float32, error) {
	start := time.Now()
	defer func() { s.prefill += time.Since(start) }()
	return s.Session.Prefill(ctx)
}

func (s *timedSession) Step(ctx context.Context, tokens []int32) ([][]float32, error) {
	start := time.Now()
	defer func() { s.steps += time.Since(start) }()
	return s.Session.Step(ctx, tokens)
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
	gf := addGenFlags(fs, seedSettings())
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: glimpse ask --model DIR --image FILE --prompt TEXT [flags]\n\n"+
			"Answers the prompt about the image and streams the answer to standard output\n"+
			"(beam search, the default, shows the answer when it is complete).\n"+
			"Generation flags carry transformers' generate() names and default to the\n"+
			"settings InstructBLIP was published with.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
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
	lm, err := openModel(ctx, *modelArg, *gf.backend, *gf.precision, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer lm.Close()
	loaded := time.Now()

	in, err := lm.proc.Process([]image.Image{img}, []string{*prompt})
	if err != nil {
		return fail(stderr, "%v", err)
	}
	for _, w := range in.Warnings {
		fmt.Fprintf(stderr, "glimpse: warning: %s\n", w)
	}
	cfg := lm.baseConfig(gf.config(seedSettings()))
	sess, err := lm.net.NewSession(modelInputs(in))
	if err != nil {
		return fail(stderr, "%v", err)
	}
	timed := &timedSession{Session: sess}
	preprocessed := time.Now()

	tty := isTerminal(stderr)
	streamed := false
	res, err := generate.Generate(ctx, timed, lm.prefix(in), cfg, func(e generate.Event) {
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
	r := res[0]
	if cfg.NumBeams > 1 {
		io.WriteString(stdout, r.Text)
	}
	fmt.Fprintln(stdout)
	if *asJSON {
		decodeSteps := max(r.NewTokens-1, 0)
		timings := map[string]any{
			"backend":       lm.name,
			"load_ms":       ms(loaded.Sub(start)),
			"preprocess_ms": ms(preprocessed.Sub(loaded)),
			"prefill_ms":    ms(timed.prefill),
			"decode_ms":     ms(timed.steps),
			"total_ms":      ms(time.Since(start)),
		}
		if timed.steps > 0 && decodeSteps > 0 {
			timings["decode_tokens_per_s"] = float64(decodeSteps) / timed.steps.Seconds()
		}
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(askResult{Sequence: r.Sequence, Text: r.Text, PromptTokens: len(in.InputIDs[0]),
			NewTokens: r.NewTokens, Timings: timings}); err != nil {
			return fail(stderr, "writing the result: %v", err)
		}
	}
	return 0
}
