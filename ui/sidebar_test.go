package ui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"glimpse/history"
)

// TestSidebar lists conversations newest first, searches them with
// highlighted snippets, and renames, deletes and exports through the
// sidebar's actions and context menu.
func TestSidebar(t *testing.T) {
	a, _ := testApp(t, withTinyModel)
	png, err := os.ReadFile(filepath.Join(fixtures, "images", "shapes.png"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ids []int64
	for _, ex := range []struct{ q, ans string }{
		{"What animal is this?", "A zebra standing in tall grass."},
		{"What colour is the car?", "The car is red."},
		{"How many people?", "Three people and a dog."},
	} {
		c, err := a.store.SaveExchange(ctx, history.Exchange{Prompt: ex.q, Answer: ex.ans,
			Images: []history.Image{{Name: "shapes.png", Data: png}}, Model: "tiny"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	s := a.sidebar
	s.refresh()
	if got, want := s.titles(), []string{"How many people?", "What colour is the car?", "What animal is this?"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("sidebar %q, want newest first %q", got, want)
	}

	test.Type(s.search, "zebr") // a prefix while typing
	if len(s.entries) != 1 || s.entries[0].ID != ids[0] {
		t.Fatalf("search found %+v", s.entries)
	}
	var bold []string
	for _, f := range s.entries[0].Snippet {
		if f.Match {
			bold = append(bold, f.Text)
		}
	}
	if strings.Join(bold, " ") != "zebra" {
		t.Errorf("highlighted %q, want zebra", bold)
	}
	item := newConvItem(s)
	item.set(s.entries[0])
	if got := item.AccessibilityLabel(); !strings.Contains(got, "What animal is this?") || !strings.Contains(got, "zebra") {
		t.Errorf("accessibility label %q", got)
	}
	s.search.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if s.search.Text != "" || len(s.entries) != 3 {
		t.Errorf("Esc left search %q and %d entries", s.search.Text, len(s.entries))
	}

	// Selecting opens the conversation; the actions work on it.
	s.list.Select(2)
	if a.chat.convID != ids[0] || len(a.chat.messages()) != 2 {
		t.Fatalf("selecting opened %d with %d messages", a.chat.convID, len(a.chat.messages()))
	}
	s.doRename(ids[0], "  Zebra photo ")
	if got := s.titles(); got[0] != "Zebra photo" { // renaming counts as an update
		t.Errorf("after rename: %q", got)
	}
	s.doRename(ids[0], " ")
	if !a.chat.errLabel.Visible() {
		t.Error("an empty title was accepted")
	}

	dir := t.TempDir()
	for _, f := range []history.Format{history.Markdown, history.JSON, history.HTML} {
		path := filepath.Join(dir, "chat")
		s.doExport(ids[0], f, path)
		b, err := os.ReadFile(path + "." + string(f))
		if err != nil || !strings.Contains(string(b), "zebra") {
			t.Errorf("export %s: %v, %.80q", f, err, b)
		}
	}

	s.doDelete(ids[0])
	if got := s.titles(); len(got) != 2 || a.chat.convID != 0 || len(a.chat.messages()) != 0 {
		t.Errorf("after deleting the open conversation: %q, chat %d with %d messages", got, a.chat.convID, len(a.chat.messages()))
	}

	// The context menu offers every action.
	s.menuFor(s.entries[0], fyne.NewPos(20, 60))
	over := a.win.Canvas().Overlays().Top()
	if over == nil {
		t.Fatal("no context menu")
	}
	markup := test.RenderObjectToMarkup(over)
	for _, want := range []string{"Rename", "Delete", "Markdown", "JSON", "HTML"} {
		if !strings.Contains(markup, want) {
			t.Errorf("context menu lacks %s", want)
		}
	}
}

// TestSafeFileName keeps export names valid everywhere.
func TestSafeFileName(t *testing.T) {
	for in, want := range map[string]string{
		"What is this?":    "What is this_",
		`a/b\c:d*e"f<g>h|`: "a_b_c_d_e_f_g_h_",
		"  ":               "conversation",
		"..":               "conversation",
		"Zebra":            "Zebra",
	} {
		if got := safeFileName(in); got != want {
			t.Errorf("safeFileName(%q) = %q, want %q", in, got, want)
		}
	}
}
