package ui

import (
	"context"
	"encoding/json"
	"image/color"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"glimpse/history"
)

// fixtures is the shared ground truth, relative to this package.
const fixtures = "../../shared/fixtures"

var tinyVicuna = filepath.Join(fixtures, "models", "tiny-instructblip-vicuna")

// uiQueue stands in for fyne.Do: work handed to the UI waits here until the
// test drains it, so widgets only ever change on the test's goroutine.
type uiQueue chan func()

func (q uiQueue) do(f func()) { q <- f }

// testApp builds the app on Fyne's headless driver with its own data folder,
// model cache and preferences. prefs, if set, edits the preferences first.
func testApp(t *testing.T, prefs func(p fyne.Preferences)) (*App, uiQueue) {
	t.Helper()
	t.Setenv(history.EnvHome, t.TempDir())
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("HF_ENDPOINT", "")
	t.Setenv("HF_TOKEN", "")
	fa := test.NewTempApp(t)
	if prefs != nil {
		prefs(fa.Preferences())
	}
	q := make(uiQueue, 100000)
	a, err := newApp(fa, Options{}, q.do)
	if err != nil {
		t.Fatal(err)
	}
	a.win.Resize(fyne.NewSize(1100, 720))
	t.Cleanup(func() {
		// Close waits for the worker, which may be handing work to the
		// queue: keep draining it meanwhile.
		done := make(chan struct{})
		go func() {
			for {
				select {
				case <-q:
				case <-done:
					return
				}
			}
		}()
		a.Close()
		close(done)
	})
	return a, q
}

