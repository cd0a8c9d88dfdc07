package history

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Child processes: the test binary re-executes itself with one of these
// variables naming the data folder, and TestMain runs the child's loop
// instead of the tests.
const (
	envAppender = "GLIMPSE_HISTORY_TEST_APPENDER" // append until killed
	envWriter   = "GLIMPSE_HISTORY_TEST_WRITER"   // append a fixed number, then exit
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envAppender); dir != "" {
		os.Exit(appendUntilKilled(dir))
	}
	if dir := os.Getenv(envWriter); dir != "" {
		os.Exit(writeExchanges(dir))
	}
	os.Exit(m.Run())
}

// appendUntilKilled appends messages, some with an image, to a new
// conversation, and prints "conversation message text" for each once
// Append has returned: a promise that the message is saved.
func appendUntilKilled(dir string) int {
	s, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c, err := s.Create(ctx, fmt.Sprintf("process %d", os.Getpid()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; ; i++ {
		text := fmt.Sprintf("pid %d message %d", os.Getpid(), i)
		var images []Image
		if i%4 == 0 {
			// New bytes each time, so the kill can land while a file is written.
			images = append(images, Image{Name: "i.png", Data: pngImage(24, 16, uint8(os.Getpid()+i))})
		}
		m, err := s.Append(ctx, c.ID, Message{Role: RoleUser, Text: text}, images...)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// One write call per line, so a kill cannot leave half a line that looks whole.
		os.Stdout.WriteString(fmt.Sprintf("%d %d %s\n", c.ID, m.ID, text))
	}
}

// writeExchanges saves GLIMPSE_HISTORY_TEST_COUNT exchanges and reports
// the first error.
func writeExchanges(dir string) int {
	n, _ := strconv.Atoi(os.Getenv("GLIMPSE_HISTORY_TEST_COUNT"))
	s, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	os.Stdout.WriteString("ready\n")
	for i := range n {
		if _, err := s.SaveExchange(ctx, Exchange{Prompt: fmt.Sprintf("child question %d", i), Answer: "child answer"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if _, err := s.Search(ctx, "child", 5); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// child starts the test binary as a child process with env added.
func child(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

type reported struct {
	conversation, message int64
	text                  string
}

func TestCrashSafety(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	var promised []reported
	const rounds = 20
	for round := range rounds {
		cmd := child(t, envAppender+"="+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan reported)
		go func() {
			defer close(lines)
			r := bufio.NewReader(out)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return // a line cut short by the kill was never promised
				}
				var p reported
				f := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 3)
				if len(f) == 3 {
					p.conversation, _ = strconv.ParseInt(f[0], 10, 64)
					p.message, _ = strconv.ParseInt(f[1], 10, 64)
					p.text = f[2]
				}
				lines <- p
			}
		}()
		// Kill at a random moment once appending is under way: after the
		// first promise, between 0 and 150 ms later, wherever that falls.
		first, ok := <-lines
		if !ok {
			cmd.Wait()
			t.Fatalf("round %d: the child died before saving anything: %s", round, stderr.String())
		}
		promised = append(promised, first)
		deadline := time.After(time.Duration(rng.IntN(150)) * time.Millisecond)
	collect:
		for {
			select {
			case p, ok := <-lines:
				if !ok {
					break collect
				}
				promised = append(promised, p)
			case <-deadline:
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				deadline = nil
			}
		}
		if err := cmd.Wait(); err == nil || stderr.Len() > 0 {
			t.Fatalf("round %d: the child should have been killed, ended with %v: %s", round, err, stderr.String())
		}
	}

	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range promised {
		var text string
		var conversation int64
		err := s.db.QueryRow(`SELECT conversation_id, text FROM messages WHERE id = ?`, p.message).Scan(&conversation, &text)
		if err != nil || text != p.text || conversation != p.conversation {
			t.Errorf("message %d (%q) was reported saved, but reads %q in conversation %d (err %v)", p.message, p.text, text, conversation, err)
		}
	}
	checks := []struct{ name, query string }{
		{"integrity_check", "PRAGMA integrity_check"},
		{"foreign_key_check", "SELECT count(*) = 0 FROM pragma_foreign_key_check"},
	}
	for _, c := range checks {
		var got string
		if err := s.db.QueryRow(c.query).Scan(&got); err != nil || (got != "ok" && got != "1") {
			t.Errorf("%s: %q (err %v)", c.name, got, err)
		}
	}
	if _, err := s.db.Exec(`INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Errorf("search index: %v", err)
	}
	// Every image row that survived has its files, whole.
	list, err := s.Recent(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	images := 0
	for _, sum := range list {
		c, err := s.Get(ctx, sum.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range c.Messages {
			for _, a := range m.Attachments {
				images++
				if _, err := readImage(a); err != nil {
					t.Error(err)
				}
				if !exists(a.ThumbPath) {
					t.Errorf("thumbnail %s missing", a.ThumbPath)
				}
			}
		}
	}
	t.Logf("%d rounds, %d messages promised, all present; %d images intact", rounds, len(promised), images)
	if len(list) != rounds {
		t.Errorf("%d conversations, want one per round (%d)", len(list), rounds)
	}
}

func TestTwoProcessesShareTheDatabase(t *testing.T) {
	// The app and a command-line process: here the test and a child both
	// write and search at the same time. Neither may see "database is locked".
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 100
	cmd := child(t, envWriter+"="+dir, "GLIMPSE_HISTORY_TEST_COUNT="+strconv.Itoa(n))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Start writing once the child has the database open, so the two overlap.
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		cmd.Wait()
		t.Fatalf("child did not start: %q, %v: %s", line, err, stderr.String())
	}
	var wg sync.WaitGroup
	var parentErr error
	wg.Go(func() {
		for i := range n {
			if _, err := s.SaveExchange(ctx, Exchange{Prompt: fmt.Sprintf("parent question %d", i), Answer: "parent answer"}); err != nil {
				parentErr = err
				return
			}
			if _, err := s.Recent(ctx, 20); err != nil {
				parentErr = err
				return
			}
		}
	})
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		t.Errorf("child: %v: %s", err, stderr.String())
	}
	if parentErr != nil {
		t.Errorf("parent: %v", parentErr)
	}
	// How much the two interleaved, for whoever reads the log: IDs are
	// handed out in commit order.
	list, err := s.Recent(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	switches := 0
	for i := 1; i < len(list); i++ {
		if strings.HasPrefix(list[i].Title, "parent") != strings.HasPrefix(list[i-1].Title, "parent") {
			switches++
		}
	}
	t.Logf("%d conversations; the writers took turns %d times", len(list), switches)
	for _, tt := range []struct {
		query string
		want  int
	}{{"parent answer", n}, {"child answer", n}} {
		hits, err := s.Search(ctx, tt.query, 1000)
		if err != nil || len(hits) != tt.want {
			t.Errorf("%q: %d hits (err %v), want %d", tt.query, len(hits), err, tt.want)
		}
	}
}
