package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"glimpse/app"
	"glimpse/downloads"
	"glimpse/generate"
)

// The flags and helpers the commands share: the model, the compute engine
// and the generation settings (ask, caption and bench), parsing, errors, and
// loading a model with progress on a terminal.

// parse parses a command's flags and checks the command line against
// rules. When it returns ok false the command ends with code: 0 after -h
// (the usage was printed); 2 for a mistake in the command line (an unknown
// flag, a bad number, a required flag missing or empty, a stray
// argument), said in one line that names the flag and why, before the
// usage; 1 for a number that parses but no setting can take (NaN, Inf),
// said in one line.
func parse(fs *flag.FlagSet, args []string, rules ...rule) (code int, ok bool) {
	// The flag package prints its own wording, then the usage; its error
	// is worded again here, in the words of the other mistakes.
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return 0, false
	case err != nil:
		return usageError(fs, "%s", flagError(err)), false
	}
	if msg := nonFinite(fs); msg != "" {
		fmt.Fprintf(fs.Output(), "glimpse %s: %s\n", fs.Name(), msg)
		return 1, false
	}
	for _, r := range rules {
		if msg := r(fs); msg != "" {
			return usageError(fs, "%s", msg), false
		}
	}
	return 0, true
}

// usageError says in one line what is wrong with a command line, then
// prints the command's usage, and returns exit code 2.
func usageError(fs *flag.FlagSet, format string, a ...any) int {
	fmt.Fprintf(fs.Output(), "glimpse %s: %s\n", fs.Name(), fmt.Sprintf(format, a...))
	fs.Usage()
	return 2
}

// flagMessages reword the flag package's errors with the flags written as
// the help writes them (--name).
var flagMessages = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`^flag provided but not defined: -+(.*)$`), "unknown flag --$1"},
	{regexp.MustCompile(`^flag needs an argument: -+(.*)$`), "--$1 needs a value"},
	{regexp.MustCompile(`^invalid boolean value (".*") for -+([^:]*): .*$`), "invalid value $1 for --$2: use true or false"},
	{regexp.MustCompile(`^invalid (?:boolean )?value (".*") for (?:flag )?-+([^:]*): (.*)$`), "invalid value $1 for --$2: $3"},
}

// flagCauses reword the flag package's number errors.
var flagCauses = strings.NewReplacer("parse error", "not a number", "value out of range", "out of range")

// flagError words an error of flag.FlagSet.Parse.
func flagError(err error) string {
	msg := err.Error()
	for _, m := range flagMessages {
		if m.re.MatchString(msg) {
			return flagCauses.Replace(m.re.ReplaceAllString(msg, m.repl))
		}
	}
	return msg
}

// nonFinite says which float flag was set to NaN or an infinity, which
// strconv parses and no setting can take: refused here, naming the flag,
// before anything is loaded.
func nonFinite(fs *flag.FlagSet) string {
	var msg string
	fs.Visit(func(f *flag.Flag) {
		g, ok := f.Value.(flag.Getter)
		if !ok || msg != "" {
			return
		}
		if x, ok := g.Get().(float64); ok && (math.IsNaN(x) || math.IsInf(x, 0)) {
			msg = fmt.Sprintf("--%s must be a finite number, got %s", f.Name, f.Value)
		}
	})
	return msg
}

// rule checks a parsed command line: it says what is wrong, naming the
// flag or argument and why, or returns "".
type rule func(fs *flag.FlagSet) string

// required: each flag must be given a value that is not blank.
func required(names ...string) rule {
	return func(fs *flag.FlagSet) string {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for _, n := range names {
			switch {
			case !set[n]:
				return "--" + n + " is required"
			case strings.TrimSpace(fs.Lookup(n).Value.String()) == "":
				return "--" + n + " is empty"
			}
		}
		return ""
	}
}

// noArgs: the command takes flags only.
func noArgs(fs *flag.FlagSet) string {
	if fs.NArg() > 0 {
		return fmt.Sprintf("unexpected argument %q (this command takes flags only)", fs.Arg(0))
	}
	return ""
}

// someArgs: the command needs at least one argument; what says which.
func someArgs(what string) rule {
	return func(fs *flag.FlagSet) string {
		if fs.NArg() == 0 {
			return "name at least one " + what
		}
		return ""
	}
}

