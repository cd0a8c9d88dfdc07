package downloads

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"glimpse/downloads/hubtest"
)

// The fixture repositories are tiny InstructBLIP models laid out as on the
// Hub; the stand-in serves them with a few files Glimpse must not fetch.
const (
	testRepo  = "Salesforce/tiny-instructblip-vicuna"
	testToken = "hf_TESTtokenSECRETvalue123"
	partSize  = 128 << 10
)

func fixtureDir(name string) string {
	return filepath.Join("..", "..", "shared", "fixtures", "models", name)
}

// unwanted are files a real repository has that a pull must skip.
func unwanted() []*hubtest.File {
	return []*hubtest.File{
		hubtest.NewFile("pytorch_model-00001-of-00002.bin", bytes.Repeat([]byte{1}, 300<<10)),
		hubtest.NewFile("qformer_tokenizer/pytorch_model.bin", []byte("pickle")),
		hubtest.NewFile("README.md", []byte("# tiny\n")),
		hubtest.NewFile(".gitattributes", []byte("*.safetensors filter=lfs\n")),
	}
}

// newHub starts a stand-in Hub serving the vicuna fixture.
func newHub(t *testing.T) (*hubtest.Hub, *hubtest.Repo) {
	t.Helper()
	h := hubtest.New()
	t.Cleanup(h.Close)
	h.SetToken(testToken)
	h.SetPageSize(5)
	repo, err := h.AddDir(testRepo, fixtureDir("tiny-instructblip-vicuna"), unwanted()...)
	if err != nil {
		t.Fatal(err)
	}
	return h, repo
}

// logs collects Logf lines.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func testConfig(h *hubtest.Hub, cacheDir string, l *logs) Config {
	return Config{
		Endpoint:    h.URL,
		Token:       testToken,
		CacheDir:    cacheDir,
		RootCAs:     h.CertPool(),
		Connections: 4,
		PartSize:    partSize,
		// Long enough that a loaded CI machine never trips it by accident
		// (a dropped connection's unread bytes would count as served twice);
		// the stall tests shorten it.
		StallTimeout: 3 * time.Second,
		Retries:      4,
		RetryBase:    5 * time.Millisecond,
		MaxRetryWait: 3 * time.Second,
		Logf:         l.logf,
	}
}

// wantFiles are the files of the fixture a pull must fetch.
func wantFiles(repo *hubtest.Repo) map[string]*hubtest.File {
	out := map[string]*hubtest.File{}
	for _, f := range repo.Files {
		if needed(f.Path) {
			out[f.Path] = f
		}
	}
	return out
}

// checkSnapshot asserts that the snapshot holds exactly the needed files
// with the served bytes, laid out as huggingface_hub lays them out.
func checkSnapshot(t *testing.T, cacheDir string, repo *hubtest.Repo) {
	t.Helper()
	c := cache{dir: cacheDir}
	want := wantFiles(repo)
	if len(want) < 10 {
		t.Fatalf("fixture has only %d needed files", len(want))
	}
	snap := c.snapshotDir(repo.Name, repo.Commit)
	got := map[string]bool{}
	filepath.WalkDir(snap, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(snap, p)
		got[filepath.ToSlash(rel)] = true
		return nil
	})
	for p, f := range want {
		if !got[p] {
			t.Errorf("%s missing from the snapshot", p)
			continue
		}
		link, err := os.Readlink(c.snapshotPath(repo.Name, repo.Commit, p))
		if err != nil || filepath.IsAbs(link) {
			t.Errorf("%s: want a relative symlink, got %q, %v", p, link, err)
		}
		etag := f.GitSHA1
		if f.LFS {
			etag = f.SHA256
		}
		if filepath.Base(link) != etag {
			t.Errorf("%s links to %s, want blob %s", p, link, etag)
		}
		b, err := os.ReadFile(c.snapshotPath(repo.Name, repo.Commit, p))
		if err != nil || !bytes.Equal(b, f.Data) {
			t.Errorf("%s: content differs from the Hub's (%v)", p, err)
		}
	}
	for p := range got {
		if want[p] == nil {
			t.Errorf("snapshot has %s, which Glimpse should not fetch", p)
		}
	}
	ref, err := os.ReadFile(filepath.Join(c.repoDir(repo.Name), "refs", "main"))
	if err != nil || string(ref) != repo.Commit {
		t.Errorf("refs/main = %q, %v; want %s", ref, err, repo.Commit)
	}
	blobs, _ := os.ReadDir(filepath.Join(c.repoDir(repo.Name), "blobs"))
	for _, b := range blobs {
		if strings.Contains(b.Name(), ".") {
			t.Errorf("leftover partial file %s in blobs/", b.Name())
		}
	}
}

