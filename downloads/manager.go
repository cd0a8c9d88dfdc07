package downloads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// ErrNotInstalled says a model is not (completely) in the cache.
var ErrNotInstalled = errors.New("model not installed")

// Manager pulls, verifies, lists and removes models in one cache.
type Manager struct {
	cfg   Config
	cache cache
}

// New returns a Manager; zero fields of cfg take their defaults. Start from
// ConfigFromEnv to honour the Hugging Face environment variables.
func New(cfg Config) *Manager {
	cfg = cfg.withDefaults()
	return &Manager{cfg: cfg, cache: cache{dir: cfg.CacheDir}}
}

// CacheDir is the hub cache the manager works in.
func (m *Manager) CacheDir() string { return m.cfg.CacheDir }

// PullOptions are the optional parts of a pull.
type PullOptions struct {
	// OnProgress receives progress reports, from the pulling goroutine or
	// its workers (one at a time); it must not block for long.
	OnProgress func(Progress)
	// Control pauses and resumes the pull; nil for none.
	Control *Control
}

// Snapshot is a model's files on disk.
type Snapshot struct {
	Ref    Ref
	Commit string
	// Dir is the snapshot folder, loadable by Glimpse and by transformers'
	// from_pretrained.
	Dir string
	// Files are the repository paths of the model's files.
	Files []string
}

// PullError lists the files that could not be fetched or did not verify.
// Every other file is in the cache, verified.
type PullError struct {
	Ref    Ref
	Failed []error
}

// Error lists the failed files' errors.
func (e *PullError) Error() string {
	msgs := make([]string, len(e.Failed))
	for i, err := range e.Failed {
		msgs[i] = err.Error()
	}
	return fmt.Sprintf("%d file(s) of %s failed: %s", len(e.Failed), e.Ref, strings.Join(msgs, "; "))
}

// Unwrap gives errors.Is and errors.As the failed files' errors.
func (e *PullError) Unwrap() []error { return e.Failed }

// Pull makes a model complete and verified in the cache, fetching only what
// is missing, and returns its snapshot. It resumes partial downloads. Files
// that fail are listed in a *PullError; running out of disk space is a
// *NoSpaceError; cancelling ctx stops it with progress kept.
func (m *Manager) Pull(ctx context.Context, name string, opts PullOptions) (*Snapshot, error) {
	ref, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	if m.cfg.Offline {
		return m.local(ctx, ref)
	}
	hub, err := newHubClient(m.cfg)
	if err != nil {
		return nil, err
	}
	commit, err := hub.resolveCommit(ctx, ref)
	if err != nil {
		var se *statusError
		if !errors.As(err, &se) && ctx.Err() == nil {
			// No network: a complete local copy will do, as transformers has it.
			if snap, lerr := m.local(ctx, ref); lerr == nil {
				hub.logf("the Hub cannot be reached (%v); using the copy in the cache", err)
				return snap, nil
			}
		}
		return nil, err
	}
	entries, err := hub.listTree(ctx, ref.Repo, commit)
	if err != nil {
		return nil, err
	}
	files, err := selectFiles(entries)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	// snapshots/ from the start: huggingface_hub's cache scan reports a repo
	// folder without one as corrupted.
	if err := os.MkdirAll(filepath.Join(m.cache.repoDir(ref.Repo), "snapshots"), 0o755); err != nil {
		return nil, err
	}
	if err := m.cache.writeRef(ref, commit); err != nil {
		return nil, err
	}
	man := &manifest{Repo: ref.Repo, Revision: ref.Revision, Commit: commit, Files: files}
	if old, err := m.cache.readManifest(ref.Repo, commit); err == nil {
		// Keep verification stamps of files whose hash did not change.
		stamps := map[string]*stamp{}
		for _, f := range old.Files {
			stamps[f.Path+"\x00"+f.Etag] = f.Verified
		}
		for i := range man.Files {
			man.Files[i].Verified = stamps[man.Files[i].Path+"\x00"+man.Files[i].Etag]
		}
	}
	if err := m.cache.writeManifest(man); err != nil {
		return nil, err
	}
	t := newTracker(ref.String(), files, opts.OnProgress)
	p := &puller{m: m, hub: hub, ref: ref, man: man, t: t, done: map[string]bool{}}
	err = opts.Control.run(ctx, t, p.run)
	if err == nil {
		err = checkShards(m.cache.snapshotDir(ref.Repo, commit), files)
	}
	if err != nil {
		m.cache.writeManifest(man)
		return nil, err
	}
	man.Complete = true
	if err := m.cache.writeManifest(man); err != nil {
		return nil, err
	}
	return m.snapshot(ref, man), nil
}

