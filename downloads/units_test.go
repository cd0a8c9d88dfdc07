package downloads

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"glimpse/checkpoint/synthetic"
	"glimpse/model"
)

func TestParseName(t *testing.T) {
	cases := []struct {
		in      string
		want    Ref
		wantErr bool
	}{
		{in: "instructblip-vicuna-7b", want: Ref{"Salesforce/instructblip-vicuna-7b", "92cb457daed1ceefd6fd7f53294ee42085575cdc"}},
		{in: "Salesforce/instructblip-flan-t5-xl", want: Ref{"Salesforce/instructblip-flan-t5-xl", "6c0cf6bef6330a114473cb5cec43d7beeb2a74ac"}},
		{in: "instructblip-vicuna-13b@refs/pr/3", want: Ref{"Salesforce/instructblip-vicuna-13b", "refs/pr/3"}},
		{in: "someone/my-instructblip", want: Ref{"someone/my-instructblip", "main"}},
		{in: "someone/my_model.v2@v1.0", want: Ref{"someone/my_model.v2", "v1.0"}},
		{in: "a/b@0123456789abcdef0123456789abcdef01234567", want: Ref{"a/b", "0123456789abcdef0123456789abcdef01234567"}},
		{in: "vicuna", wantErr: true},
		{in: "a/b/c", wantErr: true},
		{in: "../b", wantErr: true},
		{in: "a/..", wantErr: true},
		{in: "a/b@../../etc", wantErr: true},
		{in: "a/b@", wantErr: true},
		{in: `a/b@x\y`, wantErr: true},
		{in: "a/b@main\x00", wantErr: true},
		{in: "/b", wantErr: true},
	}
	for _, tc := range cases {
		got, err := ParseName(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Errorf("ParseName(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestCatalogue(t *testing.T) {
	cat := Catalogue()
	if len(cat) != 4 {
		t.Fatalf("catalogue has %d models, want the 4 Salesforce InstructBLIP checkpoints", len(cat))
	}
	for i, m := range cat {
		if !commitRe.MatchString(m.Revision) && m.Revision != "main" {
			t.Errorf("%s: revision %q is neither a commit nor main", m.Name, m.Revision)
		}
		if i > 0 && m.Download < cat[i-1].Download {
			t.Errorf("catalogue not ordered by download size at %s", m.Name)
		}
		if len(m.Requirements) != 4 || m.License == "" || m.Description == "" || m.Params == 0 {
			t.Errorf("%s: incomplete entry %+v", m.Name, m)
		}
		// Each smaller precision needs less GPU memory; disk is the download.
		for j, r := range m.Requirements {
			if r.Disk != m.Download || (j > 0 && r.GPU >= m.Requirements[j-1].GPU) {
				t.Errorf("%s %s: disk %d, GPU %d", m.Name, r.Precision, r.Disk, r.GPU)
			}
		}
		if got, ok := Lookup(m.Repo); !ok || got.Name != m.Name {
			t.Errorf("Lookup(%q) = %v, %v", m.Repo, got.Name, ok)
		}
	}
	// fp16 weights of the 7B model are about 15.8 GB (checkpoints.md).
	m, _ := Lookup("instructblip-vicuna-7b")
	if fp16 := m.Requirements[1].Weights; fp16 < 15_800_000_000 || fp16 > 15_900_000_000 {
		t.Errorf("vicuna-7b fp16 weights %d, want about 15.8 GB", fp16)
	}
}

// TestCatalogueUsesLoaderNumbers checks that every catalogue model's
// memory column is the loader's: the weights model.Plan counts for its real
// config and tensors (the count model's tests check by hand and against
// loaded models), and with them one request of the seed settings.
func TestCatalogueUsesLoaderNumbers(t *testing.T) {
	for _, m := range Catalogue() {
		opt := synthetic.Options{Model: m.Name}
		cfg, err := synthetic.Config(opt)
		if err != nil {
			t.Fatal(err)
		}
		tensors, err := synthetic.Plan(opt)
		if err != nil {
			t.Fatal(err)
		}
		var shapes []model.TensorShape
		for _, x := range tensors {
			shapes = append(shapes, model.TensorShape{Name: x.Name, Shape: x.Shape})
		}
		plan, err := model.NewPlan(cfg, shapes)
		if err != nil {
			t.Fatal(err)
		}
		want := map[Precision]model.Precision{FP32: model.FP32, FP16: model.FP16, Q8: model.Q8, Q4: model.Q4}
		for _, r := range m.Requirements {
			p, ok := want[r.Precision]
			if !ok {
				t.Errorf("%s: precision %q is none the loader knows", m.Name, r.Precision)
				continue
			}
			delete(want, r.Precision)
			w := plan.WeightBytes(p)
			if r.Weights != w || r.GPU != w+plan.RequestBytes(p, plan.SizingRequest()) {
				t.Errorf("%s %s: weights %d, memory %d; the loader's are %d and %d", m.Name, p, r.Weights, r.GPU, w, plan.Need(p))
			}
		}
		if len(want) > 0 {
			t.Errorf("%s: no requirement for %v", m.Name, want)
		}
	}
}

func TestCheckRepoPath(t *testing.T) {
	cases := map[string]bool{
		"config.json":                     true,
		"qformer_tokenizer/vocab.txt":     true,
		"a/b/c.json":                      true,
		"":                                false,
		"/etc/passwd":                     false,
		"../x":                            false,
		"a/../../x":                       false,
		"a/./x":                           false,
		"a//x":                            false,
		`a\x`:                             false,
		"C:/x":                            false,
		"x\x00y":                          false,
		"x\ny":                            false,
		"qformer_tokenizer/":              false,
		strings.Repeat("a", 2000) + ".js": false,
	}
	for p, ok := range cases {
		if err := checkRepoPath(p); (err == nil) != ok {
			t.Errorf("checkRepoPath(%q) = %v, want ok %v", p, err, ok)
		}
	}
}

func TestNeeded(t *testing.T) {
	cases := map[string]bool{
		"config.json":                      true,
		"model.safetensors.index.json":     true,
		"model-00001-of-00004.safetensors": true,
		"model.safetensors":                true,
		"tokenizer.model":                  true,
		"spiece.model":                     true,
		"qformer_tokenizer/vocab.txt":      true,
		"qformer_tokenizer/tokenizer.json": true,
		"pytorch_model-00001-of-00004.bin": false,
		"pytorch_model.bin.index.json":     false,
		"qformer_tokenizer/model.bin":      false,
		"golden.safetensors":               false,
		"golden.json":                      false,
		"README.md":                        false,
		"sub/config.json":                  false,
		"model.ckpt":                       false,
	}
	for p, want := range cases {
		if got := needed(p); got != want {
			t.Errorf("needed(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestServerWait(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second},
		{http.Header{"Ratelimit": {`"api";r=0;t=42`}}, 42 * time.Second},
		{http.Header{"Ratelimit-Reset": {"13"}}, 13 * time.Second},
		{http.Header{"Retry-After": {"3"}, "Ratelimit": {`"api";r=0;t=42`}}, 3 * time.Second},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{}, 0},
	}
	for _, tc := range cases {
		if got := serverWait(tc.h, now); got != tc.want {
			t.Errorf("serverWait(%v) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestCheckContentRange(t *testing.T) {
	cases := []struct {
		cr          string
		first, last int64
		ok          bool
	}{
		{"bytes 0-99/1000", 0, 99, true},
		{"bytes 100-199/1000", 100, 199, true},
		{"bytes 100-150/1000", 100, 199, true}, // short is allowed; the rest is asked for again
		{"bytes 0-99/1000", 100, 199, false},
		{"bytes 100-299/1000", 100, 199, false},
		{"bytes 100-199/*", 100, 199, true},
		{"bytes 100-199/999", 100, 199, false},
		{"", 0, 99, false},
		{"bytes x-y/1000", 0, 99, false},
	}
	for _, tc := range cases {
		if err := checkContentRange(tc.cr, tc.first, tc.last, 1000); (err == nil) != tc.ok {
			t.Errorf("checkContentRange(%q, %d, %d) = %v, want ok %v", tc.cr, tc.first, tc.last, err, tc.ok)
		}
	}
}

func TestPartState(t *testing.T) {
	f := fileEntry{Path: "w.safetensors", Size: 1000, Etag: strings.Repeat("a", 64), LFS: true}
	s := newPartState(f, 300)
	if len(s.Parts) != 4 || s.Parts[3].End != 1000 {
		t.Fatalf("parts %+v", s.Parts)
	}
	if z := newPartState(fileEntry{Size: 0}, 300); len(z.Parts) != 1 || !z.Parts[0].finished() {
		t.Errorf("empty file parts %+v", z.Parts)
	}
	s.Parts[0].Done, s.Parts[1].Done = 300, 120
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	b := []byte(`{"etag":"` + f.Etag + `","size":1000,"parts":[{"start":0,"end":300,"done":300},{"start":300,"end":600,"done":120},{"start":600,"end":900,"done":0},{"start":900,"end":1000,"done":0}]}`)
	os.WriteFile(p, b, 0o644)
	cases := []struct {
		name     string
		dataSize int64
		f        fileEntry
		want     int64 // done bytes; -1 for rejected
	}{
		{"backed by data", 420, f, 420},
		{"data shorter than claimed", 350, f, 350},
		{"no data", 0, f, 0},
		{"other file", 420, fileEntry{Size: 1000, Etag: strings.Repeat("b", 64)}, -1},
		{"other size", 420, fileEntry{Size: 999, Etag: f.Etag}, -1},
	}
	for _, tc := range cases {
		got := loadPartState(p, tc.f, tc.dataSize)
		switch {
		case tc.want < 0 && got != nil:
			t.Errorf("%s: accepted %+v", tc.name, got)
		case tc.want >= 0 && (got == nil || got.done() != tc.want):
			t.Errorf("%s: got %+v, want %d done", tc.name, got, tc.want)
		}
	}
	os.WriteFile(p, []byte(`{"etag":"`+f.Etag+`","size":1000,"parts":[{"start":0,"end":600,"done":0},{"start":500,"end":1000,"done":0}]}`), 0o644)
	if got := loadPartState(p, f, 0); got != nil {
		t.Errorf("overlapping parts accepted: %+v", got)
	}
}

func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	data := []byte("hello glimpse\n")
	p := filepath.Join(dir, "f")
	os.WriteFile(p, data, 0o644)
	sum := sha256.Sum256(data)
	cases := []struct {
		name string
		f    fileEntry
		what string // "" for success
	}{
		// git hash-object of "hello glimpse\n".
		{"git sha1", fileEntry{Path: "a.json", Size: 14, Etag: gitSHA1(data)}, ""},
		{"sha256", fileEntry{Path: "a.safetensors", Size: 14, Etag: hex.EncodeToString(sum[:]), LFS: true}, ""},
		{"wrong size", fileEntry{Path: "a.json", Size: 15, Etag: gitSHA1(data)}, "size"},
		{"wrong sha256", fileEntry{Path: "a.safetensors", Size: 14, Etag: strings.Repeat("0", 64), LFS: true}, "SHA-256"},
		{"wrong sha1", fileEntry{Path: "a.json", Size: 14, Etag: strings.Repeat("0", 40)}, "git SHA-1"},
	}
	for _, tc := range cases {
		err := checkFile(t.Context(), p, tc.f, nil)
		ve, _ := err.(*VerifyError)
		switch {
		case tc.what == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.what != "" && (ve == nil || ve.What != tc.what || ve.Path != tc.f.Path):
			t.Errorf("%s: err = %v, want a %s mismatch naming %s", tc.name, err, tc.what, tc.f.Path)
		}
	}
}

func gitSHA1(data []byte) string {
	h := gitBlobHash(int64(len(data)))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func TestConfigFromEnv(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, "token"), []byte("hf_fromfile\n"), 0o600)
	cases := []struct {
		name string
		env  map[string]string
		want Config
	}{
		{"defaults", map[string]string{"HF_HOME": home},
			Config{Endpoint: DefaultEndpoint, CacheDir: filepath.Join(home, "hub"), Token: "hf_fromfile"}},
		{"everything set", map[string]string{"HF_HOME": home, "HF_HUB_CACHE": "/c", "HF_ENDPOINT": "https://mirror.example/", "HF_TOKEN": "hf_env", "HF_HUB_OFFLINE": "1"},
			Config{Endpoint: "https://mirror.example", CacheDir: "/c", Token: "hf_env", Offline: true}},
		{"token path", map[string]string{"HF_HOME": "/nonexistent", "HF_TOKEN_PATH": filepath.Join(home, "token")},
			Config{Endpoint: DefaultEndpoint, CacheDir: "/nonexistent/hub", Token: "hf_fromfile"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []string{"HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "XDG_CACHE_HOME"} {
				t.Setenv(v, tc.env[v])
			}
			got := ConfigFromEnv()
			if got.Endpoint != tc.want.Endpoint || got.CacheDir != tc.want.CacheDir || got.Token != tc.want.Token || got.Offline != tc.want.Offline {
				t.Errorf("ConfigFromEnv() = endpoint %q cache %q token? %v offline %v; want %q %q %v %v",
					got.Endpoint, got.CacheDir, got.Token == tc.want.Token, got.Offline, tc.want.Endpoint, tc.want.CacheDir, true, tc.want.Offline)
			}
		})
	}
}

func TestRedirectPolicy(t *testing.T) {
	// A CDN that records whether it saw a token.
	var cdnAuth []string
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cdnAuth = append(cdnAuth, r.Header.Get("Authorization"))
		w.Write([]byte("ok"))
	}))
	defer cdn.Close()
	cdnOther := strings.Replace(cdn.URL, "127.0.0.1", "localhost", 1)
	hub := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/downgrade":
			http.Redirect(w, r, "http://"+r.Host+"/x", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/renamed":
			// The Hub redirects renamed repos on its own host, relatively.
			http.Redirect(w, r, "/to-cdn?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
		case "/to-cdn":
			if r.Header.Get("Authorization") == "" {
				t.Errorf("the token was dropped on a redirect within the Hub")
			}
			http.Redirect(w, r, r.URL.Query().Get("cdn")+"/file", http.StatusFound)
		}
	}))
	defer hub.Close()
	pool := x509.NewCertPool()
	pool.AddCert(hub.Certificate())
	c, err := newHubClient(Config{Endpoint: hub.URL, Token: "hf_secret", RootCAs: pool}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path    string
		wantErr string
	}{
		{"/downgrade", "not https"},
		{"/loop", "too many times"},
		{"/renamed?cdn=" + url.QueryEscape(cdnOther), "not https"}, // the http CDN is a downgrade from the https Hub
	}
	for _, tc := range cases {
		resp, err := c.send(t.Context(), http.MethodGet, hub.URL+tc.path, nil)
		if err == nil {
			resp.Body.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want %q", tc.path, err, tc.wantErr)
		}
	}
	// Over plain http (a local mirror), the CDN on another host gets no token.
	plain := httptest.NewServer(hub.Config.Handler)
	defer plain.Close()
	c, _ = newHubClient(Config{Endpoint: plain.URL, Token: "hf_secret"}.withDefaults())
	resp, err := c.send(t.Context(), http.MethodGet, plain.URL+"/renamed?cdn="+url.QueryEscape(cdnOther), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(cdnAuth) != 1 || cdnAuth[0] != "" {
		t.Errorf("the CDN saw %d requests, with Authorization headers %v", len(cdnAuth), cdnAuth != nil && cdnAuth[0] != "")
	}
}
