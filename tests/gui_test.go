package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dragSource is a small GTK 3 program that offers one file as a drag
// source (text/uri-list), so that xdotool can drag it onto the app: a drop
// the way a file manager makes one. It exits once the drag has ended.
const dragSource = `#include <gtk/gtk.h>
static gchar *uri;
static void get_data(GtkWidget *w, GdkDragContext *c, GtkSelectionData *d, guint info, guint t, gpointer u) {
	gchar *uris[] = {uri, NULL};
	gtk_selection_data_set_uris(d, uris);
}
static gboolean quit(gpointer u) { gtk_main_quit(); return FALSE; }
static void drag_end(GtkWidget *w, GdkDragContext *c, gpointer u) { g_timeout_add(300, quit, NULL); }
int main(int argc, char **argv) {
	gtk_init(&argc, &argv);
	uri = argv[1];
	GtkWidget *win = gtk_window_new(GTK_WINDOW_TOPLEVEL);
	gtk_window_set_title(GTK_WINDOW(win), "glimpse-drag-source");
	gtk_window_set_default_size(GTK_WINDOW(win), 140, 90);
	gtk_window_move(GTK_WINDOW(win), atoi(argv[2]), atoi(argv[3]));
	GtkWidget *b = gtk_button_new_with_label("image");
	gtk_container_add(GTK_CONTAINER(win), b);
	GtkTargetEntry t = {"text/uri-list", 0, 0};
	gtk_drag_source_set(b, GDK_BUTTON1_MASK, &t, 1, GDK_ACTION_COPY);
	g_signal_connect(b, "drag-data-get", G_CALLBACK(get_data), NULL);
	g_signal_connect(b, "drag-end", G_CALLBACK(drag_end), NULL);
	g_signal_connect(win, "destroy", G_CALLBACK(gtk_main_quit), NULL);
	gtk_widget_show_all(win);
	gtk_main();
	return 0;
}
`

// clipboardReader prints the text on the X clipboard (CLIPBOARD selection),
// as a paste into another program would get it.
const clipboardReader = `#include <gtk/gtk.h>
#include <stdio.h>
int main(int argc, char **argv) {
	gtk_init(&argc, &argv);
	gchar *text = gtk_clipboard_wait_for_text(gtk_clipboard_get(GDK_SELECTION_CLIPBOARD));
	if (text == NULL) return 1;
	fputs(text, stdout);
	return 0;
}
`

// buildGTK compiles a small GTK 3 program into dir and returns its path.
func buildGTK(t *testing.T, dir, name, source string) string {
	t.Helper()
	src := filepath.Join(dir, name+".c")
	if err := os.WriteFile(src, []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "gtk+-3.0").Output()
	if err != nil {
		t.Fatalf("pkg-config gtk+-3.0 (libgtk-3-dev): %v", err)
	}
	bin := filepath.Join(dir, name)
	args := append([]string{"-o", bin, src}, strings.Fields(string(flags))...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, out)
	}
	return bin
}

// realDrop drags file from a GTK drag source, placed in the screen's
// bottom-right corner, onto the middle of the app's window (win), moving
// the pointer in steps as a hand would, and waits for the drag to end.
// Every position comes from the screen's and the windows' geometry.
func realDrop(t *testing.T, dragBin, file, win string, env []string, appOut *bytes.Buffer) {
	t.Helper()
	screen := strings.Fields(xdo(t, "getdisplaygeometry"))
	if len(screen) != 2 {
		t.Fatalf("xdotool getdisplaygeometry: %q", screen)
	}
	sw, _ := strconv.Atoi(screen[0])
	sh, _ := strconv.Atoi(screen[1])
	srcX, srcY := sw-160, sh-120
	drag := exec.Command(dragBin, "file://"+file, strconv.Itoa(srcX), strconv.Itoa(srcY))
	drag.Env = env
	if err := drag.Start(); err != nil {
		t.Fatal(err)
	}
	defer drag.Process.Kill()
	dragWin := waitWindow(t, "glimpse-drag-source", nil, appOut)
	xdo(t, "windowmove", "--sync", dragWin, strconv.Itoa(srcX), strconv.Itoa(srcY))
	fromX, fromY := centre(t, dragWin)
	toX, toY := centre(t, win)
	xdo(t, "mousemove", "--sync", strconv.Itoa(fromX), strconv.Itoa(fromY))
	xdo(t, "mousedown", "1")
	// A few small moves first, so GTK sees a drag start, then on to the
	// target in steps.
	for _, f := range []float64{0.01, 0.03, 0.2, 0.4, 0.6, 0.8, 0.98, 1} {
		x := fromX + int(f*float64(toX-fromX))
		y := fromY + int(f*float64(toY-fromY))
		xdo(t, "mousemove", "--sync", strconv.Itoa(x), strconv.Itoa(y))
		time.Sleep(150 * time.Millisecond)
	}
	xdo(t, "mouseup", "1")
	done := make(chan error, 1)
	go func() { done <- drag.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the drag did not end; app output:\n%s", appOut.String())
	}
	time.Sleep(500 * time.Millisecond) // the app handles the drop on its UI goroutine
}

