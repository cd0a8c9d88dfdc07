// Package synthetic writes InstructBLIP checkpoints with random weights at
// the real models' sizes, laid out as the Hugging Face Hub's repositories
// are, so that tests and benchmarks can load real shapes on machines that
// cannot download the real 16–57 GB checkpoints.
//
// A checkpoint written here has each catalogue model's real config.json
// (widths, heads, head dims 88/128/64, vocabularies, Vicuna's inherited
// bos/eos ids, T5's exact GELU and untied head), generation_config.json,
// preprocessor_config.json and processor_config.json; float32 safetensors
// shards cut like transformers cuts them, with model.safetensors.index.json;
// and, from a tokenizer source folder (scripts/fetch-tokenizers.sh), the
// tokenizer files and qformer_tokenizer/. Its answers are gibberish: only the
// shapes, names, files and numbers' finiteness are real.
//
// The weights are streamed tensor by tensor, so writing a 57 GB checkpoint
// needs a few MiB of memory. Values are deterministic in (seed, tensor name):
// normal-ish with standard deviation 0.02 for weights and embeddings, 1 for
// norm scales, 0 for biases, which keeps activations finite through the
// real depths.
package synthetic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"glimpse/checkpoint/config"
)

// DefaultShardBytes is the shard size of the Hub's checkpoints
// (save_pretrained's max_shard_size "10GB").
const DefaultShardBytes = 10_000_000_000

// Options configures Write and Plan.
type Options struct {
	// Model is one of Models(), or its catalogue name
	// ("instructblip-vicuna-7b") or Hub repository.
	Model string
	// Layers, if positive, cuts every stack (vision encoder, Q-Former and
	// the language model's, both of T5's) to at most this many layers,
	// keeping the real widths and vocabularies: a checkpoint for CI.
	Layers int
	// Seed picks the random values.
	Seed uint64
	// ShardBytes is the most bytes of tensors per shard file;
	// 0 means DefaultShardBytes.
	ShardBytes int64
	// Tokenizers is the tokenizer source folder (see LlamaTokenizerDir,
	// BertTokenizerDir, T5TokenizerDir). Empty writes no tokenizer files,
	// leaving a folder that only the weight and config readers accept.
	Tokenizers string
	// Progress, if set, is called as the weights are written.
	Progress func(Progress)
}

// Progress tells how far Write is.
type Progress struct {
	Shard, Shards     int   // the shard being written, from 1
	Bytes, TotalBytes int64 // tensor bytes written so far and in all
}

// Tensor is one tensor of a planned checkpoint.
type Tensor struct {
	Name  string
	Shape []int
	Shard string // the file that holds it
}

// Bytes is the tensor's size in float32.
func (t Tensor) Bytes() int64 {
	n := int64(4)
	for _, d := range t.Shape {
		n *= int64(d)
	}
	return n
}

// plan is what Write will write.
type plan struct {
	arch   arch
	depth  depth
	shards []shard
	total  int64
}

func makePlan(opt Options) (*plan, error) {
	a, err := lookup(opt.Model)
	if err != nil {
		return nil, err
	}
	if opt.Layers < 0 {
		return nil, fmt.Errorf("layers must not be negative, is %d", opt.Layers)
	}
	if opt.ShardBytes < 0 {
		return nil, fmt.Errorf("shard size must not be negative, is %d", opt.ShardBytes)
	}
	limit := opt.ShardBytes
	if limit == 0 {
		limit = DefaultShardBytes
	}
	p := &plan{arch: a, depth: depthOf(a, opt.Layers)}
	p.shards = planShards(tensors(a, p.depth), limit)
	for _, s := range p.shards {
		p.total += s.bytes
	}
	return p, nil
}

// Plan lists the tensors Write would write for opt, in shard order, without
// writing anything: what a checkpoint of that size holds, and where.
func Plan(opt Options) ([]Tensor, error) {
	p, err := makePlan(opt)
	if err != nil {
		return nil, err
	}
	var out []Tensor
	for _, s := range p.shards {
		for _, t := range s.tensors {
			out = append(out, Tensor{Name: t.name, Shape: append([]int(nil), t.shape...), Shard: s.file})
		}
	}
	return out, nil
}

// Config returns the config.json Write would write for opt, as
// checkpoint/config reads it: with Plan, what sizing a catalogue model
// needs (model.NewPlan) without writing anything.
func Config(opt Options) (*config.Model, error) {
	p, err := makePlan(opt)
	if err != nil {
		return nil, err
	}
	js, err := marshalJSON(configJSON(p.arch, p.depth), "")
	if err != nil {
		return nil, err
	}
	return config.Parse(js)
}

// Write writes a checkpoint into dir, which must be empty or absent. The
// index is written last, so a folder with model.safetensors.index.json is
// complete; an error or cancelled ctx leaves a folder without one.
func Write(ctx context.Context, dir string, opt Options) error {
	p, err := makePlan(opt)
	if err != nil {
		return err
	}
	if err := emptyFolder(dir); err != nil {
		return err
	}
	a := p.arch
	files := map[string]any{
		config.ModelFile:        configJSON(a, p.depth),
		config.GenerationFile:   generationJSON(a),
		config.PreprocessorFile: preprocessorJSON(),
		config.ProcessorFile:    processorJSON(),
	}
	if err := writeAll(dir, files); err != nil {
		return err
	}
	if opt.Tokenizers != "" {
		if err := writeTokenizers(dir, opt.Tokenizers, a); err != nil {
			return err
		}
	}

	// Marks the weights as random, so that nobody mistakes them for the
	// real model's: shard metadata is free-form, and loaders ignore it.
	about := fmt.Sprintf("random weights for %s by glimpse/checkpoint/synthetic, seed %d", a.repo, opt.Seed)
	meta := map[string]string{"format": "pt", "synthetic": about}
	weightMap := map[string]string{}
	var written int64
	for i, s := range p.shards {
		report := func(n int64) {
			written += n
			if opt.Progress != nil {
				opt.Progress(Progress{Shard: i + 1, Shards: len(p.shards), Bytes: written, TotalBytes: p.total})
			}
		}
		if err := writeShard(ctx, dir, s, opt.Seed, meta, report); err != nil {
			return err
		}
		for _, t := range s.tensors {
			weightMap[t.name] = s.file
		}
	}
	index := map[string]any{
		"metadata":   map[string]any{"total_size": p.total, "synthetic": about},
		"weight_map": weightMap,
	}
	return writeJSON(filepath.Join(dir, "model.safetensors.index.json"), index)
}

// emptyFolder makes dir, or checks that it is an empty folder: writing over
// a checkpoint would leave its stale shards beside the new ones.
func emptyFolder(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && err != io.EOF {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("%s is not empty (it holds %s); write a checkpoint into a new folder", dir, strconv.Quote(names[0]))
	}
	return nil
}
