package downloads

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// fileEntry is one file of a model as the Hub lists it.
type fileEntry struct {
	// Path is the file's path in the repository, slash-separated.
	Path string `json:"path"`
	// Size is the file's size in bytes.
	Size int64 `json:"size"`
	// Etag names the blob: the SHA-256 of an LFS file, else the git blob
	// SHA-1. It is also the blob's file name in the cache.
	Etag string `json:"etag"`
	// LFS says which hash Etag is.
	LFS bool `json:"lfs"`
	// Verified records the blob's size and modification time when it was
	// last hashed, so that Path can skip hashing unchanged files.
	Verified *stamp `json:"verified,omitempty"`
}

// stamp identifies a version of a file on disk cheaply.
type stamp struct {
	Size    int64 `json:"size"`
	ModNano int64 `json:"mod_unix_nano"`
}

// treeEntry is one entry of the Hub's tree listing.
type treeEntry struct {
	Type string `json:"type"`
	Path string `json:"path"`
	Size int64  `json:"size"`
	Oid  string `json:"oid"`
	LFS  *struct {
		Oid  string `json:"oid"`
		Size int64  `json:"size"`
	} `json:"lfs"`
}

// neededNames are the files a model needs besides its weights, at the top
// of the repository and inside qformer_tokenizer/.
var neededNames = map[string]bool{
	"config.json":                  true,
	"generation_config.json":       true,
	"preprocessor_config.json":     true,
	"processor_config.json":        true,
	"tokenizer.json":               true,
	"tokenizer_config.json":        true,
	"special_tokens_map.json":      true,
	"added_tokens.json":            true,
	"chat_template.json":           true,
	"chat_template.jinja":          true,
	"tokenizer.model":              true,
	"spiece.model":                 true,
	"vocab.txt":                    true,
	"vocab.json":                   true,
	"merges.txt":                   true,
	"model.safetensors.index.json": true,
}

// shardRe matches the safetensors weights transformers writes.
var shardRe = regexp.MustCompile(`^model(-[0-9]{5}-of-[0-9]{5})?\.safetensors$`)

var (
	sha1Re   = regexp.MustCompile(`^[0-9a-f]{40}$`)
	sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// needed says whether a repository file belongs to what Glimpse loads.
// Pickled weights (.bin, .pt, .ckpt) never do: unpickling can run code.
func needed(p string) bool {
	dir, name := path.Split(p)
	switch dir {
	case "":
		return neededNames[name] || shardRe.MatchString(name)
	case "qformer_tokenizer/":
		return neededNames[name] && name != "model.safetensors.index.json"
	}
	return false
}

// checkRepoPath refuses a file name from the Hub that would not stay inside
// the model's folder: empty, absolute, with a drive letter, `..` or `.`
// parts, backslashes, NUL or other control characters, or a colon (Windows
// alternate data streams).
func checkRepoPath(p string) error {
	bad := func(why string) error {
		return fmt.Errorf("refusing file name %q from the Hub: %s", p, why)
	}
	switch {
	case p == "" || len(p) > 1024:
		return bad("empty or too long")
	case strings.HasPrefix(p, "/"):
		return bad("absolute path")
	case strings.ContainsAny(p, `\:`):
		return bad("backslash or colon")
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return bad("control character")
		}
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return bad("empty, . or .. path element")
		}
	}
	return nil
}

// selectFiles checks a whole tree listing and picks what Glimpse needs. One
// unsafe name anywhere refuses the listing: a Hub or mirror that sends one
// is not to be trusted with the rest either.
func selectFiles(entries []treeEntry) ([]fileEntry, error) {
	seen := map[string]bool{}
	var out []fileEntry
	for _, e := range entries {
		if err := checkRepoPath(e.Path); err != nil {
			return nil, err
		}
		if seen[e.Path] {
			return nil, fmt.Errorf("the Hub listed %q twice", e.Path)
		}
		seen[e.Path] = true
		if e.Type != "file" || !needed(e.Path) {
			continue
		}
		f := fileEntry{Path: e.Path, Size: e.Size, Etag: e.Oid}
		if e.LFS != nil {
			f.LFS, f.Etag, f.Size = true, e.LFS.Oid, e.LFS.Size
		}
		switch {
		case f.LFS && !sha256Re.MatchString(f.Etag), !f.LFS && !sha1Re.MatchString(f.Etag):
			return nil, fmt.Errorf("the Hub listed %q with a malformed hash %q", e.Path, f.Etag)
		case f.Size < 0 || f.Size > 1<<40:
			return nil, fmt.Errorf("the Hub listed %q with an impossible size %d", e.Path, f.Size)
		}
		out = append(out, f)
	}
	var hasConfig, hasWeights bool
	for _, f := range out {
		hasConfig = hasConfig || f.Path == "config.json"
		hasWeights = hasWeights || shardRe.MatchString(f.Path)
	}
	if !hasConfig || !hasWeights {
		return nil, fmt.Errorf("this revision has no config.json or no safetensors weights (only pickled .bin weights, which Glimpse does not load)")
	}
	return out, nil
}