// centre returns the screen position of a window's middle.
func centre(t *testing.T, win string) (int, int) {
	t.Helper()
	geo := map[string]int{}
	for _, line := range strings.Fields(xdo(t, "getwindowgeometry", "--shell", win)) {
		k, v, ok := strings.Cut(line, "=")
		if n, err := strconv.Atoi(v); ok && err == nil {
			geo[k] = n
		}
	}
	if geo["WIDTH"] <= 0 || geo["HEIGHT"] <= 0 {
		t.Fatalf("window %s has no geometry: %v", win, geo)
	}
	return geo["X"] + geo["WIDTH"]/2, geo["Y"] + geo["HEIGHT"]/2
}

// xdo runs xdotool and returns its trimmed output.
func xdo(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("xdotool", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("xdotool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// waitWindow waits for a visible window with exactly this name.
func waitWindow(t *testing.T, name string, app *exec.Cmd, appOut *bytes.Buffer) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := exec.Command("xdotool", "search", "--onlyvisible", "--name", "^"+name+"$").Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			return ids[0]
		}
		if app != nil && app.ProcessState != nil {
			t.Fatalf("the app exited before showing its window:\n%s", appOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no %q window after 90 s; app output:\n%s", name, appOut)
	return ""
}

// screenshot captures the window (or the whole screen for "root").
func screenshot(t *testing.T, window, path string) image.Image {
	t.Helper()
	if out, err := exec.Command("import", "-window", window, path).CombinedOutput(); err != nil {
		t.Fatalf("import -window %s: %v\n%s", window, err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	return img
}

// colours counts the distinct colours of img: a blank or failed capture has
// one or two, a window with text and an image hundreds.
func colours(img image.Image) int {
	seen := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}] = true
		}
	}
	return len(seen)
}

// TestGUI runs the real app in an X server (Xvfb in CI; scripts/test.sh
// starts one): it drops an image from a GTK drag source with xdotool, types
// a question, and checks that the answer was shown and saved. With
// GLIMPSE_SCREENSHOTS=DIR it also saves a picture of each main screen there
// (docs/screenshots is made that way).
func TestGUI(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Fatal("TestGUI needs an X display: run it through scripts/test.sh (which starts Xvfb) or set DISPLAY")
	}
	for _, tool := range []string{"xdotool", "import", "gcc", "pkg-config"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("TestGUI needs %s (make deps installs it): %v", tool, err)
		}
	}
	// Both engines: the GL one shares the process with Fyne's own OpenGL
	// window (its EGL context lives on its own thread), which only a real
	// window shows works. fp32, so that the GPU gives transformers' tokens.
	for _, backend := range []string{"cpu", "gl"} {
		t.Run(backend, func(t *testing.T) { guiAsk(t, backend, backend == "cpu") })
	}
}

