package downloads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// part is one byte range [Start, End) of a file and how much of it, from
// Start, is on disk.
type part struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	Done  int64 `json:"done"`
}

func (p part) finished() bool { return p.Start+p.Done >= p.End }

// partState is the sidecar file kept beside a partial blob. Every byte it
// counts as done was written and synced before the state was saved, so a
// crash at any moment loses only bytes fetched since the last save.
type partState struct {
	Etag  string `json:"etag"`
	Size  int64  `json:"size"`
	Parts []part `json:"parts"`
}

func (s *partState) done() int64 {
	var n int64
	for _, p := range s.Parts {
		n += p.Done
	}
	return n
}

func newPartState(f fileEntry, partSize int64) *partState {
	s := &partState{Etag: f.Etag, Size: f.Size}
	for start := int64(0); start < f.Size || (start == 0 && f.Size == 0); start += partSize {
		s.Parts = append(s.Parts, part{Start: start, End: min(start+partSize, f.Size)})
		if f.Size == 0 {
			break
		}
	}
	return s
}

// loadPartState reads the sidecar and trusts it only as far as the partial
// file on disk backs it up.
func loadPartState(path string, f fileEntry, dataSize int64) *partState {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var s partState
	if json.Unmarshal(b, &s) != nil || s.Etag != f.Etag || s.Size != f.Size || len(s.Parts) == 0 {
		return nil
	}
	var next int64
	for i := range s.Parts {
		p := &s.Parts[i]
		if p.Start != next || p.End <= p.Start && f.Size > 0 || p.End > f.Size || p.Done < 0 || p.Done > p.End-p.Start {
			return nil
		}
		next = p.End
		if p.Start+p.Done > dataSize {
			p.Done = max(0, dataSize-p.Start)
		}
	}
	if next != f.Size {
		return nil
	}
	return &s
}

// errRangeIgnored reports a 200 answer to a ranged request: the server sends
// the whole file, so the file restarts as one stream.
var errRangeIgnored = errors.New("the server ignored the byte range and sent the whole file")

// errStalled reports a connection that delivered nothing for StallTimeout.
var errStalled = errors.New("no data arrived for too long; the connection was dropped")

// NoSpaceError says the disk filled up (or would). Files verified so far
// stay in the cache, and partial files keep their progress.
type NoSpaceError struct {
	// Dir is the cache folder.
	Dir string
	// Need and Free are in bytes; Need is 0 when the disk filled up midway.
	Need, Free int64
}

// Error says how much space is missing, or that the disk filled up.
func (e *NoSpaceError) Error() string {
	if e.Need > 0 {
		return fmt.Sprintf("not enough disk space in %s: the model needs %s more, %s is free. Free up space or set HF_HUB_CACHE to a bigger disk", e.Dir, formatBytes(e.Need), formatBytes(e.Free))
	}
	return fmt.Sprintf("the disk holding %s is full. Files verified so far are kept and the download resumes where it stopped once space is freed", e.Dir)
}

// Test seams: the disk's free space and writes to partial files.
var (
	freeSpace = diskFree
	writeAt   = func(f *os.File, b []byte, off int64) (int, error) { return f.WriteAt(b, off) }
)

// fileJob downloads one blob into the cache.
type fileJob struct {
	c      *hubClient
	cache  cache
	repo   string
	commit string
	f      fileEntry
	onData func(n int64, fetched bool) // bytes on disk; fetched is false for bytes found from before and for restarts (negative)

	mu        sync.Mutex
	st        *partState
	data      *os.File
	unsaved   int64
	lastSave  time.Time
	saveEvery int64
	loc       string
}

