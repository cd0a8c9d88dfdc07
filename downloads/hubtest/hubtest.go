// Package hubtest is a stand-in for the Hugging Face Hub and its CDN, for
// tests. It serves model folders through the Hub's endpoints with the Hub's
// headers, redirects file downloads to a CDN on another host name, pages
// the tree listing with Link headers, and injects faults: dropped and
// stalled connections, error statuses, a CDN that ignores Range, corrupted
// bytes, wrong sizes and malicious file lists. It counts what it serves.
package hubtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// File is one file of a repository.
type File struct {
	Path string
	Data []byte
	// LFS files are listed with their SHA-256 and served from the CDN.
	LFS bool
	// SHA256 and GitSHA1 are the hex hashes of Data.
	SHA256, GitSHA1 string
}

// Repo is a repository at one commit.
type Repo struct {
	Name   string
	Commit string
	Files  []*File
	// Extra are raw entries appended to the tree listing (for malicious
	// lists); they are not served.
	Extra []map[string]any
	// ListedSize makes the tree listing give a file a size other than its
	// real one.
	ListedSize map[string]int64
}

// FaultKind is what a fault does.
type FaultKind int

// The faults.
const (
	// Status answers with Fault.Code and Fault.Header instead.
	Status FaultKind = iota
	// Drop closes the connection after Fault.After body bytes.
	Drop
	// Stall sends Fault.After body bytes, then nothing until the client
	// gives up; on "api" it sends no answer at all.
	Stall
	// IgnoreRange answers ranged requests with 200 and the whole file.
	IgnoreRange
	// Corrupt flips the byte at file offset Fault.After.
	Corrupt
	// Short ends the body cleanly Fault.After bytes early, with a
	// Content-Length that matches what is sent.
	Short
)

// Fault is a misbehaviour injected into matching requests.
type Fault struct {
	Kind FaultKind
	// Where is "api", "resolve" or "cdn".
	Where string
	// Path limits the fault to one file (resolve, cdn); empty for all.
	Path string
	// Times is how many matching requests get the fault; 0 for all.
	Times  int
	Code   int
	Header http.Header
	After  int64

	used int
}

// Request is one request the stand-in saw.
type Request struct {
	Host, Method, Path, Range string
	// Authorization is the header as received, to check where the token went.
	Authorization string
	Status        int
	// Bytes is how many body bytes were written.
	Bytes int64
	// Time is when the request arrived.
	Time time.Time
}

// Hub is the stand-in Hub with its CDN.
type Hub struct {
	// URL is the Hub endpoint (HF_ENDPOINT); CDNURL the CDN, on another
	// host name (localhost versus 127.0.0.1).
	URL, CDNURL string

	hub, cdn  *httptest.Server
	pool      *x509.CertPool
	closed    chan struct{}
	closeOnce sync.Once
	throttle  atomic.Int64
	inFlight  atomic.Int64 // file bodies being written now

	mu       sync.Mutex
	token    string
	pageSize int
	repos    map[string]*Repo
	faults   []*Fault
	requests []Request
	served   map[string]int64
}

// New starts a stand-in over plain HTTP.
func New() *Hub { return start(false) }

// NewTLS starts a stand-in over HTTPS with its own certificate authority;
// give CertPool to the client.
func NewTLS() *Hub { return start(true) }

func start(useTLS bool) *Hub {
	h := &Hub{pageSize: 1000, repos: map[string]*Repo{}, served: map[string]int64{}, closed: make(chan struct{})}
	h.hub = httptest.NewUnstartedServer(stamped(h.serveHub))
	h.cdn = httptest.NewUnstartedServer(stamped(h.serveCDN))
	for _, s := range []*httptest.Server{h.hub, h.cdn} {
		// Refused handshakes are what some tests want; keep them quiet.
		s.Config.ErrorLog = log.New(io.Discard, "", 0)
	}
	if useTLS {
		cert, pool := selfSigned()
		h.pool = pool
		for _, s := range []*httptest.Server{h.hub, h.cdn} {
			s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
			s.StartTLS()
		}
	} else {
		h.hub.Start()
		h.cdn.Start()
	}
	h.URL = h.hub.URL
	// The CDN gets another host name for the same loopback address.
	h.CDNURL = strings.Replace(h.cdn.URL, "127.0.0.1", "localhost", 1)
	return h
}

