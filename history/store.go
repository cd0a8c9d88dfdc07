// Package history keeps every conversation with Glimpse — questions, answers,
// the images they were about, and how each answer was made — in a SQLite
// database in the user's data folder (see DataDir), and finds, exports and
// imports them.
//
// The database runs in WAL mode with foreign keys on and a busy timeout, so
// the desktop app and a command-line process can use it at the same time,
// and every write is one transaction committed with synchronous=FULL: once
// Append (or any other write) has returned, the message survives the process
// or the machine dying. Images are stored once per content (by SHA-256) next
// to the database, each with a small thumbnail.
package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DBName is the database's file name inside the data folder.
const DBName = "history.db"

// busyTimeout is how long a write waits for another process's write to
// finish before giving up. Writes here last milliseconds; the margin is for
// slow disks and a busy machine.
const busyTimeout = 15 * time.Second

// ErrNotFound is returned (wrapped, with the ID) for a conversation that
// does not exist, or no longer does.
var ErrNotFound = errors.New("no such conversation")

// Role says who wrote a message.
type Role string

// The roles a message can have.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

func (r Role) valid() bool {
	return r == RoleSystem || r == RoleUser || r == RoleAssistant
}

// Conversation is one thread of messages.
type Conversation struct {
	ID      int64
	Title   string
	Created time.Time
	Updated time.Time // time of the last message, rename or creation
	// Messages, oldest first; filled by Get, SaveExchange and Import.
	Messages []Message
}

// Summary describes a conversation in a list, without its messages.
type Summary struct {
	ID       int64     `json:"id"`
	Title    string    `json:"title"`
	Created  time.Time `json:"created_at"`
	Updated  time.Time `json:"updated_at"`
	Messages int       `json:"messages"`
}

// Message is one turn of a conversation. For the model's answers Model,
// Revision, Settings, Timings and the token counts record how it was made.
type Message struct {
	ID             int64
	ConversationID int64
	Role           Role
	Text           string
	Model          string          // model ID, e.g. "Salesforce/instructblip-vicuna-7b"
	Revision       string          // the checkpoint's revision (commit) the weights came from
	Settings       json.RawMessage // generation settings as a JSON object; empty means {}
	Timings        Timings
	PromptTokens   int
	OutputTokens   int
	Created        time.Time // zero in Append means now
	Attachments    []Attachment
}

// Timings records where the time of one answer went.
type Timings struct {
	Vision  time.Duration // image encoder and Q-Former
	Prefill time.Duration // reading the prompt
	Decode  time.Duration // generating the answer
}

// Total is the whole time the answer took.
func (t Timings) Total() time.Duration { return t.Vision + t.Prefill + t.Decode }

// Attachment is an image attached to a message, as stored.
type Attachment struct {
	Name      string // the file name it had when attached; may be empty
	SHA256    string // lower-case hex digest of the image file
	Format    string // png, jpeg, gif, webp, bmp or tiff
	Width     int
	Height    int
	Size      int64  // bytes
	Path      string // absolute path of the stored image
	ThumbPath string // absolute path of its thumbnail (PNG or JPEG)
}

// Image is an image to attach: the file's bytes and, for display, its name.
type Image struct {
	Name string
	Data []byte
}

// Store is an open history database. Its methods are safe for concurrent
// use, and other processes may use the same database at the same time.
type Store struct {
	db  *sql.DB
	dir string
}

// Open opens (creating if needed) the history kept in dir, and brings its
// schema up to date.
func Open(dir string) (*Store, error) {
	return open(dir, migrations)
}

// OpenDefault opens the history in DataDir.
func OpenDefault() (*Store, error) {
	dir, err := DataDir()
	if err != nil {
		return nil, err
	}
	return Open(dir)
}

// ErrNoHistory is returned by OpenReadOnly when dir holds no history
// database yet: nothing has been saved.
var ErrNoHistory = errors.New("no conversations have been saved yet")

