package ui

import (
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"glimpse/app"
	"glimpse/generate"
)

// captionEvent is one image captioned (or failed) by the view.
type captionEvent struct {
	path, caption string
	err           error
}

// captionEvents is what a test sees of a caption view: its captions, and
// the UI work its goroutines hand over (CaptionEnv.Do), which the test runs
// on its own goroutine as the app's main goroutine would.
type captionEvents struct {
	ch chan captionEvent
	ui chan func()
}

// drain runs the UI work queued so far.
func (e *captionEvents) drain() {
	for {
		select {
		case f := <-e.ui:
			f()
		default:
			return
		}
	}
}

// until runs UI work until cond holds, failing after two minutes.
func (e *captionEvents) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case f := <-e.ui:
			f()
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out after 2 minutes waiting for %s", what)
		}
	}
}

// newTestCaptionView builds caption mode in a headless test window, backed
// by the tiny fixture model (or ask).
func newTestCaptionView(t *testing.T, ask app.AskFunc) (*captionView, fyne.Window, *captionEvents) {
	t.Helper()
	test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	if ask == nil {
		ask = captionAsk(t, nil)
	}
	ev := &captionEvents{ch: make(chan captionEvent, 8), ui: make(chan func(), 10000)}
	v := newCaptionView(CaptionEnv{Window: w, Ask: ask, Do: func(f func()) { ev.ui <- f }}).(*captionView)
	v.onCaptioned = func(path, caption string, err error) { ev.ch <- captionEvent{path, caption, err} }
	w.SetContent(v)
	w.Resize(fyne.NewSize(1000, 760))
	// Reading aloud in these tests uses espeak-ng only, whatever else the
	// machine has.
	v.speech.look = func(name string) (string, error) {
		if name == "espeak-ng" {
			return exec.LookPath(name)
		}
		return "", os.ErrNotExist
	}
	t.Cleanup(func() {
		v.stop()
		v.pending.Wait() // the queue is large enough not to block them
		v.batch.pending.Wait()
		v.speech.Stop()
	})
	return v, w, ev
}

// waitCaption runs UI work until the view's next caption.
func waitCaption(t *testing.T, ev *captionEvents) captionEvent {
	t.Helper()
	var e captionEvent
	ev.until(t, "a caption", func() bool {
		select {
		case e = <-ev.ch:
			return true
		default:
			return false
		}
	})
	return e
}

// TestCaptionDropShowsCaption drops copies of the golden caption's image on
// caption mode, one after the other: each gets transformers' caption, shown
// large, as the image's screen-reader label, and focused.
func TestCaptionDropShowsCaption(t *testing.T) {
	images := t.TempDir()
	tests := []string{"alpha.png", "a copy.png", "third copy.PNG"}
	want := copyGoldenImage(t, images, tests...)
	v, w, events := newTestCaptionView(t, nil)
	for _, name := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(images, name)
			v.dropPaths([]string{path})
			e := waitCaption(t, events)
			if e.err != nil || e.path != path || e.caption != want {
				t.Fatalf("captioned %s: %q, %v; want %q", e.path, e.caption, e.err, want)
			}
			if got := v.caption.Text(); got != want {
				t.Errorf("caption shown %q, want %q", got, want)
			}
			if v.caption.label.SizeName != theme.SizeNameHeadingText || v.caption.label.Wrapping != fyne.TextWrapWord {
				t.Error("the caption is not in large, wrapping text")
			}
			if got := v.picture.AccessibilityLabel(); got != "Image: "+want {
				t.Errorf("image's accessibility label %q, want the caption", got)
			}
			if got := v.caption.AccessibilityLabel(); got != want {
				t.Errorf("caption's accessibility label %q", got)
			}
			if got := v.AccessibilityLabel(); got != "Caption of "+name+": "+want {
				t.Errorf("view's accessibility label %q", got)
			}
			if v.picture.img.Image == nil {
				t.Error("the image is not shown")
			}
			if w.Canvas().Focused() != v.caption {
				t.Errorf("focus is on %T, want the caption (so C copies at once)", w.Canvas().Focused())
			}
			if v.copyBtn.Disabled() || v.speakBtn.Disabled() || !v.stopBtn.Disabled() {
				t.Error("after a caption, Copy and Read aloud should be enabled and Stop disabled")
			}
		})
	}
}

