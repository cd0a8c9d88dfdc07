package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"glimpse/app"
	"glimpse/checkpoint/store"
	"glimpse/downloads"
)

// The model manager's commands use package downloads directly: they are
// its front end, as the app's Models view is, and app would only forward.
var modelsCmd = &Command{
	Name:      "models",
	UsageLine: "models COMMAND",
	Short:     "list, pull, verify and remove models (Hugging Face Hub and cache)",
	Run:       runModels,
}

// modelsSubcommands are the verbs of `glimpse models`.
var modelsSubcommands = map[string]struct {
	usage string
	run   func(args []string, stdout, stderr io.Writer) int
}{
	"list":   {"list [--json]            the catalogue and the models in the cache", modelsList},
	"pull":   {"pull NAME                download a model (resumes; verifies every file)", modelsPull},
	"verify": {"verify NAME              hash every file of an installed model again", modelsVerify},
	"rm":     {"rm NAME                  delete a model from the cache", modelsRemove},
	"path":   {"path NAME                print the folder of an installed model", modelsPath},
}

func modelsUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: glimpse models COMMAND\n\nCommands:")
	for _, verb := range []string{"list", "pull", "verify", "rm", "path"} {
		fmt.Fprintf(w, "  %s\n", modelsSubcommands[verb].usage)
	}
	fmt.Fprint(w, "\nNAME is a catalogue name (glimpse models list) or a Hub repository ORG/NAME[@REVISION].\n"+
		"The cache is the Hugging Face one: $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub.\n"+
		"HF_ENDPOINT, HF_TOKEN (or `hf auth login`) and HF_HUB_OFFLINE=1 are honoured.\n")
}

func runModels(env *Env, _ *flag.FlagSet, args []string) int {
	stdout, stderr := env.Stdout, env.Stderr
	if len(args) == 0 {
		modelsUsage(stderr)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		modelsUsage(stdout)
		return 0
	}
	sub, ok := modelsSubcommands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "glimpse models: unknown command %q\n\n", args[0])
		modelsUsage(stderr)
		return 2
	}
	return sub.run(args[1:], stdout, stderr)
}

// oneName parses the flags of a subcommand that takes exactly one NAME,
// returning it, or the exit code (0 or more) when parsing ended the command.
func oneName(fs *flag.FlagSet, args []string, stderr io.Writer) (string, int) {
	fs.SetOutput(stderr)
	if code, ok := parse(fs, args, oneArg("NAME")); !ok {
		return "", code
	}
	return fs.Arg(0), -1
}

