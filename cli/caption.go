package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"

	"glimpse/app"
	"glimpse/generate"
)

var captionCmd = &Command{
	Name:      "caption",
	UsageLine: "caption --model DIR [flags] FILE|FOLDER...",
	Short:     "write short alt-text captions for images or folders of images",
	Long: "Writes a short caption for each image, for alt text. Folders contribute their\n" +
		"image files (not those of sub-folders). Images are captioned in batches.\n\n",
	Run: runCaption,
}

// captionRecord is one line of `glimpse caption --json`.
type captionRecord struct {
	Path    string `json:"path"`
	Caption string `json:"caption"`
}

// captionWriter writes captions in the chosen format.
type captionWriter struct {
	format string // "text", "json" or "csv"
	out    io.Writer
	csv    *csv.Writer
	json   *json.Encoder
}

func newCaptionWriter(format string, out io.Writer) *captionWriter {
	w := &captionWriter{format: format, out: out}
	switch format {
	case "csv":
		w.csv = csv.NewWriter(out)
		w.csv.Write([]string{"path", "caption"})
		w.csv.Flush()
	case "json":
		w.json = json.NewEncoder(out)
		w.json.SetEscapeHTML(false)
	}
	return w
}

func (w *captionWriter) write(path, caption string) error {
	switch w.format {
	case "csv":
		w.csv.Write([]string{path, caption})
		w.csv.Flush()
		return w.csv.Error()
	case "json":
		return w.json.Encode(captionRecord{Path: path, Caption: caption})
	}
	_, err := fmt.Fprintf(w.out, "%s: %s\n", path, caption)
	return err
}

func runCaption(env *Env, fs *flag.FlagSet, args []string) int {
	stdout, stderr := env.Stdout, env.Stderr
	modelArg := modelFlag(fs)
	prompt := fs.String("prompt", app.CaptionPrompt, "the captioning instruction")
	batchSize := fs.Int("batch-size", 8, "images captioned together (more is faster on a GPU, and needs more memory)")
	asJSON := fs.Bool("json", false, `write one {"path", "caption"} JSON object per line`)
	asCSV := fs.Bool("csv", false, "write CSV with a path,caption header")
	gf := addGenFlags(fs, app.CaptionSettings())
	ef := addEngineFlags(fs)
	if code, ok := parse(fs, args, required("model"), someArgs("image or folder to caption"),
		atLeast("batch-size", 1), notBoth("csv", "json")); !ok {
		return code
	}
	ctx, stop := interruptible()
	defer stop()
	format := "text"
	if *asJSON {
		format = "json"
	} else if *asCSV {
		format = "csv"
	}
	files, err := app.ImageFiles(fs.Args())
	if err != nil {
		return fail(stderr, "%v", err)
	}
	p, err := openModel(ctx, stderr, *modelArg, ef, "running on the CPU, which is much slower")
	if err != nil {
		return failErr(stderr, err)
	}
	defer p.Close()
	cfg := gf.config(app.CaptionSettings())
	ask := func(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config) (*app.Result, error) {
		res, err := p.Ask(ctx, images, prompts, cfg, nil)
		if res != nil && len(res.Warnings) > 0 {
			fmt.Fprintf(stderr, "glimpse: warning: %s\n", res.Warnings[0])
		}
		return res, err
	}
	out := newCaptionWriter(format, stdout)
	tty := isTerminal(stderr)
	failed, done := 0, 0
	for start := 0; start < len(files); start += *batchSize {
		var paths []string
		var images []image.Image
		for _, path := range files[start:min(start+*batchSize, len(files))] {
			img, err := app.LoadImageContext(ctx, path)
			if errors.Is(err, app.ErrCancelled) {
				return failErr(stderr, err)
			}
			if err != nil {
				fmt.Fprintf(stderr, "glimpse: %v\n", err)
				failed++
				continue
			}
			paths = append(paths, path)
			images = append(images, img.Image)
		}
		if len(paths) == 0 {
			continue
		}
		// An image the model cannot take costs only its own caption; an
		// error about the model or the settings ends the run.
		captions, errs, err := app.Caption(ctx, ask, images, *prompt, cfg)
		if err != nil {
			return failErr(stderr, err)
		}
		for i, c := range captions {
			if errs[i] != nil {
				fmt.Fprintf(stderr, "glimpse: %s: %v\n", paths[i], errs[i])
				failed++
				continue
			}
			if err := out.write(paths[i], c); err != nil {
				return fail(stderr, "%v", err)
			}
		}
		done += len(paths)
		if tty {
			fmt.Fprintf(stderr, "\r\033[Kcaptioned %d of %d images", done, len(files))
		}
	}
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if failed > 0 {
		return fail(stderr, "%d of %d images could not be captioned", failed, len(files))
	}
	return 0
}