func (m *Manager) snapshot(ref Ref, man *manifest) *Snapshot {
	s := &Snapshot{Ref: ref, Commit: man.Commit, Dir: m.cache.snapshotDir(ref.Repo, man.Commit)}
	for _, f := range man.Files {
		s.Files = append(s.Files, f.Path)
	}
	return s
}

// puller is one pull in progress; run may be called again after a pause.
type puller struct {
	m    *Manager
	hub  *hubClient
	ref  Ref
	man  *manifest
	t    *tracker
	mu   sync.Mutex
	done map[string]bool
}

func (p *puller) run(ctx context.Context) error {
	var failed []error
	var queue []int
	// Reuse what is in the cache, ours or transformers', after checking it.
	for i := range p.man.Files {
		f := &p.man.Files[i]
		if p.done[f.Path] {
			continue
		}
		ok, err := p.reuse(ctx, f)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		switch {
		case err != nil:
			failed = append(failed, err)
			p.t.set(f.Path, Failed, err)
		case ok:
			p.done[f.Path] = true
		default:
			queue = append(queue, i)
		}
	}
	if err := p.checkSpace(queue); err != nil {
		return err
	}
	// Small files first, several at once (the index among them), then the
	// large ones one by one, each over several connections.
	var small, large []int
	for _, i := range queue {
		if p.man.Files[i].Size <= p.m.cfg.PartSize {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	var fatal error
	var wg sync.WaitGroup
	sem := make(chan struct{}, p.m.cfg.Connections)
	for _, i := range small {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := p.fetch(ctx, i); err != nil {
				p.mu.Lock()
				if isFatal(ctx, err) {
					fatal = cmpFatal(fatal, err)
				} else {
					failed = append(failed, err)
				}
				p.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, i := range large {
		if fatal != nil {
			break
		}
		if err := p.fetch(ctx, i); err != nil {
			if isFatal(ctx, err) {
				fatal = err
			} else {
				failed = append(failed, err)
			}
		}
	}
	if fatal != nil {
		return fatal
	}
	if len(failed) > 0 {
		return &PullError{Ref: p.ref, Failed: failed}
	}
	return nil
}

// isFatal says whether an error stops the whole pull: a cancel or pause, or
// a full disk, where going on with other files is pointless.
func isFatal(ctx context.Context, err error) bool {
	var ns *NoSpaceError
	return ctx.Err() != nil || errors.As(err, &ns)
}

func cmpFatal(old, err error) error {
	if old != nil {
		return old
	}
	return err
}

// reuse checks a copy already in the cache: a blob, or a file copied into
// the snapshot where links are not possible. Bad copies are deleted.
func (p *puller) reuse(ctx context.Context, f *fileEntry) (bool, error) {
	c := p.m.cache
	repo, commit := p.ref.Repo, p.man.Commit
	blob := c.blobPath(repo, f.Etag)
	snap := c.snapshotPath(repo, commit, f.Path)
	for _, cand := range []string{blob, snap} {
		st, err := stampOf(cand)
		if err != nil || st.Size != f.Size {
			continue
		}
		if f.Verified == nil || *f.Verified != st {
			p.t.set(f.Path, Checking, nil)
			err := checkFile(ctx, cand, *f, nil)
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			var ve *VerifyError
			if errors.As(err, &ve) {
				p.hub.logf("%s: the copy in the cache is damaged (%v); fetching it again", f.Path, err)
				os.Remove(cand)
				continue
			}
			if err != nil {
				return false, err
			}
			f.Verified = &st
		}
		if cand == blob {
			if err := c.link(repo, commit, *f); err != nil {
				return false, fmt.Errorf("%s: %w", f.Path, err)
			}
		}
		p.t.add(f.Path, f.Size, false)
		p.t.set(f.Path, Done, nil)
		return true, nil
	}
	return false, nil
}

// checkSpace compares what is left to fetch with the disk's free space.
func (p *puller) checkSpace(queue []int) error {
	var need int64
	for _, i := range queue {
		f := p.man.Files[i]
		need += f.Size
		if fi, err := os.Stat(p.m.cache.partialPath(p.ref.Repo, f.Etag)); err == nil {
			if s := loadPartState(p.m.cache.statePath(p.ref.Repo, f.Etag), f, fi.Size()); s != nil {
				need -= s.done()
			}
		}
	}
	if need == 0 {
		return nil
	}
	free, err := freeSpace(p.m.cache.repoDir(p.ref.Repo))
	if err != nil {
		return fmt.Errorf("cannot tell the free space in %s: %w", p.m.cache.dir, err)
	}
	const margin = 16 << 20 // manifests, part state, filesystem overhead
	if free < need+margin {
		return &NoSpaceError{Dir: p.m.cache.dir, Need: need + margin, Free: free}
	}
	return nil
}

// fetch downloads and verifies file i, trying once more from scratch when
// the bytes do not verify (a flaky proxy or disk), and links it into the
// snapshot.
func (p *puller) fetch(ctx context.Context, i int) error {
	f := &p.man.Files[i]
	c := p.m.cache
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		p.t.reset(f.Path)
		p.t.set(f.Path, Downloading, nil)
		job := &fileJob{c: p.hub, cache: c, repo: p.ref.Repo, commit: p.man.Commit, f: *f,
			onData: func(n int64, fetched bool) { p.t.add(f.Path, n, fetched) }}
		if err := job.run(ctx); err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			var ns *NoSpaceError
			if errors.As(err, &ns) {
				p.t.set(f.Path, Failed, err)
				return err
			}
			err = fmt.Errorf("%s: %w", f.Path, err)
			p.t.set(f.Path, Failed, err)
			return err
		}
		p.t.set(f.Path, Verifying, nil)
		blob := c.blobPath(p.ref.Repo, f.Etag)
		err := checkFile(ctx, blob, *f, nil)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		var ve *VerifyError
		if errors.As(err, &ve) {
			c.removeBlobData(p.ref.Repo, f.Etag)
			p.t.reset(f.Path)
			p.hub.logf("%v", err)
			lastErr = err
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		st, err := stampOf(blob)
		if err != nil {
			return err
		}
		if err := c.link(p.ref.Repo, p.man.Commit, *f); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		// Record the verification at once, so that a pull killed later
		// does not hash this file again when it resumes.
		p.mu.Lock()
		f.Verified = &st
		p.done[f.Path] = true
		err = c.writeManifest(p.man)
		p.mu.Unlock()
		if err != nil {
			return err
		}
		p.t.set(f.Path, Done, nil)
		return nil
	}
	p.t.set(f.Path, Failed, lastErr)
	return lastErr
}

// checkShards makes sure the safetensors index names only shards that are
// there.
func checkShards(dir string, files []fileEntry) error {
	have := map[string]bool{}
	for _, f := range files {
		have[f.Path] = true
	}
	if !have["model.safetensors.index.json"] {
		if !have["model.safetensors"] {
			return fmt.Errorf("the model has shards but no model.safetensors.index.json to say what is in them")
		}
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "model.safetensors.index.json"))
	if err != nil {
		return err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return fmt.Errorf("model.safetensors.index.json is not valid: %v", err)
	}
	for _, shard := range idx.WeightMap {
		if !have[shard] {
			return fmt.Errorf("model.safetensors.index.json names %q, which the repository does not have", shard)
		}
	}
	return nil
}

// local finds a model in the cache without the network and checks it,
// hashing only files that changed since they were last verified.
func (m *Manager) local(ctx context.Context, ref Ref) (*Snapshot, error) {
	commit, err := m.cache.commitFor(ref)
	if err != nil {
		return nil, fmt.Errorf("%s is not in the cache %s: %w", ref, m.cache.dir, ErrNotInstalled)
	}
	man, err := m.cache.readManifest(ref.Repo, commit)
	if errors.Is(err, fs.ErrNotExist) {
		// Downloaded by transformers: take the file list from the snapshot.
		files, serr := m.cache.snapshotFiles(ref.Repo, commit)
		if serr != nil {
			return nil, fmt.Errorf("%s: %v: %w", ref, serr, ErrNotInstalled)
		}
		man = &manifest{Repo: ref.Repo, Revision: ref.Revision, Commit: commit, Files: files}
		if _, err := selectFiles(treeEntries(files)); err != nil {
			return nil, fmt.Errorf("%s: %v: %w", ref, err, ErrNotInstalled)
		}
		if err := checkShards(m.cache.snapshotDir(ref.Repo, commit), files); err != nil {
			return nil, fmt.Errorf("%s: %v: %w", ref, err, ErrNotInstalled)
		}
		man.Complete = true
	} else if err != nil {
		return nil, err
	}
	if !man.Complete {
		return nil, fmt.Errorf("%s is only partly downloaded; run `glimpse models pull %s` to finish it: %w", ref, ref, ErrNotInstalled)
	}
	changed := false
	for i := range man.Files {
		f := &man.Files[i]
		p := m.cache.snapshotPath(ref.Repo, commit, f.Path)
		st, err := stampOf(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %s is missing; pull the model again: %w", ref, f.Path, ErrNotInstalled)
		}
		if f.Verified != nil && *f.Verified == st {
			continue
		}
		if err := checkFile(ctx, p, *f, nil); err != nil {
			var ve *VerifyError
			if errors.As(err, &ve) {
				m.removeBad(ref.Repo, man, *f)
			}
			return nil, err
		}
		f.Verified, changed = &st, true
	}
	if changed {
		if err := m.cache.writeManifest(man); err != nil {
			return nil, err
		}
	}
	return m.snapshot(ref, man), nil
}

// treeEntries turns manifest entries back into listing entries.
func treeEntries(files []fileEntry) []treeEntry {
	out := make([]treeEntry, len(files))
	for i, f := range files {
		out[i] = treeEntry{Type: "file", Path: f.Path, Size: f.Size, Oid: f.Etag}
		if f.LFS {
			out[i].Oid = strings.Repeat("0", 40)
			out[i].LFS = &struct {
				Oid  string `json:"oid"`
				Size int64  `json:"size"`
			}{f.Etag, f.Size}
		}
	}
	return out
}

// removeBad deletes a file that failed verification, blob and link, and
// marks the snapshot incomplete.
func (m *Manager) removeBad(repo string, man *manifest, f fileEntry) {
	os.Remove(m.cache.snapshotPath(repo, man.Commit, f.Path))
	m.cache.removeBlobData(repo, f.Etag)
	man.Complete = false
	for i := range man.Files {
		if man.Files[i].Path == f.Path {
			man.Files[i].Verified = nil
		}
	}
	m.cache.writeManifest(man)
}

// Path returns the snapshot folder of an installed model, for loading it.
// It does not use the network; files changed since they were verified are
// hashed again. A model transformers downloaded is verified on first use.
func (m *Manager) Path(ctx context.Context, name string) (string, error) {
	ref, err := ParseName(name)
	if err != nil {
		return "", err
	}
	s, err := m.local(ctx, ref)
	if err != nil {
		return "", err
	}
	return s.Dir, nil
}

// LocalPath is Path with the configuration of the environment, for
// `glimpse ask --model NAME` and the app.
func LocalPath(ctx context.Context, name string) (string, error) {
	return New(ConfigFromEnv()).Path(ctx, name)
}

// FileResult is the outcome of verifying one file.
type FileResult struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	// Err is empty when the file verified.
	Err string `json:"error,omitempty"`
}

// Verify hashes every file of an installed model again. Files that fail
// are deleted (blob and link) so the next pull fetches them; the returned
// error names them. onFile, when set, is called after each file.
func (m *Manager) Verify(ctx context.Context, name string, onFile func(FileResult)) ([]FileResult, error) {
	ref, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	commit, err := m.cache.commitFor(ref)
	if err != nil {
		return nil, fmt.Errorf("%s is not in the cache %s: %w", ref, m.cache.dir, ErrNotInstalled)
	}
	man, err := m.cache.readManifest(ref.Repo, commit)
	if errors.Is(err, fs.ErrNotExist) {
		files, serr := m.cache.snapshotFiles(ref.Repo, commit)
		if serr != nil {
			return nil, fmt.Errorf("%s: %v", ref, serr)
		}
		man = &manifest{Repo: ref.Repo, Revision: ref.Revision, Commit: commit, Files: files, Complete: true}
	} else if err != nil {
		return nil, err
	}
	var results []FileResult
	var bad []error
	for i := range man.Files {
		f := &man.Files[i]
		p := m.cache.snapshotPath(ref.Repo, commit, f.Path)
		err := checkFile(ctx, p, *f, nil)
		if ctx.Err() != nil {
			return results, ctx.Err()
		}
		r := FileResult{Path: f.Path, Size: f.Size}
		var ve *VerifyError
		switch {
		case errors.As(err, &ve):
			m.removeBad(ref.Repo, man, *f)
		case errors.Is(err, fs.ErrNotExist):
			err = fmt.Errorf("%s is missing", f.Path)
			man.Complete = false
		case err == nil:
			if st, serr := stampOf(p); serr == nil {
				f.Verified = &st
			}
		}
		if err != nil {
			r.Err = err.Error()
			bad = append(bad, err)
		}
		results = append(results, r)
		if onFile != nil {
			onFile(r)
		}
	}
	if len(bad) == 0 {
		if err := checkShards(m.cache.snapshotDir(ref.Repo, commit), man.Files); err != nil {
			bad = append(bad, err)
			man.Complete = false
		}
	}
	if werr := m.cache.writeManifest(man); werr != nil {
		return results, werr
	}
	if len(bad) > 0 {
		return results, &PullError{Ref: ref, Failed: bad}
	}
	return results, nil
}

// Installed is a model found in the cache.
type Installed struct {
	// Name is the catalogue name, or ORG/NAME for other repositories.
	Name string `json:"name"`
	Repo string `json:"repo"`
	// Commit is the snapshot's commit; Revisions are the branch or tag
	// names (refs/) that point at it.
	Commit    string   `json:"commit"`
	Revisions []string `json:"revisions"`
	Dir       string   `json:"dir"`
	// Bytes of Total are on disk.
	Bytes int64 `json:"bytes"`
	Total int64 `json:"total"`
	// Complete says every file is there and was verified by Glimpse (or
	// has not been checked yet, for models transformers downloaded: see
	// Verified).
	Complete bool `json:"complete"`
	// Verified says Glimpse has hashed every file.
	Verified bool `json:"verified"`
}

// Installed lists the InstructBLIP-like models in the cache, complete or
// not: those Glimpse pulled and those transformers downloaded.
func (m *Manager) Installed() ([]Installed, error) {
	ents, err := os.ReadDir(m.cache.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Installed
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), "models--")
		if !ok || !e.IsDir() {
			continue
		}
		org, name, ok := strings.Cut(rest, "--")
		if !ok {
			continue
		}
		repo := org + "/" + name
		refs := m.refsByCommit(repo)
		snaps, _ := os.ReadDir(filepath.Join(m.cache.repoDir(repo), "snapshots"))
		for _, s := range snaps {
			if !s.IsDir() || !commitRe.MatchString(s.Name()) {
				continue
			}
			if in, ok := m.installed(repo, s.Name(), refs[s.Name()]); ok {
				out = append(out, in)
			}
		}
		// A pull that stopped before any file landed has a manifest only.
		mans, _ := filepath.Glob(filepath.Join(m.cache.repoDir(repo), ".glimpse", "*.json"))
		for _, mp := range mans {
			commit := strings.TrimSuffix(filepath.Base(mp), ".json")
			if _, err := os.Stat(m.cache.snapshotDir(repo, commit)); err == nil || !commitRe.MatchString(commit) {
				continue
			}
			if in, ok := m.installed(repo, commit, refs[commit]); ok {
				out = append(out, in)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *Manager) refsByCommit(repo string) map[string][]string {
	out := map[string][]string{}
	root := filepath.Join(m.cache.repoDir(repo), "refs")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		c := strings.TrimSpace(string(b))
		out[c] = append(out[c], filepath.ToSlash(rel))
		return nil
	})
	return out
}

