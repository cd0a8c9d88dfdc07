package downloads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// hubClient talks to the Hub's API and fetches files. It follows redirects
// itself so that the token goes to the Hub's own host only.
type hubClient struct {
	cfg      Config
	http     *http.Client
	endpoint *url.URL
}

func newHubClient(cfg Config) (*hubClient, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("the Hub address %q (HF_ENDPOINT) is not an http(s) URL", cfg.Endpoint)
	}
	return &hubClient{cfg: cfg, http: newHTTPClient(cfg), endpoint: u}, nil
}

func (c *hubClient) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}

// isHub says whether u is on the Hub's own host (scheme, name and port all
// equal), the only place the token may go.
func (c *hubClient) isHub(u *url.URL) bool {
	return u.Scheme == c.endpoint.Scheme && strings.EqualFold(u.Host, c.endpoint.Host)
}

// statusError is an HTTP answer other than the one asked for.
type statusError struct {
	Code int
	// Where is the URL without its query: CDN URLs carry signatures.
	Where string
	// Wait is how long the server asked us to wait (Retry-After, RateLimit).
	Wait time.Duration
}

func (e *statusError) Error() string {
	switch e.Code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Sprintf("%s answered %d %s: the model may be gated or private; set HF_TOKEN or run `hf auth login` with an account that has access", e.Where, e.Code, http.StatusText(e.Code))
	case http.StatusNotFound:
		return fmt.Sprintf("%s answered 404 Not Found: check the model name and revision", e.Where)
	case http.StatusTooManyRequests:
		return fmt.Sprintf("%s answered 429 Too Many Requests: the Hub's rate limit was reached; try again in a few minutes or log in (HF_TOKEN) for a higher limit", e.Where)
	}
	return fmt.Sprintf("%s answered %d %s", e.Where, e.Code, http.StatusText(e.Code))
}

// retryable says whether a failed request may succeed when tried again.
func retryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.Code == http.StatusTooManyRequests || se.Code == http.StatusRequestTimeout || se.Code >= 500
	}
	// Anything else is the network's doing (timeouts included); the
	// caller's own cancellation is checked apart, on its context.
	var pe permanentError
	return !errors.As(err, &pe)
}

// permanentError marks failures that retrying cannot fix (a server that
// contradicts the file list, a full disk).
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func stripQuery(u *url.URL) string {
	v := *u
	v.RawQuery, v.Fragment, v.User = "", "", nil
	return v.String()
}

var rateLimitT = regexp.MustCompile(`(?:^|[;,\s])t=([0-9]+)`)

// serverWait reads how long a 429 or 503 answer asks us to wait: Retry-After
// (seconds or an HTTP date), else the t= of the IETF RateLimit header the Hub
// sends, else RateLimit-Reset.
func serverWait(h http.Header, now time.Time) time.Duration {
	if ra := strings.TrimSpace(h.Get("Retry-After")); ra != "" {
		if s, err := strconv.Atoi(ra); err == nil && s >= 0 {
			return time.Duration(s) * time.Second
		}
		if t, err := http.ParseTime(ra); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	if m := rateLimitT.FindStringSubmatch(h.Get("RateLimit")); m != nil {
		s, _ := strconv.Atoi(m[1])
		return time.Duration(s) * time.Second
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h.Get("RateLimit-Reset"))); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// do makes one request, without following redirects: the token goes only
// to the Hub's own host (never to a CDN), and errors name the URL without
// its query (signed CDN URLs carry credentials there).
func (c *hubClient) do(ctx context.Context, method string, u *url.URL, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "glimpse/downloads")
	if c.cfg.Token != "" && c.isHub(u) {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = stripQuery(u)
		}
		return nil, err
	}
	return resp, nil
}

