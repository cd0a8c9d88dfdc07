package history

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"glimpse/internal/outfile"
)

// Format is a way to export a conversation.
type Format string

// The export formats.
const (
	Markdown Format = "md"   // a .md file, images in a folder beside it
	JSON     Format = "json" // everything, images included; Import reads it back
	HTML     Format = "html" // one self-contained page, images inline
)

// ParseFormat reads a format name as people type it: md (or markdown),
// json, html (or htm).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimPrefix(s, ".")) {
	case "md", "markdown":
		return Markdown, nil
	case "json":
		return JSON, nil
	case "html", "htm":
		return HTML, nil
	}
	return "", fmt.Errorf("unknown export format %q: use md, json or html", s)
}

// exportFormat and exportVersion identify Glimpse's JSON export; Import
// refuses files of another format or of a newer version.
const (
	exportFormat  = "glimpse-conversation"
	exportVersion = 1
)

// exported is the JSON export of a conversation. IDs are left out: they
// belong to one database, and Import gives new ones.
type exported struct {
	Format   string            `json:"format"`
	Version  int               `json:"version"`
	Title    string            `json:"title"`
	Created  time.Time         `json:"created_at"`
	Updated  time.Time         `json:"updated_at"`
	Messages []exportedMessage `json:"messages"`
}

type exportedMessage struct {
	Role         Role                 `json:"role"`
	Text         string               `json:"text"`
	Model        string               `json:"model,omitempty"`
	Revision     string               `json:"revision,omitempty"`
	Settings     json.RawMessage      `json:"settings,omitempty"`
	Timings      *exportedTimings     `json:"timings,omitempty"`
	PromptTokens int                  `json:"prompt_tokens,omitempty"`
	OutputTokens int                  `json:"output_tokens,omitempty"`
	Created      time.Time            `json:"created_at"`
	Attachments  []exportedAttachment `json:"attachments,omitempty"`
}

type exportedTimings struct {
	VisionNS  int64 `json:"vision_ns"`
	PrefillNS int64 `json:"prefill_ns"`
	DecodeNS  int64 `json:"decode_ns"`
}

type exportedAttachment struct {
	Name   string `json:"name,omitempty"`
	SHA256 string `json:"sha256"`
	Data   []byte `json:"data"` // base64, as encoding/json writes []byte
}

