package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"glimpse/history"
)

// The history's commands use package history directly: listing, showing,
// searching, exporting and deleting are the history's own operations, and
// app would only forward them.
var historyCmd = &Command{
	Name:      "history",
	UsageLine: "history COMMAND [arguments]",
	Short:     "list, search, show, export, import or delete saved conversations",
	Run:       runHistory,
}

// historySub is one `glimpse history` subcommand.
type historySub struct {
	args    string // what follows the name, for the usage text
	summary string
	// open opens the history as the subcommand needs it; a nil Store
	// means that nothing has been saved yet.
	open func() (*history.Store, error)
	run  func(s *history.Store, env *Env, fs *flag.FlagSet, args []string) int
}

var historySubs = map[string]historySub{
	"list":   {"[--json] [--limit N]", "list conversations, most recent first", openReading, historyList},
	"show":   {"ID", "print a conversation", openReading, historyShow},
	"search": {"TEXT [--json] [--limit N]", "find messages containing every word of TEXT", openReading, historySearch},
	"export": {"ID --format md|json|html --out PATH", "write a conversation to a file (PATH - for standard output, json and html)", openReading, historyExport},
	"import": {"FILE", "add a conversation from a JSON export (FILE - for standard input)", history.OpenDefault, historyImport},
	"rm":     {"ID...", "delete conversations and the images no other conversation uses", openExisting, historyRemove},
}

// openReading opens the history for a subcommand that only reads it. It
// creates nothing, so that listing works on a read-only data folder and
// never leaves a database behind where there was none; it returns a nil
// Store when nothing has been saved yet.
func openReading() (*history.Store, error) {
	s, err := history.OpenDefaultReadOnly()
	if errors.Is(err, history.ErrNoHistory) {
		return nil, nil
	}
	return s, err
}

// openExisting opens the history for changing what is in it: a nil Store
// when there is no history yet, rather than a new, empty database.
func openExisting() (*history.Store, error) {
	s, err := openReading()
	if s == nil || err != nil {
		return nil, err
	}
	s.Close()
	return history.OpenDefault()
}

func historyUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: glimpse history COMMAND [arguments]\n\nCommands:")
	names := make([]string, 0, len(historySubs))
	for n := range historySubs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-7s %-36s %s\n", n, historySubs[n].args, historySubs[n].summary)
	}
	fmt.Fprintf(w, "\nThe history lives in %s; set %s to use another folder.\n", historyDirForHelp(), history.EnvHome)
}

func historyDirForHelp() string {
	if dir, err := history.DataDir(); err == nil {
		return dir
	}
	return "the user's data folder"
}

func runHistory(env *Env, _ *flag.FlagSet, args []string) int {
	stdout, stderr := env.Stdout, env.Stderr
	if len(args) == 0 {
		historyUsage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		historyUsage(stdout)
		return 0
	}
	name := args[0]
	sub, ok := historySubs[name]
	if !ok {
		fmt.Fprintf(stderr, "glimpse history: unknown command %q\n\n", name)
		historyUsage(stderr)
		return 2
	}
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: glimpse history %s %s\n\n%s.\n", name, sub.args, sub.summary)
	}
	for _, a := range args[1:] {
		if a == "-h" || a == "-help" || a == "--help" {
			usage(stdout)
			return 0
		}
		if a == "--" {
			break
		}
	}
	fs := flag.NewFlagSet("history "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		usage(stderr)
		fs.PrintDefaults()
	}
	s, err := sub.open()
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if s != nil {
		defer s.Close()
	}
	return sub.run(s, env, fs, args[1:])
}

// historyParse parses flags that may come before, between or after the
// positional arguments ("export 3 --format md"), which the flag package
// alone stops at. Everything after "--" is positional. It returns the
// positional arguments, or an exit code when parsing failed.
func historyParse(fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var rest []string
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	var pos []string
	for {
		if code, ok := parse(fs, args); !ok {
			return nil, code, false
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return append(pos, rest...), 0, true
}

// historyID reads a conversation ID as the user typed it.
func historyID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not a conversation ID; 'glimpse history list' shows them", s)
	}
	return id, nil
}

// historyOneID parses the single ID a subcommand takes.
func historyOneID(fs *flag.FlagSet, pos []string, stderr io.Writer) (int64, int, bool) {
	if len(pos) != 1 {
		return 0, usageError(fs, "expected one conversation ID, got %d arguments", len(pos)), false
	}
	id, err := historyID(pos[0])
	if err != nil {
		return 0, fail(stderr, "%v", err), false
	}
	return id, 0, true
}

