package downloads

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"glimpse/checkpoint/synthetic"
	"glimpse/model"
)

// Precision is a weight format the model can be loaded in.
type Precision string

// The precisions Glimpse loads weights in, as --precision names them
// (model.Precision; docs/precision.md). Activations stay float32.
const (
	FP32 Precision = "fp32"
	FP16 Precision = "fp16"
	Q8   Precision = "q8" // 8-bit blocks
	Q4   Precision = "q4" // llama.cpp's Q4_K_M mix
)

// Requirement is what one precision of a model needs on the user's machine.
type Requirement struct {
	Precision Precision `json:"precision"`
	// Disk is the space the checkpoint takes in the cache. The Hub's files
	// are float32 and are converted while loading, so it is the same for
	// every precision.
	Disk int64 `json:"disk_bytes"`
	// Weights is what the weights occupy in memory in this precision,
	// exactly as the loader stores them (model.Plan.WeightBytes).
	Weights int64 `json:"weight_bytes"`
	// GPU is the memory the model needs in this precision, on the GPU or
	// the CPU: the weights and one request of the seed settings (the KV
	// cache, activations and scratch): model.Plan.Need, the figure the
	// automatic precision compares with the memory free.
	GPU int64 `json:"gpu_bytes"`
}

// Model is one entry of the built-in catalogue.
type Model struct {
	// Name is the short name used on the command line and in the app.
	Name string `json:"name"`
	// Repo is the Hub repository, ORG/NAME.
	Repo string `json:"repo"`
	// Revision is the pinned commit the catalogue was checked against, or
	// "main" where no commit could be pinned (see the catalogue's comment).
	Revision string `json:"revision"`
	// Description says what the model is good for, for people choosing one.
	Description string `json:"description"`
	// Params is the parameter count.
	Params int64 `json:"params"`
	// Download is the approximate size of the files Glimpse fetches; the
	// exact sizes come from the Hub when pulling.
	Download int64 `json:"download_bytes"`
	// Requirements lists disk and GPU memory per precision.
	Requirements []Requirement `json:"requirements"`
	// License names the license of the weights.
	License string `json:"license"`
}

// Ref returns the repository and revision of the catalogue entry.
func (m Model) Ref() Ref { return Ref{Repo: m.Repo, Revision: m.Revision} }

// requirements sizes a catalogue model in every precision from its real
// config.json and the Hub's tensor list (checkpoint/synthetic holds both),
// with the loader's own numbers (model.Plan).
func requirements(name string, download int64) []Requirement {
	opt := synthetic.Options{Model: name}
	cfg, err := synthetic.Config(opt)
	if err != nil {
		panic(fmt.Sprintf("downloads: catalogue model %s: %v", name, err))
	}
	tensors, err := synthetic.Plan(opt)
	if err != nil {
		panic(fmt.Sprintf("downloads: catalogue model %s: %v", name, err))
	}
	shapes := make([]model.TensorShape, len(tensors))
	for i, t := range tensors {
		shapes[i] = model.TensorShape{Name: t.Name, Shape: t.Shape}
	}
	plan, err := model.NewPlan(cfg, shapes)
	if err != nil {
		panic(fmt.Sprintf("downloads: catalogue model %s: %v", name, err))
	}
	var rs []Requirement
	for _, p := range []Precision{FP32, FP16, Q8, Q4} {
		mp := model.Precision(p)
		rs = append(rs, Requirement{Precision: p, Disk: download, Weights: plan.WeightBytes(mp), GPU: plan.Need(mp)})
	}
	return rs
}

