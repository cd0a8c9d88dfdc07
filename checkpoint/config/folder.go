package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Folder is the parsed settings of a model folder.
type Folder struct {
	Dir        string
	Model      *Model
	Generation *Generation
	Processor  *Processor
}

// requirement is one thing a model folder must have: any of the files.
type requirement struct {
	what  string
	files []string
}

var requirements = []requirement{
	{"the model config", []string{ModelFile}},
	{"the weights", []string{"model.safetensors.index.json", "model.safetensors"}},
	{"the image settings", []string{PreprocessorFile, ProcessorFile}},
	{"the tokenizer", []string{"tokenizer.json", "tokenizer.model", "spiece.model"}},
	{"the Q-Former tokenizer", []string{"qformer_tokenizer/tokenizer.json", "qformer_tokenizer/vocab.txt"}},
}

// MissingFiles lists, worded for a user, what the model folder lacks: one
// entry per missing part naming the file(s) that would provide it. Shards
// named by the index are checked when the weights are opened.
func MissingFiles(dir string) []string {
	var missing []string
	for _, r := range requirements {
		found := false
		for _, f := range r.files {
			if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); err == nil && st.Mode().IsRegular() {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, fmt.Sprintf("%s (%s)", r.what, strings.Join(r.files, " or ")))
		}
	}
	return missing
}

// LoadFolder checks that dir has every file a model needs and parses
// config.json, generation_config.json and the processor settings.
func LoadFolder(dir string) (*Folder, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a folder", ErrMissing, dir)
	}
	if missing := MissingFiles(dir); len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s lacks %s", ErrMissing, dir, strings.Join(missing, "; "))
	}
	m, err := Load(dir)
	if err != nil {
		return nil, err
	}
	g, err := LoadGeneration(dir, m)
	if err != nil {
		return nil, err
	}
	p, err := LoadProcessor(dir, m)
	if err != nil {
		return nil, err
	}
	return &Folder{Dir: dir, Model: m, Generation: g, Processor: p}, nil
}