// noHistory is how a subcommand that needs a saved conversation ends when
// nothing has been saved.
func noHistory(stderr io.Writer) int { return fail(stderr, "%v", history.ErrNoHistory) }

// historyTime shows a time in the user's zone, to the minute.
func historyTime(t time.Time) string { return t.Local().Format("2006-01-02 15:04") }

func historyJSON(env *Env, v any) int {
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fail(env.Stderr, "%v", err)
	}
	return 0
}

func historyList(s *history.Store, env *Env, fs *flag.FlagSet, args []string) int {
	asJSON := fs.Bool("json", false, "print a JSON array")
	limit := fs.Int("limit", 0, "list at most `N` conversations (0: all)")
	pos, code, ok := historyParse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(fs, "unexpected argument %q", pos[0])
	}
	list := []history.Summary{}
	if s != nil {
		var err error
		if list, err = s.Recent(context.Background(), *limit); err != nil {
			return fail(env.Stderr, "%v", err)
		}
	}
	if *asJSON {
		return historyJSON(env, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(env.Stdout, "No conversations yet.")
		return 0
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ID\tUPDATED\tMESSAGES\t  TITLE")
	for _, c := range list {
		fmt.Fprintf(tw, "%d\t%s\t%d\t  %s\n", c.ID, historyTime(c.Updated), c.Messages, c.Title)
	}
	tw.Flush()
	return 0
}

func historyShow(s *history.Store, env *Env, fs *flag.FlagSet, args []string) int {
	pos, code, ok := historyParse(fs, args)
	if !ok {
		return code
	}
	id, code, ok := historyOneID(fs, pos, env.Stderr)
	if !ok {
		return code
	}
	if s == nil {
		return noHistory(env.Stderr)
	}
	c, err := s.Get(context.Background(), id)
	if err != nil {
		return fail(env.Stderr, "%v", err)
	}
	fmt.Fprintf(env.Stdout, "%s\nconversation %d · started %s · updated %s\n", c.Title, c.ID, historyTime(c.Created), historyTime(c.Updated))
	for _, m := range c.Messages {
		who := string(m.Role)
		if m.Model != "" {
			who += " · " + m.Model
			if m.Revision != "" {
				who += "@" + m.Revision
			}
		}
		fmt.Fprintf(env.Stdout, "\n[%s] %s\n", who, historyTime(m.Created))
		for _, a := range m.Attachments {
			name := a.Name
			if name == "" {
				name = "image"
			}
			fmt.Fprintf(env.Stdout, "  %s (%s, %d×%d): %s\n", name, a.Format, a.Width, a.Height, a.Path)
		}
		fmt.Fprintln(env.Stdout, strings.TrimRight(m.Text, "\n"))
		var facts []string
		if m.PromptTokens > 0 || m.OutputTokens > 0 {
			facts = append(facts, fmt.Sprintf("tokens: %d in, %d out", m.PromptTokens, m.OutputTokens))
		}
		if t := m.Timings; t.Total() > 0 {
			facts = append(facts, fmt.Sprintf("time: %v (vision %v, prefill %v, decode %v)", t.Total().Round(time.Millisecond),
				t.Vision.Round(time.Millisecond), t.Prefill.Round(time.Millisecond), t.Decode.Round(time.Millisecond)))
		}
		if len(m.Settings) > 0 && string(m.Settings) != "{}" {
			facts = append(facts, "settings: "+string(m.Settings))
		}
		if len(facts) > 0 {
			fmt.Fprintf(env.Stdout, "  (%s)\n", strings.Join(facts, "; "))
		}
	}
	return 0
}

// historyHit is a search result as --json prints it: "id" is the
// conversation's, for `glimpse history show ID`.
type historyHit struct {
	ID        int64              `json:"id"`
	MessageID int64              `json:"message_id"`
	Title     string             `json:"title"`
	Role      history.Role       `json:"role"`
	Created   time.Time          `json:"created_at"`
	Snippet   string             `json:"snippet"`
	Fragments []history.Fragment `json:"fragments"` // the snippet, with matches marked
}

func historySearch(s *history.Store, env *Env, fs *flag.FlagSet, args []string) int {
	asJSON := fs.Bool("json", false, "print a JSON array")
	limit := fs.Int("limit", 50, "show at most `N` messages")
	pos, code, ok := historyParse(fs, args)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		return usageError(fs, "what should it look for? e.g. glimpse history search red car")
	}
	var hits []history.Hit
	if s != nil {
		var err error
		if hits, err = s.Search(context.Background(), strings.Join(pos, " "), *limit); err != nil {
			return fail(env.Stderr, "%v", err)
		}
	}
	if *asJSON {
		out := make([]historyHit, 0, len(hits))
		for _, h := range hits {
			out = append(out, historyHit{ID: h.ConversationID, MessageID: h.MessageID, Title: h.Title, Role: h.Role,
				Created: h.Created, Snippet: h.Snippet.String(), Fragments: h.Snippet})
		}
		return historyJSON(env, out)
	}
	if len(hits) == 0 {
		fmt.Fprintln(env.Stdout, "Nothing found.")
		return 0
	}
	for _, h := range hits {
		snippet := strings.Join(strings.Fields(h.Snippet.Mark("[", "]")), " ")
		fmt.Fprintf(env.Stdout, "%d  %s  (%s, %s)\n    %s\n", h.ConversationID, h.Title, h.Role, historyTime(h.Created), snippet)
	}
	return 0
}