// pump runs queued UI work until cond holds, failing after timeout.
func pump(t *testing.T, q uiQueue, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(20 * time.Millisecond) // conditions on time, not only on UI work
	defer tick.Stop()
	for !cond() {
		select {
		case f := <-q:
			f()
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// withTinyModel makes the tiny Vicuna fixture the active model, on the CPU.
func withTinyModel(p fyne.Preferences) {
	p.SetString(prefModel, tinyVicuna)
	p.SetString(prefBackend, "cpu")
}

// goldenCase is case 0 of the tiny Vicuna's golden file.
type goldenCase struct {
	Image, Prompt string
	Generate      map[string]struct {
		Text     string
		Sequence []int32
	}
}

func loadGolden(t *testing.T) goldenCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tinyVicuna, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Cases []goldenCase }
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g.Cases[0]
}

// TestAskGoldenAnswer drives the whole chat: greedy settings entered in the
// Settings form, the image dropped on the window, the question typed and
// sent with Enter. The answer must be transformers' greedy answer, streamed
// into the chat, then saved to the history and listed in the sidebar.
func TestAskGoldenAnswer(t *testing.T) {
	g := loadGolden(t)
	a, q := testApp(t, withTinyModel)
	// The active model loads at start, with a progress bar, before any question.
	sawLoading := false
	pump(t, q, time.Minute, "the model to load", func() bool {
		sawLoading = sawLoading || (a.status.bar.Visible() && a.status.bar.Value > 0)
		return a.status.desc.Name != "" && !a.worker.Busy()
	})

	// The golden "greedy" setting: num_beams 1, max_new_tokens 24, and
	// transformers' default repetition_penalty of 1.
	setGreedy(t, a, "1")

	img := filepath.Join(fixtures, "images", g.Image)
	a.onDropped(fyne.NewPos(300, 200), []fyne.URI{storage.NewFileURI(img)})
	if a.currentTab() != "Chat" || a.chat.slot.img == nil || a.chat.slot.img.Name != g.Image {
		t.Fatalf("after the drop: tab %q, slot %+v", a.currentTab(), a.chat.slot.img)
	}
	if want := "Image: " + g.Image; !strings.HasPrefix(a.chat.slot.AccessibilityLabel(), want) {
		t.Errorf("slot's accessibility label %q, want it to start %q", a.chat.slot.AccessibilityLabel(), want)
	}

	test.Type(a.chat.question, g.Prompt)
	a.chat.question.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if a.chat.question.Text != "" {
		t.Errorf("question box still holds %q after sending", a.chat.question.Text)
	}
	var seen []string // the answer's text as it grew
	pump(t, q, 2*time.Minute, "the answer", func() bool {
		if a.chat.pending != nil {
			if s := a.chat.pending.Text(); len(seen) == 0 || seen[len(seen)-1] != s {
				seen = append(seen, s)
			}
		}
		return !a.worker.Busy() && a.chat.pending == nil && len(a.sidebar.entries) > 0
	})
	if a.chat.errLabel.Visible() {
		t.Fatalf("error shown: %s", a.chat.errLabel.Text)
	}
	ms := a.chat.messages()
	if len(ms) != 2 {
		t.Fatalf("%d messages in the chat, want the question and the answer", len(ms))
	}
	// transformers decoded the prompt and the answer together.
	want := strings.TrimPrefix(g.Generate["greedy"].Text, g.Prompt)
	if got := ms[1].Text(); got != want {
		t.Errorf("answer %q, want %q", got, want)
	}
	if len(seen) < 3 {
		t.Errorf("the answer came in %d updates (%q); greedy search should stream it", len(seen), seen)
	}
	if got := ms[1].AccessibilityLabel(); got != "Glimpse answered: "+want {
		t.Errorf("answer's accessibility label %q", got)
	}
	if got := ms[0].AccessibilityLabel(); got != "You asked about "+g.Image+": "+g.Prompt {
		t.Errorf("question's accessibility label %q", got)
	}
	test.Tap(ms[1].copy)
	if got := a.fyne.Clipboard().Content(); got != want || ms[1].copy.AccessibilityLabel() != "Copy the answer" {
		t.Errorf("copy button (%q) put %q on the clipboard", ms[1].copy.AccessibilityLabel(), got)
	}
	if got := a.sidebar.titles(); len(got) != 1 || got[0] != history.TitleFrom(g.Prompt) {
		t.Errorf("sidebar lists %q, want the new conversation", got)
	}
	if !strings.Contains(a.status.engine.Text, "fp32 · CPU") || !strings.HasPrefix(a.status.engine.Text, "tiny-instructblip-vicuna") {
		t.Errorf("status bar %q does not say which model runs how", a.status.engine.Text)
	}
	if !sawLoading || a.status.bar.Visible() {
		t.Errorf("loading bar: seen %v, still showing %v", sawLoading, a.status.bar.Visible())
	}
	if m := a.status.memory.Text; !strings.HasPrefix(m, "Memory ") || !strings.Contains(m, "weights ") {
		t.Errorf("memory shown as %q", m)
	}
	conv, err := a.store.Get(context.Background(), a.chat.convID)
	if err != nil {
		t.Fatal(err)
	}
	if len(conv.Messages) != 2 || conv.Messages[1].Text != want || len(conv.Messages[0].Attachments) != 1 {
		t.Fatalf("history holds %+v", conv.Messages)
	}
	var saved map[string]any
	if err := json.Unmarshal(conv.Messages[1].Settings, &saved); err != nil || saved["num_beams"] != 1.0 || saved["max_new_tokens"] != 24.0 {
		t.Errorf("saved settings %s (%v)", conv.Messages[1].Settings, err)
	}

	// A follow-up goes into the same conversation, about the same image:
	// the golden "greedy_rep_penalty" setting (repetition_penalty 1.5).
	setGreedy(t, a, "1.5")
	a.showTab("Chat")
	test.Type(a.chat.question, g.Prompt)
	a.chat.question.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEnter})
	pump(t, q, 2*time.Minute, "the second answer", func() bool {
		return !a.worker.Busy() && a.chat.pending == nil && len(a.chat.messages()) == 4
	})
	want = strings.TrimPrefix(g.Generate["greedy_rep_penalty"].Text, g.Prompt)
	if got := a.chat.messages()[3].Text(); got != want {
		t.Errorf("answer with repetition penalty %q, want %q", got, want)
	}
	pump(t, q, 10*time.Second, "the save", func() bool {
		c, err := a.store.Get(context.Background(), a.chat.convID)
		return err == nil && len(c.Messages) == 4
	})
	if n := len(a.sidebar.entries); n != 1 {
		t.Errorf("%d conversations listed after a follow-up, want 1", n)
	}

	// New chat, then opening the conversation from the sidebar shows it again.
	a.chat.newChat()
	if len(a.chat.messages()) != 0 || a.chat.convID != 0 {
		t.Fatal("new chat kept the old messages")
	}
	a.sidebar.list.Select(0)
	if got := len(a.chat.messages()); got != 4 || a.chat.slot.img == nil {
		t.Errorf("opened conversation shows %d messages, image %v", got, a.chat.slot.img)
	}
}