// Throttle limits each file body to bytesPerSecond (0: no limit). It may
// be changed while requests run.
func (h *Hub) Throttle(bytesPerSecond int64) { h.throttle.Store(bytesPerSecond) }

// SetToken makes the Hub's own endpoints require "Authorization: Bearer
// token" (a gated model); empty for none.
func (h *Hub) SetToken(token string) {
	h.mu.Lock()
	h.token = token
	h.mu.Unlock()
}

// SetPageSize sets the number of tree entries per listing page.
func (h *Hub) SetPageSize(n int) {
	h.mu.Lock()
	h.pageSize = n
	h.mu.Unlock()
}

// Edit changes a served repository (its listing, its files) safely while
// the servers run.
func (h *Hub) Edit(name string, fn func(*Repo)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fn(h.repos[name])
}

// CertPool trusts the TLS stand-in's certificate (nil for plain HTTP).
func (h *Hub) CertPool() *x509.CertPool { return h.pool }

// Close stops both servers, ending stalled requests.
func (h *Hub) Close() {
	h.closeOnce.Do(func() {
		close(h.closed)
		h.hub.CloseClientConnections()
		h.cdn.CloseClientConnections()
		h.hub.Close()
		h.cdn.Close()
	})
}

// selfSigned makes a certificate for 127.0.0.1 and localhost.
func selfSigned() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hubtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// NewFile makes a File and its hashes. Safetensors, pickles and
// sentencepiece models are LFS files, as on the Hub.
func NewFile(p string, data []byte) *File {
	s := sha256.Sum256(data)
	g := sha1.New()
	fmt.Fprintf(g, "blob %d\x00", len(data))
	g.Write(data)
	lfs := false
	switch path.Ext(p) {
	case ".safetensors", ".bin", ".model", ".pt", ".h5":
		lfs = true
	}
	return &File{Path: p, Data: data, LFS: lfs || len(data) > 10<<20, SHA256: hex.EncodeToString(s[:]), GitSHA1: hex.EncodeToString(g.Sum(nil))}
}

// AddDir serves the files under dir (recursively) as repository name, plus
// extra files, and returns the repository; its commit is derived from the
// content.
func (h *Hub) AddDir(name, dir string, extra ...*File) (*Repo, error) {
	var files []*File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files = append(files, NewFile(filepath.ToSlash(rel), b))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h.AddRepo(name, append(files, extra...)...), nil
}

// AddRepo serves files as repository name and returns it.
func (h *Hub) AddRepo(name string, files ...*File) *Repo {
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	c := sha1.New()
	for _, f := range files {
		fmt.Fprintf(c, "%s %s\n", f.Path, f.GitSHA1)
	}
	r := &Repo{Name: name, Commit: hex.EncodeToString(c.Sum(nil)), Files: files}
	h.mu.Lock()
	h.repos[name] = r
	h.mu.Unlock()
	return r
}

// Inject adds a fault.
func (h *Hub) Inject(f Fault) {
	h.mu.Lock()
	h.faults = append(h.faults, &f)
	h.mu.Unlock()
}

// Unused returns the injected faults that no request has triggered yet.
func (h *Hub) Unused() []Fault {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Fault
	for _, f := range h.faults {
		if f.used == 0 {
			out = append(out, *f)
		}
	}
	return out
}

// ClearFaults removes all faults.
func (h *Hub) ClearFaults() {
	h.mu.Lock()
	h.faults = nil
	h.mu.Unlock()
}

// Requests returns what the stand-in has seen so far.
func (h *Hub) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Request(nil), h.requests...)
}

