package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"glimpse/app"
	"glimpse/generate"
)

// The flags and helpers the commands share: the model, the compute engine
// and the generation settings (ask, caption and bench), parsing, errors, and
// loading a model with progress on a terminal.

// parse parses a command's flags. When it returns ok false the command ends
// with code: 0 after -h (the usage was printed), 2 for a bad flag.
func parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

// fail prints an error for the user and returns exit code 1.
func fail(stderr io.Writer, format string, a ...any) int {
	msg := fmt.Sprintf(format, a...)
	fmt.Fprintln(stderr, "glimpse: "+strings.TrimRight(msg, "\n"))
	return 1
}

// failErr ends a command on err: "stopped" and 130 (as shells report
// Ctrl-C) when the work was stopped, else the error and 1.
func failErr(stderr io.Writer, err error) int {
	if errors.Is(err, app.ErrCancelled) {
		fmt.Fprintln(stderr, "glimpse: stopped")
		return 130
	}
	return fail(stderr, "%v", err)
}

// modelFlag registers --model.
func modelFlag(fs *flag.FlagSet) *string {
	return fs.String("model", "", "model folder, or the name of a model installed with `glimpse models pull`")
}

// engineFlags are the compute engine's flags.
type engineFlags struct {
	backend, precision *string
}

// addEngineFlags registers --backend and --precision on fs.
func addEngineFlags(fs *flag.FlagSet) engineFlags {
	return engineFlags{
		backend:   fs.String("backend", "auto", "compute engine: gl (GPU through OpenGL), cpu, or auto (gl when available)"),
		precision: fs.String("precision", "auto", "weight precision: fp32, fp16, or auto (fp16 on gl, fp32 on cpu)"),
	}
}

// genFlags are the generation flags `ask` and `caption` share, under
// transformers' generate() names.
type genFlags struct {
	maxNewTokens, maxLength, minLength     *int
	numBeams, topK, noRepeatNgram          *int
	doSample                               *bool
	temperature, topP, repetition, lengthP *float64
	seed                                   *uint64
}

// addGenFlags registers the generation flags on fs with d's values as
// defaults.
func addGenFlags(fs *flag.FlagSet, d generate.Config) *genFlags {
	return &genFlags{
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

// openModel opens the model a command names, showing the loading progress
// on a terminal; when "auto" has to fall back to the CPU it says so, ending
// with onCPU ("running on the CPU, which is much slower").
func openModel(ctx context.Context, stderr io.Writer, name string, e engineFlags, onCPU string) (*app.Model, error) {
	opt := app.OpenOptions{Backend: *e.backend, Precision: *e.precision, Fallback: func(err error) {
		fmt.Fprintf(stderr, "glimpse: no usable GPU (%v); %s\n", err, onCPU)
	}}
	tty := isTerminal(stderr)
	if tty {
		opt.Progress = func(p app.LoadProgress) {
			fmt.Fprintf(stderr, "\r\033[Kloading %s: %d%% (%d of %d tensors)", name, int(100*p.Bytes/max(p.TotalBytes, 1)), p.Tensors, p.TotalTensors)
		}
	}
	m, err := app.Open(ctx, name, opt)
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	return m, err
}

// interruptible returns a context that Ctrl-C and SIGTERM cancel, so that
// work stops cleanly (a pull with its progress saved, a caption run with
// what it wrote).
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// isTerminal reports whether w is a terminal, where progress lines are
// redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// ms is a duration in milliseconds, for JSON.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