// guiAsk is one run of the app for TestGUI; shots says to take the screens'
// pictures.
func guiAsk(t *testing.T, backend string, shots bool) {
	root := repoRoot(t)
	fixtures := filepath.Join(filepath.Dir(root), "shared", "fixtures")
	model, _ := filepath.Abs(filepath.Join(fixtures, "models", "tiny-instructblip-vicuna"))
	imagePath, _ := filepath.Abs(filepath.Join(fixtures, "images", "shapes.png"))
	var golden struct {
		Cases []struct {
			Prompt   string
			Generate map[string]struct{ Text string }
		}
	}
	b, err := os.ReadFile(filepath.Join(model, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	prompt := golden.Cases[0].Prompt
	wantAnswer := strings.TrimPrefix(golden.Cases[0].Generate["greedy"].Text, prompt)

	// The drag source and the clipboard reader, built with GTK 3.
	tmp := t.TempDir()
	dragBin := buildGTK(t, tmp, "drag", dragSource)
	clipBin := buildGTK(t, tmp, "clipboard", clipboardReader)

	// A data folder and preferences of its own: the tiny model active, on
	// the CPU, with greedy settings (golden "greedy": 1 beam, 24 new tokens,
	// no repetition penalty).
	home, config := filepath.Join(tmp, "home"), filepath.Join(tmp, "config")
	prefsDir := filepath.Join(config, "fyne", "app.glimpse.Glimpse")
	os.MkdirAll(prefsDir, 0o755)
	prefs, _ := json.Marshal(map[string]any{
		"engine.model": model, "engine.backend": backend, "engine.precision": "fp32", "gen.num_beams": 1, "gen.max_new_tokens": 24,
		"gen.repetition_penalty": 1.0,
	})
	if err := os.WriteFile(filepath.Join(prefsDir, "preferences.json"), prefs, 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GLIMPSE_HOME="+home, "XDG_CONFIG_HOME="+config, "HF_HUB_CACHE="+filepath.Join(tmp, "hub"),
		"GLIMPSE_MODEL=", "GLIMPSE_BACKEND=")

	bin := glimpseBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var appOut bytes.Buffer
	app := exec.CommandContext(ctx, bin)
	app.Env, app.Stdout, app.Stderr = env, &appOut, &appOut
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { app.Wait(); close(exited) }()
	defer func() {
		app.Process.Kill()
		<-exited
	}()
	win := waitWindow(t, "Glimpse", app, &appOut)
	xdo(t, "windowmove", "--sync", win, "0", "0")
	time.Sleep(time.Second) // the first frames

	realDrop(t, dragBin, imagePath, win, env, &appOut)

	// The drop put the image in the slot and the focus in the question box.
	xdo(t, "windowfocus", "--sync", win)
	xdo(t, "type", "--delay", "20", prompt)
	xdo(t, "key", "Return")

	// The answer is saved once it is shown: wait for it in the history.
	var conv []struct {
		ID       int64 `json:"id"`
		Messages int   `json:"messages"`
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cmd := exec.Command(bin, "history", "list", "--json")
		cmd.Env = env
		out, err := cmd.Output()
		if err == nil && json.Unmarshal(out, &conv) == nil && len(conv) == 1 && conv[0].Messages == 2 {
			break
		}
		if time.Now().After(deadline) {
			shot := filepath.Join(tmp, "failed.png")
			exec.Command("import", "-window", "root", shot).Run()
			t.Fatalf("no answer in the history after 2 minutes (list: %s, %v); screen in %s; app output:\n%s", out, err, shot, appOut.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
	show := exec.Command(bin, "history", "show", strconv.FormatInt(conv[0].ID, 10))
	show.Env = env
	out, err := show.CombinedOutput()
	if err != nil {
		t.Fatalf("history show: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), wantAnswer) || !strings.Contains(string(out), "shapes.png") {
		t.Errorf("saved conversation lacks the golden answer %q or the dropped image:\n%s", wantAnswer, out)
	}
	if strings.Contains(appOut.String(), "panic") {
		t.Errorf("the app panicked:\n%s", appOut.String())
	}
	time.Sleep(500 * time.Millisecond)

	if img := screenshot(t, "root", filepath.Join(tmp, "screen.png")); colours(img) < 50 {
		t.Errorf("the screen has %d colours: blank?", colours(img))
	}
	if !shots {
		return
	}
	shotDir := os.Getenv("GLIMPSE_SCREENSHOTS")
	switch {
	case shotDir == "":
		shotDir = tmp
	case !filepath.IsAbs(shotDir): // relative to the repository, not to tests/
		shotDir = filepath.Join(root, shotDir)
	}
	os.MkdirAll(shotDir, 0o755)
	if n := colours(screenshot(t, win, filepath.Join(shotDir, "chat.png"))); n < 50 {
		t.Errorf("chat screenshot has %d colours", n)
	}
	for _, s := range []struct{ name, keys, text string }{
		{"models", "ctrl+m", ""},
		{"settings", "ctrl+comma", ""},
		{"search", "ctrl+f", "unusual"},
	} {
		xdo(t, "key", s.keys)
		if s.text != "" {
			xdo(t, "type", "--delay", "20", s.text)
		}
		time.Sleep(time.Second)
		if n := colours(screenshot(t, win, filepath.Join(shotDir, s.name+".png"))); n < 20 {
			t.Errorf("%s screenshot has %d colours", s.name, n)
		}
	}
	// Caption mode: a real drop on its tab captions the image at once.
	xdo(t, "windowfocus", "--sync", win)
	xdo(t, "key", "ctrl+2")
	time.Sleep(500 * time.Millisecond)
	realDrop(t, dragBin, imagePath, win, env, &appOut)
	// The caption the app shows and copies (C) must be the one
	// `glimpse caption` writes for the same image, model and engine: the
	// caption itself is checked against transformers by the app's and the
	// command line's golden tests; this checks that the window shows it.
	capCmd := exec.Command(bin, "caption", "--model", model, "--backend", backend, "--precision", "fp32", "--json", imagePath)
	capCmd.Env = env
	capOut, err := capCmd.Output()
	if err != nil {
		t.Fatalf("glimpse caption: %v\n%s", err, capOut)
	}
	var caps [1]struct{ Caption string } // one JSON object per line, one image
	if err := json.Unmarshal(capOut, &caps[0]); err != nil || caps[0].Caption == "" {
		t.Fatalf("glimpse caption --json: %v\n%s", err, capOut)
	}
	var copied string
	deadline = time.Now().Add(2 * time.Minute)
	for copied != caps[0].Caption {
		if time.Now().After(deadline) {
			t.Fatalf("the caption tab copied %q, want %q (glimpse caption's); app output:\n%s", copied, caps[0].Caption, appOut.String())
		}
		xdo(t, "windowfocus", "--sync", win)
		xdo(t, "key", "c")
		clip := exec.Command(clipBin)
		clip.Env = env
		out, _ := clip.Output()
		copied = string(out)
		time.Sleep(300 * time.Millisecond)
	}
	if n := colours(screenshot(t, win, filepath.Join(shotDir, "caption.png"))); n < 50 {
		t.Errorf("caption screenshot has %d colours", n)
	}
	xdo(t, "key", "ctrl+1")
	if strings.Contains(appOut.String(), "panic") {
		t.Errorf("the app panicked:\n%s", appOut.String())
	}
	fmt.Fprintf(os.Stderr, "screenshots in %s\n", shotDir)

	// Ctrl+O opens the system's (GTK's) file dialog, off the UI goroutine;
	// Esc closes it and the app carries on.
	xdo(t, "windowfocus", "--sync", win)
	xdo(t, "key", "ctrl+o")
	// (sqweek/dialog's GTK file chooser keeps GTK's own title.)
	dlg := waitWindow(t, "(Open an image|Open File)", app, &appOut)
	screenshot(t, "root", filepath.Join(tmp, "dialog.png"))
	xdo(t, "windowfocus", "--sync", dlg)
	xdo(t, "key", "Escape")
	gone := time.Now().Add(20 * time.Second)
	for {
		out, _ := exec.Command("xdotool", "search", "--onlyvisible", "--name", "^(Open an image|Open File)$").Output()
		if len(strings.Fields(string(out))) == 0 {
			break
		}
		if time.Now().After(gone) {
			t.Fatalf("the file dialog did not close on Esc")
		}
		time.Sleep(200 * time.Millisecond)
	}
	xdo(t, "windowfocus", "--sync", win)
	xdo(t, "key", "ctrl+comma")
	time.Sleep(500 * time.Millisecond)
	select {
	case <-exited:
		t.Fatalf("the app exited after the file dialog:\n%s", appOut.String())
	default:
	}
}
