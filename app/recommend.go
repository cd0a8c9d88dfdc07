package app

import (
	"fmt"

	"glimpse/downloads"
)

// Recommendation is the model suggested for a first download.
type Recommendation struct {
	Model     downloads.Model
	Precision downloads.Precision
	// Fits says the model should run in the memory found; false means it
	// is the smallest there is, and may not.
	Fits bool
	// Why explains the choice in a sentence for the model manager.
	Why string
}

// fitsIn reports whether need fits in have, keeping a tenth of it for the
// desktop, other programs and the estimate's error.
func fitsIn(need, have int64) bool { return have > 0 && need <= have-have/10 }

// requirement returns m's need for precision p.
func requirement(m downloads.Model, p downloads.Precision) (downloads.Requirement, bool) {
	for _, r := range m.Requirements {
		if r.Precision == p {
			return r, true
		}
	}
	return downloads.Requirement{}, false
}

// gpuPrecisions and cpuPrecisions are the precisions Recommend tries, best
// first: a GPU runs fp16 at full speed (fp32 would only double its memory),
// a CPU runs fp32 exactly where the memory holds it.
var (
	gpuPrecisions = []downloads.Precision{downloads.FP16, downloads.Q8, downloads.Q4}
	cpuPrecisions = []downloads.Precision{downloads.FP32, downloads.FP16, downloads.Q8, downloads.Q4}
)

// bestFit returns the first of precs in which m fits in have bytes.
func bestFit(m downloads.Model, precs []downloads.Precision, have int64) (downloads.Precision, downloads.Requirement, bool) {
	for _, p := range precs {
		if r, ok := requirement(m, p); ok && fitsIn(r.GPU, have) {
			return p, r, true
		}
	}
	return "", downloads.Requirement{}, false
}

// Recommend picks a model from cat for the machine. On a GPU whose memory is
// known, it is the largest model that fits in fp16, q8 or q4, in the best of
// those that fits: more parameters answer better (a 13B model in 4 bits
// beats a 7B one in 8, as llama.cpp's perplexity tables show), and every
// model a GPU holds runs there at interactive speed. Otherwise (CPU, or a
// GPU that does not report its memory) it is the smallest model, in the
// best precision the RAM holds (fp32, the CPU's exact one, only on the
// CPU): on a CPU every extra parameter costs time.
func Recommend(cat []downloads.Model, m Machine) Recommendation {
	if len(cat) == 0 {
		return Recommendation{Why: "The catalogue is empty."}
	}
	smallest := cat[0]
	for _, c := range cat {
		if c.Params < smallest.Params {
			smallest = c
		}
	}
	if m.GPU && m.GPUMemory > 0 {
		var best *downloads.Model
		var prec downloads.Precision
		var need downloads.Requirement
		for i := range cat {
			p, r, ok := bestFit(cat[i], gpuPrecisions, m.GPUMemory)
			if ok && (best == nil || cat[i].Params > best.Params) {
				best, prec, need = &cat[i], p, r
			}
		}
		gpu := gpuLabel(m)
		if best != nil {
			return Recommendation{Model: *best, Precision: prec, Fits: true,
				Why: fmt.Sprintf("%s has %s; %s in %s needs about %s, the largest model that fits.",
					gpu, downloads.FormatBytes(m.GPUMemory), best.Name, prec, downloads.FormatBytes(need.GPU))}
		}
		r, _ := requirement(smallest, downloads.Q4)
		return Recommendation{Model: smallest, Precision: downloads.Q4,
			Why: fmt.Sprintf("%s has %s, less than the %s even the smallest model needs in q4: it may fail to load; the CPU backend (Settings) runs it from system memory, slowly.",
				gpu, downloads.FormatBytes(m.GPUMemory), downloads.FormatBytes(r.GPU))}
	}
	where := "No GPU backend is available, so models run on the CPU"
	precs := cpuPrecisions
	if m.GPU {
		where = gpuLabel(m) + " does not report its memory"
		precs = gpuPrecisions
	}
	if m.RAM == 0 {
		return Recommendation{Model: smallest, Precision: downloads.FP16, Fits: true,
			Why: where + "; the smallest model is the safest start."}
	}
	if p, r, ok := bestFit(smallest, precs, m.RAM); ok {
		return Recommendation{Model: smallest, Precision: p, Fits: true,
			Why: fmt.Sprintf("%s; with %s of memory, the smallest model runs in %s (about %s).",
				where, downloads.FormatBytes(m.RAM), p, downloads.FormatBytes(r.GPU))}
	}
	r, _ := requirement(smallest, downloads.Q4)
	return Recommendation{Model: smallest, Precision: downloads.Q4,
		Why: fmt.Sprintf("%s, and %s of memory is less than the %s even the smallest model needs in q4: it will probably not load on this machine.",
			where, downloads.FormatBytes(m.RAM), downloads.FormatBytes(r.GPU))}
}

func gpuLabel(m Machine) string {
	if m.GPUName != "" {
		return "The GPU (" + m.GPUName + ")"
	}
	return "The GPU"
}
