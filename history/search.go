package history

import (
	"context"
	"database/sql"
	"strings"
	"time"
	"unicode"
)

// Hit is a message that matched a search.
type Hit struct {
	ConversationID int64
	MessageID      int64
	Title          string
	Role           Role
	Created        time.Time
	Snippet        Snippet // the matching part of the message, matches marked
}

// Fragment is a piece of a snippet: matched search terms have Match set.
type Fragment struct {
	Text  string `json:"text"`
	Match bool   `json:"match,omitempty"`
}

// Snippet is an excerpt of a message around what a search matched, split
// into plain and matching fragments so each display can highlight them its
// own way (bold in the app, <mark> in HTML, brackets in a terminal).
type Snippet []Fragment

// String returns the snippet's text without highlighting.
func (sn Snippet) String() string { return sn.Mark("", "") }

// Mark returns the snippet's text with each match between open and close.
func (sn Snippet) Mark(open, close string) string {
	var b strings.Builder
	for _, f := range sn {
		if f.Match {
			b.WriteString(open + f.Text + close)
		} else {
			b.WriteString(f.Text)
		}
	}
	return b.String()
}

// The snippet() markers: characters from Unicode's private use area, which
// text people and models write does not contain.
const (
	markOpen  = "\ue000"
	markClose = "\ue001"
)

// parseSnippet splits FTS5 snippet() output at the markers.
func parseSnippet(s string) Snippet {
	sn := Snippet{}
	for s != "" {
		i := strings.Index(s, markOpen)
		if i < 0 {
			sn = append(sn, Fragment{Text: s})
			break
		}
		if i > 0 {
			sn = append(sn, Fragment{Text: s[:i]})
		}
		s = s[i+len(markOpen):]
		j := strings.Index(s, markClose)
		if j < 0 {
			j = len(s)
		}
		if j > 0 {
			sn = append(sn, Fragment{Text: s[:j], Match: true})
		}
		s = strings.TrimPrefix(s[j:], markClose)
	}
	return sn
}

// ftsQuery turns what someone typed into an FTS5 query that is never a
// syntax error: each word becomes a quoted string, so punctuation, column
// filters and operators (AND, OR, NOT, NEAR, ^, *, -, :, parentheses)
// match as plain text. Text in double quotes stays one phrase. All terms
// must match; the last one also matches as a prefix, so results follow
// the search box while someone is still typing ("gira" finds "giraffe").
// ok is false when the text holds nothing searchable.
func ftsQuery(input string) (q string, ok bool) {
	var terms []string
	quoted := false
	for i, part := range strings.Split(input, `"`) {
		if i > 0 {
			quoted = !quoted
		}
		if quoted {
			if searchable(part) {
				terms = append(terms, ftsString(part))
			}
			continue
		}
		for _, w := range strings.Fields(part) {
			if searchable(w) {
				terms = append(terms, ftsString(w))
			}
		}
	}
	if len(terms) == 0 {
		return "", false
	}
	trimmed := strings.TrimRightFunc(input, unicode.IsSpace)
	if !strings.HasSuffix(trimmed, `"`) && len(trimmed) == len(input) {
		terms[len(terms)-1] += "*"
	}
	return strings.Join(terms, " "), true
}

// ftsString quotes s as an FTS5 string; inside one, only '"' is special.
func ftsString(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// searchable reports whether the tokenizer finds a token in s: an empty
// phrase matches nothing, so it would only hide the other terms' results.
func searchable(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		// unicode61's token characters: categories L*, N* and Co.
		return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r)
	}) >= 0
}

// Search finds messages containing every word of query (see ftsQuery for
// how it is read), best matches first, at most limit of them (limit <= 0:
// 50). Any text is a valid query; text with no words finds nothing.
func (s *Store) Search(ctx context.Context, query string, limit int) ([]Hit, error) {
	if limit <= 0 {
		limit = 50
	}
	hits := []Hit{}
	q, ok := ftsQuery(query)
	if !ok {
		return hits, nil
	}
	err := s.read(ctx, "search the history", func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT m.id, m.conversation_id, c.title, m.role, m.created_at,
			snippet(messages_fts, 0, ?, ?, '…', 16)
			FROM messages_fts
			JOIN messages m ON m.id = messages_fts.rowid
			JOIN conversations c ON c.id = m.conversation_id
			WHERE messages_fts MATCH ?
			ORDER BY rank, m.id DESC LIMIT ?`, markOpen, markClose, q, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var h Hit
			var role, snippet string
			var created int64
			if err := rows.Scan(&h.MessageID, &h.ConversationID, &h.Title, &role, &created, &snippet); err != nil {
				return err
			}
			h.Role, h.Created, h.Snippet = Role(role), fromMillis(created), parseSnippet(snippet)
			hits = append(hits, h)
		}
		return rows.Err()
	})
	return hits, err
}