// run fetches the blob unless it is already there, and leaves it, verified
// or not, at blobPath; the caller verifies.
func (j *fileJob) run(ctx context.Context) error {
	blob := j.cache.blobPath(j.repo, j.f.Etag)
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return err
	}
	release, err := j.lock(ctx)
	if err != nil {
		return err
	}
	defer release()
	if fi, err := os.Stat(blob); err == nil && fi.Size() == j.f.Size {
		return nil // another process finished it while we waited for the lock
	}
	partial := j.cache.partialPath(j.repo, j.f.Etag)
	j.adoptHFPartial(partial)
	j.data, err = os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if j.data != nil {
			j.data.Close()
		}
	}()
	fi, err := j.data.Stat()
	if err != nil {
		return err
	}
	j.st = loadPartState(j.cache.statePath(j.repo, j.f.Etag), j.f, fi.Size())
	if j.st == nil {
		j.st = newPartState(j.f, j.c.cfg.PartSize)
		if err := j.data.Truncate(0); err != nil {
			return err
		}
	}
	if d := j.st.done(); d > 0 {
		j.onData(d, false)
	}
	j.saveEvery = max(j.c.cfg.PartSize/8, 32<<10)
	j.lastSave = time.Now()

	err = j.fetchParts(ctx)
	if errors.Is(err, errRangeIgnored) {
		j.c.logf("%s: %v; restarting it as one stream", j.f.Path, err)
		err = j.stream(ctx)
	}
	if err != nil {
		j.mu.Lock()
		if serr := j.save(); serr != nil && !errors.Is(err, syscall.ENOSPC) {
			err = errors.Join(err, serr)
		}
		j.mu.Unlock()
		return err
	}
	if err := j.data.Sync(); err != nil {
		return err
	}
	if err := j.data.Close(); err != nil {
		return err
	}
	j.data = nil
	if err := os.Rename(partial, blob); err != nil {
		return err
	}
	os.Remove(j.cache.statePath(j.repo, j.f.Etag))
	return nil
}

// adoptHFPartial continues a download huggingface_hub left unfinished:
// its ETAG.incomplete holds a prefix of the file (it downloads in one
// stream). We hold the lock huggingface_hub takes, so it is not writing it.
func (j *fileJob) adoptHFPartial(partial string) {
	hf := j.cache.blobPath(j.repo, j.f.Etag) + ".incomplete"
	if _, err := os.Stat(partial); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	fi, err := os.Stat(hf)
	if err != nil || fi.Size() == 0 || fi.Size() > j.f.Size {
		return
	}
	st := newPartState(j.f, j.c.cfg.PartSize)
	for i := range st.Parts {
		p := &st.Parts[i]
		p.Done = min(max(fi.Size()-p.Start, 0), p.End-p.Start)
	}
	b, _ := json.Marshal(st)
	if writeFileAtomic(j.cache.statePath(j.repo, j.f.Etag), b) != nil {
		return
	}
	if err := os.Rename(hf, partial); err != nil {
		os.Remove(j.cache.statePath(j.repo, j.f.Etag))
		return
	}
	j.c.logf("%s: continuing the %s that huggingface_hub left partly downloaded", j.f.Path, formatBytes(fi.Size()))
}

