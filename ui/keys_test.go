package ui

import (
	"fmt"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// TestTabOrder walks the chat tab with Tab: the search box, the list and its
// actions, then the image slot, the question box and the buttons under them,
// in reading order, and Send is reachable.
func TestTabOrder(t *testing.T) {
	a, _ := testApp(t, withTinyModel)
	a.showTab("Chat")
	c := a.win.Canvas()
	c.Focus(a.sidebar.search)
	want := []fyne.Focusable{a.sidebar.search, a.sidebar.list, a.sidebar.renameB, a.sidebar.deleteB, a.sidebar.exportB,
		a.chat.slot, a.chat.question, a.chat.openBtn, a.chat.newBtn, a.chat.sendBtn}
	var got []fyne.Focusable
	for i := 0; i < 40 && len(got) < len(want); i++ {
		f := c.Focused()
		for _, w := range want {
			if f == w && (len(got) == 0 || got[len(got)-1] != f) {
				got = append(got, f)
			}
		}
		test.FocusNext(c)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Tab visits\n%v\nwant\n%v", names(a, got), names(a, want))
	}
	// The image slot shows its focus.
	c.Focus(a.chat.slot)
	if a.chat.slot.border.StrokeColor != a.fyne.Settings().Theme().Color("focus", a.fyne.Settings().ThemeVariant()) {
		t.Errorf("focused slot's border is %v", a.chat.slot.border.StrokeColor)
	}
}

func names(a *App, fs []fyne.Focusable) []string {
	label := map[fyne.Focusable]string{a.sidebar.search: "search", a.sidebar.list: "list", a.sidebar.renameB: "rename",
		a.sidebar.deleteB: "delete", a.sidebar.exportB: "export", a.chat.slot: "slot", a.chat.question: "question",
		a.chat.openBtn: "open", a.chat.newBtn: "new", a.chat.sendBtn: "send"}
	var out []string
	for _, f := range fs {
		out = append(out, label[f])
	}
	return out
}

// TestFyneDialogs opens each file dialog where no native one is available
// (as here, with no display): open an image, export a conversation, choose a
// model folder and a data folder.
func TestFyneDialogs(t *testing.T) {
	a, _ := testApp(t, withTinyModel)
	open := map[string]func(){
		"open image":    a.chat.openImage,
		"export":        func() { a.sidebar.exportAs(sideEntry{ID: 1, Title: "a/b"}, "html") },
		"model folder":  a.models.chooseFolder,
		"data folder":   func() { openFolderDialog(a, func(string, error) {}) },
		"rename":        func() { a.sidebar.rename(sideEntry{ID: 1, Title: "t"}) },
		"delete":        func() { a.sidebar.remove(sideEntry{ID: 1, Title: "t"}) },
		"export format": func() { a.sidebar.export(sideEntry{ID: 1, Title: "t"}) },
		"delete model":  a.models.cards["instructblip-flan-t5-xl"].remove,
		"help":          a.showHelp,
	}
	for name, f := range open {
		f()
		if a.win.Canvas().Overlays().Top() == nil {
			t.Errorf("%s: no dialog", name)
		}
		for _, o := range a.win.Canvas().Overlays().List() {
			a.win.Canvas().Overlays().Remove(o)
		}
	}
}
