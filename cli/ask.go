package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"io"
	"time"

	"glimpse/app"
	"glimpse/generate"
)

var askCmd = &Command{
	Name:      "ask",
	UsageLine: "ask --model DIR --image FILE --prompt TEXT [flags]",
	Short:     "answer a question about an image, streaming the answer",
	Long: "Answers the prompt about the image and streams the answer to standard output\n" +
		"(beam search, the default, shows the answer when it is complete).\n" +
		"Generation flags carry transformers' generate() names and default to the\n" +
		"settings InstructBLIP was published with.\n\n",
	Run: runAsk,
}

// askResult is the last line of `glimpse ask --json`.
type askResult struct {
	Sequence     []int32        `json:"sequence"`
	Text         string         `json:"text"`
	PromptTokens int            `json:"prompt_tokens"`
	NewTokens    int            `json:"new_tokens"`
	Timings      map[string]any `json:"timings"`
}

func runAsk(env *Env, fs *flag.FlagSet, args []string) int {
	stdout, stderr := env.Stdout, env.Stderr
	modelArg := modelFlag(fs)
	imagePath := fs.String("image", "", "image file (PNG, JPEG, GIF, WebP, BMP, TIFF)")
	prompt := fs.String("prompt", "", "the question or instruction")
	asJSON := fs.Bool("json", false, `after the answer, write {"sequence", "text", "prompt_tokens", "new_tokens", "timings"} as the last line`)
	save := fs.Bool("save", false, "record the image, question, answer and settings as a new conversation in the history")
	gf := addGenFlags(fs, app.SeedSettings())
	ef := addEngineFlags(fs)
	if code, ok := parse(fs, args, required("model", "image", "prompt"), noArgs); !ok {
		return code
	}
	ctx, stop := interruptible()
	defer stop()
	start := time.Now()

	img, err := app.LoadImageContext(ctx, *imagePath)
	if err != nil {
		return failErr(stderr, err)
	}
	p, err := openModel(ctx, stderr, *modelArg, ef, "running on the CPU, which is much slower")
	if err != nil {
		return failErr(stderr, err)
	}
	defer p.Close()
	loaded := time.Now()

	cfg := gf.config(app.SeedSettings())
	tty := isTerminal(stderr)
	streamed := false
	out := checked(stdout)
	// An answer nobody can read is not worth finishing: a failed write
	// stops the generation.
	genCtx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	res, err := p.Ask(genCtx, []image.Image{img.Image}, []string{*prompt}, cfg, func(e generate.Event) {
		switch {
		case e.Index < 0: // beam search progress
			if tty {
				fmt.Fprintf(stderr, "\r\033[Kthinking… step %d of at most %d", e.Step, e.MaxSteps)
			}
		case e.Index == 0 && cfg.NumBeams == 1:
			if _, err := io.WriteString(out, e.Text); err != nil {
				stopGen()
			}
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
	if err := out.Err(); err != nil {
		return fail(stderr, "%v", err)
	}
	if err != nil {
		if streamed {
			fmt.Fprintln(out)
		}
		return failErr(stderr, err)
	}
	r := res.Answers[0]
	if cfg.NumBeams > 1 {
		io.WriteString(out, r.Text)
	}
	if _, err := fmt.Fprintln(out); err != nil {
		return fail(stderr, "%v", err)
	}
	if *save {
		if err := saveExchange(ctx, app.Exchange{Prompt: *prompt, Image: img, Config: cfg, Model: p.Describe(), Result: res}); err != nil {
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
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(askResult{Sequence: r.Sequence, Text: r.Text, PromptTokens: r.PromptTokens,
			NewTokens: r.NewTokens, Timings: timings}); err != nil {
			return fail(stderr, "%v", err)
		}
	}
	return 0
}

// saveExchange records an answered question as a new conversation.
func saveExchange(ctx context.Context, ex app.Exchange) error {
	store, _, err := app.OpenHistory("")
	if err != nil {
		return err
	}
	defer store.Close()
	_, err = app.Record(ctx, store, 0, ex)
	return err
}