func TestPullLayoutAndProtocol(t *testing.T) {
	h, repo := newHub(t)
	dir := t.TempDir()
	var l logs
	m := New(testConfig(h, dir, &l))
	var last Progress
	var events int
	snap, err := m.Pull(context.Background(), testRepo, PullOptions{OnProgress: func(p Progress) { last = p; events++ }})
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, dir, repo)
	if snap.Commit != repo.Commit || snap.Dir != (cache{dir}).snapshotDir(testRepo, repo.Commit) {
		t.Errorf("snapshot %+v, want commit %s", snap, repo.Commit)
	}
	if last.Bytes != last.Total || last.Total == 0 || events < 2 {
		t.Errorf("last progress %d/%d after %d events, want complete", last.Bytes, last.Total, events)
	}
	for _, f := range last.Files {
		if f.State != Done {
			t.Errorf("file %s ended %s", f.Path, f.State)
		}
	}
	var treePages, ranged int
	for _, r := range h.Requests() {
		onCDN := strings.HasPrefix(r.Host, "localhost")
		switch {
		case onCDN && r.Authorization != "":
			t.Errorf("the CDN received an Authorization header for %s", r.Path)
		case !onCDN && r.Authorization != "Bearer "+testToken:
			t.Errorf("the Hub request %s lacked the token", r.Path)
		}
		if strings.HasSuffix(r.Path, ".bin") || strings.HasSuffix(r.Path, "README.md") || strings.Contains(r.Path, "golden") {
			t.Errorf("fetched %s, which is not needed", r.Path)
		}
		if strings.Contains(r.Path, "/tree/") {
			treePages++
		}
		if onCDN && r.Status == http.StatusPartialContent {
			ranged++
		}
	}
	if treePages < 4 {
		t.Errorf("tree listing took %d pages; with 5 entries a page it needs more (pagination not followed?)", treePages)
	}
	if ranged < 8 {
		t.Errorf("only %d ranged CDN requests: large files should come in %d-byte parts", ranged, partSize)
	}

	// A second pull finds everything and fetches nothing.
	before := len(h.Requests())
	if _, err := m.Pull(context.Background(), testRepo, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range h.Requests()[before:] {
		if strings.Contains(r.Path, "/resolve/") || strings.HasPrefix(r.Host, "localhost") {
			t.Errorf("second pull fetched %s again", r.Path)
		}
	}
	if p, err := m.Path(context.Background(), testRepo); err != nil || p != snap.Dir {
		t.Errorf("Path = %q, %v; want %s", p, err, snap.Dir)
	}
}

func TestPullOverTLS(t *testing.T) {
	h := hubtest.NewTLS()
	defer h.Close()
	repo, err := h.AddDir(testRepo, fixtureDir("tiny-instructblip-flan-t5"))
	if err != nil {
		t.Fatal(err)
	}
	var l logs
	cfg := testConfig(h, t.TempDir(), &l)
	cfg.Token = ""
	if _, err := New(cfg).Pull(context.Background(), testRepo, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, cfg.CacheDir, repo)

	// Without the stand-in's authority the certificate must be refused.
	cfg.RootCAs, cfg.CacheDir, cfg.Retries = nil, t.TempDir(), 1
	_, err = New(cfg).Pull(context.Background(), testRepo, PullOptions{})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("pull from an untrusted server: err = %v, want a certificate error", err)
	}
}