func (m *Manager) installed(repo, commit string, revs []string) (Installed, bool) {
	in := Installed{Name: repo, Repo: repo, Commit: commit, Revisions: revs, Dir: m.cache.snapshotDir(repo, commit)}
	if c, ok := Lookup(repo); ok {
		in.Name = c.Name
	}
	man, err := m.cache.readManifest(repo, commit)
	if err != nil {
		files, serr := m.cache.snapshotFiles(repo, commit)
		if serr != nil || len(files) == 0 {
			return in, false
		}
		if _, err := selectFiles(treeEntries(files)); err != nil || !isInstructBLIP(in.Dir) {
			return in, false
		}
		man = &manifest{Files: files, Complete: checkShards(in.Dir, files) == nil}
	}
	in.Complete, in.Verified = man.Complete, true
	for _, f := range man.Files {
		in.Total += f.Size
		st, err := stampOf(m.cache.snapshotPath(repo, commit, f.Path))
		if err != nil || st.Size != f.Size {
			// A blob that is not linked yet still counts as on disk.
			st, err = stampOf(m.cache.blobPath(repo, f.Etag))
			in.Complete = false
		}
		if err == nil && st.Size == f.Size {
			in.Bytes += f.Size
		} else {
			in.Complete = false
			if fi, err := os.Stat(m.cache.partialPath(repo, f.Etag)); err == nil {
				if s := loadPartState(m.cache.statePath(repo, f.Etag), f, fi.Size()); s != nil {
					in.Bytes += s.done()
				}
			}
		}
		if f.Verified == nil {
			in.Verified = false
		}
	}
	return in, true
}