// TestCaptionCopy copies the caption with C, Ctrl+C and the Copy button.
func TestCaptionCopy(t *testing.T) {
	images := t.TempDir()
	v, w, events := newTestCaptionView(t, nil)
	want := copyGoldenImage(t, images, "photo.png")
	v.dropPaths([]string{filepath.Join(images, "photo.png")})
	waitCaption(t, events)
	clip := fyne.CurrentApp().Clipboard()
	tests := []struct {
		name string
		copy func()
	}{
		{"C key", func() { test.Type(v.caption, "c") }},
		{"upper-case C", func() { test.Type(v.caption, "C") }},
		{"Ctrl+C", func() { v.caption.TypedShortcut(&fyne.ShortcutCopy{Clipboard: clip}) }},
		{"Copy button", func() { test.Tap(v.copyBtn) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clip.SetContent("something else")
			w.Canvas().Focus(v.caption)
			tc.copy()
			if got := clip.Content(); got != want {
				t.Errorf("clipboard %q, want the caption %q", got, want)
			}
			if !strings.Contains(v.status.Text, "Copied") {
				t.Errorf("status %q does not say it was copied", v.status.Text)
			}
		})
	}
}

// TestCaptionUnreadable drops files that are not images: the window says
// so, and the next good image is still captioned.
func TestCaptionUnreadable(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "notes.png")
	if err := os.WriteFile(bad, []byte("not a picture"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.png")
	want := copyGoldenImage(t, dir, "good.png")
	v, _, events := newTestCaptionView(t, nil)
	tests := []struct{ path, msg string }{
		{bad, "notes.png is not an image Glimpse can read"},
		{filepath.Join(dir, "gone.jpg"), "does not exist"},
	}
	for _, tc := range tests {
		v.dropPaths([]string{tc.path})
		e := waitCaption(t, events)
		if e.err == nil || !strings.Contains(e.err.Error(), tc.msg) {
			t.Errorf("%s: err %v, want %q", tc.path, e.err, tc.msg)
		}
		if !strings.Contains(v.status.Text, tc.msg) || v.status.Importance != widget.DangerImportance {
			t.Errorf("%s: status %q (importance %v), want the error shown", tc.path, v.status.Text, v.status.Importance)
		}
		if v.caption.Text() != "" || !v.copyBtn.Disabled() {
			t.Errorf("%s: a caption is shown (%q) or copyable", tc.path, v.caption.Text())
		}
	}
	// Several files dropped at once are captioned in turn; a bad one does
	// not stop the others.
	v.dropPaths([]string{bad, good})
	if e := waitCaption(t, events); e.err == nil {
		t.Errorf("the bad file got caption %q", e.caption)
	}
	if e := waitCaption(t, events); e.err != nil || e.caption != want || v.caption.Text() != want {
		t.Errorf("the good file after it: %q, %v; want %q", e.caption, e.err, want)
	}
}

// TestCaptionStop stops a caption with Esc while the model works on it: the
// view says it stopped and shows no caption, and the next drop works.
func TestCaptionStop(t *testing.T) {
	real := captionAsk(t, nil)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	ask := func(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config) (*app.Result, error) {
		select {
		case started <- struct{}{}:
			// The first Ask holds until the test has pressed Esc, as a
			// long generation on a big model would.
			<-release
		default:
		}
		return real(ctx, images, prompts, cfg)
	}
	v, w, events := newTestCaptionView(t, ask)
	path := filepath.Join(captionFixtures, "images", "shapes.png")
	v.dropPaths([]string{path})
	<-started
	if v.stopBtn.Disabled() {
		t.Error("Stop is disabled while captioning")
	}
	w.Canvas().Focus(v.caption)
	v.caption.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	close(release)
	v.pending.Wait()
	events.drain()
	select {
	case e := <-events.ch:
		t.Errorf("a stopped caption was still shown: %+v", e)
	default:
	}
	if v.status.Text != "Stopped." || v.caption.Text() != "" || !v.stopBtn.Disabled() {
		t.Errorf("after Esc: status %q, caption %q, stop enabled %v", v.status.Text, v.caption.Text(), !v.stopBtn.Disabled())
	}
	v.dropPaths([]string{path})
	if e := waitCaption(t, events); e.err != nil || e.caption == "" {
		t.Errorf("after a stop, the next caption failed: %+v", e)
	}
}

// TestCaptionReadAloud reads the caption with R through the real espeak-ng,
// and shows what to install when there is no speech program.
func TestCaptionReadAloud(t *testing.T) {
	v, _, events := newTestCaptionView(t, nil)
	v.dropPaths([]string{filepath.Join(captionFixtures, "images", "alpha.png")})
	waitCaption(t, events)
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Fatal("espeak-ng is not installed: run make deps (or apt install espeak-ng)")
	}
	test.Type(v.caption, "r")
	if v.status.Importance == widget.DangerImportance {
		t.Errorf("R with espeak-ng installed: %s", v.status.Text)
	}
	test.Type(v.caption, "s")
	if v.speech.Speaking() {
		t.Error("S did not stop reading aloud")
	}
	events.drain() // the end of speaking
	if v.status.Importance == widget.DangerImportance {
		t.Errorf("reading aloud with espeak-ng: %s", v.status.Text)
	}

	v.speech.look = installed() // a system with no speech program
	test.Tap(v.speakBtn)
	if !strings.Contains(v.status.Text, "install espeak-ng") || v.status.Importance != widget.DangerImportance {
		t.Errorf("without a speech program the status says %q", v.status.Text)
	}
}

