package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"glimpse/generate"
	"glimpse/internal/outfile"
)

// Captioning: short alt-text captions for images, a batch at a time. The
// command line captions the files it is given to standard output; a folder
// job (CaptionFolder, the app's caption mode) writes every image's caption
// beside it as a text file or gathers them in one CSV or JSON file, and
// records the captions made so far in a state file in the folder, one JSON
// line per image, so a stopped (or crashed) job resumes where it left off: a
// rerun captions only the images the state file does not hold, and writes
// the outputs of all of them.

// Caption captions imgs with prompt in one Ask. If that fails for a reason
// that may lie with one image, it tries them one at a time, so an image the
// model cannot take costs only its own caption: errs[i] says why image i has
// none. err is set, and nothing else, when the work was stopped (an
// ErrCancelled or context error) or failed for a reason that is not about
// the images (no model, a bad setting, no backend).
func Caption(ctx context.Context, ask AskFunc, imgs []image.Image, prompt string, cfg generate.Config) (captions []string, errs []error, err error) {
	errs = make([]error, len(imgs))
	captions, err = captionImages(ctx, ask, imgs, prompt, cfg)
	if err == nil {
		return captions, errs, nil // kept even when stopped meanwhile
	}
	if ctx.Err() != nil {
		return nil, nil, classify(ctx.Err())
	}
	if cancelled(err) || !aboutImages(err) {
		return nil, nil, err // the app stopped the model's work (Esc elsewhere), or no image would do
	}
	if len(imgs) == 1 {
		errs[0] = err
		return []string{""}, errs, nil
	}
	captions = make([]string, len(imgs))
	for i := range imgs {
		c, err := captionImages(ctx, ask, imgs[i:i+1], prompt, cfg)
		if ctx.Err() != nil {
			return nil, nil, classify(ctx.Err())
		}
		if err != nil {
			if cancelled(err) || !aboutImages(err) {
				return nil, nil, err
			}
			errs[i] = err
			continue
		}
		captions[i] = c[0]
	}
	return captions, errs, nil
}

// aboutImages reports whether an error of Ask may depend on the images
// asked about, so that asking about fewer of them may succeed.
func aboutImages(err error) bool {
	for _, k := range []error{ErrNoModel, ErrModelNotFound, ErrModelIncomplete, ErrBackendUnavailable, ErrBadSetting} {
		if errors.Is(err, k) {
			return false
		}
	}
	return true
}

// captionImages captions a batch of images with one prompt and one Ask.
func captionImages(ctx context.Context, ask AskFunc, imgs []image.Image, prompt string, cfg generate.Config) ([]string, error) {
	prompts := make([]string, len(imgs))
	for i := range prompts {
		prompts[i] = prompt
	}
	res, err := ask(ctx, imgs, prompts, cfg)
	if err != nil {
		return nil, classify(err)
	}
	if len(res.Answers) != len(imgs) {
		panic(fmt.Sprintf("app: %d answers for %d images (NumReturnSequences must be 1)", len(res.Answers), len(imgs)))
	}
	out := make([]string, len(imgs))
	for i, a := range res.Answers {
		out[i] = strings.TrimSpace(a.Text)
	}
	return out, nil
}

// Output formats of a folder job.
const (
	BatchSidecars = "txt"  // IMAGE.EXT.txt beside each image
	BatchCSV      = "csv"  // one captions.csv in the folder: path,caption
	BatchJSON     = "json" // one captions.json in the folder: [{"path", "caption"}]
)

// batchStateName is the state file of a folder job, kept in the folder.
const batchStateName = ".glimpse-captions.jsonl"

// sidecarExt is added to an image's whole name for its caption file:
// photo.jpg gets photo.jpg.txt, so photo.jpg and photo.png never share one
// and each text file names its image.
const sidecarExt = ".txt"

// BatchOptions say what a folder job captions and where the captions go.
type BatchOptions struct {
	Folder    string
	Recursive bool   // also the images in sub-folders (hidden ones excepted)
	Format    string // BatchSidecars, BatchCSV or BatchJSON
	// Redo captions again the images captioned by an earlier run, instead of
	// resuming. Sidecars Glimpse wrote are replaced; other text files are not.
	Redo      bool
	BatchSize int // images per Ask; 0 means 4
	Prompt    string
	Config    generate.Config
}

// BatchFailure is an image that could not be captioned, with why.
type BatchFailure struct {
	Path string // relative to the folder, with forward slashes
	Err  error  // an *ImageError naming Path, or the model's error
}

// String says which image failed and why, in one line for people.
func (f BatchFailure) String() string {
	var ie *ImageError
	if errors.As(f.Err, &ie) {
		return ie.Error()
	}
	return f.Path + ": " + f.Err.Error()
}

