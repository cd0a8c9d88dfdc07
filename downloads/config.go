package downloads

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultEndpoint is the Hugging Face Hub.
const DefaultEndpoint = "https://huggingface.co"

// Config says where models come from and go, and how downloads behave.
// The zero value of every tuning field means its default.
type Config struct {
	// Endpoint is the Hub or a mirror (HF_ENDPOINT), without a trailing slash.
	Endpoint string
	// Token authenticates to the Hub's own host only. It is never logged
	// and never sent to the CDN the Hub redirects to.
	Token string
	// CacheDir is the Hugging Face hub cache (HF_HUB_CACHE).
	CacheDir string
	// Offline forbids network access (HF_HUB_OFFLINE): models must already
	// be in the cache.
	Offline bool
	// RootCAs replaces the system's certificate authorities (tests use
	// their own). Certificates are always verified.
	RootCAs *x509.CertPool
	// Connections is how many ranged parts of one file download at once.
	Connections int
	// PartSize is the size of the ranged parts a large file is cut into.
	PartSize int64
	// StallTimeout drops a connection that delivers no bytes for this long.
	StallTimeout time.Duration
	// Retries is how many times in a row a request may fail without any
	// progress before the download gives up.
	Retries int
	// RetryBase is the first backoff delay; it doubles on each retry.
	RetryBase time.Duration
	// MaxRetryWait caps backoff delays and server-requested waits.
	MaxRetryWait time.Duration
	// Logf, when set, receives one line per retry and restart. Lines never
	// contain the token.
	Logf func(format string, args ...any)
}

// Defaults applied by New for zero fields.
const (
	DefaultConnections  = 8
	DefaultPartSize     = 64 << 20
	DefaultStallTimeout = 30 * time.Second
	DefaultRetries      = 6
)

// ConfigFromEnv reads the Hugging Face environment: HF_ENDPOINT, HF_TOKEN
// (or the token file: $HF_TOKEN_PATH, $HF_HOME/token,
// ~/.cache/huggingface/token), HF_HUB_CACHE / HF_HOME and HF_HUB_OFFLINE,
// as huggingface_hub does.
func ConfigFromEnv() Config {
	c := Config{
		Endpoint: strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/"),
		CacheDir: defaultCacheDir(),
		Offline:  envTrue("HF_HUB_OFFLINE") || envTrue("TRANSFORMERS_OFFLINE"),
	}
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	c.Token = readToken()
	return c
}

func envTrue(name string) bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(name))) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// hfHome is $HF_HOME, else $XDG_CACHE_HOME/huggingface, else
// ~/.cache/huggingface (also on Windows, as huggingface_hub has it).
func hfHome() string {
	if h := os.Getenv("HF_HOME"); h != "" {
		return h
	}
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "huggingface")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return filepath.Join(home, ".cache", "huggingface")
}

func defaultCacheDir() string {
	for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if d := os.Getenv(v); d != "" {
			return d
		}
	}
	return filepath.Join(hfHome(), "hub")
}

// readToken returns HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN), else the
// first line of the token file that `hf auth login` writes.
func readToken() string {
	for _, v := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := strings.TrimSpace(os.Getenv(v)); t != "" {
			return t
		}
	}
	path := os.Getenv("HF_TOKEN_PATH")
	if path == "" {
		path = filepath.Join(hfHome(), "token")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	c.Endpoint = strings.TrimRight(c.Endpoint, "/")
	if c.CacheDir == "" {
		c.CacheDir = defaultCacheDir()
	}
	if c.Connections <= 0 {
		c.Connections = DefaultConnections
	}
	if c.PartSize <= 0 {
		c.PartSize = DefaultPartSize
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.Retries <= 0 {
		c.Retries = DefaultRetries
	}
	if c.RetryBase <= 0 {
		c.RetryBase = time.Second
	}
	if c.MaxRetryWait <= 0 {
		c.MaxRetryWait = 2 * time.Minute
	}
	return c
}

// newHTTPClient builds the client for Hub and CDN requests. It speaks
// HTTP/1.1 so that parallel parts really use separate connections (HTTP/2
// would multiplex them over one), verifies certificates always, and never
// follows redirects itself: the downloader follows them so that it decides
// which host sees the token.
func newHTTPClient(c Config) *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12},
		TLSNextProto:          map[string]func(string, *tls.Conn) http.RoundTripper{},
		TLSHandshakeTimeout:   c.StallTimeout,
		ResponseHeaderTimeout: c.StallTimeout,
		MaxIdleConnsPerHost:   c.Connections + 2,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// formatBytes writes n in decimal units, as disk makers and the Hub do.
func formatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("kMGTP"[exp]) + "B"
}

// FormatBytes writes a byte count for people (1.2 GB), in decimal units.
func FormatBytes(n int64) string { return formatBytes(n) }