// catalogue holds the four Salesforce InstructBLIP checkpoints.
//
// Revisions: the vicuna-7b commit is the late-2024 re-save recorded in
// shared/notes/checkpoints.md. The flan-t5-xl and flan-t5-xxl commits are
// snapshot directories of Hugging Face caches seen in public code that loads
// these models (models--Salesforce--instructblip-flan-t5-xl/snapshots/6c0c…,
// …-flan-t5-xxl/snapshots/1a62…, the latter in two unrelated projects); they
// could not be checked against the Hub from the machines this was written on.
// No commit of vicuna-13b could be found, so it follows "main" until someone
// with network access pins it. Sizes are the float32 safetensors totals from
// the model pages.
var catalogue = []Model{
	{
		Name:        "instructblip-vicuna-7b",
		Repo:        "Salesforce/instructblip-vicuna-7b",
		Revision:    "92cb457daed1ceefd6fd7f53294ee42085575cdc",
		Description: "InstructBLIP with Vicuna-7B: detailed, conversational answers and descriptions. The best first choice on a GPU with 16 GB or more.",
		Params:      7_910_000_000,
		Download:    31_660_000_000,
		License:     "other: Vicuna v1.1 weights derived from LLaMA (Meta's LLaMA license, non-commercial use)",
	},
	{
		Name:        "instructblip-vicuna-13b",
		Repo:        "Salesforce/instructblip-vicuna-13b",
		Revision:    "main",
		Description: "InstructBLIP with Vicuna-13B: the most capable and the slowest; needs q8 or q4 on a 24 GB GPU.",
		Params:      14_190_000_000,
		Download:    56_770_000_000,
		License:     "other: Vicuna v1.1 weights derived from LLaMA (Meta's LLaMA license, non-commercial use)",
	},
	{
		Name:        "instructblip-flan-t5-xl",
		Repo:        "Salesforce/instructblip-flan-t5-xl",
		Revision:    "6c0cf6bef6330a114473cb5cec43d7beeb2a74ac",
		Description: "InstructBLIP with Flan-T5-XL: short, factual answers (VQA style); the smallest, fits an 8 GB GPU in q8.",
		Params:      4_020_000_000,
		Download:    16_090_000_000,
		License:     "MIT",
	},
	{
		Name:        "instructblip-flan-t5-xxl",
		Repo:        "Salesforce/instructblip-flan-t5-xxl",
		Revision:    "1a621c99c4ac000b7a4be30f78cd51040160cdc2",
		Description: "InstructBLIP with Flan-T5-XXL: stronger short answers than XL; needs q8 or q4 below 32 GB of GPU memory.",
		Params:      12_310_000_000,
		Download:    49_250_000_000,
		License:     "MIT",
	},
}

// sized fills the catalogue's requirements once, when it is first read:
// planning the four models takes a few milliseconds that commands which
// never read the catalogue need not spend.
var sized sync.Once

func sizeCatalogue() {
	sized.Do(func() {
		for i := range catalogue {
			m := &catalogue[i]
			m.Requirements = requirements(m.Name, m.Download)
		}
	})
}

// Catalogue returns the built-in models, smallest download first.
func Catalogue() []Model {
	sizeCatalogue()
	out := make([]Model, len(catalogue))
	copy(out, catalogue)
	for i := range out {
		out[i].Requirements = append([]Requirement(nil), out[i].Requirements...)
	}
	// Order for display: by download size.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Download < out[j-1].Download; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// Lookup finds a catalogue entry by short name or by repository id.
func Lookup(name string) (Model, bool) {
	sizeCatalogue()
	for _, m := range catalogue {
		if strings.EqualFold(name, m.Name) || strings.EqualFold(name, m.Repo) {
			return m, true
		}
	}
	return Model{}, false
}

// Ref names a model in a Hub repository at a revision.
type Ref struct {
	// Repo is ORG/NAME.
	Repo string
	// Revision is a branch, tag or 40-digit commit; "main" by default.
	Revision string
}

// String writes the ref as ORG/NAME@REVISION.
func (r Ref) String() string { return r.Repo + "@" + r.Revision }

// repoPart matches one half of a Hub repository id, as the Hub allows them.
var repoPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$`)

// commitRe matches a full git commit id.
var commitRe = regexp.MustCompile(`^[0-9a-f]{40}$`)

// ParseName turns what a user typed into a Ref: a catalogue name
// (instructblip-vicuna-7b, optionally @REVISION) or ORG/NAME[@REVISION].
// Catalogue names get their pinned revision unless one is given.
func ParseName(name string) (Ref, error) {
	name = strings.TrimSpace(name)
	base, rev, hasRev := strings.Cut(name, "@")
	if hasRev {
		if err := checkRevision(rev); err != nil {
			return Ref{}, err
		}
	}
	if m, ok := Lookup(base); ok {
		r := m.Ref()
		if hasRev {
			r.Revision = rev
		}
		return r, nil
	}
	org, repo, ok := strings.Cut(base, "/")
	if !ok || !repoPart.MatchString(org) || !repoPart.MatchString(repo) ||
		strings.Contains(base, "..") || strings.HasSuffix(repo, ".git") {
		return Ref{}, fmt.Errorf("%q is neither a catalogue model (%s) nor a Hub repository ORG/NAME[@REVISION]", name, catalogueNames())
	}
	if !hasRev {
		rev = "main"
	}
	return Ref{Repo: base, Revision: rev}, nil
}

// checkRevision refuses revisions that could not be a git ref, in particular
// ones that would escape the cache's refs/ folder.
func checkRevision(rev string) error {
	if rev == "" || len(rev) > 200 {
		return fmt.Errorf("revision %q is empty or too long", rev)
	}
	for _, part := range strings.Split(rev, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("revision %q is not a valid git ref", rev)
		}
	}
	for _, c := range rev {
		if c < 0x21 || c == 0x7f || strings.ContainsRune(`\~^:?*[`, c) {
			return fmt.Errorf("revision %q is not a valid git ref", rev)
		}
	}
	return nil
}

func catalogueNames() string {
	var names []string
	for _, m := range catalogue {
		names = append(names, m.Name)
	}
	return strings.Join(names, ", ")
}
