package ui

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	native "github.com/sqweek/dialog"
)

// imageExtensions are the file types the image dialogs offer.
var imageExtensions = []string{"png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff"}

// nativeMu keeps to one native dialog at a time: GTK is not thread-safe, and
// the dialogs run off Fyne's main goroutine so the window keeps drawing.
var nativeMu sync.Mutex

// nativeDialogs says whether the system's file dialogs can be used: GTK
// needs an X (or XWayland) display on Linux and BSD, and without one
// sqweek/dialog panics.
func nativeDialogs(a *App) bool {
	if !a.native {
		return false
	}
	switch runtime.GOOS {
	case "windows", "darwin":
		return true
	}
	return os.Getenv("DISPLAY") != ""
}

// runNative runs a native dialog on its own goroutine and hands the chosen
// path to done on the UI goroutine. It reports false (and runs nothing) when
// another native dialog is open. A panic from the toolkit falls back to
// Fyne's dialog.
func runNative(a *App, show func() (string, error), fallback func(), done func(string, error)) bool {
	if !nativeMu.TryLock() {
		return false
	}
	go func() {
		defer nativeMu.Unlock()
		defer func() {
			if r := recover(); r != nil {
				a.do(func() {
					a.native = false // the toolkit is unusable: Fyne's dialogs from now on
					fallback()
				})
			}
		}()
		path, err := show()
		if errors.Is(err, native.ErrCancelled) {
			path, err = "", nil
		}
		a.do(func() { done(path, err) })
	}()
	return true
}

// openImageDialog lets the user pick an image file; done gets its path, or
// "" when cancelled.
func openImageDialog(a *App, done func(path string, err error)) {
	fallback := func() {
		d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
			if err != nil || r == nil {
				done("", err)
				return
			}
			r.Close()
			done(r.URI().Path(), nil)
		}, a.win)
		d.SetFilter(storage.NewExtensionFileFilter(dotted(imageExtensions)))
		d.Show()
		d.Resize(fyne.NewSize(800, 560)) // only after Show: before it, Fyne's FileDialog has no window to size
	}
	if nativeDialogs(a) {
		if runNative(a, func() (string, error) {
			return native.File().Title("Open an image").Filter("Images", imageExtensions...).Load()
		}, fallback, done) {
			return
		}
		done("", fmt.Errorf("a file dialog is already open"))
		return
	}
	fallback()
}

// saveFileDialog asks where to save a file called name.
func saveFileDialog(a *App, name string, done func(path string, err error)) {
	fallback := func() {
		d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
			if err != nil || w == nil {
				done("", err)
				return
			}
			w.Close()
			done(w.URI().Path(), nil)
		}, a.win)
		d.SetFileName(name)
		d.Show()
		d.Resize(fyne.NewSize(800, 560)) // only after Show: before it, Fyne's FileDialog has no window to size
	}
	if nativeDialogs(a) {
		if runNative(a, func() (string, error) {
			return native.File().Title("Export conversation").SetStartFile(name).Save()
		}, fallback, done) {
			return
		}
		done("", fmt.Errorf("a file dialog is already open"))
		return
	}
	fallback()
}

// openFolderDialog lets the user pick a folder.
func openFolderDialog(a *App, done func(path string, err error)) {
	fallback := func() {
		d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
			if err != nil || u == nil {
				done("", err)
				return
			}
			done(u.Path(), nil)
		}, a.win)
		d.Show()
		d.Resize(fyne.NewSize(800, 560)) // only after Show: before it, Fyne's FileDialog has no window to size
	}
	if nativeDialogs(a) {
		if runNative(a, func() (string, error) {
			return native.Directory().Title("Choose a folder").Browse()
		}, fallback, done) {
			return
		}
		done("", fmt.Errorf("a file dialog is already open"))
		return
	}
	fallback()
}

func dotted(exts []string) []string {
	out := make([]string, len(exts))
	for i, e := range exts {
		out[i] = "." + e
	}
	return out
}