// setGreedy enters greedy settings with the given repetition penalty in the
// Settings form and applies them.
func setGreedy(t *testing.T, a *App, rep string) {
	t.Helper()
	a.showTab("Settings")
	v := a.setView
	for e, text := range map[*appEntry]string{v.beams: "1", v.maxNew: "24", v.rep: rep} {
		e.SetText("")
		test.Type(e, text)
	}
	v.apply()
	if v.errLabel.Visible() {
		t.Fatalf("settings refused: %s", v.errLabel.Text)
	}
	if s := LoadSettings(a.fyne.Preferences()); s.NumBeams != 1 || s.MaxNewTokens != 24 || fmtFloat(s.RepetitionPenalty) != rep {
		t.Fatalf("stored settings: %d beams, %d new tokens, repetition penalty %v", s.NumBeams, s.MaxNewTokens, s.RepetitionPenalty)
	}
}

// TestStopAnswer stops a long beam search with Esc: the chat says it was
// stopped and nothing is saved.
func TestStopAnswer(t *testing.T) {
	a, q := testApp(t, func(p fyne.Preferences) {
		withTinyModel(p)
		// The tiny model's whole context (512 positions), every step
		// required: hundreds of beam steps, stopped long before.
		p.SetInt(prefMaxLen, 512)
		p.SetInt(prefMinLen, 510)
	})
	a.chat.pickPath(filepath.Join(fixtures, "images", "noise.jpg"))
	test.Type(a.chat.question, "Describe it")
	a.chat.send()
	pump(t, q, time.Minute, "the beam search to start", func() bool { return a.chat.thinking.Visible() })
	// The window is the UI goroutine's alone: typing, switching tabs and
	// resizing go on while the worker generates.
	test.Type(a.chat.question, "typing while it thinks")
	a.showTab("Settings")
	a.win.Resize(fyne.NewSize(800, 600))
	a.showTab("Chat")
	if a.chat.question.Text != "typing while it thinks" || !a.worker.Busy() {
		t.Errorf("while generating: question %q, worker busy %v", a.chat.question.Text, a.worker.Busy())
	}
	a.chat.question.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	pump(t, q, time.Minute, "the stop", func() bool { return !a.worker.Busy() && a.chat.pending == nil })
	if ms := a.chat.messages(); len(ms) != 2 || !strings.Contains(ms[1].Text(), "stopped") {
		t.Fatalf("after Esc the chat shows %d messages, last %q", len(ms), ms[len(ms)-1].Text())
	}
	if sums, _ := a.store.Recent(context.Background(), 0); len(sums) != 0 {
		t.Errorf("a stopped answer was saved: %+v", sums)
	}
	if a.chat.stopBtn.Disabled() == false || a.chat.sendBtn.Disabled() {
		t.Error("buttons not back to asking after the stop")
	}

	// New chat (Ctrl+N) in the middle of an answer stops it and starts clean.
	a.chat.question.SetText("")
	test.Type(a.chat.question, "Describe it again")
	a.chat.send()
	pump(t, q, time.Minute, "the second beam search", func() bool { return a.chat.thinking.Visible() })
	a.chat.question.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyN, Modifier: mod})
	pump(t, q, time.Minute, "the worker to stop", func() bool { return !a.worker.Busy() })
	if len(a.chat.messages()) != 0 || a.chat.pending != nil || a.chat.sendBtn.Disabled() || a.chat.errLabel.Visible() {
		t.Errorf("after New chat: %d messages, pending %v, send disabled %v, error %q",
			len(a.chat.messages()), a.chat.pending != nil, a.chat.sendBtn.Disabled(), a.chat.errLabel.Text)
	}
	if sums, _ := a.store.Recent(context.Background(), 0); len(sums) != 0 {
		t.Errorf("a stopped answer was saved: %+v", sums)
	}
}