// OpenReadOnly opens the history in dir for reading only, creating
// nothing, so that commands which only list, search, show or export work
// on a read-only data folder (a backup, a locked-down profile). Writing
// through the returned Store fails.
func OpenReadOnly(dir string) (*Store, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, DBName)
	if err := checkDatabasePath(path, false); err != nil {
		return nil, err
	}
	s := &Store{db: openDB(path, "ro", false), dir: dir}
	if err := s.checkReadable(); err == nil {
		return s, nil
	}
	s.db.Close()
	// A WAL database needs its -shm file, which SQLite cannot create in a
	// read-only folder. Nothing can write there either, so the file can be
	// read as immutable.
	s = &Store{db: openDB(path, "ro", true), dir: dir}
	if err := s.checkReadable(); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// OpenDefaultReadOnly opens the history in DataDir for reading only.
func OpenDefaultReadOnly() (*Store, error) {
	dir, err := DataDir()
	if err != nil {
		return nil, err
	}
	return OpenReadOnly(dir)
}

// checkReadable reads the schema version, which fails on a file that is
// not a database or that a newer Glimpse made.
func (s *Store) checkReadable() error {
	var have int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&have); err != nil {
		return s.userError("open the history database", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("the history database was made by a newer Glimpse (schema version %d; this one knows %d): update Glimpse", have, len(migrations))
	}
	return nil
}

// checkDatabasePath says what is wrong with the database's path before
// SQLite tries it: SQLite reports a folder in its place, a missing
// permission and a missing file all as "unable to open". A missing file
// is fine when it may be created (write), else it is ErrNoHistory. The
// errors wrap fs.ErrPermission where that is the cause.
func checkDatabasePath(path string, write bool) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && write:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return ErrNoHistory
	case err != nil:
		return fmt.Errorf("cannot open the history database: %w", err)
	case st.IsDir():
		return fmt.Errorf("cannot open the history database: %s is a folder, not a database; move it out of the way", path)
	case !st.Mode().IsRegular():
		return fmt.Errorf("cannot open the history database: %s is not a regular file", path)
	}
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if errors.Is(err, fs.ErrPermission) {
		verb := "read"
		if write {
			verb = "write"
		}
		return fmt.Errorf("cannot open the history database: no permission to %s %s: %w", verb, path, fs.ErrPermission)
	}
	if err != nil {
		return fmt.Errorf("cannot open the history database: %w", err)
	}
	return f.Close()
}

func open(dir string, steps []string) (*Store, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the data folder: %w", err)
	}
	if err := checkDatabasePath(filepath.Join(dir, DBName), true); err != nil {
		return nil, err
	}
	s := &Store{db: openDB(filepath.Join(dir, DBName), "rwc", false), dir: dir}
	if err := s.migrate(steps); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// openDB opens the database file at path with SQLite's mode ("rwc" or
// "ro"); immutable tells SQLite that nothing can change the file.
func openDB(path, mode string, immutable bool) *sql.DB {
	// A file: URI keeps a '?' or '#' in the path from being read as the
	// start of the parameters. _txlock=immediate makes every write
	// transaction take the write lock at BEGIN, where busy_timeout applies;
	// a deferred one that reads first can fail with SQLITE_BUSY at its first
	// write no matter how long the timeout. Read-only transactions stay
	// deferred (the driver begins them plainly).
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path)}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path // Windows: file:///C:/...
	}
	q := url.Values{}
	q.Set("mode", mode)
	if immutable {
		q.Set("immutable", "1")
	}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if mode != "ro" {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
	}
	q.Set("_txlock", "immediate")
	u.RawQuery = q.Encode()
	// sql.Open only parses its arguments; the driver name is registered by
	// the import, so it cannot fail.
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		panic(fmt.Sprintf("history: sql.Open: %v", err))
	}
	return db
}

