package ui

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// pastedPath recognises text that is a path to an existing file: a plain
// path, one in quotes (as file managers copy them) or a file:// URI. It
// returns "" for anything else, so ordinary pasted text stays text.
func pastedPath(text string) string {
	t := strings.TrimSpace(text)
	if strings.ContainsAny(t, "\n\r") || t == "" {
		return ""
	}
	if len(t) >= 2 && (t[0] == '"' && t[len(t)-1] == '"' || t[0] == '\'' && t[len(t)-1] == '\'') {
		t = t[1 : len(t)-1]
	}
	if strings.HasPrefix(t, "file://") {
		u, err := url.Parse(t)
		if err != nil {
			return ""
		}
		t = u.Path
		if len(t) > 2 && t[0] == '/' && t[2] == ':' { // file:///C:/… on Windows
			t = t[1:]
		}
	}
	if strings.HasPrefix(t, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			t = filepath.Join(home, t[2:])
		}
	}
	st, err := os.Stat(t)
	if err != nil || st.IsDir() {
		return ""
	}
	return t
}
