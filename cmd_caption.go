package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"glimpse/generate"
	"glimpse/pipeline"
)

func init() {
	commands["caption"] = command{
		summary: "write short alt-text captions for images or folders of images",
		run:     runCaption,
	}
}

// imageExts are the files a folder argument contributes.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true,
	".bmp": true, ".tif": true, ".tiff": true}

// captionRecord is one line of `glimpse caption --json`.
type captionRecord struct {
	Path    string `json:"path"`
	Caption string `json:"caption"`
}

// captionFiles expands the arguments: files as given, folders to their
// image files (not recursing), sorted by name.
func captionFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("%s does not exist", a)
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			return nil, fmt.Errorf("cannot read folder %s: %v", a, err)
		}
		var found []string
		for _, e := range entries {
			if e.Type().IsRegular() && imageExts[strings.ToLower(filepath.Ext(e.Name()))] {
				found = append(found, filepath.Join(a, e.Name()))
			}
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("folder %s has no images (%s)", a, extList())
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}

func extList() string {
	exts := make([]string, 0, len(imageExts))
	for e := range imageExts {
		exts = append(exts, e)
	}
	sort.Strings(exts)
	return strings.Join(exts, " ")
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

func runCaption(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("caption", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelArg := fs.String("model", "", "model folder, or the name of a model installed with `glimpse models pull`")
	prompt := fs.String("prompt", pipeline.CaptionPrompt, "the captioning instruction")
	batchSize := fs.Int("batch-size", 8, "images captioned together (more is faster on a GPU, and needs more memory)")
	asJSON := fs.Bool("json", false, `write one {"path", "caption"} JSON object per line`)
	asCSV := fs.Bool("csv", false, "write CSV with a path,caption header")
	gf := addGenFlags(fs, pipeline.CaptionSettings())
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: glimpse caption --model DIR [flags] FILE|FOLDER...\n\n"+
			"Writes a short caption for each image, for alt text. Folders contribute their\n"+
			"image files (not those of sub-folders). Images are captioned in batches.\n\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 || *modelArg == "" || *batchSize < 1 || (*asJSON && *asCSV) {
		fs.Usage()
		return 2
	}
	format := "text"
	if *asJSON {
		format = "json"
	} else if *asCSV {
		format = "csv"
	}
	files, err := captionFiles(fs.Args())
	if err != nil {
		return fail(stderr, "%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := openPipeline(ctx, *modelArg, *gf.backend, *gf.precision, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer p.Close()
	cfg := gf.config(pipeline.CaptionSettings())
	out := newCaptionWriter(format, stdout)
	tty := isTerminal(stderr)
	failed, done := 0, 0
	for start := 0; start < len(files); start += *batchSize {
		var paths []string
		var images []image.Image
		for _, path := range files[start:min(start+*batchSize, len(files))] {
			img, err := decodeImage(path)
			if err != nil {
				fmt.Fprintf(stderr, "glimpse: %v\n", err)
				failed++
				continue
			}
			paths = append(paths, path)
			images = append(images, img)
		}
		if len(paths) == 0 {
			continue
		}
		captions, err := captionBatch(ctx, p, cfg, images, *prompt, stderr)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				fmt.Fprintln(stderr, "glimpse: stopped")
				return 130
			}
			return fail(stderr, "%v", err)
		}
		for i, c := range captions {
			if err := out.write(paths[i], c); err != nil {
				return fail(stderr, "writing captions: %v", err)
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
		return fail(stderr, "%d of %d images could not be read", failed, len(files))
	}
	return 0
}

// captionBatch captions one batch of images with the same prompt.
func captionBatch(ctx context.Context, p *pipeline.Pipeline, cfg generate.Config, images []image.Image, prompt string, stderr io.Writer) ([]string, error) {
	prompts := make([]string, len(images))
	for i := range prompts {
		prompts[i] = prompt
	}
	res, err := p.Ask(ctx, images, prompts, cfg, nil)
	if res != nil && len(res.Warnings) > 0 {
		fmt.Fprintf(stderr, "glimpse: warning: %s\n", res.Warnings[0])
	}
	if err != nil {
		return nil, err
	}
	captions := make([]string, len(res.Answers))
	for i, a := range res.Answers {
		captions[i] = strings.TrimSpace(a.Text)
	}
	return captions, nil
}