// migrate applies the schema steps the database has not had yet.
func (s *Store) migrate(steps []string) error {
	ctx := context.Background()
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return s.userError("open the history database", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("the history database could not switch to WAL mode (it is in %q mode); is its folder on a network drive?", mode)
	}
	return s.write(ctx, "update the history database", func(tx *sql.Tx) error {
		var have int
		if err := tx.QueryRow("PRAGMA user_version").Scan(&have); err != nil {
			return err
		}
		if have > len(steps) {
			return fmt.Errorf("the history database was made by a newer Glimpse (schema version %d; this one knows %d): update Glimpse", have, len(steps))
		}
		for v := have; v < len(steps); v++ {
			if _, err := tx.Exec(steps[v]); err != nil {
				return fmt.Errorf("schema step %d: %w", v+1, err)
			}
		}
		// PRAGMA takes no parameters; the number is ours.
		_, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", len(steps)))
		return err
	})
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Dir is the data folder the store lives in.
func (s *Store) Dir() string { return s.dir }

// write runs fn in one write transaction and commits it; any error rolls it
// all back. what says, for users, what was being done.
func (s *Store) write(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.userError(what, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return s.userError(what, err)
	}
	if err := tx.Commit(); err != nil {
		return s.userError(what, err)
	}
	return nil
}

// read runs fn in one read transaction, so that everything it reads comes
// from one snapshot even while another process writes.
func (s *Store) read(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return s.userError(what, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return s.userError(what, err)
	}
	return nil
}

// userError words database failures people can meet for them; errors that
// are already ours pass through.
func (s *Store) userError(what string, err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("cannot %s: another Glimpse kept the history busy for more than %v; try again", what, busyTimeout)
	case sqlite3.SQLITE_FULL:
		return fmt.Errorf("cannot %s: the disk is full", what)
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN:
		return fmt.Errorf("cannot %s: no permission to write %s: %w", what, filepath.Join(s.dir, DBName), err)
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("cannot %s: %s is damaged or not a Glimpse history: %w", what, filepath.Join(s.dir, DBName), err)
	}
	return fmt.Errorf("cannot %s: %w", what, err)
}

func millis(t time.Time) int64      { return t.UnixMilli() }
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// now is the current time at the database's resolution, so that what
// Append returns equals what Get reads back.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// cleanTitle trims a title and rejects an empty one.
func cleanTitle(title string) (string, error) {
	title = strings.Join(strings.Fields(title), " ")
	if title == "" {
		return "", errors.New("a conversation's title cannot be empty")
	}
	return title, nil
}

// TitleFrom makes a conversation title from the first words of text (a
// question): its first line, cut at a word boundary to about 60 characters.
// It returns "Untitled" for text with no words.
func TitleFrom(text string) string {
	const max = 60
	line := strings.TrimSpace(text)
	if i := strings.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	line = strings.Join(strings.Fields(line), " ")
	if line == "" {
		return "Untitled"
	}
	if utf8.RuneCountInString(line) <= max {
		return line
	}
	runes := []rune(line)[:max]
	cut := string(runes)
	if i := strings.LastIndex(cut, " "); i > max/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:.-") + "…"
}

// Create starts a new, empty conversation.
func (s *Store) Create(ctx context.Context, title string) (Conversation, error) {
	title, err := cleanTitle(title)
	if err != nil {
		return Conversation{}, err
	}
	c := Conversation{Title: title, Created: now()}
	c.Updated = c.Created
	err = s.write(ctx, "create a conversation", func(tx *sql.Tx) error {
		c.ID, err = insertConversation(tx, c)
		return err
	})
	return c, err
}