// TestFaults injects one misbehaviour per case; the pull must either finish
// with exactly the Hub's bytes or fail naming the file, never accept bad data.
func TestFaults(t *testing.T) {
	const shard = "model-00002-of-00007.safetensors"
	cases := []struct {
		name    string
		faults  []hubtest.Fault
		setup   func(*hubtest.Repo)
		wantErr string // substring; empty for success
		check   func(t *testing.T, h *hubtest.Hub)
		stall   time.Duration // StallTimeout, when not the default
	}{
		{name: "connections dropped mid-file", faults: []hubtest.Fault{
			{Kind: hubtest.Drop, Where: "cdn", Path: shard, After: 200 << 10, Times: 2},
			{Kind: hubtest.Drop, Where: "resolve", Path: "tokenizer.json", After: 1000, Times: 1},
		}},
		{name: "stalled connection", faults: []hubtest.Fault{
			{Kind: hubtest.Stall, Where: "cdn", Path: shard, After: 40 << 10, Times: 1},
		}, stall: 300 * time.Millisecond},
		{name: "stalled listing", faults: []hubtest.Fault{
			{Kind: hubtest.Stall, Where: "api", Times: 2},
		}, stall: 300 * time.Millisecond},
		{name: "429 with Retry-After", faults: []hubtest.Fault{
			{Kind: hubtest.Status, Where: "resolve", Path: "config.json", Code: 429, Header: http.Header{"Retry-After": {"1"}}, Times: 1},
		}, check: func(t *testing.T, h *hubtest.Hub) { checkWaited(t, h, "config.json", time.Second) }},
		{name: "429 with RateLimit", faults: []hubtest.Fault{
			{Kind: hubtest.Status, Where: "api", Code: 429, Header: http.Header{"Ratelimit": {`"api";r=0;t=1`}}, Times: 1},
		}},
		{name: "500s", faults: []hubtest.Fault{
			{Kind: hubtest.Status, Where: "cdn", Path: shard, Code: 500, Times: 3},
			{Kind: hubtest.Status, Where: "api", Code: 502, Times: 1},
		}},
		{name: "500 for good", faults: []hubtest.Fault{
			{Kind: hubtest.Status, Where: "cdn", Path: shard, Code: 500},
		}, wantErr: shard},
		{name: "CDN ignores Range", faults: []hubtest.Fault{
			{Kind: hubtest.IgnoreRange, Where: "cdn"},
		}, check: func(t *testing.T, h *hubtest.Hub) {
			whole := 0
			for _, r := range h.Requests() {
				if r.Range != "" && r.Status == http.StatusOK && strings.HasPrefix(r.Host, "localhost") {
					whole++
				}
			}
			if whole == 0 {
				t.Errorf("no ranged request was answered with the whole file")
			}
		}},
		{name: "CDN ignores Range after a drop", faults: []hubtest.Fault{
			{Kind: hubtest.Drop, Where: "cdn", Path: shard, After: 300 << 10, Times: 1},
			{Kind: hubtest.IgnoreRange, Where: "cdn", Path: shard},
		}},
		{name: "bytes corrupted once", faults: []hubtest.Fault{
			{Kind: hubtest.Corrupt, Where: "cdn", Path: shard, After: 150 << 10, Times: 1},
			{Kind: hubtest.Corrupt, Where: "resolve", Path: "config.json", After: 10, Times: 1},
		}},
		{name: "bytes always corrupted", faults: []hubtest.Fault{
			{Kind: hubtest.Corrupt, Where: "cdn", Path: shard, After: 150 << 10},
		}, wantErr: shard + " failed verification"},
		{name: "small file always corrupted", faults: []hubtest.Fault{
			{Kind: hubtest.Corrupt, Where: "resolve", Path: "tokenizer_config.json", After: 3},
		}, wantErr: "tokenizer_config.json failed verification"},
		{name: "body shorter than listed", faults: []hubtest.Fault{
			{Kind: hubtest.Short, Where: "cdn", Path: shard, After: 10},
		}, wantErr: shard},
		{name: "listing gives a wrong size", setup: func(r *hubtest.Repo) {
			r.ListedSize = map[string]int64{shard: 999_999, "config.json": 12}
		}, wantErr: shard},
		{name: "listing names files outside the cache", setup: func(r *hubtest.Repo) {
			r.Extra = []map[string]any{{"type": "file", "path": "../../../escape.json", "size": 2, "oid": strings.Repeat("a", 40)}}
		}, wantErr: "refusing file name"},
		{name: "listing with an absolute path", setup: func(r *hubtest.Repo) {
			r.Extra = []map[string]any{{"type": "file", "path": "/tmp/config.json", "size": 2, "oid": strings.Repeat("a", 40)}}
		}, wantErr: "refusing file name"},
		{name: "listing with a backslash", setup: func(r *hubtest.Repo) {
			r.Extra = []map[string]any{{"type": "file", "path": `qformer_tokenizer\..\..\x.json`, "size": 2, "oid": strings.Repeat("a", 40)}}
		}, wantErr: "refusing file name"},
		{name: "listing with NUL", setup: func(r *hubtest.Repo) {
			r.Extra = []map[string]any{{"type": "file", "path": "config.json\x00.txt", "size": 2, "oid": strings.Repeat("a", 40)}}
		}, wantErr: "refusing file name"},
		{name: "listing with a hash that is a path", setup: func(r *hubtest.Repo) {
			for i, e := range r.Files {
				if e.Path == "config.json" {
					r.Files[i] = &hubtest.File{Path: e.Path, Data: e.Data, GitSHA1: "../../../../escape"}
				}
			}
		}, wantErr: "malformed hash"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, repo := newHub(t)
			if tc.setup != nil {
				h.Edit(testRepo, tc.setup)
			}
			for _, f := range tc.faults {
				h.Inject(f)
			}
			root := t.TempDir()
			dir := filepath.Join(root, "hub")
			var l logs
			cfg := testConfig(h, dir, &l)
			if tc.stall > 0 {
				cfg.StallTimeout = tc.stall
			}
			_, err := New(cfg).Pull(context.Background(), testRepo, PullOptions{})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("pull failed: %v\nlog:\n%s", err, l.String())
				}
				checkSnapshot(t, dir, repo)
			} else {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				checkNoBadData(t, root, dir, repo)
			}
			if un := h.Unused(); len(un) > 0 {
				t.Errorf("faults never triggered: %+v", un)
			}
			if tc.check != nil {
				tc.check(t, h)
			}
			if strings.Contains(l.String(), testToken) || (err != nil && strings.Contains(err.Error(), testToken)) {
				t.Errorf("the token appears in the log or the error")
			}
		})
	}
}