// TestDrop covers what the window's drop handler does with each kind of drop
// (Fyne's test driver delivers no drops, so the handler is called).
func TestDrop(t *testing.T) {
	dir := t.TempDir()
	notImage := filepath.Join(dir, "notes.txt")
	os.WriteFile(notImage, []byte("just text"), 0o644)
	png := filepath.Join(fixtures, "images", "alpha.png")
	a, _ := testApp(t, withTinyModel)
	cases := []struct {
		name    string
		uris    []fyne.URI
		image   string // in the slot afterwards
		message string // part of the error shown; "" for none
	}{
		{"image", []fyne.URI{storage.NewFileURI(png)}, "alpha.png", ""},
		{"text file", []fyne.URI{storage.NewFileURI(notImage)}, "", "notes.txt is not an image Glimpse can read"},
		{"missing file", []fyne.URI{storage.NewFileURI(filepath.Join(dir, "gone.png"))}, "", "does not exist"},
		{"folder", []fyne.URI{storage.NewFileURI(dir)}, "", "is a folder"},
		{"web link", []fyne.URI{mustURI(t, "https://example.com/cat.png")}, "", "Only files can be dropped"},
		{"text file then image", []fyne.URI{storage.NewFileURI(notImage), storage.NewFileURI(png)}, "alpha.png", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a.chat.slot.set(nil)
			a.chat.clearError()
			a.showTab("Settings") // drops anywhere switch to the chat
			a.onDropped(fyne.NewPos(10, 10), c.uris)
			got := ""
			if a.chat.slot.img != nil {
				got = a.chat.slot.img.Name
			}
			if got != c.image {
				t.Errorf("slot holds %q, want %q", got, c.image)
			}
			shown := ""
			if a.chat.errLabel.Visible() {
				shown = a.chat.errLabel.Text
			}
			if (c.message == "") != (shown == "") || !strings.Contains(shown, c.message) {
				t.Errorf("error shown %q, want one containing %q", shown, c.message)
			}
		})
	}
}

func mustURI(t *testing.T, s string) fyne.URI {
	u, err := storage.ParseURI(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestPastePath pastes a file path into the question box and the image slot.
func TestPastePath(t *testing.T) {
	a, _ := testApp(t, withTinyModel)
	img, _ := filepath.Abs(filepath.Join(fixtures, "images", "gray.jpg"))
	cb := a.fyne.Clipboard()
	for _, target := range []fyne.Shortcutable{a.chat.question, a.chat.slot} {
		for _, text := range []string{img, `"` + img + `"`, "file://" + img} {
			a.chat.slot.set(nil)
			cb.SetContent(text)
			target.TypedShortcut(&fyne.ShortcutPaste{Clipboard: cb})
			if a.chat.slot.img == nil || a.chat.slot.img.Name != "gray.jpg" {
				t.Errorf("pasting %q into %T: slot %v", text, target, a.chat.slot.img)
			}
		}
	}
	// Ordinary text stays text.
	a.chat.question.SetText("")
	cb.SetContent("what is this?")
	a.chat.question.TypedShortcut(&fyne.ShortcutPaste{Clipboard: cb})
	if a.chat.question.Text != "what is this?" {
		t.Errorf("pasted text became %q", a.chat.question.Text)
	}
}

// TestEnterSends checks the question box's keys: Enter sends, Shift+Enter
// starts a new line, Ctrl+Enter sends too.
func TestEnterSends(t *testing.T) {
	sent := 0
	q := newQuestionEntry(nil, func() { sent++ })
	w := test.NewWindow(q)
	defer w.Close()
	w.Canvas().Focus(q)
	test.Type(q, "first")
	q.KeyDown(&fyne.KeyEvent{Name: desktop.KeyShiftLeft})
	q.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	q.KeyUp(&fyne.KeyEvent{Name: desktop.KeyShiftLeft})
	test.Type(q, "second")
	if q.Text != "first\nsecond" || sent != 0 {
		t.Fatalf("after Shift+Enter: text %q, sent %d times", q.Text, sent)
	}
	q.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if sent != 1 || q.Text != "first\nsecond" {
		t.Errorf("after Enter: sent %d times, text %q", sent, q.Text)
	}
	q.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEnter}) // the keypad's Enter
	q.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierControl})
	if sent != 3 {
		t.Errorf("keypad Enter and Ctrl+Enter: sent %d times, want 3", sent)
	}
	if got := q.AccessibilityLabel(); got != "Question: first\nsecond" {
		t.Errorf("accessibility label %q", got)
	}
}

