package history

import (
	"fmt"
	"reflect"
	"testing"
)

func TestFTSQuery(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"cat", `"cat"*`, true},
		{"cat ", `"cat"`, true},
		{"red car", `"red" "car"*`, true},
		{`"red car" parked`, `"red car" "parked"*`, true},
		{`"red car"`, `"red car"`, true},
		{`say "hi`, `"say" "hi"*`, true},
		{`a"b`, `"a" "b"*`, true},
		{"cat AND dog", `"cat" "AND" "dog"*`, true},
		{"NEAR(a b)", `"NEAR(a" "b)"*`, true},
		{"text:cat", `"text:cat"*`, true},
		{"-cat ^dog", `"-cat" "^dog"*`, true},
		{"?? !! * ()", "", false},
		{"", "", false},
		{`""`, "", false},
		{"café", `"café"*`, true},
	}
	for _, tt := range tests {
		got, ok := ftsQuery(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ftsQuery(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSearch(t *testing.T) {
	s := openTemp(t)
	texts := []string{
		"A tabby cat sleeps on a red sofa.",
		"Two giraffes eat leaves from a tall tree.",
		"The café sign says OPEN & the door is red.",
		`He said "don't" – then left (quickly).`,
		"Nothing to see here.",
	}
	ids := map[string]int64{}
	for i, text := range texts {
		c, err := s.SaveExchange(ctx, Exchange{Title: fmt.Sprintf("chat %d", i), Prompt: "What is this?", Answer: text})
		if err != nil {
			t.Fatal(err)
		}
		ids[text] = c.ID
	}
	tests := []struct {
		query string
		want  []int // indexes into texts, any order
	}{
		{"cat", []int{0}},
		{"CAT sofa", []int{0}},
		{"gira", []int{1}}, // prefix while typing
		{"cafe", []int{2}}, // diacritics ignored
		{"red", []int{0, 2}},
		{`"red sofa"`, []int{0}},
		{`"sofa red"`, nil},
		{"don't", []int{3}},
		{`"don't"`, []int{3}},
		{"(quickly", []int{3}},
		{"OPEN & door", []int{2}},
		{"text:cat", nil},        // no column filter: "text" must appear as a word
		{"NOT cat", nil},         // NOT is a word here, and no message has it
		{"cat OR giraffes", nil}, // likewise OR: all three words must match
		{"NEAR(cat sofa)", nil},  // and NEAR: "near" is not in the text
		{`"`, nil},
		{"*", nil},
		{"^", nil},
		{"what is this", []int{0, 1, 2, 3, 4}}, // questions are searched too
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			hits, err := s.Search(ctx, tt.query, 0)
			if err != nil {
				t.Fatalf("Search(%q): %v", tt.query, err)
			}
			want := map[int64]bool{}
			for _, i := range tt.want {
				want[ids[texts[i]]] = true
			}
			got := map[int64]bool{}
			for _, h := range hits {
				got[h.ConversationID] = true
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("conversations %v, want %v", got, want)
			}
		})
	}
}

func TestSearchSnippetsHighlightMatches(t *testing.T) {
	s := openTemp(t)
	c, err := s.SaveExchange(ctx, Exchange{Prompt: "q", Answer: "A tabby Cat sleeps; the cat's bowl is empty."})
	if err != nil {
		t.Fatal(err)
	}
	hits, err := s.Search(ctx, "cat", 0)
	if err != nil || len(hits) != 1 {
		t.Fatalf("%v, %v", hits, err)
	}
	h := hits[0]
	if h.ConversationID != c.ID || h.MessageID != c.Messages[1].ID || h.Role != RoleAssistant || h.Title != c.Title {
		t.Errorf("hit %+v does not point at the answer of conversation %d", h, c.ID)
	}
	if got, want := h.Snippet.Mark("[", "]"), "A tabby [Cat] sleeps; the [cat]'s bowl is empty."; got != want {
		t.Errorf("snippet %q, want %q", got, want)
	}
	if got := h.Snippet.String(); got != c.Messages[1].Text {
		t.Errorf("plain snippet %q", got)
	}
}

func TestSearchFollowsEditsAndDeletes(t *testing.T) {
	s := openTemp(t)
	a, err := s.SaveExchange(ctx, Exchange{Prompt: "q", Answer: "a zebra crossing"})
	if err != nil {
		t.Fatal(err)
	}
	// The index is external-content: an edit must replace the old words.
	if _, err := s.db.Exec(`UPDATE messages SET text = 'a pelican' WHERE id = ?`, a.Messages[1].ID); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		query string
		want  int
	}{{"zebra", 0}, {"pelican", 1}} {
		if hits, err := s.Search(ctx, tt.query, 0); err != nil || len(hits) != tt.want {
			t.Errorf("after edit, %q: %d hits (err %v), want %d", tt.query, len(hits), err, tt.want)
		}
	}
	if err := s.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if hits, err := s.Search(ctx, "pelican", 0); err != nil || len(hits) != 0 {
		t.Errorf("after delete: %d hits (err %v)", len(hits), err)
	}
	if _, err := s.db.Exec(`INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Errorf("the search index disagrees with the messages: %v", err)
	}
}

func TestParseSnippet(t *testing.T) {
	tests := []struct {
		in   string
		want Snippet
	}{
		{"", Snippet{}},
		{"plain", Snippet{{Text: "plain"}}},
		{markOpen + "all" + markClose, Snippet{{Text: "all", Match: true}}},
		{"a " + markOpen + "b" + markClose + " c", Snippet{{Text: "a "}, {Text: "b", Match: true}, {Text: " c"}}},
		{"a " + markOpen + "unclosed", Snippet{{Text: "a "}, {Text: "unclosed", Match: true}}},
	}
	for _, tt := range tests {
		if got := parseSnippet(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseSnippet(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}
