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

// Recommend picks a model from cat for the machine. On a GPU whose memory is
// known, it is the largest model that fits in fp16 (the GPU's precision):
// more parameters answer better, and all of them run at interactive speed on
// a GPU that holds them. Otherwise (CPU, or a GPU that does not report its
// memory) it is the smallest model, in fp32 where the RAM holds it (the CPU's
// exact precision) else fp16: on a CPU every extra parameter costs time.
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
		for i := range cat {
			r, ok := requirement(cat[i], downloads.FP16)
			if ok && fitsIn(r.GPU, m.GPUMemory) && (best == nil || cat[i].Params > best.Params) {
				best = &cat[i]
			}
		}
		gpu := gpuLabel(m)
		if best != nil {
			r, _ := requirement(*best, downloads.FP16)
			return Recommendation{Model: *best, Precision: downloads.FP16, Fits: true,
				Why: fmt.Sprintf("%s has %s; %s in fp16 needs about %s, the largest model that fits.",
					gpu, downloads.FormatBytes(m.GPUMemory), best.Name, downloads.FormatBytes(r.GPU))}
		}
		r, _ := requirement(smallest, downloads.FP16)
		return Recommendation{Model: smallest, Precision: downloads.FP16,
			Why: fmt.Sprintf("%s has %s, less than the %s even the smallest model needs in fp16: it may fail to load; the CPU backend (Settings) runs it from system memory, slowly.",
				gpu, downloads.FormatBytes(m.GPUMemory), downloads.FormatBytes(r.GPU))}
	}
	where := "No GPU backend is available, so models run on the CPU"
	if m.GPU {
		where = gpuLabel(m) + " does not report its memory"
	}
	r32, _ := requirement(smallest, downloads.FP32)
	r16, _ := requirement(smallest, downloads.FP16)
	switch {
	case m.RAM == 0:
		return Recommendation{Model: smallest, Precision: downloads.FP16, Fits: true,
			Why: where + "; the smallest model is the safest start."}
	case fitsIn(r32.GPU, m.RAM) && !m.GPU:
		return Recommendation{Model: smallest, Precision: downloads.FP32, Fits: true,
			Why: fmt.Sprintf("%s; with %s of memory, the smallest model runs in full precision (about %s).",
				where, downloads.FormatBytes(m.RAM), downloads.FormatBytes(r32.GPU))}
	case fitsIn(r16.GPU, m.RAM):
		return Recommendation{Model: smallest, Precision: downloads.FP16, Fits: true,
			Why: fmt.Sprintf("%s; with %s of memory, the smallest model in fp16 (about %s) is the safest start.",
				where, downloads.FormatBytes(m.RAM), downloads.FormatBytes(r16.GPU))}
	}
	return Recommendation{Model: smallest, Precision: downloads.FP16,
		Why: fmt.Sprintf("%s, and %s of memory is less than the %s even the smallest model needs: it will probably not load on this machine.",
			where, downloads.FormatBytes(m.RAM), downloads.FormatBytes(r16.GPU))}
}

func gpuLabel(m Machine) string {
	if m.GPUName != "" {
		return "The GPU (" + m.GPUName + ")"
	}
	return "The GPU"
}