// TestCaptionKeyboard checks that caption mode's controls are reachable
// with Tab, the caption shows where the focus is, and every letter key is
// listed for the help dialog.
func TestCaptionKeyboard(t *testing.T) {
	v, w, _ := newTestCaptionView(t, nil)
	c := w.Canvas()
	reached := map[fyne.Focusable]bool{}
	for range 40 {
		test.FocusNext(c)
		if f := c.Focused(); f != nil {
			reached[f] = true
		}
	}
	for name, f := range map[string]fyne.Focusable{
		"caption": v.caption, "auto-read check": v.autoSpeak, "choose folder": v.batch.chooseBtn,
		"start batch": v.batch.startBtn, "recursive": v.batch.recursive,
	} {
		if !reached[f] {
			t.Errorf("Tab never reaches the %s", name)
		}
	}
	radios := 0
	for f := range reached {
		if fmt.Sprintf("%T", f) == "*widget.radioItem" {
			radios++
		}
	}
	if radios != len(batchFormats) {
		t.Errorf("Tab reaches %d of the %d output choices", radios, len(batchFormats))
	}
	c.Focus(v.caption)
	if v.caption.ring.StrokeColor != theme.Color(theme.ColorNameFocus) {
		t.Error("the focused caption has no focus ring")
	}
	c.Focus(v.batch.startBtn)
	if v.caption.ring.StrokeColor == theme.Color(theme.ColorNameFocus) {
		t.Error("the focus ring stays after the focus left")
	}
	// A is the auto-read toggle and is remembered.
	test.Type(v.caption, "a")
	if !v.autoSpeak.Checked || !fyne.CurrentApp().Preferences().Bool(prefSpeakAuto) {
		t.Error("A did not switch reading aloud on (or it was not saved)")
	}
	listed := strings.ToLower(func() string {
		var b strings.Builder
		for _, s := range captionShortcuts {
			b.WriteString(s.Keys + "\n")
		}
		return b.String()
	}())
	for r := range v.captionKeys() {
		if !strings.Contains(listed, string(r)) {
			t.Errorf("key %c is not in captionShortcuts", unicode.ToUpper(r))
		}
	}
}