func insertConversation(tx *sql.Tx, c Conversation) (int64, error) {
	res, err := tx.Exec(`INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?)`,
		c.Title, millis(c.Created), millis(c.Updated))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// Append adds m, with images attached in order, to the end of conversation
// id, and returns it as stored (ID, Created and Attachments filled in).
// Images are decoded and thumbnailed first: one that is not a readable PNG,
// JPEG, GIF, WebP, BMP or TIFF fails the whole append.
func (s *Store) Append(ctx context.Context, id int64, m Message, images ...Image) (Message, error) {
	prepared, err := prepareImages(images)
	if err != nil {
		return Message{}, err
	}
	err = s.write(ctx, "save the message", func(tx *sql.Tx) error {
		if err := conversationExists(tx, id); err != nil {
			return err
		}
		m, err = s.insertMessage(tx, id, m, prepared)
		return err
	})
	if err != nil {
		return Message{}, err
	}
	return m, nil
}

func conversationExists(tx *sql.Tx, id int64) error {
	var one int
	err := tx.QueryRow(`SELECT 1 FROM conversations WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("conversation %d: %w", id, ErrNotFound)
	}
	return err
}

// insertMessage stores m and its images in conversation id, and moves the
// conversation's update time forward to the message's.
func (s *Store) insertMessage(tx *sql.Tx, id int64, m Message, images []preparedImage) (Message, error) {
	if !m.Role.valid() {
		return Message{}, fmt.Errorf("a message's role must be system, user or assistant, not %q", m.Role)
	}
	if !utf8.ValidString(m.Text) {
		return Message{}, errors.New("a message's text must be UTF-8")
	}
	settings := "{}"
	if len(m.Settings) > 0 {
		var obj map[string]any
		if err := json.Unmarshal(m.Settings, &obj); err != nil || obj == nil {
			return Message{}, fmt.Errorf("generation settings must be a JSON object: %s", m.Settings)
		}
		compact, err := json.Marshal(json.RawMessage(m.Settings))
		if err != nil {
			return Message{}, err
		}
		settings = string(compact)
	}
	m.Settings = json.RawMessage(settings)
	if m.Created.IsZero() {
		m.Created = now()
	}
	m.Created = m.Created.UTC().Truncate(time.Millisecond)
	m.ConversationID = id
	res, err := tx.Exec(`INSERT INTO messages (conversation_id, role, text, model, revision, settings,
		vision_ns, prefill_ns, decode_ns, prompt_tokens, output_tokens, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, string(m.Role), m.Text, m.Model, m.Revision, settings,
		int64(m.Timings.Vision), int64(m.Timings.Prefill), int64(m.Timings.Decode),
		m.PromptTokens, m.OutputTokens, millis(m.Created))
	if err != nil {
		return Message{}, err
	}
	if m.ID, err = res.LastInsertId(); err != nil {
		return Message{}, err
	}
	m.Attachments = nil
	for i, p := range images {
		a, err := s.storeImage(tx, p)
		if err != nil {
			return Message{}, err
		}
		if _, err := tx.Exec(`INSERT INTO attachments (message_id, position, image_sha256, name) VALUES (?, ?, ?, ?)`,
			m.ID, i, a.SHA256, a.Name); err != nil {
			return Message{}, err
		}
		m.Attachments = append(m.Attachments, a)
	}
	_, err = tx.Exec(`UPDATE conversations SET updated_at = max(updated_at, ?) WHERE id = ?`, millis(m.Created), id)
	return m, err
}

// Exchange is one question about images and its answer, as `glimpse ask
// --save` and the app record them.
type Exchange struct {
	Title        string // empty: made from the prompt with TitleFrom
	Prompt       string
	Images       []Image
	Answer       string
	Model        string
	Revision     string
	Settings     json.RawMessage // generation settings as a JSON object
	Timings      Timings
	PromptTokens int
	OutputTokens int
}

// SaveExchange records ex as a new conversation: a user message with the
// prompt and images, then an assistant message with the answer and how it
// was made. It is one transaction: either all of it is saved or none.
func (s *Store) SaveExchange(ctx context.Context, ex Exchange) (Conversation, error) {
	if ex.Title == "" {
		ex.Title = TitleFrom(ex.Prompt)
	}
	title, err := cleanTitle(ex.Title)
	if err != nil {
		return Conversation{}, err
	}
	prepared, err := prepareImages(ex.Images)
	if err != nil {
		return Conversation{}, err
	}
	c := Conversation{Title: title, Created: now()}
	c.Updated = c.Created
	err = s.write(ctx, "save the conversation", func(tx *sql.Tx) error {
		if c.ID, err = insertConversation(tx, c); err != nil {
			return err
		}
		q, err := s.insertMessage(tx, c.ID, Message{Role: RoleUser, Text: ex.Prompt, Created: c.Created}, prepared)
		if err != nil {
			return err
		}
		a, err := s.insertMessage(tx, c.ID, Message{
			Role: RoleAssistant, Text: ex.Answer, Model: ex.Model, Revision: ex.Revision,
			Settings: ex.Settings, Timings: ex.Timings, PromptTokens: ex.PromptTokens,
			OutputTokens: ex.OutputTokens, Created: c.Created,
		}, nil)
		c.Messages = []Message{q, a}
		return err
	})
	if err != nil {
		return Conversation{}, err
	}
	return c, nil
}

// Rename changes a conversation's title.
func (s *Store) Rename(ctx context.Context, id int64, title string) error {
	title, err := cleanTitle(title)
	if err != nil {
		return err
	}
	return s.write(ctx, "rename the conversation", func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE conversations SET title = ?, updated_at = max(updated_at, ?) WHERE id = ?`,
			title, millis(now()), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("conversation %d: %w", id, ErrNotFound)
		}
		return nil
	})
}

// Delete removes a conversation and its messages, and the image files no
// other conversation uses.
func (s *Store) Delete(ctx context.Context, id int64) error {
	var unused []string
	err := s.write(ctx, "delete the conversation", func(tx *sql.Tx) error {
		shas, err := queryStrings(tx, `SELECT DISTINCT a.image_sha256 FROM attachments a
			JOIN messages m ON m.id = a.message_id WHERE m.conversation_id = ?`, id)
		if err != nil {
			return err
		}
		res, err := tx.Exec(`DELETE FROM conversations WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("conversation %d: %w", id, ErrNotFound)
		}
		for _, sha := range shas {
			res, err := tx.Exec(`DELETE FROM images WHERE sha256 = ?
				AND NOT EXISTS (SELECT 1 FROM attachments WHERE image_sha256 = ?)`, sha, sha)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				unused = append(unused, sha)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.removeImageFiles(ctx, unused)
}

func queryStrings(tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Recent lists conversations, the most recently updated first; limit <= 0
// lists them all.
func (s *Store) Recent(ctx context.Context, limit int) ([]Summary, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	out := []Summary{}
	err := s.read(ctx, "list conversations", func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT c.id, c.title, c.created_at, c.updated_at,
			(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)
			FROM conversations c ORDER BY c.updated_at DESC, c.id DESC LIMIT ?`, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c Summary
			var created, updated int64
			if err := rows.Scan(&c.ID, &c.Title, &created, &updated, &c.Messages); err != nil {
				return err
			}
			c.Created, c.Updated = fromMillis(created), fromMillis(updated)
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// Get returns conversation id with all its messages and attachments.
func (s *Store) Get(ctx context.Context, id int64) (Conversation, error) {
	var c Conversation
	err := s.read(ctx, "read the conversation", func(tx *sql.Tx) error {
		var err error
		c, err = s.get(tx, id)
		return err
	})
	return c, err
}

func (s *Store) get(tx *sql.Tx, id int64) (Conversation, error) {
	c := Conversation{ID: id}
	var created, updated int64
	err := tx.QueryRow(`SELECT title, created_at, updated_at FROM conversations WHERE id = ?`, id).
		Scan(&c.Title, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("conversation %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, err
	}
	c.Created, c.Updated = fromMillis(created), fromMillis(updated)

	rows, err := tx.Query(`SELECT id, role, text, model, revision, settings, vision_ns, prefill_ns,
		decode_ns, prompt_tokens, output_tokens, created_at FROM messages
		WHERE conversation_id = ? ORDER BY id`, id)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	byID := map[int64]int{}
	for rows.Next() {
		m := Message{ConversationID: id}
		var role, settings string
		var vision, prefill, decode, created int64
		if err := rows.Scan(&m.ID, &role, &m.Text, &m.Model, &m.Revision, &settings, &vision, &prefill,
			&decode, &m.PromptTokens, &m.OutputTokens, &created); err != nil {
			return c, err
		}
		m.Role, m.Settings = Role(role), json.RawMessage(settings)
		m.Timings = Timings{time.Duration(vision), time.Duration(prefill), time.Duration(decode)}
		m.Created = fromMillis(created)
		byID[m.ID] = len(c.Messages)
		c.Messages = append(c.Messages, m)
	}
	if err := rows.Err(); err != nil {
		return c, err
	}
	rows.Close()

	arows, err := tx.Query(`SELECT a.message_id, a.name, i.sha256, i.format, i.width, i.height, i.size,
		i.thumb_format FROM attachments a JOIN images i ON i.sha256 = a.image_sha256
		JOIN messages m ON m.id = a.message_id WHERE m.conversation_id = ? ORDER BY a.message_id, a.position`, id)
	if err != nil {
		return c, err
	}
	defer arows.Close()
	for arows.Next() {
		var mid int64
		var a Attachment
		var thumb string
		if err := arows.Scan(&mid, &a.Name, &a.SHA256, &a.Format, &a.Width, &a.Height, &a.Size, &thumb); err != nil {
			return c, err
		}
		a.Path, a.ThumbPath = s.imagePath(a.SHA256, a.Format), s.thumbPath(a.SHA256, thumb)
		m := &c.Messages[byID[mid]]
		m.Attachments = append(m.Attachments, a)
	}
	return c, arows.Err()
}