func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("models "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: glimpse models %s\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// listEntry is one line of `glimpse models list --json`.
type listEntry struct {
	downloads.Model
	// Catalogue is false for other repositories found in the cache.
	Catalogue bool                  `json:"catalogue"`
	Installed []downloads.Installed `json:"installed"`
	// Converted are the converted copies of its weights (checkpoint/store).
	Converted []convertedCopy `json:"converted,omitempty"`
}

// convertedCopy is one converted copy of a model's weights.
type convertedCopy struct {
	Path      string `json:"path"`
	Precision string `json:"precision"`
	Bytes     int64  `json:"bytes"`
}

func modelsList(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("list", "list [--json]", stderr)
	asJSON := fs.Bool("json", false, "write JSON for scripts")
	fs.SetOutput(stderr)
	if code, ok := parse(fs, args, noArgs); !ok {
		return code
	}
	m := downloads.New(downloads.ConfigFromEnv())
	inst, err := m.Installed()
	if err != nil {
		return fail(stderr, "reading the cache %s: %v", m.CacheDir(), err)
	}
	// A copy that cannot be listed is only a cost on disk: the list goes on.
	converted, _ := store.List(app.ConvertedDir())
	var entries []listEntry
	byRepo := map[string]int{}
	for _, c := range downloads.Catalogue() {
		byRepo[strings.ToLower(c.Repo)] = len(entries)
		entries = append(entries, listEntry{Model: c, Catalogue: true, Installed: []downloads.Installed{}})
	}
	for _, in := range inst {
		i, ok := byRepo[strings.ToLower(in.Repo)]
		if !ok {
			i = len(entries)
			byRepo[strings.ToLower(in.Repo)] = i
			entries = append(entries, listEntry{Model: downloads.Model{Name: in.Repo, Repo: in.Repo, Revision: "main"}, Installed: []downloads.Installed{}})
		}
		entries[i].Installed = append(entries[i].Installed, in)
		for _, c := range store.For(converted, in.Dir) {
			entries[i].Converted = append(entries[i].Converted, convertedCopy{Path: c.Path, Precision: c.Precision, Bytes: c.Size})
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(entries); err != nil {
			return fail(stderr, "%v", err)
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDOWNLOAD\tMEMORY fp16 / q8 / q4\tSTATUS\tLICENSE")
	for _, e := range entries {
		gpu := "-"
		if len(e.Requirements) == 4 {
			gpu = fmt.Sprintf("%s / %s / %s", downloads.FormatBytes(e.Requirements[1].GPU),
				downloads.FormatBytes(e.Requirements[2].GPU), downloads.FormatBytes(e.Requirements[3].GPU))
		}
		size := "-"
		if e.Download > 0 {
			size = downloads.FormatBytes(e.Download)
		}
		license := e.License
		if i := strings.Index(license, ":"); i > 0 {
			license = license[:i]
		}
		if license == "" {
			license = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, size, gpu, status(e.Installed), license)
		for _, c := range e.Converted {
			fmt.Fprintf(tw, "  converted %s\t%s\t\t\t\n", c.Precision, downloads.FormatBytes(c.Bytes))
		}
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nCache: %s\n", m.CacheDir())
	return 0
}

// status sums up the installed snapshots of a model for the table.
func status(in []downloads.Installed) string {
	if len(in) == 0 {
		return "not installed"
	}
	var parts []string
	for _, s := range in {
		st := "installed"
		switch {
		case !s.Complete && s.Total > 0:
			st = fmt.Sprintf("partial %d%%", s.Bytes*100/s.Total)
		case !s.Verified:
			st = "installed (not verified yet)"
		}
		parts = append(parts, fmt.Sprintf("%s @%s", st, s.Commit[:8]))
	}
	return strings.Join(parts, ", ")
}

func modelsPull(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("pull", "pull [flags] NAME", stderr)
	conns := fs.Int("connections", downloads.DefaultConnections, "connections per large file")
	part := fs.Int64("part-size", downloads.DefaultPartSize, "size in bytes of the ranged parts large files are fetched in")
	quiet := fs.Bool("quiet", false, "no progress bar")
	name, code := oneName(fs, args, stderr)
	if code >= 0 {
		return code
	}
	cfg := downloads.ConfigFromEnv()
	cfg.Connections, cfg.PartSize = *conns, *part
	bar := newProgressBar(stderr, *quiet)
	cfg.Logf = bar.log
	ctx, stop := interruptible()
	defer stop()
	snap, err := downloads.New(cfg).Pull(ctx, name, downloads.PullOptions{OnProgress: bar.update})
	bar.finish()
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "glimpse: stopped; the bytes fetched so far are kept: run the same command to resume")
			return 130
		}
		return fail(stderr, "%v", err)
	}
	fmt.Fprintf(stderr, "%s is ready (%d files, verified)\n", snap.Ref, len(snap.Files))
	fmt.Fprintln(stdout, snap.Dir)
	return 0
}

func modelsVerify(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("verify", "verify NAME", stderr)
	name, code := oneName(fs, args, stderr)
	if code >= 0 {
		return code
	}
	ctx, stop := interruptible()
	defer stop()
	res, err := downloads.New(downloads.ConfigFromEnv()).Verify(ctx, name, func(r downloads.FileResult) {
		if r.Err == "" {
			fmt.Fprintf(stdout, "ok      %s\n", r.Path)
		} else {
			fmt.Fprintf(stdout, "FAILED  %s: %s\n", r.Path, r.Err)
		}
	})
	if err != nil {
		if ctx.Err() != nil {
			return stopped(stderr)
		}
		if len(res) > 0 {
			return fail(stderr, "%v; run `glimpse models pull %s` to fetch the files again", err, name)
		}
		return fail(stderr, "%v", err)
	}
	fmt.Fprintf(stderr, "all %d files verified\n", len(res))
	return 0
}

func modelsRemove(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("rm", "rm NAME", stderr)
	name, code := oneName(fs, args, stderr)
	if code >= 0 {
		return code
	}
	m := downloads.New(downloads.ConfigFromEnv())
	// The folder goes with the model; its converted copies go after it.
	dir, _ := m.Path(context.Background(), name)
	if err := m.Remove(name); err != nil {
		return fail(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "removed %s\n", name)
	if dir != "" {
		removed, err := store.Remove(app.ConvertedDir(), dir)
		for _, c := range removed {
			fmt.Fprintf(stdout, "removed its converted %s copy (%s)\n", c.Precision, downloads.FormatBytes(c.Size))
		}
		if err != nil {
			return fail(stderr, "removing the converted copies of %s: %v", name, err)
		}
	}
	return 0
}

func modelsPath(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("path", "path NAME", stderr)
	name, code := oneName(fs, args, stderr)
	if code >= 0 {
		return code
	}
	dir, err := downloads.New(downloads.ConfigFromEnv()).Path(context.Background(), name)
	if err != nil {
		if errors.Is(err, downloads.ErrNotInstalled) {
			return fail(stderr, "%v; run `glimpse models pull %s` first", err, name)
		}
		return fail(stderr, "%v", err)
	}
	fmt.Fprintln(stdout, dir)
	return 0
}

// progressBar draws pull progress on a terminal, redrawing one line; on
// anything else it writes a line per finished file.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	quiet bool
	last  time.Time
	drawn bool
	state map[string]downloads.FileState
}

func newProgressBar(w io.Writer, quiet bool) *progressBar {
	return &progressBar{w: w, quiet: quiet, tty: isTerminal(w), state: map[string]downloads.FileState{}}
}

func (b *progressBar) clear() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
		b.drawn = false
	}
}

