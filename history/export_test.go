package history

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sample saves a conversation with a bit of everything: two images (one
// used twice), text that is markup in HTML and Markdown, settings, timings
// and a rename after the answer.
func sample(t *testing.T, s *Store) (Conversation, [][]byte) {
	t.Helper()
	imgs := [][]byte{fixture(t, "shapes.png"), fixture(t, "noise.jpg")}
	c, err := s.SaveExchange(ctx, Exchange{
		Prompt: "Compare <b>these</b> & tell me: which is [brighter]?\nSecond line.",
		Images: []Image{{Name: "shapes.png", Data: imgs[0]}, {Name: "noise [1].jpg", Data: imgs[1]}},
		Answer: "The first.\n\n<script>alert('x')</script>", Model: "Salesforce/instructblip-flan-t5-xl",
		Revision: "abc123", Settings: json.RawMessage(`{"max_new_tokens":64,"top_p":0.9}`),
		Timings:      Timings{Vision: 1500 * time.Millisecond, Prefill: 250 * time.Millisecond, Decode: 4 * time.Second},
		PromptTokens: 40, OutputTokens: 9,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, c.ID, Message{Role: RoleUser, Text: "And again?"}, Image{Data: imgs[0]}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	if err := s.Rename(ctx, c.ID, `Shapes "vs" noise <3`); err != nil {
		t.Fatal(err)
	}
	c, err = s.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c, imgs
}

func TestJSONRoundTrip(t *testing.T) {
	src := openTemp(t)
	c, _ := sample(t, src)
	var first bytes.Buffer
	if err := src.WriteJSON(ctx, c.ID, &first); err != nil {
		t.Fatal(err)
	}
	// Into a different database, where the images are not stored yet, and
	// then into the same one, where they are.
	for _, dst := range []*Store{openTemp(t), src} {
		imported, err := dst.Import(ctx, bytes.NewReader(first.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if imported.ID == 0 || imported.Title != c.Title || !imported.Created.Equal(c.Created) || !imported.Updated.Equal(c.Updated) {
			t.Errorf("imported %+v, exported %+v", imported, c)
		}
		var second bytes.Buffer
		if err := dst.WriteJSON(ctx, imported.ID, &second); err != nil {
			t.Fatal(err)
		}
		if first.String() != second.String() {
			t.Errorf("export → import → export changed the JSON:\n%s\n---\n%s", first.String(), second.String())
		}
		if len(imported.Messages) != len(c.Messages) {
			t.Fatalf("%d messages imported, %d exported", len(imported.Messages), len(c.Messages))
		}
		for i, m := range imported.Messages {
			want := c.Messages[i]
			if m.Text != want.Text || m.Role != want.Role || m.Timings != want.Timings || string(m.Settings) != string(want.Settings) ||
				len(m.Attachments) != len(want.Attachments) || !m.Created.Equal(want.Created) {
				t.Errorf("message %d imported as %+v, want %+v", i, m, want)
			}
			for j, a := range m.Attachments {
				if a.SHA256 != want.Attachments[j].SHA256 || a.Name != want.Attachments[j].Name || !exists(a.Path) {
					t.Errorf("message %d attachment %d: %+v, want %+v", i, j, a, want.Attachments[j])
				}
			}
		}
	}
}

func TestImportRejectsBadFiles(t *testing.T) {
	s := openTemp(t)
	c, _ := sample(t, s)
	var buf bytes.Buffer
	if err := s.WriteJSON(ctx, c.ID, &buf); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	tamper := func(f func(e map[string]any)) string {
		var e map[string]any
		if err := json.Unmarshal([]byte(good), &e); err != nil {
			t.Fatal(err)
		}
		f(e)
		out, _ := json.Marshal(e)
		return string(out)
	}
	firstAttachment := func(e map[string]any) map[string]any {
		return e["messages"].([]any)[0].(map[string]any)["attachments"].([]any)[0].(map[string]any)
	}
	tests := []struct {
		name, file, want string
	}{
		{"not JSON", "hello", "not a Glimpse conversation export"},
		{"other JSON", `{"a":1}`, "not a Glimpse conversation export"},
		{"truncated", good[:len(good)/2], "not a Glimpse conversation export"},
		{"newer version", tamper(func(e map[string]any) { e["version"] = 99 }), "update Glimpse"},
		{"bad role", tamper(func(e map[string]any) { e["messages"].([]any)[1].(map[string]any)["role"] = "robot" }), "role"},
		{"empty title", tamper(func(e map[string]any) { e["title"] = "" }), "title"},
		{"changed image", tamper(func(e map[string]any) {
			firstAttachment(e)["data"] = base64.StdEncoding.EncodeToString(pngImage(4, 4, 9))
		}), "damaged"},
		{"image that is not one", tamper(func(e map[string]any) {
			a := firstAttachment(e)
			a["data"], a["sha256"] = base64.StdEncoding.EncodeToString([]byte("text")), ""
		}), "not a PNG"},
		{"settings not an object", tamper(func(e map[string]any) { e["messages"].([]any)[1].(map[string]any)["settings"] = 5 }), "JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Import(ctx, strings.NewReader(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if list, _ := s.Recent(ctx, 0); len(list) != 1 {
		t.Errorf("failed imports left %d conversations, want the 1 original", len(list))
	}
}

func TestExportMarkdown(t *testing.T) {
	s := openTemp(t)
	c, imgs := sample(t, s)
	out := filepath.Join(t.TempDir(), "my chat.md")
	if err := s.Export(ctx, c.ID, Markdown, out); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	text := string(md)
	for _, want := range []string{
		"# Shapes \"vs\" noise &lt;3\n",
		"## You · ",
		"## Glimpse (Salesforce/instructblip-flan-t5-xl @ abc123) · ",
		"![noise \\[1\\].jpg](my%20chat-images/",
		"Compare <b>these</b> & tell me: which is [brighter]?\nSecond line.\n",
		"40 prompt tokens · 9 tokens generated · vision 1.5s, prefill 250ms, decode 4s · settings {&#34;max_new_tokens&#34;:64,&#34;top_p&#34;:0.9}",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, text)
		}
	}
	// Every linked image is beside the file, byte for byte the original.
	links := regexp.MustCompile(`!\[[^\]]*(?:\\\][^\]]*)*\]\(my%20chat-images/([^)]+)\)`).FindAllStringSubmatch(text, -1)
	if len(links) != 3 {
		t.Fatalf("%d image links, want 3:\n%s", len(links), text)
	}
	found := map[string]bool{}
	for _, l := range links {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(out), "my chat-images", l[1]))
		if err != nil {
			t.Fatal(err)
		}
		for i, img := range imgs {
			if bytes.Equal(data, img) {
				found[string(rune('0'+i))] = true
			}
		}
	}
	if len(found) != 2 {
		t.Errorf("the linked files match %d of the 2 original images", len(found))
	}
}

func TestExportHTML(t *testing.T) {
	s := openTemp(t)
	c, imgs := sample(t, s)
	out := filepath.Join(t.TempDir(), "chat.html")
	if err := s.Export(ctx, c.ID, HTML, out); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)
	for _, want := range []string{
		"<title>Shapes &#34;vs&#34; noise &lt;3</title>",
		"Compare &lt;b&gt;these&lt;/b&gt; &amp; tell me",
		"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;",
		`alt="noise [1].jpg"`,
		`content="default-src 'none'; img-src data:;`, // no scripts, no network
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>", "<b>these", "src=\"http", "src=\"file"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// The images are inline and decode to the originals.
	srcs := regexp.MustCompile(`src="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(srcs) != 3 {
		t.Fatalf("%d images, want 3", len(srcs))
	}
	for i, src := range srcs {
		// html/template writes '+' as an entity; browsers decode it.
		u := regexp.MustCompile(`^data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)$`).FindStringSubmatch(html.UnescapeString(src[1]))
		if u == nil {
			t.Fatalf("image %d is not an inline data URI: %.60s", i, src[1])
		}
		got, err := base64.StdEncoding.DecodeString(u[2])
		if err != nil {
			t.Fatal(err)
		}
		want, mime := imgs[0], "image/png"
		if i == 1 {
			want, mime = imgs[1], "image/jpeg"
		}
		if !bytes.Equal(got, want) || u[1] != mime {
			t.Errorf("inline image %d (%s) is not the original %s", i, u[1], mime)
		}
	}
}

func TestExportErrors(t *testing.T) {
	s := openTemp(t)
	c, _ := sample(t, s)
	dir := t.TempDir()
	if err := s.Export(ctx, c.ID+1, JSON, filepath.Join(dir, "x.json")); err == nil || !strings.Contains(err.Error(), "no such conversation") {
		t.Errorf("exporting a missing conversation: %v", err)
	}
	if exists(filepath.Join(dir, "x.json")) {
		t.Error("a failed export left a file")
	}
	// A stored image that went missing is reported, not exported silently without it.
	if err := os.Remove(c.Messages[0].Attachments[0].Path); err != nil {
		t.Fatal(err)
	}
	if err := s.Export(ctx, c.ID, HTML, filepath.Join(dir, "x.html")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("exporting with a lost image: %v", err)
	}
	// Appending the same image again puts the file back.
	if _, err := s.Append(ctx, c.ID, Message{Role: RoleUser}, Image{Data: fixture(t, "shapes.png")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Export(ctx, c.ID, HTML, filepath.Join(dir, "x.html")); err != nil {
		t.Errorf("after the image was stored again: %v", err)
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
		ok   bool
	}{
		{"md", Markdown, true}, {"Markdown", Markdown, true}, {".md", Markdown, true},
		{"json", JSON, true}, {"HTML", HTML, true}, {"htm", HTML, true}, {"pdf", "", false}, {"", "", false},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseFormat(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestExportTIFFBecomesPNGInHTML(t *testing.T) {
	uri, err := dataURI("png", []byte("x"))
	if err != nil || string(uri) != "data:image/png;base64,eA==" {
		t.Errorf("png data URI %q, %v", uri, err)
	}
	if _, err := dataURI("tiff", []byte("not a tiff")); err == nil {
		t.Error("a broken TIFF was embedded")
	}
}
