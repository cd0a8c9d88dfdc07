package ui

import (
	"context"
	"image"

	"glimpse/app"
	"glimpse/generate"
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
// called off the UI goroutine. ctx cancels this request alone (the worker
// skips it if it is still queued, stops it if it runs), and askAndWait then
// returns at once.
func (a *App) askAndWait(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config) (*app.Result, error) {
	type answer struct {
		res *app.Result
		err error
	}
	done := make(chan answer, 1)
	a.do(func() { // the settings behind engineChoice belong to the UI goroutine
		a.worker.Ask(AskRequest{
			Context: ctx, Engine: a.engineChoice(), Images: images, Prompts: prompts, Config: cfg,
			OnDone: func(res *app.Result, err error) { done <- answer{res, err} },
		})
	})
	select {
	case ans := <-done:
		return ans.res, ans.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