// TestThemeSwitch switches themes from the settings and checks the colours
// the app then draws with, and that the choice is stored.
func TestThemeSwitch(t *testing.T) {
	a, _ := testApp(t, withTinyModel)
	cases := []struct {
		choice     string
		name       string
		background color.Color
		dark       bool
	}{
		{"Dark", ThemeDark, nil, true},
		{"High contrast", ThemeHighContrast, color.Black, true},
		{"Light", ThemeLight, nil, false},
	}
	for _, c := range cases {
		a.setView.theme.SetSelected(c.choice)
		th := a.fyne.Settings().Theme()
		bg := th.Color(theme.ColorNameBackground, a.fyne.Settings().ThemeVariant())
		r, g, b, _ := bg.RGBA()
		if dark := r+g+b < 3*0x8000; dark != c.dark {
			t.Errorf("%s: background %v", c.choice, bg)
		}
		if c.background != nil && bg != c.background {
			t.Errorf("%s: background %v, want %v", c.choice, bg, c.background)
		}
		if got := a.fyne.Preferences().String(prefTheme); got != c.name {
			t.Errorf("%s: stored theme %q", c.choice, got)
		}
	}
	base := a.fyne.Settings().Theme().Size(theme.SizeNameText)
	a.setView.textSize.SetSelected("150%")
	if got := a.fyne.Settings().Theme().Size(theme.SizeNameText); got != base*1.5 {
		t.Errorf("text at 150%%: %v, want %v", got, base*1.5)
	}
	fg := a.fyne.Settings().Theme().Color(theme.ColorNameForeground, theme.VariantLight)
	if r, g, b, _ := fg.RGBA(); r+g+b > 3*0x8000 {
		t.Errorf("light theme foreground %v is not dark", fg)
	}
}

// TestFirstRun opens the model manager with a recommendation when no model is
// chosen, and asking says what to do.
func TestFirstRun(t *testing.T) {
	a, q := testApp(t, nil)
	if a.currentTab() != "Models" {
		t.Errorf("first run shows %q, want the model manager", a.currentTab())
	}
	pump(t, q, time.Minute, "the recommendation", func() bool {
		return strings.HasPrefix(a.models.recLabel.Text, "Recommended for this machine:")
	})
	if !strings.Contains(a.status.engine.Text, "No model") {
		t.Errorf("status bar says %q", a.status.engine.Text)
	}
	a.showTab("Chat")
	a.chat.pickPath(filepath.Join(fixtures, "images", "shapes.png"))
	a.chat.question.SetText("hi")
	a.chat.send()
	pump(t, q, time.Minute, "the error", func() bool { return a.chat.errLabel.Visible() })
	if !strings.Contains(a.chat.errLabel.Text, "Models (Ctrl+M)") {
		t.Errorf("error %q does not point to the model manager", a.chat.errLabel.Text)
	}
}

// TestShortcuts runs shortcuts as a focused entry passes them on.
func TestShortcuts(t *testing.T) {
	a, _ := testApp(t, withTinyModel)
	a.win.Canvas().Focus(a.chat.question)
	press := func(k fyne.KeyName, m fyne.KeyModifier) {
		a.chat.question.TypedShortcut(&desktop.CustomShortcut{KeyName: k, Modifier: m})
	}
	press(fyne.KeyM, mod)
	if a.currentTab() != "Models" {
		t.Errorf("Ctrl+M shows %q", a.currentTab())
	}
	a.models.other.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyComma, Modifier: mod})
	if a.currentTab() != "Settings" {
		t.Errorf("Ctrl+, shows %q", a.currentTab())
	}
	a.setView.seed.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyF, Modifier: mod})
	if a.currentTab() != "Chat" || a.win.Canvas().Focused() != a.sidebar.search {
		t.Errorf("Ctrl+F: tab %q, focus %T", a.currentTab(), a.win.Canvas().Focused())
	}
	a.sidebar.search.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.Key2, Modifier: mod})
	if a.currentTab() != "Caption" {
		t.Errorf("Ctrl+2 shows %q", a.currentTab())
	}
	a.sidebar.search.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.Key3, Modifier: mod})
	if a.currentTab() != "Models" {
		t.Errorf("Ctrl+3 shows %q", a.currentTab())
	}
	help := a.helpText()
	for _, want := range []string{"Ctrl+O", "Ctrl+N", "Ctrl+F", "Esc", "F1", "F2", "Ctrl+E", "Ctrl+,", "Ctrl+M", "Shift+Enter", "Read the caption aloud"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %s:\n%s", want, help)
		}
	}
	a.chat.question.TypedKey(&fyne.KeyEvent{Name: fyne.KeyF1})
	if len(a.win.Canvas().Overlays().List()) == 0 {
		t.Error("F1 showed no help dialog")
	}
	for _, o := range a.win.Canvas().Overlays().List() {
		a.win.Canvas().Overlays().Remove(o)
	}
	// Without native dialogs (no display here), Ctrl+O shows Fyne's own.
	a.chat.question.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyO, Modifier: mod})
	if top := a.win.Canvas().Overlays().Top(); top == nil || !strings.Contains(test.RenderObjectToMarkup(top), "Open") {
		t.Error("Ctrl+O showed no file dialog")
	}
}

