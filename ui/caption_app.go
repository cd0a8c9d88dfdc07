package ui

import (
	"context"
	"image"
	"sync/atomic"

	"glimpse/model"
	"glimpse/model/generate"
	"glimpse/model/pipeline"
)

// captionEnv is caption mode's view of the app: its window and file
// dialogs, and its model through the worker, so captions and chat answers
// take turns on the one loaded model. The Caption tab is then
//
//	{"Caption", theme.VisibilityIcon(), func(a *App) fyne.CanvasObject { return newCaptionView(a.captionEnv()) }}
func (a *App) captionEnv() CaptionEnv {
	return CaptionEnv{
		Window:     a.win,
		Ask:        a.askAndWait,
		OpenImage:  func(done func(string, error)) { openImageDialog(a, done) },
		OpenFolder: func(done func(string, error)) { openFolderDialog(a, done) },
		Do:         a.do,
	}
}

// askAndWait queues a question on the worker and waits for its answer. It is
// called off the UI goroutine. When ctx is cancelled it returns at once; a
// job of ours that has started is stopped, one still queued runs and is
// dropped (stopping then would cancel whatever else is running, such as a
// chat answer).
func (a *App) askAndWait(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config) (*pipeline.Result, error) {
	type answer struct {
		res *pipeline.Result
		err error
	}
	done := make(chan answer, 1)
	var started, finished atomic.Bool
	a.do(func() { // the settings behind engineChoice belong to the UI goroutine
		a.worker.Ask(AskRequest{
			Engine: a.engineChoice(), Images: images, Prompts: prompts, Config: cfg,
			OnLoading: func(model.LoadProgress) { started.Store(true) },
			OnLoaded:  func(pipeline.Description) { started.Store(true) },
			OnDone: func(res *pipeline.Result, err error) {
				finished.Store(true)
				done <- answer{res, err}
			},
		})
	})
	select {
	case ans := <-done:
		return ans.res, ans.err
	case <-ctx.Done():
		if started.Load() && !finished.Load() {
			a.worker.Stop()
		}
		return nil, ctx.Err()
	}
}