func fileOf(p string) []byte {
	b, err := os.ReadFile(filepath.Join(fixtureDir("tiny-instructblip-vicuna"), p))
	if err != nil {
		panic(err)
	}
	return b
}

// checkNoBadData asserts that after a failed pull every file in the cache
// is one the Hub really serves, byte for byte, and nothing was written
// outside the cache.
func checkNoBadData(t *testing.T, root, dir string, repo *hubtest.Repo) {
	t.Helper()
	byHash := map[string][]byte{}
	for _, f := range repo.Files {
		byHash[f.SHA256] = f.Data
		byHash[f.GitSHA1] = f.Data
	}
	c := cache{dir: dir}
	blobs, _ := os.ReadDir(filepath.Join(c.repoDir(testRepo), "blobs"))
	for _, b := range blobs {
		if strings.Contains(b.Name(), ".") {
			continue // partial downloads are never used unverified
		}
		data, err := os.ReadFile(filepath.Join(c.repoDir(testRepo), "blobs", b.Name()))
		if want, ok := byHash[b.Name()]; !ok || err != nil || !bytes.Equal(data, want) {
			t.Errorf("blob %s in the cache does not hold the Hub's bytes", b.Name())
		}
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Errorf("file written outside the cache: %s", p)
		}
		if err == nil && strings.Contains(d.Name(), "escape") {
			t.Errorf("malicious file name landed on disk: %s", p)
		}
		return nil
	})
	if _, err := New(Config{CacheDir: dir, Offline: true}).Path(context.Background(), testRepo); err == nil {
		t.Errorf("a failed pull left a model that Path accepts")
	}
}

