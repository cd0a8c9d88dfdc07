package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"glimpse/history"
)

// sideEntry is one row of the sidebar: a conversation, or a search hit in one.
type sideEntry struct {
	ID      int64
	Title   string
	Updated time.Time
	Snippet history.Snippet // search hits only
}

// convItem is a sidebar row. It takes right-clicks (the context menu) and
// leaves plain clicks to the list, which selects it.
type convItem struct {
	widget.BaseWidget
	bar     *sidebar
	entry   sideEntry
	title   *widget.Label
	snippet *widget.RichText
}

func newConvItem(s *sidebar) *convItem {
	it := &convItem{bar: s, title: widget.NewLabel(""), snippet: widget.NewRichText()}
	it.title.TextStyle.Bold = true
	it.title.Truncation = fyne.TextTruncateEllipsis
	it.snippet.Wrapping = fyne.TextWrapWord
	it.ExtendBaseWidget(it)
	return it
}

func (it *convItem) set(e sideEntry) {
	it.entry = e
	it.title.SetText(e.Title)
	if len(e.Snippet) == 0 {
		it.snippet.Segments = []widget.RichTextSegment{&widget.TextSegment{
			Text: e.Updated.Local().Format("2 Jan 2006 15:04"), Style: widget.RichTextStyle{ColorName: theme.ColorNamePlaceHolder, Inline: true, SizeName: theme.SizeNameCaptionText}}}
	} else {
		it.snippet.Segments = nil
		for _, f := range e.Snippet {
			st := widget.RichTextStyleInline
			if f.Match {
				st = widget.RichTextStyleStrong
			}
			it.snippet.Segments = append(it.snippet.Segments, &widget.TextSegment{Text: f.Text, Style: st})
		}
	}
	it.snippet.Refresh()
}

func (it *convItem) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewVBox(it.title, it.snippet))
}

// TappedSecondary opens the context menu for this conversation.
func (it *convItem) TappedSecondary(ev *fyne.PointEvent) {
	it.bar.menuFor(it.entry, ev.AbsolutePosition)
}

// AccessibilityLabel reads the title and, for a search hit, what matched.
func (it *convItem) AccessibilityLabel() string {
	if len(it.entry.Snippet) > 0 {
		return "Conversation " + it.entry.Title + ", matching: " + it.entry.Snippet.String()
	}
	return "Conversation " + it.entry.Title + ", " + it.entry.Updated.Local().Format("2 January 2006 15:04")
}

// AccessibilityRole is a button: activating it opens the conversation.
func (it *convItem) AccessibilityRole() fyne.AccessibleRole { return fyne.AccessibleRoleButton }

// sidebar lists the conversations, newest first, or the search results.
type sidebar struct {
	a        *App
	search   *appEntry
	list     *widget.List
	entries  []sideEntry
	selected int64
	loading  bool // set while the list is selected programmatically
	renameB  *widget.Button
	deleteB  *widget.Button
	exportB  *widget.Button
	box      fyne.CanvasObject
}

func newSidebar(a *App) *sidebar {
	s := &sidebar{a: a}
	s.search = newAppEntry(a, "Search conversations", false)
	s.search.SetPlaceHolder("Search conversations (Ctrl+F)")
	s.search.OnChanged = func(string) { s.refresh() }
	s.search.onKey = func(k fyne.KeyName) bool {
		if k == fyne.KeyEscape && s.search.Text != "" {
			s.search.SetText("")
			return true
		}
		return false
	}
	s.list = widget.NewList(
		func() int { return len(s.entries) },
		func() fyne.CanvasObject { return newConvItem(s) },
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*convItem).set(s.entries[i]) },
	)
	s.list.OnSelected = func(i widget.ListItemID) {
		if i < 0 || i >= len(s.entries) {
			return
		}
		s.selected = s.entries[i].ID
		if !s.loading && a.chat.convID != s.selected {
			a.chat.load(s.selected)
		}
	}
	s.renameB = widget.NewButtonWithIcon("Rename", theme.DocumentCreateIcon(), func() { s.withSelected(s.rename) })
	s.deleteB = widget.NewButtonWithIcon("Delete", theme.DeleteIcon(), func() { s.withSelected(s.remove) })
	s.exportB = widget.NewButtonWithIcon("Export…", theme.DocumentSaveIcon(), func() { s.withSelected(s.export) })
	actions := container.NewGridWithColumns(3, s.renameB, s.deleteB, s.exportB)
	s.box = column(s.search, s.list, actions)
	s.refresh()
	return s
}

func (s *sidebar) object() fyne.CanvasObject { return s.box }

// refresh reloads the list from the history: the search results when the
// search box has text, else every conversation, newest first.
func (s *sidebar) refresh() {
	ctx := context.Background()
	q := strings.TrimSpace(s.search.Text)
	var entries []sideEntry
	if q == "" {
		sums, err := s.a.store.Recent(ctx, 0)
		if err != nil {
			s.a.chat.showError("Cannot read the history: " + err.Error())
			return
		}
		for _, c := range sums {
			entries = append(entries, sideEntry{ID: c.ID, Title: c.Title, Updated: c.Updated})
		}
	} else {
		hits, err := s.a.store.Search(ctx, q, 100)
		if err != nil {
			s.a.chat.showError("Search failed: " + err.Error())
			return
		}
		for _, h := range hits {
			entries = append(entries, sideEntry{ID: h.ConversationID, Title: h.Title, Updated: h.Created, Snippet: h.Snippet})
		}
	}
	s.entries = entries
	s.list.Refresh()
	s.selectID(s.selected)
}