// BatchProgress is reported after each step of a folder job.
type BatchProgress struct {
	Total     int // images found
	Done      int // images finished: captioned now, before, or failed
	Resumed   int // of Done, captioned by an earlier run
	Captioned int // of Done, captioned in this run
	Failed    int // of Done, unreadable or failing
	Current   string
	Elapsed   time.Duration
	ETA       time.Duration // 0 until one batch has been timed
}

// BatchReport is what a folder job did.
type BatchReport struct {
	BatchProgress
	Failures []BatchFailure
	// Notes are things the user should know that are not failures, such as
	// a text file left alone because Glimpse did not write it.
	Notes  []string
	Output string // the CSV or JSON file written, "" for sidecars
}

// batchEntry is one line of the state file, and one record of captions.json.
type batchEntry struct {
	Path    string `json:"path"` // relative, forward slashes
	Caption string `json:"caption"`
}

// readBatchState reads the captions an earlier folder job recorded in
// statePath, by relative path. A last line cut short by a crash is ignored;
// later lines win.
func readBatchState(statePath string) (map[string]string, error) {
	done := map[string]string{}
	b, err := os.ReadFile(statePath)
	if errors.Is(err, fs.ErrNotExist) {
		return done, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the batch's progress file %s: %v", statePath, userErr(err))
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e batchEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Path != "" {
			done[e.Path] = e.Caption
		}
	}
	return done, nil
}

// sidecarPath is the caption file of image rel in folder.
func sidecarPath(folder, rel string) string {
	return filepath.Join(folder, filepath.FromSlash(rel)) + sidecarExt
}

// batchOutputPath is the CSV or JSON file of a folder job.
func batchOutputPath(folder, format string) string {
	return filepath.Join(folder, "captions."+format)
}

// CaptionFolder captions the images of opt.Folder with ask, reporting
// progress (from its own goroutine) after every batch of images. Unreadable
// images are reported and skipped. When ctx is cancelled, or ask reports
// that the model's work was stopped, it stops after writing the outputs of
// what was captioned; the report then comes with the error.
func CaptionFolder(ctx context.Context, opt BatchOptions, ask AskFunc, progress func(BatchProgress)) (*BatchReport, error) {
	switch opt.Format {
	case BatchSidecars, BatchCSV, BatchJSON:
	default:
		return nil, &Error{Kind: ErrBadSetting, Msg: fmt.Sprintf("unknown caption output %q (use txt, csv or json)", opt.Format)}
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 4
	}
	images, err := FindImages(opt.Folder, opt.Recursive)
	if err != nil {
		return nil, err
	}
	if len(images) == 0 {
		return nil, noImages(opt.Folder)
	}
	statePath := filepath.Join(opt.Folder, batchStateName)
	done, err := readBatchState(statePath)
	if err != nil {
		return nil, err
	}
	state, err := openBatchState(statePath)
	if err != nil {
		return nil, fmt.Errorf("cannot keep the batch's progress in %s: %v", opt.Folder, err)
	}
	defer state.Close()
	// previous holds the captions of an earlier run, which a redo replaces:
	// they are what tells Glimpse's sidecars from the user's text files.
	previous := map[string]string{}
	if opt.Redo {
		previous, done = done, map[string]string{}
	}

	rep := &BatchReport{}
	rep.Total = len(images)
	var todo []string
	for _, rel := range images {
		if _, ok := done[rel]; ok {
			rep.Resumed++
			continue
		}
		todo = append(todo, rel)
	}
	rep.Done = rep.Resumed
	w := &batchWriter{folder: opt.Folder, rep: rep}
	// Sidecars of images captioned before (perhaps when another format was
	// chosen) are written now, so the output is complete however the rest
	// ends.
	if opt.Format == BatchSidecars {
		for _, rel := range images {
			if c, ok := done[rel]; ok {
				w.sidecar(rel, c, "")
			}
		}
	}
	report := func(current string) {
		if progress != nil {
			p := rep.BatchProgress
			p.Current = current
			progress(p)
		}
	}
	report("")
	start := time.Now()
	var runErr error
	for i := 0; i < len(todo); {
		if err := ctx.Err(); err != nil {
			runErr = classify(err)
			break
		}
		// Decode the next BatchSize readable images.
		var rels []string
		var imgs []image.Image
		for ; i < len(todo) && len(rels) < opt.BatchSize && runErr == nil; i++ {
			rel := todo[i]
			img, err := LoadImageContext(ctx, filepath.Join(opt.Folder, filepath.FromSlash(rel)))
			if cancelled(err) {
				runErr = err
				break
			}
			if err != nil {
				var ie *ImageError
				if errors.As(err, &ie) {
					named := *ie
					named.Path = rel
					err = &named
				}
				rep.fail(rel, err)
				continue
			}
			rels = append(rels, rel)
			imgs = append(imgs, img.Image)
		}
		if runErr != nil {
			break
		}
		if len(rels) == 0 {
			report("")
			continue
		}
		report(rels[0])
		captions, errs, err := Caption(ctx, ask, imgs, opt.Prompt, opt.Config)
		if err != nil {
			runErr = err
			break
		}
		var lines bytes.Buffer
		for j, rel := range rels {
			if errs[j] != nil {
				rep.fail(rel, errs[j])
				continue
			}
			done[rel] = captions[j]
			b, _ := json.Marshal(batchEntry{Path: rel, Caption: captions[j]})
			lines.Write(append(b, '\n'))
			if opt.Format == BatchSidecars {
				w.sidecar(rel, captions[j], previous[rel])
			}
			rep.Captioned++
			rep.Done++
		}
		if _, err := state.Write(lines.Bytes()); err != nil {
			runErr = fmt.Errorf("cannot record the batch's progress in %s: %v", statePath, userErr(err))
			break
		}
		rep.Elapsed = time.Since(start)
		// Time per image handled in this run, times the images left.
		rep.ETA = time.Duration(float64(rep.Elapsed) / float64(rep.Captioned+rep.Failed) * float64(rep.Total-rep.Done))
		report("")
	}
	rep.Elapsed = time.Since(start)
	rep.ETA = 0
	if opt.Format != BatchSidecars {
		out := batchOutputPath(opt.Folder, opt.Format)
		if err := writeCaptionFile(out, opt.Format, images, done); err != nil {
			return rep, err
		}
		rep.Output = out
	}
	report("")
	return rep, runErr
}