func historyExport(s *history.Store, env *Env, fs *flag.FlagSet, args []string) int {
	formatName := fs.String("format", "", "md, json or html (default: from the --out file's extension)")
	out := fs.String("out", "", "the file to write (md also writes a folder of images beside it); - for standard output")
	pos, code, ok := historyParse(fs, args)
	if !ok {
		return code
	}
	id, code, ok := historyOneID(fs, pos, env.Stderr)
	if !ok {
		return code
	}
	name := *formatName
	if name == "" {
		name = filepath.Ext(*out)
	}
	if name == "" {
		return usageError(fs, "say which format with --format md, json or html")
	}
	format, err := history.ParseFormat(name)
	if err != nil {
		return fail(env.Stderr, "%v", err)
	}
	toStdout := *out == "" || *out == "-"
	if toStdout && format == history.Markdown {
		return usageError(fs, "Markdown needs --out PATH, for its images")
	}
	if s == nil {
		return noHistory(env.Stderr)
	}
	ctx := context.Background()
	switch {
	case toStdout && format == history.JSON:
		err = s.WriteJSON(ctx, id, env.Stdout)
	case toStdout:
		err = s.WriteHTML(ctx, id, env.Stdout)
	default:
		// Atomic, onto a file or a new path only; a failed Markdown export
		// takes back its images.
		if err = s.Export(ctx, id, format, *out); err == nil {
			fmt.Fprintf(env.Stderr, "Wrote %s\n", *out)
		}
	}
	if err != nil {
		return fail(env.Stderr, "%v", err)
	}
	return 0
}

func historyImport(s *history.Store, env *Env, fs *flag.FlagSet, args []string) int {
	pos, code, ok := historyParse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageError(fs, "expected one file, a JSON export (or - for standard input), got %d arguments", len(pos))
	}
	r := env.Stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fail(env.Stderr, "%v", err)
		}
		defer f.Close()
		r = f
	}
	c, err := s.Import(context.Background(), r)
	if err != nil {
		return fail(env.Stderr, "%s: %v", pos[0], err)
	}
	fmt.Fprintf(env.Stdout, "Imported conversation %d: %s\n", c.ID, c.Title)
	return 0
}

func historyRemove(s *history.Store, env *Env, fs *flag.FlagSet, args []string) int {
	pos, code, ok := historyParse(fs, args)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		return usageError(fs, "which conversation? e.g. glimpse history rm 3")
	}
	// Check every ID before deleting any, so a typo deletes nothing.
	ids := make([]int64, 0, len(pos))
	for _, p := range pos {
		id, err := historyID(p)
		if err != nil {
			return fail(env.Stderr, "%v", err)
		}
		ids = append(ids, id)
	}
	if s == nil {
		return noHistory(env.Stderr)
	}
	status := 0
	for _, id := range ids {
		err := s.Delete(context.Background(), id)
		switch {
		case errors.Is(err, history.ErrNotFound):
			status = fail(env.Stderr, "%v", err)
		case err != nil:
			return fail(env.Stderr, "%v", err)
		default:
			fmt.Fprintf(env.Stdout, "Deleted conversation %d\n", id)
		}
	}
	return status
}