// InFlight is the number of file bodies being sent right now: 0 once every
// transfer has ended, whether finished, failed or cancelled by the client.
func (h *Hub) InFlight() int { return int(h.inFlight.Load()) }

// Served returns the file body bytes served so far, by file path, and
// their sum.
func (h *Hub) Served() (map[string]int64, int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int64{}
	var total int64
	for k, v := range h.served {
		out[k] = v
		total += v
	}
	return out, total
}

// fault returns the first matching fault of the given kinds and uses it up.
func (h *Hub) fault(where, p string, kinds ...FaultKind) *Fault {
	return h.faultAt(where, p, -1, -1, kinds...)
}

// faultAt is fault for the faults placed at a file offset (Drop, Stall,
// Corrupt): they match only responses whose bytes [start, end) include
// that offset. start -1 matches any.
func (h *Hub) faultAt(where, p string, start, end int64, kinds ...FaultKind) *Fault {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.faults {
		if f.Where != where || (f.Path != "" && f.Path != p) || (f.Times > 0 && f.used >= f.Times) {
			continue
		}
		if start >= 0 && (f.After < start || f.After >= end) {
			continue
		}
		for _, k := range kinds {
			if f.Kind == k {
				f.used++
				return f
			}
		}
	}
	return nil
}

func (h *Hub) record(r *http.Request, status int, n int64) {
	h.mu.Lock()
	h.requests = append(h.requests, Request{Host: r.Host, Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range"),
		Authorization: r.Header.Get("Authorization"), Status: status, Bytes: n, Time: arrival(r)})
	h.mu.Unlock()
}

type arrivalKey struct{}

// arrival is when a request came in (recorded by the handlers' wrapper).
func arrival(r *http.Request) time.Time {
	if t, ok := r.Context().Value(arrivalKey{}).(time.Time); ok {
		return t
	}
	return time.Now()
}

// stamped records each request's arrival time in its context.
func stamped(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next(w, r.WithContext(context.WithValue(r.Context(), arrivalKey{}, time.Now())))
	}
}

// RequestTimes returns when requests for a file path (by its last path
// elements) arrived, at the Hub or the CDN, in order.
func (h *Hub) RequestTimes(p string) []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Time
	for _, r := range h.requests {
		if strings.HasSuffix(r.Path, "/"+p) {
			out = append(out, r.Time)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

func (h *Hub) lookup(name string) *Repo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.repos[name]
}

func (h *Hub) fail(w http.ResponseWriter, r *http.Request, where, p string) bool {
	f := h.fault(where, p, Status)
	if f == nil {
		return false
	}
	for k, v := range f.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(f.Code)
	h.record(r, f.Code, 0)
	return true
}

func (h *Hub) serveHub(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	token := h.token
	h.mu.Unlock()
	if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
		w.Header().Set("X-Error-Code", "GatedRepo")
		http.Error(w, "Access to this model is restricted", http.StatusUnauthorized)
		h.record(r, http.StatusUnauthorized, 0)
		return
	}
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, "/api/models/"); ok {
		if h.fail(w, r, "api", "") {
			return
		}
		if h.fault("api", "", Stall) != nil {
			h.record(r, 0, 0)
			select {
			case <-r.Context().Done():
			case <-h.closed:
			}
			return
		}
		h.serveAPI(w, r, rest)
		return
	}
	// /ORG/NAME/resolve/REV/PATH
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 5)
	if len(parts) == 5 && parts[2] == "resolve" {
		h.serveResolve(w, r, parts[0]+"/"+parts[1], parts[3], parts[4])
		return
	}
	http.NotFound(w, r)
	h.record(r, http.StatusNotFound, 0)
}

// rev says whether rev names the repository's commit. Commit is never
// edited after AddRepo.
func (h *Hub) rev(repo *Repo, rev string) bool {
	rev, _ = url.PathUnescape(rev)
	return rev == "main" || rev == repo.Commit
}