// oneArg: the command takes exactly one argument, what.
func oneArg(what string) rule {
	return func(fs *flag.FlagSet) string {
		switch {
		case fs.NArg() == 0:
			return what + " is required"
		case fs.NArg() > 1:
			return fmt.Sprintf("unexpected argument %q after %s (one %s only)", fs.Arg(1), fs.Arg(0), what)
		}
		return ""
	}
}

// atLeast: an int flag must be at least min.
func atLeast(name string, min int) rule {
	return func(fs *flag.FlagSet) string {
		v, _ := fs.Lookup(name).Value.(flag.Getter).Get().(int)
		if v < min {
			return fmt.Sprintf("--%s must be at least %d, got %d", name, min, v)
		}
		return ""
	}
}

// notBoth: two bool flags that exclude each other.
func notBoth(a, b string) rule {
	return func(fs *flag.FlagSet) string {
		va, _ := fs.Lookup(a).Value.(flag.Getter).Get().(bool)
		vb, _ := fs.Lookup(b).Value.(flag.Getter).Get().(bool)
		if va && vb {
			return fmt.Sprintf("--%s and --%s cannot be used together", a, b)
		}
		return ""
	}
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
	if errors.Is(err, app.ErrCancelled) || errors.Is(err, context.Canceled) {
		return stopped(stderr)
	}
	return fail(stderr, "%v", err)
}

// stopped says that the work was stopped (Ctrl-C, SIGTERM) and returns 130,
// the code shells give a program that Ctrl-C ended.
func stopped(stderr io.Writer) int {
	fmt.Fprintln(stderr, "glimpse: stopped")
	return 130
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
		precision: fs.String("precision", "auto", "weight precision: fp32, fp16, q8 (8-bit), q4 (4-bit, llama.cpp's Q4_K_M mix), or auto (the best that fits the memory free: fp32, fp16, q8, q4 on cpu; fp16, q8, q4 on gl)"),
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
// with onCPU ("running on the CPU, which is much slower"); when the
// precision is "auto" it says which it chose and why (app.PrecisionNote).
func openModel(ctx context.Context, stderr io.Writer, name string, e engineFlags, onCPU string) (*app.Model, error) {
	opt := app.OpenOptions{Backend: *e.backend, Precision: *e.precision, Fallback: func(err error) {
		fmt.Fprintf(stderr, "glimpse: no usable GPU (%v); %s\n", err, onCPU)
	}}
	tty := isTerminal(stderr)
	// A damaged or stale converted copy is said once, on its own line.
	warned := map[string]bool{}
	warn := func(p app.LoadProgress) {
		if p.Warning != "" && !warned[p.Warning] {
			warned[p.Warning] = true
			if tty {
				fmt.Fprint(stderr, "\r\033[K")
			}
			fmt.Fprintf(stderr, "glimpse: %s\n", p.Warning)
		}
	}
	if tty {
		opt.Progress = func(p app.LoadProgress) {
			warn(p)
			fmt.Fprintf(stderr, "\r\033[Kloading %s, %s: %d%% (%d of %d tensors)", name, p.Source, int(100*p.Bytes/max(p.TotalBytes, 1)), p.Tensors, p.TotalTensors)
		}
	} else {
		// One line for logs: a big model takes minutes to load, and a
		// script's log should say what the time went on.
		var source app.WeightSource = -1
		opt.Progress = func(p app.LoadProgress) {
			warn(p)
			if p.Source != source {
				source = p.Source
				fmt.Fprintf(stderr, "glimpse: loading %s (%s of weights, %s)\n", name, downloads.FormatBytes(p.TotalBytes), p.Source)
			}
		}
	}
	m, err := app.Open(ctx, name, opt)
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err == nil && m.Describe().Auto != nil {
		// "auto" chose: say what and why, once (a named precision is what
		// was asked for).
		fmt.Fprintf(stderr, "glimpse: %s\n", app.PrecisionNote(m.Describe()))
	}
	return m, err
}

// interruptible returns a context that Ctrl-C and SIGTERM cancel, so that
// work stops cleanly (a pull with its progress saved, a caption run with
// what it wrote) and the command ends with exit code 130. Commands call it
// before they read or load anything. After the first signal the default
// action is back, so a second Ctrl-C ends the process at once.
func interruptible() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// isTerminal reports whether w is a terminal, where progress lines are
// redrawn in place.
func isTerminal(w io.Writer) bool {
	if c, ok := w.(*checkedWriter); ok {
		w = c.file()
	}
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// ms is a duration in milliseconds, for JSON.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
