package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The file names Hugging Face uses for a model's weights.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// ErrNoWeights is returned by OpenDir when a folder has neither
// model.safetensors nor model.safetensors.index.json.
var ErrNoWeights = errors.New("no safetensors weights found")

// Set is the weights of one model, possibly sharded over several files.
// Each shard is opened (mapped) once.
type Set struct {
	dir    string
	files  []*File          // one per shard, in index order
	byName map[string]*File // tensor name → the shard holding it
	names  []string         // sorted
	Meta   map[string]any   // the index's "metadata" (nil for a single file)
}

// index is model.safetensors.index.json.
type index struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// OpenDir opens the weights in a model folder: model.safetensors.index.json
// when present (its weight_map names each tensor's shard), else
// model.safetensors.
func OpenDir(dir string) (*Set, error) {
	idxPath := filepath.Join(dir, IndexFileName)
	js, err := os.ReadFile(idxPath)
	switch {
	case err == nil:
		return openIndex(dir, idxPath, js)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	single := filepath.Join(dir, SingleFileName)
	f, err := Open(single)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s: it needs %s or %s", ErrNoWeights, dir, SingleFileName, IndexFileName)
	}
	if err != nil {
		return nil, err
	}
	s := &Set{dir: dir, files: []*File{f}, byName: map[string]*File{}, names: f.Names()}
	for _, n := range s.names {
		s.byName[n] = f
	}
	return s, nil
}

func openIndex(dir, idxPath string, js []byte) (*Set, error) {
	var idx index
	if err := json.Unmarshal(js, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", idxPath, ErrInvalid, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: %w: weight_map is empty", idxPath, ErrInvalid)
	}
	s := &Set{dir: dir, byName: make(map[string]*File, len(idx.WeightMap)), Meta: idx.Metadata}
	for name := range idx.WeightMap {
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
	shards := map[string]*File{}
	for _, name := range s.names {
		shard := idx.WeightMap[name]
		f, ok := shards[shard]
		if !ok {
			// Shards are plain file names beside the index; refuse anything
			// that would reach outside the model folder.
			if shard == "" || shard != filepath.Base(shard) || strings.ContainsAny(shard, `/\`) || shard == ".." {
				s.Close()
				return nil, fmt.Errorf("%s: %w: shard name %q for %q is not a file name", idxPath, ErrInvalid, shard, name)
			}
			var err error
			f, err = Open(filepath.Join(dir, shard))
			if err != nil {
				s.Close()
				if errors.Is(err, fs.ErrNotExist) {
					return nil, fmt.Errorf("model folder %s is incomplete: shard %s listed in %s is missing", dir, shard, IndexFileName)
				}
				return nil, err
			}
			shards[shard] = f
			s.files = append(s.files, f)
		}
		if _, ok := f.Info(name); !ok {
			s.Close()
			return nil, fmt.Errorf("%s: %w: %s lists %q in %s, which does not hold it", dir, ErrInvalid, IndexFileName, name, shard)
		}
		s.byName[name] = f
	}
	return s, nil
}

// Dir returns the folder the set was opened from.
func (s *Set) Dir() string { return s.dir }

// Files returns the open shards.
func (s *Set) Files() []*File { return append([]*File(nil), s.files...) }

// Names returns every tensor name, sorted.
func (s *Set) Names() []string { return append([]string(nil), s.names...) }

// Info describes the named tensor.
func (s *Set) Info(name string) (TensorInfo, bool) {
	f, ok := s.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

// Raw returns the tensor's bytes; see File.Raw.
func (s *Set) Raw(name string) ([]byte, error) {
	f, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q in the model's weights", s.dir, name)
	}
	return f.Raw(name)
}

// Float32 returns the tensor converted to float32; see File.Float32.
func (s *Set) Float32(name string) ([]float32, error) {
	return s.ReadFloat32(name, nil)
}

// ReadFloat32 is Float32 into dst's memory when it is large enough (see
// File.ReadFloat32).
func (s *Set) ReadFloat32(name string, dst []float32) ([]float32, error) {
	f, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q in the model's weights", s.dir, name)
	}
	return f.ReadFloat32(name, dst)
}

// ReadFloat32Evict is ReadFloat32 letting the tensor's mapped pages go as
// the copy advances (see File.ReadFloat32Evict).
func (s *Set) ReadFloat32Evict(name string, dst []float32) ([]float32, error) {
	f, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q in the model's weights", s.dir, name)
	}
	return f.ReadFloat32Evict(name, dst)
}

// Evict lets the pages of a tensor that was read leave memory (see
// File.Evict).
func (s *Set) Evict(name string) {
	if f, ok := s.byName[name]; ok {
		f.Evict(name)
	}
}

// Close closes every shard.
func (s *Set) Close() error {
	var first error
	for _, f := range s.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