// TestCaptionBatchView captions a dropped folder from the view, to CSV, and
// checks the progress and the file. The folder holds the fixture images
// and two more copies of the golden caption's image: the copies get
// transformers' caption, whatever batch they are in (one prompt for all
// needs no padding); the golden file has no caption of the other images,
// so for them the file must hold a caption, and nothing is said of it.
func TestCaptionBatchView(t *testing.T) {
	dir := t.TempDir()
	rels := copyFixtureImages(t, dir, nil)
	goldenImage, _ := goldenCaption(t)
	copies := []string{goldenImage, "alpha copy.png", "zz alpha.png"}
	caption := copyGoldenImage(t, dir, copies[1:]...)
	rels = append(rels, copies[1:]...)
	v, w, events := newTestCaptionView(t, nil)
	done := make(chan error, 1)
	var rep *app.BatchReport
	v.batch.onDone = func(r *app.BatchReport, err error) { rep = r; done <- err }
	v.dropPaths([]string{dir})
	if v.batch.folder != dir || v.batch.folderLabel.Text != dir || w.Canvas().Focused() != v.batch.startBtn {
		t.Fatalf("dropping a folder chose %q (focus on %T)", v.batch.folder, w.Canvas().Focused())
	}
	v.batch.setFormat(app.BatchCSV)
	test.Tap(v.batch.startBtn)
	var err error
	events.until(t, "the batch to finish", func() bool {
		select {
		case err = <-done:
			return true
		default:
			return false
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	n := len(rels)
	if v.batch.bar.Value != 1 || !strings.HasPrefix(v.batch.progress.Text, fmt.Sprintf("%d of %d images", n, n)) {
		t.Errorf("progress %v %q, want all %d done", v.batch.bar.Value, v.batch.progress.Text, n)
	}
	if !strings.Contains(v.batch.report.Text, fmt.Sprintf("Done: %d images captioned", n)) || !strings.Contains(v.batch.report.Text, "captions.csv") {
		t.Errorf("report %q", v.batch.report.Text)
	}
	got := readCaptionCSV(t, rep.Output)
	for _, rel := range rels {
		c, ok := got[rel]
		switch {
		case !ok || c == "":
			t.Errorf("CSV: no caption for %s", rel)
		case slices.Contains(copies, rel) && c != caption:
			t.Errorf("CSV: %s = %q, want transformers' %q", rel, c, caption)
		}
	}
	if len(got) != n {
		t.Errorf("CSV holds %d captions, want %d: %v", len(got), n, got)
	}
	if v.batch.startBtn.Disabled() || !v.batch.stopBtn.Disabled() {
		t.Error("after the batch, Start should be enabled and Stop disabled")
	}
	if got := fyne.CurrentApp().Preferences().String(prefBatchFormat); got != app.BatchCSV {
		t.Errorf("the chosen format was not remembered: %q", got)
	}
}

// TestCaptionPreviewImage checks the shown copy of an image: at most the
// limit on its longer side, aspect kept, never scaled up.
func TestCaptionPreviewImage(t *testing.T) {
	tests := []struct{ w, h, limit, wantW, wantH int }{
		{4000, 3000, 1024, 1024, 768},
		{3000, 4000, 1024, 768, 1024},
		{16, 9, 1024, 16, 9},
		{5000, 2, 1024, 1024, 1},
		{1024, 1024, 1024, 1024, 1024},
	}
	for _, tc := range tests {
		got := previewImage(image.NewRGBA(image.Rect(0, 0, tc.w, tc.h)), tc.limit).Bounds()
		if got.Dx() != tc.wantW || got.Dy() != tc.wantH {
			t.Errorf("%dx%d at most %d: %dx%d, want %dx%d", tc.w, tc.h, tc.limit, got.Dx(), got.Dy(), tc.wantW, tc.wantH)
		}
	}
}