// checkWaited asserts that the retry of a rate-limited file came no sooner
// than the server asked.
func checkWaited(t *testing.T, h *hubtest.Hub, p string, wait time.Duration) {
	t.Helper()
	var times []time.Time
	for _, r := range h.RequestTimes(p) {
		times = append(times, r)
	}
	if len(times) < 2 {
		t.Fatalf("%s requested %d times, want a retry", p, len(times))
	}
	if gap := times[1].Sub(times[0]); gap < wait {
		t.Errorf("retried %s after %v, before the %v Retry-After", p, gap, wait)
	}
}

func TestResumeAfterCancelFetchesOnlyMissingBytes(t *testing.T) {
	h, repo := newHub(t)
	h.Throttle(1 << 20)
	dir := t.TempDir()
	var l logs
	m := New(testConfig(h, dir, &l))
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	_, err := m.Pull(ctx, testRepo, PullOptions{OnProgress: func(p Progress) {
		if p.Bytes > p.Total/3 {
			once.Do(cancel)
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled pull: err = %v", err)
	}
	h.Throttle(0)
	if _, err := m.Pull(context.Background(), testRepo, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, dir, repo)
	var need int64
	for _, f := range wantFiles(repo) {
		need += int64(len(f.Data))
	}
	_, served := h.Served()
	// A cancel stops each of the 4 connections mid-part; what they had
	// received since the last save (an eighth of a part) may come again.
	if served > need+partSize {
		t.Errorf("served %d bytes for %d needed: resuming fetched more than a part again", served, need)
	}
}

func TestPauseResume(t *testing.T) {
	h, repo := newHub(t)
	h.Throttle(2 << 20)
	dir := t.TempDir()
	var l logs
	m := New(testConfig(h, dir, &l))
	ctl := NewControl()
	var mu sync.Mutex
	var sawPaused bool
	var overCount string
	done := make(chan error)
	go func() {
		_, err := m.Pull(context.Background(), testRepo, PullOptions{Control: ctl, OnProgress: func(p Progress) {
			mu.Lock()
			sawPaused = sawPaused || p.Paused
			for _, f := range p.Files {
				if f.Bytes > f.Size && overCount == "" {
					overCount = fmt.Sprintf("%s: %d of %d bytes", f.Path, f.Bytes, f.Size)
				}
			}
			mu.Unlock()
		}})
		done <- err
	}()
	// Pause once bytes flow; every transfer must then end, and no new
	// request may start while paused.
	waitFor(t, "200 kB served", func() bool { _, n := h.Served(); return n > 200<<10 })
	ctl.Pause()
	if !ctl.Paused() {
		t.Fatal("Paused() = false after Pause")
	}
	waitFor(t, "every transfer to stop after Pause", func() bool { return h.InFlight() == 0 })
	_, atPause := h.Served()
	requests := len(h.Requests())
	// Nothing is expected to happen now; give a misbehaving client the
	// time of a few throttled chunks to show itself.
	time.Sleep(100 * time.Millisecond)
	if _, n := h.Served(); n != atPause || h.InFlight() != 0 {
		t.Errorf("%d bytes served while paused (%d transfers running)", n-atPause, h.InFlight())
	}
	if n := len(h.Requests()); n != requests {
		t.Errorf("%d requests made while paused", n-requests)
	}
	ctl.Resume()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, dir, repo)
	mu.Lock()
	defer mu.Unlock()
	if !sawPaused {
		t.Error("no progress report said paused")
	}
	if overCount != "" {
		t.Errorf("progress counted bytes twice after resuming: %s", overCount)
	}
}

func TestReusesTransformersDownloads(t *testing.T) {
	h, repo := newHub(t)
	dir := t.TempDir()
	c := cache{dir: dir}
	// Lay out two files as huggingface_hub does, one of them damaged.
	reused := map[string]bool{}
	for _, f := range repo.Files {
		if f.Path != "model-00001-of-00007.safetensors" && f.Path != "config.json" && f.Path != "tokenizer.json" {
			continue
		}
		e := fileEntry{Path: f.Path, Size: int64(len(f.Data)), Etag: f.GitSHA1, LFS: f.LFS}
		if f.LFS {
			e.Etag = f.SHA256
		}
		data := f.Data
		if f.Path == "tokenizer.json" {
			data = append([]byte(nil), data...)
			data[5] ^= 1
		} else {
			reused[f.Path] = true
		}
		os.MkdirAll(filepath.Dir(c.blobPath(testRepo, e.Etag)), 0o755)
		if err := os.WriteFile(c.blobPath(testRepo, e.Etag), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := c.link(testRepo, repo.Commit, e); err != nil {
			t.Fatal(err)
		}
	}
	// And a shard huggingface_hub stopped downloading after 300 kB.
	const half = "model-00002-of-00007.safetensors"
	halfData := fileOf(half)
	if err := os.WriteFile(c.blobPath(testRepo, shaOf(repo, half))+".incomplete", halfData[:300_000], 0o644); err != nil {
		t.Fatal(err)
	}
	var l logs
	if _, err := New(testConfig(h, dir, &l)).Pull(context.Background(), testRepo, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, dir, repo)
	served, _ := h.Served()
	if want := int64(len(halfData) - 300_000); served[half] != want {
		t.Errorf("served %d bytes of %s; huggingface_hub had left all but %d", served[half], half, want)
	}
	if !strings.Contains(l.String(), "huggingface_hub left partly downloaded") {
		t.Errorf("partial huggingface_hub download not adopted; log:\n%s", l.String())
	}
	for _, r := range h.Requests() {
		for p := range reused {
			if strings.HasSuffix(r.Path, "/"+p) || (strings.HasPrefix(r.Host, "localhost") && p == "model-00001-of-00007.safetensors" && strings.HasSuffix(r.Path, shaOf(repo, p))) {
				t.Errorf("fetched %s although the cache had it", p)
			}
		}
	}
	if !strings.Contains(l.String(), "tokenizer.json: the copy in the cache is damaged") {
		t.Errorf("damaged cached tokenizer.json not reported; log:\n%s", l.String())
	}
}

func shaOf(repo *hubtest.Repo, p string) string {
	for _, f := range repo.Files {
		if f.Path == p {
			return f.SHA256
		}
	}
	return "none"
}

func TestDiskSpace(t *testing.T) {
	t.Run("checked before starting", func(t *testing.T) {
		h, _ := newHub(t)
		old := freeSpace
		defer func() { freeSpace = old }()
		freeSpace = func(string) (int64, error) { return 1 << 20, nil }
		var l logs
		_, err := New(testConfig(h, t.TempDir(), &l)).Pull(context.Background(), testRepo, PullOptions{})
		var ns *NoSpaceError
		if !errors.As(err, &ns) || ns.Free != 1<<20 || !strings.Contains(err.Error(), "not enough disk space") {
			t.Fatalf("err = %v, want a NoSpaceError", err)
		}
		for _, r := range h.Requests() {
			if strings.Contains(r.Path, "/resolve/") {
				t.Errorf("fetched %s before finding the disk too small", r.Path)
			}
		}
	})
	t.Run("disk fills up midway", func(t *testing.T) {
		h, repo := newHub(t)
		dir := t.TempDir()
		old := writeAt
		defer func() { writeAt = old }()
		var mu sync.Mutex
		var written int64
		writeAt = func(f *os.File, b []byte, off int64) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			if written+int64(len(b)) > 2<<20 {
				return 0, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
			}
			written += int64(len(b))
			return f.WriteAt(b, off)
		}
		var l logs
		m := New(testConfig(h, dir, &l))
		_, err := m.Pull(context.Background(), testRepo, PullOptions{})
		var ns *NoSpaceError
		if !errors.As(err, &ns) || !strings.Contains(err.Error(), "is full") {
			t.Fatalf("err = %v, want a NoSpaceError", err)
		}
		checkNoBadData(t, dir, dir, repo)
		// Small files were verified before the disk filled; they stay.
		if _, err := os.Stat((cache{dir}).snapshotPath(testRepo, repo.Commit, "config.json")); err != nil {
			t.Errorf("verified config.json was not kept: %v", err)
		}
		writeAt = old
		_, servedBefore := h.Served()
		if _, err := m.Pull(context.Background(), testRepo, PullOptions{}); err != nil {
			t.Fatal(err)
		}
		checkSnapshot(t, dir, repo)
		var need int64
		for _, f := range wantFiles(repo) {
			need += int64(len(f.Data))
		}
		if _, served := h.Served(); served-servedBefore > need-2<<20+partSize {
			t.Errorf("after freeing space the pull fetched %d bytes; %d were on disk already\nlog:\n%s", served-servedBefore, 2<<20, l.String())
		}
	})
}

func TestVerifyDetectsDamageAndPullRepairs(t *testing.T) {
	h, repo := newHub(t)
	dir := t.TempDir()
	var l logs
	m := New(testConfig(h, dir, &l))
	if _, err := m.Pull(context.Background(), testRepo, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if res, err := m.Verify(context.Background(), testRepo, nil); err != nil || len(res) != len(wantFiles(repo)) {
		t.Fatalf("Verify of a good model: %d results, %v", len(res), err)
	}
	bad := "model-00003-of-00007.safetensors"
	p := (cache{dir}).snapshotPath(testRepo, repo.Commit, bad)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xff, 0xee}, 4096)
	f.Close()
	// Path notices the changed file and hashes it again.
	if _, err := m.Path(context.Background(), testRepo); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Path of a damaged model: err = %v, want one naming %s", err, bad)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("damaged file still in the snapshot: %v", err)
	}
	res, err := m.Verify(context.Background(), testRepo, nil)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Verify: err = %v, want it to name %s", err, bad)
	}
	failed := 0
	for _, r := range res {
		if r.Err != "" {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("Verify reported %d failures, want 1: %+v", failed, res)
	}
	_, before := h.Served()
	if _, err := m.Pull(context.Background(), testRepo, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, dir, repo)
	if _, after := h.Served(); after-before != int64(len(fileOf(bad))) {
		t.Errorf("repair fetched %d bytes, want only %s (%d)", after-before, bad, len(fileOf(bad)))
	}
}