// isInstructBLIP says whether a snapshot's config.json is an InstructBLIP
// model, to keep other models transformers downloaded out of the list.
func isInstructBLIP(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return false
	}
	var c struct {
		ModelType string `json:"model_type"`
	}
	return json.Unmarshal(b, &c) == nil && c.ModelType == "instructblip"
}

// Remove deletes a model's snapshot and the blobs no other snapshot uses,
// with any partial downloads of them.
func (m *Manager) Remove(name string) error {
	ref, err := ParseName(name)
	if err != nil {
		return err
	}
	commit, err := m.cache.commitFor(ref)
	if err != nil {
		return fmt.Errorf("%s is not in the cache %s: %w", ref, m.cache.dir, ErrNotInstalled)
	}
	repoDir := m.cache.repoDir(ref.Repo)
	_, serr := os.Stat(m.cache.snapshotDir(ref.Repo, commit))
	_, merr := os.Stat(m.cache.manifestPath(ref.Repo, commit))
	if serr != nil && merr != nil {
		return fmt.Errorf("%s is not in the cache %s: %w", ref, m.cache.dir, ErrNotInstalled)
	}
	mine := map[string]bool{}
	if man, err := m.cache.readManifest(ref.Repo, commit); err == nil {
		for _, f := range man.Files {
			mine[f.Etag] = true
		}
	}
	if files, err := m.cache.snapshotFiles(ref.Repo, commit); err == nil {
		for _, f := range files {
			mine[f.Etag] = true
		}
	}
	if err := os.RemoveAll(m.cache.snapshotDir(ref.Repo, commit)); err != nil {
		return err
	}
	os.Remove(m.cache.manifestPath(ref.Repo, commit))
	for c, revs := range m.refsByCommit(ref.Repo) {
		if c == commit {
			for _, r := range revs {
				os.Remove(filepath.Join(repoDir, "refs", filepath.FromSlash(r)))
			}
		}
	}
	// Blobs still linked from other snapshots stay.
	used := map[string]bool{}
	filepath.WalkDir(filepath.Join(repoDir, "snapshots"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSymlink != 0 {
			if t, err := os.Readlink(p); err == nil {
				used[filepath.Base(t)] = true
			}
		}
		return nil
	})
	for etag := range mine {
		if !used[etag] {
			m.cache.removeBlobData(ref.Repo, etag)
		}
	}
	if snaps, _ := os.ReadDir(filepath.Join(repoDir, "snapshots")); len(snaps) == 0 {
		if err := os.RemoveAll(repoDir); err != nil {
			return err
		}
		os.RemoveAll(filepath.Join(m.cache.dir, ".locks", repoFolder(ref.Repo)))
	}
	return nil
}