// openBatchState opens the state file for appending. A last line cut short
// by a crash is ended first, so the next entry starts a line of its own.
func openBatchState(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, userErr(err)
	}
	st, err := f.Stat()
	if err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err = f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			_, err = f.Write([]byte{'\n'})
		}
	}
	if err != nil {
		f.Close()
		return nil, userErr(err)
	}
	return f, nil
}

func (r *BatchReport) fail(rel string, err error) {
	r.Failures = append(r.Failures, BatchFailure{Path: rel, Err: err})
	r.Failed++
	r.Done++
}

// batchWriter writes sidecars, noting the ones it leaves alone.
type batchWriter struct {
	folder string
	rep    *BatchReport
}

// sidecar writes caption to rel's text file unless a text file is there
// that Glimpse did not write: one holding exactly the caption recorded for
// the image (now, or before a redo) is Glimpse's; anything else is the
// user's, and stays.
func (w *batchWriter) sidecar(rel, caption, previous string) {
	path := sidecarPath(w.folder, rel)
	want := caption + "\n"
	old, err := os.ReadFile(path)
	switch {
	case err == nil && string(old) == want:
		return
	case err == nil && (previous == "" || string(old) != previous+"\n"):
		w.rep.Notes = append(w.rep.Notes, fmt.Sprintf("%s already has a text file that Glimpse did not write; "+
			"it was left as it is (its caption is in %s)", rel, batchStateName))
		return
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		w.rep.Notes = append(w.rep.Notes, fmt.Sprintf("%s: cannot read %s: %v", rel, filepath.Base(path), userErr(err)))
		return
	}
	if err := outfile.WriteFile(path, []byte(want)); err != nil {
		w.rep.Notes = append(w.rep.Notes, fmt.Sprintf("%s: no caption file: %v", rel, err))
	}
}

// writeCaptionFile writes the captions of every captioned image, in folder
// order, as CSV (path,caption with a header) or a JSON array.
func writeCaptionFile(path, format string, images []string, done map[string]string) error {
	var b bytes.Buffer
	switch format {
	case BatchCSV:
		cw := csv.NewWriter(&b)
		cw.Write([]string{"path", "caption"})
		for _, rel := range images {
			if c, ok := done[rel]; ok {
				cw.Write([]string{rel, c})
			}
		}
		cw.Flush()
	case BatchJSON:
		recs := []batchEntry{}
		for _, rel := range images {
			if c, ok := done[rel]; ok {
				recs = append(recs, batchEntry{Path: rel, Caption: c})
			}
		}
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		enc.Encode(recs)
	}
	// Atomic, so a crash never leaves half a file; outfile's errors name
	// the file and the cause.
	return outfile.WriteFile(path, b.Bytes())
}