func TestOfflineAndInstalledAndRemove(t *testing.T) {
	h, repo := newHub(t)
	dir := t.TempDir()
	var l logs
	m := New(testConfig(h, dir, &l))
	off := New(Config{CacheDir: dir, Offline: true, Endpoint: "http://127.0.0.1:1"})
	if _, err := off.Pull(context.Background(), testRepo, PullOptions{}); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("offline pull of a missing model: err = %v, want ErrNotInstalled", err)
	}
	if _, err := m.Pull(context.Background(), testRepo, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	h.Close()
	snap, err := off.Pull(context.Background(), testRepo, PullOptions{})
	if err != nil || snap.Commit != repo.Commit {
		t.Fatalf("offline pull of an installed model: %+v, %v", snap, err)
	}
	// With the Hub unreachable and offline mode off, the cache serves too.
	if _, err := m.Pull(context.Background(), testRepo, PullOptions{}); err != nil {
		t.Errorf("pull with the Hub down and the model cached: %v", err)
	}
	list, err := m.Installed()
	if err != nil || len(list) != 1 {
		t.Fatalf("Installed = %+v, %v", list, err)
	}
	in := list[0]
	if in.Repo != testRepo || in.Commit != repo.Commit || !in.Complete || !in.Verified || in.Bytes != in.Total || !slices.Contains(in.Revisions, "main") {
		t.Errorf("Installed[0] = %+v", in)
	}
	if err := m.Remove(testRepo); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat((cache{dir}).repoDir(testRepo)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("repo folder left after Remove: %v", err)
	}
	if list, _ := m.Installed(); len(list) != 0 {
		t.Errorf("Installed after Remove = %+v", list)
	}
	if err := m.Remove(testRepo); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("second Remove: err = %v, want ErrNotInstalled", err)
	}
}