func (h *Hub) serveAPI(w http.ResponseWriter, r *http.Request, rest string) {
	parts := strings.SplitN(rest, "/", 4)
	if len(parts) < 4 {
		http.NotFound(w, r)
		h.record(r, 404, 0)
		return
	}
	repo := h.lookup(parts[0] + "/" + parts[1])
	rev, _, _ := strings.Cut(parts[3], "/")
	if repo == nil || !h.rev(repo, rev) {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		http.Error(w, `{"error":"Repository not found"}`, http.StatusNotFound)
		h.record(r, 404, 0)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	h.mu.Lock()
	entries, pageSize := treeOf(repo), h.pageSize
	var sib []map[string]string
	for _, f := range repo.Files {
		sib = append(sib, map[string]string{"rfilename": f.Path})
	}
	h.mu.Unlock()
	switch parts[2] {
	case "revision":
		json.NewEncoder(w).Encode(map[string]any{"id": repo.Name, "sha": repo.Commit, "siblings": sib})
	case "tree":
		start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		end := min(start+pageSize, len(entries))
		if start > len(entries) {
			start = len(entries)
		}
		if end < len(entries) {
			q := r.URL.Query()
			q.Set("cursor", strconv.Itoa(end))
			next := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
			if r.TLS != nil {
				next.Scheme = "https"
			}
			w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", next.String()))
		}
		json.NewEncoder(w).Encode(entries[start:end])
	default:
		http.NotFound(w, r)
	}
	h.record(r, 200, 0)
}

// treeOf lists a repository as the Hub's recursive tree does: folders and
// files, LFS files with their SHA-256.
func treeOf(repo *Repo) []map[string]any {
	var out []map[string]any
	dirs := map[string]bool{}
	for _, f := range repo.Files {
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				out = append(out, map[string]any{"type": "directory", "oid": strings.Repeat("d", 40), "size": 0, "path": d})
			}
		}
		size := int64(len(f.Data))
		if s, ok := repo.ListedSize[f.Path]; ok {
			size = s
		}
		e := map[string]any{"type": "file", "oid": f.GitSHA1, "size": size, "path": f.Path}
		if f.LFS {
			// The git blob of an LFS file is its pointer; size is the real size.
			e["oid"] = pointerSHA1(f)
			e["lfs"] = map[string]any{"oid": f.SHA256, "size": size, "pointerSize": 134}
		}
		out = append(out, e)
	}
	return append(out, repo.Extra...)
}

func pointerSHA1(f *File) string {
	s := sha1.Sum([]byte("pointer " + f.SHA256))
	return hex.EncodeToString(s[:])
}

func (h *Hub) serveResolve(w http.ResponseWriter, r *http.Request, name, rev, p string) {
	repo := h.lookup(name)
	if repo == nil || !h.rev(repo, rev) {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		http.Error(w, "Repository not found", http.StatusNotFound)
		h.record(r, 404, 0)
		return
	}
	var file *File
	h.mu.Lock()
	for _, f := range repo.Files {
		if f.Path == p {
			file = f
		}
	}
	h.mu.Unlock()
	if file == nil {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		http.Error(w, "Entry not found", http.StatusNotFound)
		h.record(r, 404, 0)
		return
	}
	if h.fail(w, r, "resolve", p) {
		return
	}
	w.Header().Set("X-Repo-Commit", repo.Commit)
	if file.LFS {
		w.Header().Set("X-Linked-Etag", `"`+file.SHA256+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(file.Data)))
		w.Header().Set("ETag", `"`+file.SHA256+`"`)
		loc := h.CDNURL + "/repos/" + file.SHA256 + "?X-Amz-Signature=stand-in&Expires=9999999999"
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusFound)
		h.record(r, http.StatusFound, 0)
		return
	}
	w.Header().Set("ETag", `"`+file.GitSHA1+`"`)
	h.serveBody(w, r, "resolve", file)
}