// selectID highlights conversation id without reloading the chat (0: none).
func (s *sidebar) selectID(id int64) {
	s.selected = id
	s.loading = true
	defer func() { s.loading = false }()
	for i, e := range s.entries {
		if e.ID == id {
			s.list.Select(i)
			return
		}
	}
	s.list.UnselectAll()
	s.selected = id
}

// titles returns the listed titles in order (for tests).
func (s *sidebar) titles() []string {
	var out []string
	for _, e := range s.entries {
		out = append(out, e.Title)
	}
	return out
}

func (s *sidebar) withSelected(f func(sideEntry)) {
	for _, e := range s.entries {
		if e.ID == s.selected && s.selected != 0 {
			f(e)
			return
		}
	}
	s.a.chat.showError("Select a conversation in the list first (Up and Down move, Space selects).")
}

// menuFor shows the context menu of one conversation.
func (s *sidebar) menuFor(e sideEntry, pos fyne.Position) {
	menu := fyne.NewMenu("",
		fyne.NewMenuItem("Rename…", func() { s.rename(e) }),
		fyne.NewMenuItem("Delete…", func() { s.remove(e) }),
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem("Export as Markdown…", func() { s.exportAs(e, history.Markdown) }),
		fyne.NewMenuItem("Export as JSON…", func() { s.exportAs(e, history.JSON) }),
		fyne.NewMenuItem("Export as HTML…", func() { s.exportAs(e, history.HTML) }),
	)
	widget.ShowPopUpMenuAtPosition(menu, s.a.win.Canvas(), pos)
}

func (s *sidebar) rename(e sideEntry) {
	in := newAppEntry(s.a, "New title", false)
	in.SetText(e.Title)
	dialog.ShowForm("Rename conversation", "Rename", "Cancel", []*widget.FormItem{widget.NewFormItem("Title", in)},
		func(ok bool) {
			if ok {
				s.doRename(e.ID, in.Text)
			}
		}, s.a.win)
	s.a.win.Canvas().Focus(in)
}

func (s *sidebar) doRename(id int64, title string) {
	title = strings.TrimSpace(title)
	if title == "" {
		s.a.chat.showError("A conversation needs a title.")
		return
	}
	if err := s.a.store.Rename(context.Background(), id, title); err != nil {
		s.a.chat.showError("Cannot rename: " + err.Error())
		return
	}
	s.refresh()
}

func (s *sidebar) remove(e sideEntry) {
	dialog.ShowConfirm("Delete conversation", fmt.Sprintf("Delete “%s” and its images? This cannot be undone.", e.Title),
		func(ok bool) {
			if ok {
				s.doDelete(e.ID)
			}
		}, s.a.win)
}

func (s *sidebar) doDelete(id int64) {
	if err := s.a.store.Delete(context.Background(), id); err != nil {
		s.a.chat.showError("Cannot delete: " + err.Error())
		return
	}
	if s.a.chat.convID == id {
		s.a.chat.newChat()
	}
	s.selected = 0
	s.refresh()
}

// export asks for a format, then a file.
func (s *sidebar) export(e sideEntry) {
	formats := []string{"Markdown (.md)", "JSON (.json)", "HTML (.html)"}
	pick := widget.NewRadioGroup(formats, nil)
	pick.SetSelected(formats[0])
	dialog.ShowForm("Export conversation", "Choose file…", "Cancel", []*widget.FormItem{widget.NewFormItem("Format", pick)},
		func(ok bool) {
			if !ok {
				return
			}
			f := map[string]history.Format{formats[0]: history.Markdown, formats[1]: history.JSON, formats[2]: history.HTML}[pick.Selected]
			s.exportAs(e, f)
		}, s.a.win)
}

func (s *sidebar) exportAs(e sideEntry, f history.Format) {
	name := safeFileName(e.Title) + "." + string(f)
	saveFileDialog(s.a, name, func(path string, err error) {
		if err != nil {
			s.a.chat.showError(err.Error())
			return
		}
		if path != "" {
			s.doExport(e.ID, f, path)
		}
	})
}

func (s *sidebar) doExport(id int64, f history.Format, path string) {
	if filepath.Ext(path) == "" {
		path += "." + string(f)
	}
	if err := s.a.store.Export(context.Background(), id, f, path); err != nil {
		s.a.chat.showError("Export failed: " + err.Error())
		return
	}
	s.a.status.flash("Exported to " + path)
}

// safeFileName makes a title usable as a file name on every system.
func safeFileName(title string) string {
	var b strings.Builder
	for _, r := range title {
		if strings.ContainsRune(`<>:"/\|?*`, r) || r < 32 {
			r = '_'
		}
		b.WriteRune(r)
	}
	n := strings.TrimSpace(b.String())
	if n == "" || n == "." || n == ".." {
		return "conversation"
	}
	if len(n) > 80 {
		n = n[:80]
	}
	return n
}
