package ui

import (
	"context"
	"errors"
	"image"
	"path/filepath"
	"testing"
	"time"

	"glimpse/app"
	"glimpse/input/imageproc"
)

// TestCaptionAppEnv runs caption mode on the real app: captions go through
// the app's worker and its active model (the tiny fixture on the CPU), and
// must be the pipeline's own.
func TestCaptionAppEnv(t *testing.T) {
	a, q := testApp(t, withTinyModel)
	env := a.captionEnv()
	if env.Window != a.win || env.Ask == nil || env.OpenImage == nil || env.OpenFolder == nil || env.Do == nil {
		t.Fatalf("captionEnv() left something out: %+v", env)
	}
	images := filepath.Join(captionFixtures, "images")
	photos := t.TempDir()
	want := copyGoldenImage(t, photos, "photo.png")
	// The captions are compared with the golden file's, made at its length.
	env.Ask = atGoldenLength(t, env.Ask)

	v := newCaptionView(env).(*captionView)
	a.win.SetContent(v)
	var got captionEvent
	v.onCaptioned = func(path, caption string, err error) { got = captionEvent{path, caption, err} }
	v.dropPaths([]string{filepath.Join(photos, "photo.png")})
	pump(t, q, 2*time.Minute, "the caption through the worker", func() bool { return got.path != "" })
	if got.err != nil || got.caption != want || v.caption.Text() != want {
		t.Fatalf("caption through the app: %q, %v; want %q", got.caption, got.err, want)
	}

	// A cancelled Ask returns at once with ctx's error, whether its job is
	// queued or running.
	img, _, err := imageproc.DecodeFile(filepath.Join(images, "gray.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := env.Ask(ctx, []image.Image{img}, []string{app.CaptionPrompt}, app.CaptionSettings())
		errc <- err
	}()
	var askErr error
	pump(t, q, time.Minute, "the cancelled Ask to return", func() bool {
		select {
		case askErr = <-errc:
			return true
		default:
			return false
		}
	})
	if !errors.Is(askErr, context.Canceled) {
		t.Errorf("cancelled Ask returned %v", askErr)
	}
	// The worker finishes (or drops) that job; the model still answers.
	pump(t, q, 2*time.Minute, "the worker to be idle", func() bool { return !a.worker.Busy() })
	v.dropPaths([]string{filepath.Join(photos, "photo.png")})
	got = captionEvent{}
	pump(t, q, 2*time.Minute, "a second caption", func() bool { return got.path != "" })
	if got.err != nil || got.caption != want {
		t.Errorf("second caption: %q, %v; want %q", got.caption, got.err, want)
	}
}