func (h *Hub) serveCDN(w http.ResponseWriter, r *http.Request) {
	sha, ok := strings.CutPrefix(r.URL.Path, "/repos/")
	var file *File
	h.mu.Lock()
	for _, repo := range h.repos {
		for _, f := range repo.Files {
			if f.LFS && f.SHA256 == sha {
				file = f
			}
		}
	}
	h.mu.Unlock()
	if !ok || file == nil || r.URL.Query().Get("X-Amz-Signature") == "" {
		http.Error(w, "AccessDenied", http.StatusForbidden)
		h.record(r, http.StatusForbidden, 0)
		return
	}
	if h.fail(w, r, "cdn", file.Path) {
		return
	}
	h.serveBody(w, r, "cdn", file)
}

// serveBody answers a GET or HEAD for a file, honouring a single byte range
// unless told not to, with the body faults applied.
func (h *Hub) serveBody(w http.ResponseWriter, r *http.Request, where string, f *File) {
	size := int64(len(f.Data))
	start, end := int64(0), size // [start, end)
	status := http.StatusOK
	rng := r.Header.Get("Range")
	if rng != "" && h.fault(where, f.Path, IgnoreRange) == nil {
		a, b, ok := parseRange(rng, size)
		if !ok {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			h.record(r, http.StatusRequestedRangeNotSatisfiable, 0)
			return
		}
		start, end, status = a, b, http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b-1, size))
	}
	w.Header().Set("Accept-Ranges", "bytes")
	short := h.fault(where, f.Path, Short)
	if short != nil {
		end = max(start, end-short.After)
	}
	w.Header().Set("Content-Length", strconv.FormatInt(end-start, 10))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		h.record(r, status, 0)
		return
	}
	body := f.Data[start:end]
	if c := h.faultAt(where, f.Path, start, end, Corrupt); c != nil {
		body = append([]byte(nil), body...)
		body[c.After-start] ^= 0x5a
	}
	// cutAt is where, in this body, a Drop or Stall strikes.
	cut, cutAt := h.faultAt(where, f.Path, start, end, Drop, Stall), int64(0)
	if cut != nil {
		cutAt = cut.After - start
	}
	var n int64
	h.inFlight.Add(1)
	defer func() { h.inFlight.Add(-1); h.record(r, status, n) }()
	flusher, _ := w.(http.Flusher)
	chunk := int64(8 << 10)
	for n < int64(len(body)) {
		k := min(chunk, int64(len(body))-n)
		if cut != nil && n+k > cutAt {
			k = cutAt - n
		}
		if k > 0 {
			if _, err := w.Write(body[n : n+k]); err != nil {
				return
			}
			h.count(f.Path, k)
			n += k
			if flusher != nil {
				flusher.Flush()
			}
		}
		if cut != nil && n >= cutAt {
			if cut.Kind == Stall {
				select {
				case <-r.Context().Done():
				case <-h.closed:
				}
				return
			}
			panic(http.ErrAbortHandler) // drops the connection mid-body
		}
		if bps := h.throttle.Load(); bps > 0 {
			select {
			case <-time.After(time.Duration(k) * time.Second / time.Duration(bps)):
			case <-r.Context().Done():
				return
			}
		}
	}
}

func (h *Hub) count(p string, n int64) {
	h.mu.Lock()
	h.served[p] += n
	h.mu.Unlock()
}

// parseRange reads "bytes=a-b" or "bytes=a-" into [a, b+1).
func parseRange(s string, size int64) (int64, int64, bool) {
	rest, ok := strings.CutPrefix(s, "bytes=")
	if !ok || strings.Contains(rest, ",") {
		return 0, 0, false
	}
	as, bs, ok := strings.Cut(rest, "-")
	a, err := strconv.ParseInt(as, 10, 64)
	if !ok || err != nil || a < 0 || a >= size {
		return 0, 0, false
	}
	b := size - 1
	if bs != "" {
		if b, err = strconv.ParseInt(bs, 10, 64); err != nil || b < a {
			return 0, 0, false
		}
		b = min(b, size-1)
	}
	return a, b + 1, true
}
