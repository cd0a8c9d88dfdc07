package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Key says what a store file was converted from: the model folder, the
// precision, and a hash of each of the folder's weight files. A file whose
// key differs from the folder's key now is stale.
//
// How a weight file is hashed, and what it costs:
//   - In a Hugging Face cache snapshot, a weight file is a link to
//     blobs/SHA256, the Hub's own SHA-256 of the whole file (its LFS etag,
//     which the model manager verified while downloading). The key takes it
//     from the link: free, and it changes with any byte of the file.
//   - Anywhere else, hashing 16 GB of shards would cost more than a load
//     from the store saves, so the key takes the SHA-256 of the file's
//     safetensors header (its tensor names, dtypes, shapes and offsets)
//     together with its size: a few megabytes read. A shard rewritten with
//     other values at the same names, shapes and size (fine-tuned weights
//     saved over the old ones) goes unnoticed; delete the converted copy
//     (glimpse models rm, or the file) after such an edit. Other files
//     (model.safetensors.index.json) are small and hashed whole.
type Key struct {
	Folder    string     `json:"folder"`    // absolute path of the model folder
	Precision string     `json:"precision"` // the weight matrices' dtype or precision mix: "f16", "q8", …
	Files     []FileHash `json:"files"`     // sorted by name
}

// FileHash is one weight file in a Key.
type FileHash struct {
	Name string `json:"name"` // relative to the folder
	Size int64  `json:"size"`
	// Hash is "sha256:HEX" of the whole file ("hub": from the cache's blob
	// name, or "content": read) or of its safetensors header and size
	// ("header").
	Hash string `json:"hash"`
	Of   string `json:"of"` // "hub", "content" or "header"
}

// NewKey computes the key of the model folder dir converted to precision
// (a dtype's name, or the name of a policy that picks one per tensor), from its weight files (paths inside dir: the shards and, when there is
// one, the index).
func NewKey(dir, precision string, files []string) (Key, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Key{}, err
	}
	k := Key{Folder: abs, Precision: precision}
	for _, f := range files {
		h, err := hashFile(f)
		if err != nil {
			return Key{}, err
		}
		h.Name = filepath.Base(f)
		if rel, err := filepath.Rel(dir, f); err == nil {
			h.Name = filepath.ToSlash(rel)
		}
		k.Files = append(k.Files, h)
	}
	slices.SortFunc(k.Files, func(a, b FileHash) int { return strings.Compare(a.Name, b.Name) })
	return k, nil
}

// hashFile hashes one weight file as the Key's comment says.
func hashFile(path string) (FileHash, error) {
	st, err := os.Stat(path)
	if err != nil {
		return FileHash{}, err
	}
	h := FileHash{Size: st.Size()}
	if target, err := filepath.EvalSymlinks(path); err == nil && filepath.Base(filepath.Dir(target)) == "blobs" && isSHA256(filepath.Base(target)) {
		h.Hash, h.Of = "sha256:"+filepath.Base(target), "hub"
		return h, nil
	}
	fh, err := os.Open(path)
	if err != nil {
		return FileHash{}, err
	}
	defer fh.Close()
	sum := sha256.New()
	if strings.HasSuffix(path, ".safetensors") {
		// The first 8 bytes give the header's length; a file too short or
		// claiming more than it has is hashed as far as it goes, and the
		// safetensors reader refuses it when the weights are read.
		var n [8]byte
		if _, err := io.ReadFull(fh, n[:]); err == nil {
			hl := int64(binary.LittleEndian.Uint64(n[:]))
			binary.Write(sum, binary.LittleEndian, h.Size)
			sum.Write(n[:])
			if hl < 0 || hl > st.Size()-8 {
				hl = 0
			}
			if _, err := io.CopyN(sum, fh, hl); err != nil {
				return FileHash{}, err
			}
			h.Hash, h.Of = "sha256:"+hex.EncodeToString(sum.Sum(nil)), "header"
			return h, nil
		}
		fh.Seek(0, io.SeekStart)
	}
	if _, err := io.Copy(sum, fh); err != nil {
		return FileHash{}, err
	}
	h.Hash, h.Of = "sha256:"+hex.EncodeToString(sum.Sum(nil)), "content"
	return h, nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// differs says in words how k differs from want, or "" when they match.
func (k Key) differs(want Key) string {
	switch {
	case k.Folder != want.Folder:
		return fmt.Sprintf("it was converted from %s, not %s", k.Folder, want.Folder)
	case k.Precision != want.Precision:
		return fmt.Sprintf("it holds %s weights, not %s", k.Precision, want.Precision)
	case len(k.Files) != len(want.Files):
		return fmt.Sprintf("it was converted from %d weight files, the folder has %d", len(k.Files), len(want.Files))
	}
	for i := range k.Files {
		if k.Files[i] != want.Files[i] {
			return fmt.Sprintf("%s changed since it was converted", want.Files[i].Name)
		}
	}
	return ""
}