// send makes one request and follows redirects, adding the token only on
// the Hub's host and refusing to leave https. A non-2xx final answer comes
// back as a *statusError with the body closed.
func (c *hubClient) send(ctx context.Context, method, rawURL string, header http.Header) (*http.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(fmt.Sprintf("downloads: built a bad URL %q: %v", rawURL, err))
	}
	for hop := 0; ; hop++ {
		resp, err := c.do(ctx, method, u, header)
		if err != nil {
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			loc := resp.Header.Get("Location")
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			next, err := u.Parse(loc)
			if err != nil || loc == "" {
				return nil, permanentError{fmt.Errorf("%s redirected to an invalid address", stripQuery(u))}
			}
			if hop >= 10 {
				return nil, permanentError{fmt.Errorf("%s redirected too many times", stripQuery(u))}
			}
			if next.Scheme != "https" && !(next.Scheme == "http" && u.Scheme == "http") {
				return nil, permanentError{fmt.Errorf("%s redirected to %s, which is not https", stripQuery(u), stripQuery(next))}
			}
			u = next
			continue
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			return nil, &statusError{Code: resp.StatusCode, Where: stripQuery(u), Wait: serverWait(resp.Header, time.Now())}
		}
		resp.Request.URL = u
		return resp, nil
	}
}

