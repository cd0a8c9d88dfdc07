package downloads

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// cache is the Hugging Face hub cache folder:
//
//	models--ORG--NAME/blobs/ETAG                the files, named by hash
//	models--ORG--NAME/snapshots/COMMIT/PATH     relative symlinks to blobs
//	models--ORG--NAME/refs/REVISION             the commit a branch or tag was at
//	models--ORG--NAME/.glimpse/COMMIT.json      Glimpse's manifest (file list, hashes)
//	.locks/models--ORG--NAME/ETAG.lock          per-blob lock, shared with huggingface_hub
//
// Partial downloads live beside the blobs as ETAG.glimpse.incomplete with
// their part state in ETAG.glimpse.parts. They are named apart from
// huggingface_hub's ETAG.incomplete because that tool resumes from the end of
// the file, which would be wrong for a file written in parallel parts.
type cache struct{ dir string }

func repoFolder(repo string) string { return "models--" + strings.ReplaceAll(repo, "/", "--") }

func (c cache) repoDir(repo string) string { return filepath.Join(c.dir, repoFolder(repo)) }

func (c cache) blobPath(repo, etag string) string {
	return filepath.Join(c.repoDir(repo), "blobs", etag)
}

func (c cache) partialPath(repo, etag string) string {
	return c.blobPath(repo, etag) + ".glimpse.incomplete"
}

func (c cache) statePath(repo, etag string) string {
	return c.blobPath(repo, etag) + ".glimpse.parts"
}

func (c cache) lockPath(repo, etag string) string {
	return filepath.Join(c.dir, ".locks", repoFolder(repo), etag+".lock")
}

func (c cache) snapshotDir(repo, commit string) string {
	return filepath.Join(c.repoDir(repo), "snapshots", commit)
}

func (c cache) snapshotPath(repo, commit, p string) string {
	return filepath.Join(c.snapshotDir(repo, commit), filepath.FromSlash(p))
}

func (c cache) manifestPath(repo, commit string) string {
	return filepath.Join(c.repoDir(repo), ".glimpse", commit+".json")
}

// commitFor returns the commit a revision points at locally: the revision
// itself when it is a commit, else the content of refs/REVISION.
func (c cache) commitFor(ref Ref) (string, error) {
	if commitRe.MatchString(ref.Revision) {
		return ref.Revision, nil
	}
	b, err := os.ReadFile(filepath.Join(c.repoDir(ref.Repo), "refs", filepath.FromSlash(ref.Revision)))
	if err != nil {
		return "", err
	}
	commit := strings.TrimSpace(string(b))
	if !commitRe.MatchString(commit) {
		return "", fmt.Errorf("the cache's refs/%s for %s holds %q, not a commit", ref.Revision, ref.Repo, commit)
	}
	return commit, nil
}

// writeRef records which commit a branch or tag name was at, as
// huggingface_hub does, so that transformers finds the snapshot offline.
func (c cache) writeRef(ref Ref, commit string) error {
	if ref.Revision == commit {
		return nil
	}
	p := filepath.Join(c.repoDir(ref.Repo), "refs", filepath.FromSlash(ref.Revision))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(p, []byte(commit))
}

// manifest is Glimpse's record of a snapshot: its files and hashes as the
// Hub listed them, and whether all of them were verified.
type manifest struct {
	Repo     string      `json:"repo"`
	Revision string      `json:"revision"`
	Commit   string      `json:"commit"`
	Complete bool        `json:"complete"`
	Files    []fileEntry `json:"files"`
}

func (c cache) readManifest(repo, commit string) (*manifest, error) {
	b, err := os.ReadFile(c.manifestPath(repo, commit))
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("Glimpse's record of %s is damaged (%v); pull the model again", repo, err)
	}
	for _, f := range m.Files {
		if checkRepoPath(f.Path) != nil || !(sha1Re.MatchString(f.Etag) || sha256Re.MatchString(f.Etag)) {
			return nil, fmt.Errorf("Glimpse's record of %s names an unsafe file %q; pull the model again", repo, f.Path)
		}
	}
	return &m, nil
}

func (c cache) writeManifest(m *manifest) error {
	p := c.manifestPath(m.Repo, m.Commit)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("downloads: manifest does not encode: %v", err))
	}
	return writeFileAtomic(p, b)
}

// link makes snapshots/COMMIT/PATH point at the blob with a relative
// symlink, as huggingface_hub does. Where symlinks are not allowed
// (Windows without developer mode) it makes a hard link, else a copy.
func (c cache) link(repo, commit string, f fileEntry) error {
	dst := c.snapshotPath(repo, commit, f.Path)
	blob := c.blobPath(repo, f.Etag)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(dst), blob)
	if err != nil {
		return err
	}
	if cur, err := os.Readlink(dst); err == nil && cur == rel {
		return nil
	}
	if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Symlink(rel, dst); err == nil {
		return nil
	}
	if err := os.Link(blob, dst); err == nil {
		return nil
	}
	return copyFile(blob, dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".glimpse.tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// writeFileAtomic replaces a small file so that a crash leaves either the
// old or the new content, never a torn one.
func writeFileAtomic(p string, data []byte) error {
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// snapshotFiles lists the files of a snapshot that Glimpse needs, taking
// the hashes from the blob names the symlinks point at. It serves models
// that transformers downloaded, for which there is no manifest.
func (c cache) snapshotFiles(repo, commit string) ([]fileEntry, error) {
	root := c.snapshotDir(repo, commit)
	var out []fileEntry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if !needed(rel) {
			return nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return fmt.Errorf("%s is not a link into the cache's blobs, so it cannot be checked", rel)
		}
		etag := filepath.Base(target)
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		switch {
		case sha256Re.MatchString(etag):
			out = append(out, fileEntry{Path: rel, Size: fi.Size(), Etag: etag, LFS: true})
		case sha1Re.MatchString(etag):
			out = append(out, fileEntry{Path: rel, Size: fi.Size(), Etag: etag})
		default:
			return fmt.Errorf("%s links to %q, which is not a blob named by its hash", rel, target)
		}
		return nil
	})
	return out, err
}

// stampOf returns the size and modification time of the file p resolves to.
func stampOf(p string) (stamp, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return stamp{}, err
	}
	return stamp{Size: fi.Size(), ModNano: fi.ModTime().UnixNano()}, nil
}