func TestGatedRepoWithoutToken(t *testing.T) {
	h, _ := newHub(t)
	var l logs
	cfg := testConfig(h, t.TempDir(), &l)
	cfg.Token = ""
	_, err := New(cfg).Pull(context.Background(), testRepo, PullOptions{})
	if err == nil || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Fatalf("err = %v, want advice about HF_TOKEN", err)
	}
}

// BenchmarkPull measures a whole pull of the tiny model from the stand-in
// Hub over loopback: listing, parallel parts, state saves and hashing.
func BenchmarkPull(b *testing.B) {
	h := hubtest.New()
	defer h.Close()
	repo, err := h.AddDir(testRepo, fixtureDir("tiny-instructblip-vicuna"))
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, f := range wantFiles(repo) {
		size += int64(len(f.Data))
	}
	for _, part := range []int64{partSize, DefaultPartSize} {
		b.Run(fmt.Sprintf("part=%dKiB", part>>10), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				var l logs
				cfg := testConfig(h, b.TempDir(), &l)
				cfg.Token, cfg.PartSize = "", part
				if _, err := New(cfg).Pull(context.Background(), testRepo, PullOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestRemoveKeepsBlobsOfOtherRevisions(t *testing.T) {
	h, old := newHub(t)
	dir := t.TempDir()
	var l logs
	m := New(testConfig(h, dir, &l))
	if _, err := m.Pull(context.Background(), testRepo, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	// A new commit changes config.json only; main moves to it.
	var files []*hubtest.File
	for _, f := range old.Files {
		if f.Path == "config.json" {
			files = append(files, hubtest.NewFile(f.Path, append(append([]byte(nil), f.Data...), ' ')))
		} else {
			files = append(files, f)
		}
	}
	cur := h.AddRepo(testRepo, files...)
	if _, err := m.Pull(context.Background(), testRepo, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if list, _ := m.Installed(); len(list) != 2 {
		t.Fatalf("Installed lists %d snapshots, want 2: %+v", len(list), list)
	}
	if err := m.Remove(testRepo + "@" + old.Commit); err != nil {
		t.Fatal(err)
	}
	c := cache{dir: dir}
	if _, err := os.Stat(c.snapshotDir(testRepo, old.Commit)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old snapshot still there: %v", err)
	}
	oldConfig := c.blobPath(testRepo, wantFiles(old)["config.json"].GitSHA1)
	if _, err := os.Stat(oldConfig); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the old config.json blob, used by no other snapshot, is still there")
	}
	if p, err := m.Path(context.Background(), testRepo); err != nil || p != c.snapshotDir(testRepo, cur.Commit) {
		t.Errorf("Path after removing the old revision = %q, %v", p, err)
	}
	checkSnapshot(t, dir, cur)
}

// waitFor polls cond until it holds, failing the test after 30 s: events
// in another goroutine are awaited, never assumed after a fixed sleep.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30 s waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