// retry runs try until it succeeds, fails for good, or fails Retries times
// in a row without progress. Waits double from RetryBase with jitter; a
// server's Retry-After or RateLimit wins when longer.
func (c *hubClient) retry(ctx context.Context, what string, try func() (progressed bool, err error)) error {
	fails := 0
	for {
		progressed, err := try()
		if err == nil {
			return nil
		}
		if progressed {
			fails = 0
		}
		if !retryable(err) || ctx.Err() != nil {
			return err
		}
		fails++
		if fails > c.cfg.Retries {
			return fmt.Errorf("%s: giving up after %d tries: %w", what, fails, err)
		}
		wait := c.cfg.RetryBase << (fails - 1)
		wait += time.Duration(rand.Int64N(int64(wait)/4 + 1))
		var se *statusError
		if errors.As(err, &se) && se.Wait > wait {
			wait = se.Wait
		}
		wait = min(wait, c.cfg.MaxRetryWait)
		c.logf("%s: %v; retrying in %v", what, err, wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

func (c *hubClient) apiURL(repo string, parts ...string) string {
	return c.cfg.Endpoint + "/api/models/" + repo + "/" + strings.Join(parts, "/")
}

// getJSON fetches a small JSON document from the Hub's API, with retries.
func (c *hubClient) getJSON(ctx context.Context, rawURL string, v any) (http.Header, error) {
	var hdr http.Header
	err := c.retry(ctx, "listing "+rawURL, func() (bool, error) {
		// A listing that stops arriving is dropped like a stalled download.
		rctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		timer := time.AfterFunc(c.cfg.StallTimeout, func() { cancel(errStalled) })
		defer timer.Stop()
		resp, err := c.send(rctx, http.MethodGet, rawURL, nil)
		if err != nil {
			if context.Cause(rctx) == errStalled {
				return false, errStalled
			}
			return false, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(&touchReader{r: io.LimitReader(resp.Body, 64<<20), touch: func() { timer.Reset(c.cfg.StallTimeout) }})
		if err != nil {
			if context.Cause(rctx) == errStalled {
				return false, errStalled
			}
			return false, err
		}
		if err := json.Unmarshal(body, v); err != nil {
			return false, permanentError{fmt.Errorf("the Hub's answer to %s is not the expected JSON: %v", rawURL, err)}
		}
		hdr = resp.Header
		return false, nil
	})
	return hdr, err
}

// resolveCommit asks the Hub which commit a revision is at.
func (c *hubClient) resolveCommit(ctx context.Context, ref Ref) (string, error) {
	var info struct {
		Sha string `json:"sha"`
	}
	if _, err := c.getJSON(ctx, c.apiURL(ref.Repo, "revision", url.PathEscape(ref.Revision)), &info); err != nil {
		return "", err
	}
	if !commitRe.MatchString(info.Sha) {
		return "", fmt.Errorf("the Hub gave %q as the commit of %s, which is not a commit id", info.Sha, ref)
	}
	return info.Sha, nil
}

var linkNext = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="?next"?`)

// listTree fetches the recursive file listing at a commit, following the
// Link: rel="next" pages. Pages must stay on the Hub's host.
func (c *hubClient) listTree(ctx context.Context, repo, commit string) ([]treeEntry, error) {
	next := c.apiURL(repo, "tree", commit) + "?recursive=true&expand=false"
	seen := map[string]bool{}
	var all []treeEntry
	for next != "" {
		if seen[next] || len(seen) > 10000 {
			return nil, fmt.Errorf("the Hub's file listing of %s loops", repo)
		}
		seen[next] = true
		var page []treeEntry
		hdr, err := c.getJSON(ctx, next, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		next = ""
		if m := linkNext.FindStringSubmatch(hdr.Get("Link")); m != nil {
			base, _ := url.Parse(c.cfg.Endpoint)
			u, err := base.Parse(m[1])
			if err != nil || !c.isHub(u) {
				return nil, fmt.Errorf("the Hub's file listing of %s points to a next page off the Hub (%q)", repo, m[1])
			}
			next = u.String()
		}
	}
	return all, nil
}

// resolveURL is where the Hub serves a file at a commit.
func (c *hubClient) resolveURL(repo, commit, p string) string {
	parts := strings.Split(p, "/")
	for i := range parts {
		parts[i] = url.PathEscape(parts[i])
	}
	return c.cfg.Endpoint + "/" + repo + "/resolve/" + commit + "/" + strings.Join(parts, "/")
}

// locate asks the Hub (HEAD on /resolve/) where a file's bytes are and
// checks its X-Linked-Size and X-Linked-Etag against the listing. The
// answer is the CDN URL a redirect led to, or the resolve URL itself.
func (c *hubClient) locate(ctx context.Context, repo, commit string, f fileEntry) (string, error) {
	u, err := url.Parse(c.resolveURL(repo, commit, f.Path))
	if err != nil {
		panic(fmt.Sprintf("downloads: built a bad URL: %v", err))
	}
	var loc string
	err = c.retry(ctx, "locating "+f.Path, func() (bool, error) {
		for hop := 0; hop <= 10; hop++ {
			resp, err := c.do(ctx, http.MethodHead, u, nil)
			if err != nil {
				return false, err
			}
			resp.Body.Close()
			if err := checkLinked(resp.Header, f); err != nil {
				return false, err
			}
			if resp.StatusCode >= 300 && resp.StatusCode < 400 {
				next, err := u.Parse(resp.Header.Get("Location"))
				if err != nil || resp.Header.Get("Location") == "" {
					return false, permanentError{fmt.Errorf("%s redirected to an invalid address", stripQuery(u))}
				}
				if next.Scheme != "https" && !(next.Scheme == "http" && u.Scheme == "http") {
					return false, permanentError{fmt.Errorf("%s redirected to %s, which is not https", stripQuery(u), stripQuery(next))}
				}
				if !c.isHub(next) {
					loc = next.String()
					return false, nil
				}
				u = next
				continue
			}
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				return false, &statusError{Code: resp.StatusCode, Where: stripQuery(u), Wait: serverWait(resp.Header, time.Now())}
			}
			loc = u.String()
			return false, nil
		}
		return false, permanentError{fmt.Errorf("%s redirected too many times", stripQuery(u))}
	})
	return loc, err
}

// checkLinked compares the Hub's X-Linked-Size / X-Linked-Etag headers, when
// present, with the listing: a disagreement means the listing and the files
// are out of step, and no byte should be trusted.
func checkLinked(h http.Header, f fileEntry) error {
	if s := h.Get("X-Linked-Size"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err != nil || n != f.Size {
			return permanentError{fmt.Errorf("%s: the Hub says the file has %s bytes but listed %d", f.Path, s, f.Size)}
		}
	}
	if e := strings.Trim(strings.TrimPrefix(h.Get("X-Linked-Etag"), "W/"), `"`); e != "" && e != f.Etag {
		return permanentError{fmt.Errorf("%s: the Hub gives its hash as %s but listed %s", f.Path, e, f.Etag)}
	}
	return nil
}

// touchReader calls touch whenever bytes arrive.
type touchReader struct {
	r     io.Reader
	touch func()
}

func (t *touchReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.touch()
	}
	return n, err
}