// log prints a retry or restart notice above the bar.
func (b *progressBar) log(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clear()
	fmt.Fprintf(b.w, "glimpse: "+format+"\n", args...)
}

func (b *progressBar) update(p downloads.Progress) {
	if b.quiet {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var current string
	for _, f := range p.Files {
		if f.State == downloads.Downloading || f.State == downloads.Checking || f.State == downloads.Verifying {
			current = fmt.Sprintf("%s %s", f.State, f.Path)
		}
		if b.state[f.Path] != f.State {
			b.state[f.Path] = f.State
			if !b.tty && (f.State == downloads.Done || f.State == downloads.Failed) {
				msg := fmt.Sprintf("%-8s %s (%s)", f.State, f.Path, downloads.FormatBytes(f.Size))
				if f.Err != "" {
					msg += ": " + f.Err
				}
				fmt.Fprintln(b.w, msg)
			}
		}
	}
	if !b.tty || time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	const width = 28
	frac := 0.0
	if p.Total > 0 {
		frac = float64(p.Bytes) / float64(p.Total)
	}
	fill := int(frac * width)
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
	if fill < width && fill > 0 {
		bar = strings.Repeat("=", fill-1) + ">" + strings.Repeat(" ", width-fill)
	}
	eta := "--"
	if p.ETA > 0 {
		eta = p.ETA.Round(time.Second).String()
	}
	line := fmt.Sprintf("[%s] %3.0f%% %s/%s %s/s ETA %s %s", bar, frac*100,
		downloads.FormatBytes(p.Bytes), downloads.FormatBytes(p.Total), downloads.FormatBytes(int64(p.Speed)), eta, current)
	if p.Paused {
		line += " (paused)"
	}
	if len(line) > 150 {
		line = line[:150]
	}
	fmt.Fprint(b.w, "\r\033[K"+line)
	b.drawn = true
}

func (b *progressBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clear()
}