// WriteJSON writes conversation id as JSON, images included, in the form
// Import reads.
func (s *Store) WriteJSON(ctx context.Context, id int64, w io.Writer) error {
	c, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	e := exported{Format: exportFormat, Version: exportVersion, Title: c.Title, Created: c.Created,
		Updated: c.Updated, Messages: []exportedMessage{}}
	for _, m := range c.Messages {
		em := exportedMessage{Role: m.Role, Text: m.Text, Model: m.Model, Revision: m.Revision,
			PromptTokens: m.PromptTokens, OutputTokens: m.OutputTokens, Created: m.Created}
		if string(m.Settings) != "{}" {
			em.Settings = m.Settings
		}
		if m.Timings != (Timings{}) {
			em.Timings = &exportedTimings{int64(m.Timings.Vision), int64(m.Timings.Prefill), int64(m.Timings.Decode)}
		}
		for _, a := range m.Attachments {
			data, err := readImage(a)
			if err != nil {
				return err
			}
			em.Attachments = append(em.Attachments, exportedAttachment{Name: a.Name, SHA256: a.SHA256, Data: data})
		}
		e.Messages = append(e.Messages, em)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(e)
}

// readImage reads a stored image and checks it is the one recorded.
func readImage(a Attachment) ([]byte, error) {
	data, err := os.ReadFile(a.Path)
	if err != nil {
		return nil, fmt.Errorf("image %s of this conversation is missing from the data folder: %w", a.SHA256, err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != a.SHA256 {
		return nil, fmt.Errorf("image file %s is damaged (its contents changed)", a.Path)
	}
	return data, nil
}

// maxImport bounds what Import reads: far more than any real conversation
// with its images, far less than would exhaust memory.
const maxImport = 1 << 30

// Import reads a conversation that WriteJSON wrote (from this or another
// database) and stores it as a new conversation, with its original title,
// times and images. It returns the new conversation.
func (s *Store) Import(ctx context.Context, r io.Reader) (Conversation, error) {
	var e exported
	dec := json.NewDecoder(io.LimitReader(r, maxImport))
	if err := dec.Decode(&e); err != nil {
		return Conversation{}, fmt.Errorf("not a Glimpse conversation export: %v", err)
	}
	if e.Format != exportFormat {
		return Conversation{}, fmt.Errorf("not a Glimpse conversation export (format %q)", e.Format)
	}
	if e.Version < 1 || e.Version > exportVersion {
		return Conversation{}, fmt.Errorf("this export is version %d; this Glimpse reads version %d: update Glimpse", e.Version, exportVersion)
	}
	title, err := cleanTitle(e.Title)
	if err != nil {
		return Conversation{}, err
	}
	msgs := make([]Message, len(e.Messages))
	images := make([][]preparedImage, len(e.Messages))
	for i, em := range e.Messages {
		if !em.Role.valid() {
			return Conversation{}, fmt.Errorf("message %d has role %q; expected system, user or assistant", i+1, em.Role)
		}
		m := Message{Role: em.Role, Text: em.Text, Model: em.Model, Revision: em.Revision, Settings: em.Settings,
			PromptTokens: em.PromptTokens, OutputTokens: em.OutputTokens, Created: em.Created}
		if m.Created.IsZero() {
			m.Created = e.Created
		}
		if t := em.Timings; t != nil {
			m.Timings = Timings{time.Duration(t.VisionNS), time.Duration(t.PrefillNS), time.Duration(t.DecodeNS)}
		}
		for _, a := range em.Attachments {
			if sum := sha256.Sum256(a.Data); a.SHA256 != "" && !strings.EqualFold(hex.EncodeToString(sum[:]), a.SHA256) {
				return Conversation{}, fmt.Errorf("message %d: attachment %q is damaged (its SHA-256 does not match)", i+1, a.Name)
			}
			p, err := prepareImage(Image{Name: a.Name, Data: a.Data})
			if err != nil {
				return Conversation{}, fmt.Errorf("message %d: %w", i+1, err)
			}
			images[i] = append(images[i], p)
		}
		msgs[i] = m
	}
	c := Conversation{Title: title, Created: e.Created.UTC().Truncate(time.Millisecond),
		Updated: e.Updated.UTC().Truncate(time.Millisecond)}
	if c.Created.IsZero() {
		c.Created = now()
	}
	if c.Updated.Before(c.Created) {
		c.Updated = c.Created
	}
	err = s.write(ctx, "import the conversation", func(tx *sql.Tx) error {
		if c.ID, err = insertConversation(tx, c); err != nil {
			return err
		}
		for i, m := range msgs {
			if msgs[i], err = s.insertMessage(tx, c.ID, m, images[i]); err != nil {
				return fmt.Errorf("message %d: %w", i+1, err)
			}
		}
		// insertMessage moved updated_at to the last message; the export
		// may say later (a rename after it), so keep its value.
		_, err := tx.Exec(`UPDATE conversations SET updated_at = max(updated_at, ?) WHERE id = ?`, millis(c.Updated), c.ID)
		return err
	})
	if err != nil {
		return Conversation{}, err
	}
	return s.Get(ctx, c.ID)
}

// Export writes conversation id to path in format f. For Markdown, the
// images go to a folder named after the file ("chat.md" → "chat-images")
// beside it, which the page links to.
//
// The file is written atomically, and only onto a regular file or a new
// path: a device, a named pipe, a symbolic link or a folder at path is
// refused (an error matching outfile.ErrNotFile) before anything is
// written. When the export fails, path is left as it was, and the images
// this export added (and the images folder, when it made it) are removed.
func (s *Store) Export(ctx context.Context, id int64, f Format, path string) (err error) {
	switch f {
	case JSON, HTML, Markdown:
	default:
		return fmt.Errorf("unknown export format %q: use md, json or html", f)
	}
	out, err := outfile.Create(path)
	if err != nil {
		return err
	}
	var made exportImages
	defer func() {
		if err != nil {
			out.Abort()
			made.remove()
		}
	}()
	switch f {
	case JSON:
		err = s.WriteJSON(ctx, id, out)
	case HTML:
		err = s.WriteHTML(ctx, id, out)
	case Markdown:
		err = s.writeMarkdown(ctx, id, path, out, &made)
	}
	if err != nil {
		return err
	}
	return out.Commit()
}

// exportImages is what a Markdown export added beside its file, so that a
// failed export can take it back.
type exportImages struct {
	folder string   // the images folder, when the export made it
	files  []string // image files the export made in a folder that was there
}

// remove deletes what the export added.
func (m *exportImages) remove() {
	for _, f := range m.files {
		os.Remove(f)
	}
	if m.folder != "" {
		os.RemoveAll(m.folder)
	}
}

// imagesFolder is the folder beside a Markdown export that holds its images.
func imagesFolder(mdPath string) string {
	base := filepath.Base(mdPath)
	return strings.TrimSuffix(base, filepath.Ext(base)) + "-images"
}

// writeMarkdown writes the page to w and its images into the folder
// beside path, recording in made what it added there.
func (s *Store) writeMarkdown(ctx context.Context, id int64, path string, w io.Writer, made *exportImages) error {
	c, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	folder := imagesFolder(path)
	dir := filepath.Join(filepath.Dir(path), folder)
	fmt.Fprintf(w, "# %s\n\n", markdownLine(c.Title))
	fmt.Fprintf(w, "*Started %s, last updated %s.*\n", c.Created.Format(time.RFC1123), c.Updated.Format(time.RFC1123))
	for _, m := range c.Messages {
		fmt.Fprintf(w, "\n## %s\n\n", speaker(m))
		for _, a := range m.Attachments {
			data, err := readImage(a)
			if err != nil {
				return err
			}
			name := a.SHA256[:16] + extension(a.Format)
			if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
				if err := os.Mkdir(dir, 0o755); err != nil {
					return err
				}
				made.folder = dir
			}
			file := filepath.Join(dir, name)
			_, err = os.Lstat(file)
			isNew := errors.Is(err, fs.ErrNotExist)
			if err := outfile.WriteFile(file, data); err != nil {
				return err
			}
			if isNew && made.folder == "" {
				made.files = append(made.files, file)
			}
			alt := a.Name
			if alt == "" {
				alt = "image"
			}
			link := url.PathEscape(folder) + "/" + name
			fmt.Fprintf(w, "![%s](%s)\n\n", markdownLine(alt), link)
		}
		fmt.Fprintf(w, "%s\n", strings.TrimRight(m.Text, "\n"))
		if d := details(m); d != "" {
			fmt.Fprintf(w, "\n<sub>%s</sub>\n", template.HTMLEscapeString(d))
		}
	}
	return nil
}

// markdownLine keeps text that goes in a heading or image description on
// one line and from closing the brackets around it.
func markdownLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`, `<`, `&lt;`).Replace(s)
}

// speaker names who wrote a message, with the model for answers.
func speaker(m Message) string {
	when := m.Created.Format("2006-01-02 15:04:05 MST")
	switch m.Role {
	case RoleUser:
		return "You · " + when
	case RoleSystem:
		return "System · " + when
	}
	who := "Glimpse"
	if m.Model != "" {
		who += " (" + m.Model
		if m.Revision != "" {
			who += " @ " + m.Revision
		}
		who += ")"
	}
	return who + " · " + when
}

// details describes how an answer was made, in one line; empty for
// messages that say nothing about it.
func details(m Message) string {
	var parts []string
	if m.PromptTokens > 0 {
		parts = append(parts, fmt.Sprintf("%d prompt tokens", m.PromptTokens))
	}
	if m.OutputTokens > 0 {
		parts = append(parts, fmt.Sprintf("%d tokens generated", m.OutputTokens))
	}
	if t := m.Timings; t != (Timings{}) {
		parts = append(parts, fmt.Sprintf("vision %v, prefill %v, decode %v",
			t.Vision.Round(time.Millisecond), t.Prefill.Round(time.Millisecond), t.Decode.Round(time.Millisecond)))
	}
	if len(m.Settings) > 0 && string(m.Settings) != "{}" {
		parts = append(parts, "settings "+string(m.Settings))
	}
	return strings.Join(parts, " · ")
}

// WriteHTML writes conversation id as one self-contained HTML page: images
// are inline data: URIs, all text is escaped, and the page's content
// security policy allows no scripts and no network access.
func (s *Store) WriteHTML(ctx context.Context, id int64, w io.Writer) error {
	c, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	type htmlImage struct {
		Src           template.URL
		Alt           string
		Width, Height int
	}
	type htmlMessage struct {
		Role    Role
		Speaker string
		Text    string
		Details string
		Images  []htmlImage
	}
	page := struct {
		Title            string
		Created, Updated string
		Messages         []htmlMessage
	}{Title: c.Title, Created: c.Created.Format(time.RFC1123), Updated: c.Updated.Format(time.RFC1123)}
	for _, m := range c.Messages {
		hm := htmlMessage{Role: m.Role, Speaker: speaker(m), Text: m.Text, Details: details(m)}
		for _, a := range m.Attachments {
			data, err := readImage(a)
			if err != nil {
				return err
			}
			src, err := dataURI(a.Format, data)
			if err != nil {
				return err
			}
			hm.Images = append(hm.Images, htmlImage{Src: src, Alt: a.Name, Width: a.Width, Height: a.Height})
		}
		page.Messages = append(page.Messages, hm)
	}
	return pageTemplate.Execute(w, page)
}

// dataURI embeds an image in the page. Browsers do not show TIFF, so it is
// converted to PNG.
func dataURI(format string, data []byte) (template.URL, error) {
	if format == "tiff" {
		img, err := decode(data)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return "", err
		}
		format, data = "png", buf.Bytes()
	}
	// Safe as a URL: the media type is one of ours and the rest is base64.
	return template.URL("data:" + mimeType(format) + ";base64," + base64.StdEncoding.EncodeToString(data)), nil
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Glimpse">
<title>{{.Title}}</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; background: #fff; }
header p, .details, .speaker { color: #6e6e73; font-size: 0.85rem; }
article { margin: 1.5rem 0; padding: 0.75rem 1rem; border-radius: 0.75rem; background: #f2f2f7; }
article.user { background: #e3f0ff; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
img { max-width: 100%; height: auto; border-radius: 0.5rem; display: block; margin: 0.5rem 0; }
@media (prefers-color-scheme: dark) {
  body { color: #f2f2f7; background: #1c1c1e; }
  article { background: #2c2c2e; } article.user { background: #0a3a66; }
}
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<p>Started {{.Created}}, last updated {{.Updated}}.</p>
</header>
<main>
{{- range .Messages}}
<article class="{{.Role}}">
<div class="speaker">{{.Speaker}}</div>
{{- range .Images}}
<img src="{{.Src}}" alt="{{.Alt}}" width="{{.Width}}" height="{{.Height}}">
{{- end}}
<div class="text">{{.Text}}</div>
{{- if .Details}}
<div class="details">{{.Details}}</div>
{{- end}}
</article>
{{- end}}
</main>
</body>
</html>
`))