// lock takes the blob's lock, waiting while another process holds it.
func (j *fileJob) lock(ctx context.Context) (func(), error) {
	p := j.cache.lockPath(j.repo, j.f.Etag)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	lf, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for logged := false; ; {
		ok, err := tryLock(lf)
		if err != nil {
			lf.Close()
			return nil, fmt.Errorf("locking %s: %w", p, err)
		}
		if ok {
			return func() { unlock(lf); lf.Close() }, nil
		}
		if !logged {
			j.c.logf("%s: another program is downloading it; waiting", j.f.Path)
			logged = true
		}
		select {
		case <-ctx.Done():
			lf.Close()
			return nil, context.Cause(ctx)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// save records the parts' progress. The data is synced first, so the state
// never claims bytes that a power cut could lose. Callers hold j.mu.
func (j *fileJob) save() error {
	if err := j.data.Sync(); err != nil {
		return err
	}
	b, _ := json.Marshal(j.st)
	if err := writeFileAtomic(j.cache.statePath(j.repo, j.f.Etag), b); err != nil {
		return err
	}
	j.unsaved, j.lastSave = 0, time.Now()
	return nil
}

// wrote records n bytes written to part i and saves the state when enough
// has accumulated (an eighth of a part) or a second has passed, which bounds
// what a kill can cost.
func (j *fileJob) wrote(i int, n int64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.st.Parts[i].Done += n
	j.unsaved += n
	j.onData(n, true)
	if j.unsaved >= j.saveEvery || time.Since(j.lastSave) > time.Second || j.st.Parts[i].finished() {
		return j.save()
	}
	return nil
}

// fetchParts downloads the unfinished parts over up to Connections
// connections at once.
func (j *fileJob) fetchParts(ctx context.Context) error {
	var todo []int
	for i, p := range j.st.Parts {
		if !p.finished() {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	j.loc = j.c.resolveURL(j.repo, j.commit, j.f.Path)
	if len(j.st.Parts) > 1 {
		loc, err := j.c.locate(ctx, j.repo, j.commit, j.f)
		if err != nil {
			return err
		}
		j.loc = loc
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	queue := make(chan int, len(todo))
	for _, i := range todo {
		queue <- i
	}
	close(queue)
	var wg sync.WaitGroup
	errs := make([]error, j.c.cfg.Connections)
	for w := range min(j.c.cfg.Connections, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range queue {
				if err := j.fetchPart(ctx, i); err != nil {
					errs[w] = err
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// The first real error wins over the cancellations it caused.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// fetchPart downloads what is missing of part i, retrying.
func (j *fileJob) fetchPart(ctx context.Context, i int) error {
	return j.c.retry(ctx, j.f.Path, func() (bool, error) {
		j.mu.Lock()
		p := j.st.Parts[i]
		loc := j.loc
		j.mu.Unlock()
		if p.finished() {
			return false, nil
		}
		from := p.Start + p.Done
		hdr := http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", from, p.End-1)}}
		n, err := j.get(ctx, loc, hdr, func(resp *http.Response) (io.Reader, error) {
			if resp.StatusCode == http.StatusOK && !(from == 0 && p.End == j.f.Size) {
				return nil, errRangeIgnored
			}
			if resp.StatusCode == http.StatusPartialContent {
				if err := checkContentRange(resp.Header.Get("Content-Range"), from, p.End-1, j.f.Size); err != nil {
					return nil, fmt.Errorf("%s: %w", j.f.Path, err)
				}
			}
			return resp.Body, nil
		}, from, p.End, i)
		return n > 0, err
	})
}

// stream downloads the whole file as one part, for servers that ignore
// byte ranges. A 200 answer to a resumed request restarts the file.
func (j *fileJob) stream(ctx context.Context) error {
	j.mu.Lock()
	j.onData(-j.st.done(), false)
	j.st.Parts = []part{{Start: 0, End: j.f.Size}}
	j.data.Truncate(0)
	if err := j.save(); err != nil {
		j.mu.Unlock()
		return err
	}
	j.mu.Unlock()
	return j.c.retry(ctx, j.f.Path, func() (bool, error) {
		j.mu.Lock()
		from := j.st.Parts[0].Done
		j.mu.Unlock()
		if from >= j.f.Size {
			return false, nil
		}
		var hdr http.Header
		if from > 0 {
			hdr = http.Header{"Range": {fmt.Sprintf("bytes=%d-", from)}}
		}
		start := from
		n, err := j.get(ctx, j.loc, hdr, func(resp *http.Response) (io.Reader, error) {
			if resp.StatusCode == http.StatusOK && start > 0 {
				j.mu.Lock()
				j.onData(-j.st.Parts[0].Done, false)
				j.st.Parts[0].Done = 0
				j.mu.Unlock()
				start = 0
			}
			if resp.StatusCode == http.StatusPartialContent {
				if err := checkContentRange(resp.Header.Get("Content-Range"), start, j.f.Size-1, j.f.Size); err != nil {
					return nil, fmt.Errorf("%s: %w", j.f.Path, err)
				}
			}
			return resp.Body, nil
		}, -1, j.f.Size, 0)
		return n > 0, err
	})
}

// get sends one request for the bytes from `from` (or, when from is -1,
// wherever body() says) to `end` and writes them into part i, watching for
// stalls. It returns how many bytes it wrote.
func (j *fileJob) get(ctx context.Context, loc string, hdr http.Header, body func(*http.Response) (io.Reader, error), from, end int64, i int) (int64, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := j.c.cfg.StallTimeout
	timer := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer timer.Stop()
	resp, err := j.c.send(rctx, http.MethodGet, loc, hdr)
	if err != nil {
		if context.Cause(rctx) == errStalled {
			return 0, errStalled
		}
		var se *statusError
		if errors.As(err, &se) && se.Code == http.StatusRequestedRangeNotSatisfiable {
			return 0, permanentError{fmt.Errorf("%s: the server has fewer bytes than the %d the Hub listed", j.f.Path, j.f.Size)}
		}
		if errors.As(err, &se) && (se.Code == http.StatusForbidden || se.Code == http.StatusGone) && loc != j.c.resolveURL(j.repo, j.commit, j.f.Path) {
			// A signed CDN address expired: ask the Hub for a fresh one.
			if nl, lerr := j.c.locate(ctx, j.repo, j.commit, j.f); lerr == nil {
				j.mu.Lock()
				j.loc = nl
				j.mu.Unlock()
				return 0, fmt.Errorf("%s: the download address expired", j.f.Path)
			}
		}
		return 0, err
	}
	defer resp.Body.Close()
	r, err := body(resp)
	if err != nil {
		return 0, err
	}
	if from < 0 {
		j.mu.Lock()
		from = j.st.Parts[i].Start + j.st.Parts[i].Done
		j.mu.Unlock()
	}
	if cl := resp.ContentLength; cl >= 0 && resp.StatusCode == http.StatusOK && cl != j.f.Size {
		return 0, permanentError{fmt.Errorf("%s: the server sends %d bytes but the Hub listed %d", j.f.Path, cl, j.f.Size)}
	}
	buf := make([]byte, 32<<10)
	var written int64
	off := from
	for off < end {
		n, rerr := r.Read(buf[:min(int64(len(buf)), end-off)])
		if n > 0 {
			timer.Reset(stall)
			if _, werr := writeAt(j.data, buf[:n], off); werr != nil {
				if errors.Is(werr, syscall.ENOSPC) {
					return written, permanentError{&NoSpaceError{Dir: j.cache.dir}}
				}
				return written, permanentError{fmt.Errorf("writing %s: %w", j.f.Path, werr)}
			}
			off += int64(n)
			written += int64(n)
			if err := j.wrote(i, int64(n)); err != nil {
				if errors.Is(err, syscall.ENOSPC) {
					return written, permanentError{&NoSpaceError{Dir: j.cache.dir}}
				}
				return written, permanentError{err}
			}
		}
		if rerr != nil {
			if context.Cause(rctx) == errStalled {
				return written, errStalled
			}
			if rerr == io.EOF {
				if off < end {
					return written, fmt.Errorf("%s: the connection ended after %d of %d bytes: %w", j.f.Path, off, end, io.ErrUnexpectedEOF)
				}
				break
			}
			return written, rerr
		}
	}
	return written, nil
}

// checkContentRange makes sure a 206 answer holds the bytes asked for.
func checkContentRange(cr string, first, last, size int64) error {
	var a, b int64
	var total string
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if ok {
		rng, t, ok2 := strings.Cut(rest, "/")
		s, e, ok3 := strings.Cut(rng, "-")
		var err1, err2 error
		a, err1 = strconv.ParseInt(s, 10, 64)
		b, err2 = strconv.ParseInt(e, 10, 64)
		ok = ok2 && ok3 && err1 == nil && err2 == nil
		total = t
	}
	if !ok || a != first || b < first || b > last {
		return permanentError{fmt.Errorf("the server sent bytes %q for the range %d-%d", cr, first, last)}
	}
	if total != "*" && total != strconv.FormatInt(size, 10) {
		return permanentError{fmt.Errorf("the server says the file has %s bytes but the Hub listed %d", total, size)}
	}
	return nil
}

// removeBlobData deletes a blob and any partial download of it.
func (c cache) removeBlobData(repo, etag string) {
	for _, p := range []string{c.blobPath(repo, etag), c.partialPath(repo, etag), c.statePath(repo, etag)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue
		}
	}
}