// TestCheckDisplay refuses to open the app where there is no screen, instead
// of letting GLFW panic.
func TestCheckDisplay(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		if err := checkDisplay(); err != nil {
			t.Errorf("%s always has a display: %v", runtime.GOOS, err)
		}
		return
	}
	for _, c := range []struct {
		x11, wayland string
		ok           bool
	}{{"", "", false}, {":0", "", true}, {"", "wayland-0", true}} {
		t.Setenv("DISPLAY", c.x11)
		t.Setenv("WAYLAND_DISPLAY", c.wayland)
		if err := checkDisplay(); (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), "glimpse help")) {
			t.Errorf("DISPLAY=%q WAYLAND_DISPLAY=%q: %v", c.x11, c.wayland, err)
		}
	}
}

// TestAskErrors words what goes wrong with what to do about it.
func TestAskErrors(t *testing.T) {
	a, q := testApp(t, func(p fyne.Preferences) {
		p.SetString(prefModel, filepath.Join(t.TempDir(), "no such model"))
		p.SetString(prefBackend, "cpu")
	})
	// The load at start fails and says where to go.
	pump(t, q, time.Minute, "the load error", func() bool { return a.chat.errLabel.Visible() })
	if msg := a.chat.errLabel.Text; !strings.Contains(msg, "could not be loaded") || !strings.Contains(msg, "Models (Ctrl+M)") {
		t.Errorf("load error %q", msg)
	}
	a.chat.clearError()
	a.chat.pickPath(filepath.Join(fixtures, "images", "shapes.png"))
	for _, c := range []struct{ question, want string }{
		{"", "Type a question first"},
		{"What is it?", "Models (Ctrl+M)"},
	} {
		a.chat.question.SetText(c.question)
		a.chat.send()
		pump(t, q, time.Minute, "the error", func() bool { return a.chat.errLabel.Visible() && a.chat.pending == nil })
		if !strings.Contains(a.chat.errLabel.Text, c.want) {
			t.Errorf("question %q: error %q, want %q", c.question, a.chat.errLabel.Text, c.want)
		}
		a.chat.clearError()
	}
	a.chat.slot.set(nil)
	a.chat.question.SetText("What is it?")
	a.chat.send()
	if !strings.Contains(a.chat.errLabel.Text, "Choose an image first") {
		t.Errorf("no image: error %q", a.chat.errLabel.Text)
	}
}

// TestCaptionTab checks caption mode is wired in as a tab: it takes drops and
// Esc, and the View menu reaches it.
func TestCaptionTab(t *testing.T) {
	a, _ := testApp(t, withTinyModel)
	a.showTab("Caption")
	if a.currentTab() != "Caption" {
		t.Fatalf("no Caption tab; tabs %v", a.tabs.Items)
	}
	c := a.currentContent()
	if _, ok := c.(dropTarget); !ok {
		t.Errorf("caption view %T takes no drops", c)
	}
	if _, ok := c.(stopper); !ok {
		t.Errorf("caption view %T has nothing for Esc to stop", c)
	}
	found := false
	for _, m := range a.mainMenu().Items {
		for _, it := range m.Items {
			found = found || it.Label == "Caption"
		}
	}
	if !found {
		t.Error("the View menu has no Caption item")
	}
}
