package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"glimpse/app"
	"glimpse/checkpoint/store"
	"glimpse/downloads"
	"glimpse/downloads/hubtest"
	"glimpse/history"
)

const (
	cliRepo  = "Salesforce/tiny-instructblip-vicuna"
	cliToken = "hf_CLIsecretTOKEN987"
)

func fixtureModel(name string) string {
	return filepath.Join("..", "..", "shared", "fixtures", "models", name)
}

// cliHub starts a stand-in Hub with the vicuna fixture and points the
// environment at it and at an empty cache.
func cliHub(t *testing.T) (*hubtest.Hub, *hubtest.Repo, string) {
	t.Helper()
	h := hubtest.New()
	t.Cleanup(h.Close)
	h.SetToken(cliToken)
	repo, err := h.AddDir(cliRepo, fixtureModel("tiny-instructblip-vicuna"),
		hubtest.NewFile("pytorch_model.bin", bytes.Repeat([]byte{7}, 1000)))
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	t.Setenv("HF_ENDPOINT", h.URL)
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_TOKEN", cliToken)
	t.Setenv("HF_HUB_OFFLINE", "")
	return h, repo, cache
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// sameAsFixture asserts that the snapshot holds the fixture's needed files.
func sameAsFixture(t *testing.T, dir string, repo *hubtest.Repo) {
	t.Helper()
	n := 0
	for _, f := range repo.Files {
		if strings.HasPrefix(f.Path, "golden") || strings.HasSuffix(f.Path, ".bin") {
			if _, err := os.Lstat(filepath.Join(dir, f.Path)); err == nil {
				t.Errorf("%s was downloaded", f.Path)
			}
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil || !bytes.Equal(b, f.Data) {
			t.Errorf("%s: not the Hub's bytes (%v)", f.Path, err)
		}
		n++
	}
	if n < 10 {
		t.Fatalf("only %d files compared", n)
	}
}

func TestModelsCommands(t *testing.T) {
	h, repo, _ := cliHub(t)
	t.Setenv(history.EnvHome, t.TempDir()) // the converted copies' folder
	h.Inject(hubtest.Fault{Kind: hubtest.Status, Where: "cdn", Code: http.StatusInternalServerError, Times: 1})
	steps := []struct {
		args     []string
		wantCode int
		stdout   string // substring
		stderr   string // substring
	}{
		{[]string{"models"}, 2, "", "Usage: glimpse models"},
		{[]string{"models", "frobnicate"}, 2, "", "unknown command"},
		{[]string{"models", "path", cliRepo}, 1, "", "glimpse models pull"},
		{[]string{"models", "pull", "not-a-model"}, 1, "", "neither a catalogue model"},
		{[]string{"models", "pull", "--part-size", "131072", "--connections", "3", cliRepo}, 0, "snapshots", "is ready"},
		{[]string{"models", "list"}, 0, "converted f32", ""}, // the copy the first load made
		{[]string{"models", "verify", cliRepo}, 0, "ok      config.json", "verified"},
		{[]string{"models", "path", cliRepo}, 0, "snapshots", ""},
		{[]string{"models", "rm", cliRepo}, 0, "removed its converted f32 copy", ""},
		{[]string{"models", "path", cliRepo}, 1, "", "not in the cache"},
	}
	for _, s := range steps {
		code, out, errs := runCLI(s.args...)
		if code != s.wantCode || !strings.Contains(out, s.stdout) || !strings.Contains(errs, s.stderr) {
			t.Errorf("glimpse %s: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				strings.Join(s.args, " "), code, out, errs, s.wantCode, s.stdout, s.stderr)
		}
		if strings.Contains(out+errs, cliToken) {
			t.Errorf("glimpse %s printed the token", strings.Join(s.args, " "))
		}
		if len(s.args) > 1 && s.args[1] == "pull" && code == 0 {
			sameAsFixture(t, strings.TrimSpace(out), repo)
			if !strings.Contains(errs, "retrying") {
				t.Errorf("pull did not report the injected 500s: %q", errs)
			}
			// The first load keeps a converted copy for list and rm to show.
			m, err := app.Open(context.Background(), cliRepo, app.OpenOptions{Backend: "cpu"})
			if err != nil {
				t.Fatal(err)
			}
			m.Close()
		}
	}
	if left, err := store.List(app.ConvertedDir()); err != nil || len(left) != 0 {
		t.Errorf("after rm, converted copies %v (%v), want none", left, err)
	}
}

func TestModelsListJSON(t *testing.T) {
	cliHub(t)
	if code, _, errs := runCLI("models", "pull", cliRepo); code != 0 {
		t.Fatalf("pull: %s", errs)
	}
	code, out, errs := runCLI("models", "list", "--json")
	if code != 0 {
		t.Fatalf("list --json: exit %d: %s", code, errs)
	}
	var entries []listEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("list --json is not JSON: %v\n%s", err, out)
	}
	names := map[string]listEntry{}
	for _, e := range entries {
		names[e.Name] = e
	}
	for _, c := range downloads.Catalogue() {
		e, ok := names[c.Name]
		if !ok || !e.Catalogue || len(e.Requirements) != 4 || len(e.Installed) != 0 {
			t.Errorf("catalogue entry %s: %+v", c.Name, e)
		}
	}
	tiny := names[cliRepo]
	if tiny.Catalogue || len(tiny.Installed) != 1 || !tiny.Installed[0].Complete || tiny.Installed[0].Bytes == 0 {
		t.Errorf("installed fixture entry: %+v", tiny)
	}
}

func TestModelsPullFailsOnBadData(t *testing.T) {
	h, _, _ := cliHub(t)
	const shard = "model-00004-of-00007.safetensors"
	h.Inject(hubtest.Fault{Kind: hubtest.Corrupt, Where: "cdn", Path: shard, After: 1000})
	code, _, errs := runCLI("models", "pull", "--part-size", "131072", cliRepo)
	if code == 0 || !strings.Contains(errs, shard) || !strings.Contains(errs, "failed verification") {
		t.Fatalf("pull of corrupted data: exit %d, stderr %q; want a failure naming %s", code, errs, shard)
	}
	if code, _, _ := runCLI("models", "path", cliRepo); code == 0 {
		t.Error("path accepts a model whose pull failed")
	}
}

// TestPullSurvivesKill kills a real `glimpse models pull` process with
// SIGKILL several times during a throttled download, each time once the
// server has sent a number of bytes drawn from a fixed seed past where the
// run began, then lets it finish. The model must verify, and each kill may
// cost at most one part's bytes fetched again: what the server sent during
// a run, minus the progress that run left on disk.
func TestPullSurvivesKill(t *testing.T) {
	h, repo, cache := cliHub(t)
	const part = 256 << 10
	h.Throttle(384 << 10) // per connection: about 4 s for the model
	// A fixed seed: the same kill points every run, so a failure can be
	// run again.
	rng := rand.New(rand.NewPCG(15, 0))
	args := []string{"models", "pull", "--quiet", "--connections", "4", "--part-size", strconv.Itoa(part), cliRepo}
	m := downloads.New(downloads.Config{CacheDir: cache, Offline: true})
	onDisk := func() int64 {
		list, err := m.Installed()
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, in := range list {
			n += in.Bytes
		}
		return n
	}
	// pollUntil polls cond every few milliseconds until it holds, failing
	// after d: the events here (bytes sent, connections closed) happen in
	// the server, which has no channel to wait on.
	pollUntil := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("no %s after %v", what, d)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	const kills = 5
	for k := 0; k < kills; k++ {
		_, servedBefore := h.Served()
		diskBefore := onDisk()
		c := startChild(t, args...)
		// Kill once the server has sent between 1 byte and two parts more.
		at := servedBefore + 1 + rng.Int64N(2*part)
		pollUntil(fmt.Sprintf("%d bytes served in run %d", at-servedBefore, k), 20*time.Second, func() bool {
			_, n := h.Served()
			return n >= at
		})
		if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		c.wait(t, 10*time.Second)
		if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			_, stderr := c.output()
			t.Fatalf("run %d ended before the kill (exit %d): the throttle is too loose\n%s", k, c.code, stderr)
		}
		// The server counts a transfer's bytes until it notices the
		// connection is gone.
		pollUntil("end of the killed run's transfers", 10*time.Second, func() bool { return h.InFlight() == 0 })
		_, servedAfter := h.Served()
		diskAfter := onDisk()
		lost := (servedAfter - servedBefore) - (diskAfter - diskBefore)
		t.Logf("kill %d after %d bytes: served %d, kept %d, lost %d", k, at-servedBefore, servedAfter-servedBefore, diskAfter-diskBefore, lost)
		if lost > part {
			t.Errorf("kill %d lost %d bytes, more than one part (%d)", k, lost, part)
		}
	}
	h.Throttle(0)
	c := startChild(t, args...)
	if code := c.wait(t, time.Minute); code != 0 {
		_, stderr := c.output()
		t.Fatalf("final pull: exit %d\n%s", code, stderr)
	}
	stdout, _ := c.output()
	sameAsFixture(t, strings.TrimSpace(stdout), repo)
	if code, _, errs := runCLI("models", "verify", cliRepo); code != 0 {
		t.Errorf("verify after the kills: %s", errs)
	}
	var need int64
	for _, f := range repo.Files {
		if !strings.HasPrefix(f.Path, "golden") && !strings.HasSuffix(f.Path, ".bin") && !strings.HasPrefix(f.Path, "qformer_tokenizer/") &&
			f.LFS {
			need += int64(len(f.Data))
		}
	}
	served, total := h.Served()
	var small int64
	for p, n := range served {
		if !strings.HasSuffix(p, ".safetensors") {
			small += n
		}
	}
	if total-small > need+kills*part {
		t.Errorf("served %d bytes of weights for %d: more than a part per kill fetched again", total-small, need)
	}
}

func TestProgressBar(t *testing.T) {
	p := downloads.Progress{Model: "x@main", Bytes: 1_500_000, Total: 3_000_000, Speed: 250_000, ETA: 6 * time.Second,
		Files: []downloads.FileProgress{
			{Path: "config.json", Size: 2000, Bytes: 2000, State: downloads.Done},
			{Path: "model.safetensors", Size: 2_998_000, Bytes: 1_498_000, State: downloads.Downloading},
		}}
	cases := []struct {
		name    string
		tty     bool
		want    []string
		wantNot []string
		paused  bool
	}{
		{name: "terminal", tty: true, want: []string{"\r\033[K[", "50%", "1.5 MB/3.0 MB", "250.0 kB/s", "ETA 6s", "downloading model.safetensors"}},
		{name: "log file", tty: false, want: []string{"done     config.json (2.0 kB)\n"}, wantNot: []string{"\r", "%"}},
		{name: "paused", tty: true, want: []string{"(paused)"}, paused: true},
	}
	for _, tc := range cases {
		var out bytes.Buffer
		b := &progressBar{w: &out, tty: tc.tty, state: map[string]downloads.FileState{}}
		q := p
		q.Paused = tc.paused
		b.update(q)
		b.finish()
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: output %q lacks %q", tc.name, out.String(), w)
			}
		}
		for _, w := range tc.wantNot {
			if strings.Contains(out.String(), w) {
				t.Errorf("%s: output %q has %q", tc.name, out.String(), w)
			}
		}
	}
}
