package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"glimpse/history"
)

// TestHistoryBeforeAnythingSaved runs every history command on a data
// folder that holds no history, and on one that does not exist: listing
// and searching find nothing (exit 0), the others say that nothing has
// been saved yet, and no database, or anything else, is made.
func TestHistoryBeforeAnythingSaved(t *testing.T) {
	empty := t.TempDir()
	root := t.TempDir()
	missing := filepath.Join(root, "not", "made", "yet")
	const none = "glimpse: no conversations have been saved yet\n"
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"list"}, 0, "No conversations yet.\n", ""},
		{[]string{"list", "--json"}, 0, "[]\n", ""},
		{[]string{"search", "zebra"}, 0, "Nothing found.\n", ""},
		{[]string{"search", "--json", "zebra"}, 0, "[]\n", ""},
		{[]string{"show", "1"}, 1, "", none},
		{[]string{"export", "1", "--format", "json"}, 1, "", none},
		{[]string{"export", "1", "--format", "md", "--out", filepath.Join(t.TempDir(), "x.md")}, 1, "", none},
		{[]string{"rm", "1"}, 1, "", none},
	}
	for _, home := range []string{empty, missing} {
		t.Setenv(history.EnvHome, home)
		for _, tc := range tests {
			t.Run(filepath.Base(home)+"/"+strings.Join(tc.args, " "), func(t *testing.T) {
				code, stdout, stderr := historyRun(append([]string{"history"}, tc.args...)...)
				if code != tc.code || stdout != tc.stdout || stderr != tc.stderr {
					t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
				}
			})
		}
	}
	for _, dir := range []string{empty, root} {
		if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
			t.Errorf("%s now holds %v (%v), want nothing", dir, entries, err)
		}
	}
}

// TestHistoryReadOnlyKeepsDatabase: the reading commands change nothing in
// a saved history: the database's bytes stay the same, and nothing but
// SQLite's own shared-memory and log files (made by any reader of a WAL
// database) appears beside it.
func TestHistoryReadOnlyKeepsDatabase(t *testing.T) {
	home, zebra, _ := historySeed(t)
	z := strconv.FormatInt(zebra, 10)
	db := filepath.Join(home, history.DBName)
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	names := func() []string {
		entries, err := os.ReadDir(home)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	had := names()
	for _, args := range [][]string{{"list"}, {"search", "zebra"}, {"show", z}, {"export", z, "--format", "html"}} {
		if code, _, stderr := historyRun(append([]string{"history"}, args...)...); code != 0 {
			t.Fatalf("history %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
	}
	after, err := os.ReadFile(db)
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("reading the history changed its database (%v)", err)
	}
	for _, n := range names() {
		if !slices.Contains(had, n) && n != history.DBName+"-wal" && n != history.DBName+"-shm" {
			t.Errorf("reading the history made %s", n)
		}
	}
}

// TestHistoryDatabaseIsAFolder names the cause when the database's place
// holds a folder, in one line, for every command.
func TestHistoryDatabaseIsAFolder(t *testing.T) {
	home := t.TempDir()
	t.Setenv(history.EnvHome, home)
	db := filepath.Join(home, history.DBName)
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	want := "glimpse: cannot open the history database: " + db + " is a folder, not a database; move it out of the way\n"
	for _, args := range [][]string{{"list"}, {"search", "x"}, {"show", "1"}, {"rm", "1"}, {"import", "x.json"}} {
		code, stdout, stderr := historyRun(append([]string{"history"}, args...)...)
		if code != 1 || stderr != want || stdout != "" {
			t.Errorf("history %s: exit %d, stdout %q, stderr %q; want exit 1 and %q", strings.Join(args, " "), code, stdout, stderr, want)
		}
	}
}
