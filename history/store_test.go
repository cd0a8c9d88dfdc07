package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAppendAndGetKeepEveryField(t *testing.T) {
	s := openTemp(t)
	c, err := s.Create(ctx, "  A   cat\non a sofa ")
	if err != nil {
		t.Fatal(err)
	}
	if c.Title != "A cat on a sofa" {
		t.Errorf("title %q: whitespace should collapse to single spaces", c.Title)
	}
	img := pngImage(40, 30, 7)
	q, err := s.Append(ctx, c.ID, Message{Role: RoleUser, Text: "What is in this picture?"}, Image{Name: "cat.png", Data: img})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Append(ctx, c.ID, Message{
		Role: RoleAssistant, Text: "A cat.", Model: "Salesforce/instructblip-vicuna-7b", Revision: "52ba0cb",
		Settings:     json.RawMessage(`{ "max_new_tokens": 32, "num_beams": 1 }`),
		Timings:      Timings{Vision: 1200 * time.Millisecond, Prefill: 300 * time.Millisecond, Decode: 2 * time.Second},
		PromptTokens: 35, OutputTokens: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 2 {
		t.Fatalf("got %d messages, want 2", len(got.Messages))
	}
	// What Append returned must be exactly what a later read gives.
	for i, want := range []Message{q, a} {
		if !reflect.DeepEqual(got.Messages[i], want) {
			t.Errorf("message %d read back as\n%+v\nappended as\n%+v", i, got.Messages[i], want)
		}
	}
	if string(a.Settings) != `{"max_new_tokens":32,"num_beams":1}` {
		t.Errorf("settings stored as %s, want compact JSON", a.Settings)
	}
	if a.Timings.Total() != 3500*time.Millisecond {
		t.Errorf("total time %v", a.Timings.Total())
	}
	att := got.Messages[0].Attachments
	if len(att) != 1 || att[0].Name != "cat.png" || att[0].Format != "png" || att[0].Width != 40 || att[0].Height != 30 || att[0].Size != int64(len(img)) {
		t.Fatalf("attachment %+v", att)
	}
	stored, err := os.ReadFile(att[0].Path)
	if err != nil || string(stored) != string(img) {
		t.Errorf("stored image differs from the original (err %v)", err)
	}
	if !exists(att[0].ThumbPath) {
		t.Errorf("thumbnail %s missing", att[0].ThumbPath)
	}
	if got.Updated.Before(a.Created) {
		t.Errorf("conversation updated %v, before its last message %v", got.Updated, a.Created)
	}
}

func TestAppendRejectsBadInput(t *testing.T) {
	s := openTemp(t)
	c, err := s.Create(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		id     int64
		msg    Message
		images []Image
		want   string
	}{
		{"unknown conversation", c.ID + 100, Message{Role: RoleUser, Text: "x"}, nil, "no such conversation"},
		{"bad role", c.ID, Message{Role: "robot", Text: "x"}, nil, "role"},
		{"settings not an object", c.ID, Message{Role: RoleAssistant, Settings: json.RawMessage(`[1]`)}, nil, "JSON object"},
		{"settings not JSON", c.ID, Message{Role: RoleAssistant, Settings: json.RawMessage(`{`)}, nil, "JSON object"},
		{"invalid UTF-8", c.ID, Message{Role: RoleUser, Text: "\xff"}, nil, "UTF-8"},
		{"not an image", c.ID, Message{Role: RoleUser}, []Image{{Name: "notes.txt", Data: []byte("hello")}}, `"notes.txt" is not a PNG`},
		{"empty image", c.ID, Message{Role: RoleUser}, []Image{{Name: "e.png"}}, "empty"},
		{"truncated image", c.ID, Message{Role: RoleUser}, []Image{{Data: pngImage(50, 50, 1)[:100]}}, "damaged"},
		{"huge dimensions", c.ID, Message{Role: RoleUser}, []Image{{Data: hugePNGHeader()}}, "megapixels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Append(ctx, tt.id, tt.msg, tt.images...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	// None of the failures may have left anything behind.
	got, err := s.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 0 {
		t.Errorf("failed appends left %d messages", len(got.Messages))
	}
}

// hugePNGHeader is a PNG signature and header chunk claiming 100000×100000
// pixels: enough for DecodeConfig, and a trap for a decoder that trusts it.
func hugePNGHeader() []byte {
	ihdr := []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 2, 0, 0, 0}
	var b []byte
	b = append(b, "\x89PNG\r\n\x1a\n"...)
	b = append(b, 0, 0, 0, 13)
	b = append(b, "IHDR"...)
	b = append(b, ihdr...)
	crc := crc32.ChecksumIEEE(append([]byte("IHDR"), ihdr...))
	return append(b, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
}

func TestRenameDeleteAndRecent(t *testing.T) {
	s := openTemp(t)
	var ids []int64
	for i := range 3 {
		c, err := s.Create(ctx, fmt.Sprintf("conversation %d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
		time.Sleep(2 * time.Millisecond) // distinct update times
	}
	// Appending to the oldest makes it the most recent.
	if _, err := s.Append(ctx, ids[0], Message{Role: RoleUser, Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Rename(ctx, ids[1], "renamed"); err != nil {
		t.Fatal(err)
	}
	list, err := s.Recent(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range list {
		order = append(order, fmt.Sprintf("%s/%d", c.Title, c.Messages))
	}
	if want := []string{"renamed/0", "conversation 0/1", "conversation 2/0"}; !reflect.DeepEqual(order, want) {
		t.Errorf("recent: %v, want %v", order, want)
	}
	if top, _ := s.Recent(ctx, 1); len(top) != 1 {
		t.Errorf("limit 1 gave %d", len(top))
	}

	for _, tt := range []struct {
		name string
		err  error
	}{
		{"rename missing", s.Rename(ctx, 999, "x")},
		{"delete missing", s.Delete(ctx, 999)},
	} {
		if !errors.Is(tt.err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", tt.name, tt.err)
		}
	}
	if err := s.Rename(ctx, ids[1], " \t"); err == nil {
		t.Error("an empty title was accepted")
	}
	if err := s.Delete(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, ids[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	// IDs are never reused, so "show 1" cannot silently become another conversation.
	c, err := s.Create(ctx, "new")
	if err != nil {
		t.Fatal(err)
	}
	if c.ID <= ids[2] {
		t.Errorf("new conversation got ID %d, not above %d", c.ID, ids[2])
	}
}

func TestDeleteKeepsImagesOtherConversationsUse(t *testing.T) {
	s := openTemp(t)
	shared := pngImage(20, 20, 1)
	own := pngImage(20, 20, 2)
	a, err := s.SaveExchange(ctx, Exchange{Prompt: "first", Images: []Image{{Data: shared}, {Data: own}, {Data: shared}}, Answer: "x"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.SaveExchange(ctx, Exchange{Prompt: "second", Images: []Image{{Name: "again.png", Data: shared}}, Answer: "y"})
	if err != nil {
		t.Fatal(err)
	}
	sharedAtt, ownAtt := a.Messages[0].Attachments[0], a.Messages[0].Attachments[1]
	if sharedAtt.Path != b.Messages[0].Attachments[0].Path {
		t.Fatalf("the same image was stored twice: %s and %s", sharedAtt.Path, b.Messages[0].Attachments[0].Path)
	}
	if err := s.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		want bool
	}{
		{sharedAtt.Path, true}, {sharedAtt.ThumbPath, true}, {ownAtt.Path, false}, {ownAtt.ThumbPath, false},
	} {
		if exists(tt.path) != tt.want {
			t.Errorf("after deleting the first conversation, %s exists = %v, want %v", tt.path, !tt.want, tt.want)
		}
	}
	if err := s.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if exists(sharedAtt.Path) || exists(sharedAtt.ThumbPath) {
		t.Error("the shared image outlived every conversation that used it")
	}
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM images`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d image rows left (err %v)", n, err)
	}
}

func TestSaveExchange(t *testing.T) {
	s := openTemp(t)
	c, err := s.SaveExchange(ctx, Exchange{
		Prompt: "Describe this image in detail, please, including the colours of everything you can see",
		Images: []Image{{Name: "shapes.png", Data: fixture(t, "shapes.png")}},
		Answer: "Shapes.", Model: "m", Revision: "r", Settings: json.RawMessage(`{"temperature":0}`),
		Timings: Timings{Decode: time.Second}, PromptTokens: 10, OutputTokens: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Title != "Describe this image in detail, please, including the…" {
		t.Errorf("title %q", c.Title)
	}
	got, err := s.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Messages, c.Messages) {
		t.Errorf("read back\n%+v\nsaved\n%+v", got.Messages, c.Messages)
	}
	if m := got.Messages[1]; m.Role != RoleAssistant || m.Model != "m" || m.OutputTokens != 3 || string(m.Settings) != `{"temperature":0}` {
		t.Errorf("answer %+v", m)
	}
	if _, err := s.SaveExchange(ctx, Exchange{Prompt: "p", Images: []Image{{Data: []byte("junk")}}}); err == nil {
		t.Error("an exchange with a broken image was saved")
	}
	if list, _ := s.Recent(ctx, 0); len(list) != 1 {
		t.Errorf("%d conversations after one good and one failed save", len(list))
	}
}

func TestTitleFrom(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "Untitled"},
		{"  \n ", "Untitled"},
		{"What is this?\nSecond line", "What is this?"},
		{"a  b\tc", "a b c"},
		{strings.Repeat("word ", 20), "word word word word word word word word word word word word…"},
		{strings.Repeat("é", 70), strings.Repeat("é", 60) + "…"},
	}
	for _, tt := range tests {
		if got := TitleFrom(tt.in); got != tt.want {
			t.Errorf("TitleFrom(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSchemaMigratesOldDatabases(t *testing.T) {
	dir := t.TempDir()
	// A database from before full-text search existed, with a message in it.
	old, err := open(dir, migrations[:1])
	if err != nil {
		t.Fatal(err)
	}
	c, err := old.Create(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Append(ctx, c.ID, Message{Role: RoleUser, Text: "an elephant in the fog"}); err != nil {
		t.Fatal(err)
	}
	old.Close()

	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var version int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != len(migrations) {
		t.Errorf("schema version %d (err %v), want %d", version, err, len(migrations))
	}
	hits, err := s.Search(ctx, "elephant", 0)
	if err != nil || len(hits) != 1 {
		t.Errorf("the message from before the upgrade is not searchable: %v, %v", hits, err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(fmt.Sprintf("PRAGMA user_version = %d", len(migrations)+1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "newer Glimpse") {
		t.Errorf("opening a newer database: %v", err)
	}
}

func TestOpenSettings(t *testing.T) {
	s := openTemp(t)
	// Every pooled connection must have the settings, not only the first.
	conns := make([]interface{ Close() error }, 0, 3)
	for range 3 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for _, tt := range []struct{ pragma, want string }{
			{"journal_mode", "wal"}, {"foreign_keys", "1"}, {"busy_timeout", fmt.Sprint(busyTimeout.Milliseconds())}, {"synchronous", "2"},
		} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil || got != tt.want {
				t.Errorf("PRAGMA %s = %q (err %v), want %q", tt.pragma, got, err, tt.want)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
	if !exists(filepath.Join(s.Dir(), DBName)) {
		t.Errorf("no %s in %s", DBName, s.Dir())
	}
}

func TestOpenFolderWithOddName(t *testing.T) {
	// '?' and '#' would end the path in a naive file: URI.
	dir := filepath.Join(t.TempDir(), "my ?odd# folder%20")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !exists(filepath.Join(dir, DBName)) {
		t.Errorf("database not created inside %q", dir)
	}
}

func TestTwoStoresWriteAtOnce(t *testing.T) {
	// Two Stores are two independent connection pools, as the app and a
	// command-line process would have.
	dir := t.TempDir()
	var stores [2]*Store
	for i := range stores {
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	const per = 25
	var imgs [per][]byte
	for i := range imgs {
		imgs[i] = pngImage(8, 8, uint8(i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*per+2)
	for w, s := range stores {
		wg.Go(func() {
			for i := range per {
				if _, err := s.SaveExchange(ctx, Exchange{Prompt: fmt.Sprintf("writer %d question %d", w, i), Answer: "ok",
					Images: []Image{{Data: imgs[i]}}}); err != nil {
					errs <- err
					return
				}
				if _, err := s.Recent(ctx, 10); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := stores[0].Recent(ctx, 0)
	if err != nil || len(list) != 2*per {
		t.Errorf("%d conversations (err %v), want %d", len(list), err, 2*per)
	}
}
