package ui

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"glimpse/compute"
	"glimpse/downloads"
)

// Machine is what a model recommendation depends on.
type Machine struct {
	// GPU says a GPU backend (OpenGL 4.3) is available.
	GPU bool
	// GPUName is the GPU's name, for the message.
	GPUName string
	// GPUMemory is the GPU's memory in bytes; 0 when nothing says (see
	// detectMachine).
	GPUMemory int64
	// RAM is the system memory in bytes; 0 when unknown.
	RAM int64
}

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

// headroom keeps a tenth of the memory for the desktop, other programs and
// the estimate's error.
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

// gpuMemoryKeys are the Info.Limits keys a backend may use for its device
// memory (from GL_NVX_gpu_memory_info or GL_ATI_meminfo).
var gpuMemoryKeys = []string{"gpu_memory_bytes", "total_memory_bytes", "memory_bytes"}

// detectMachine starts the GPU backend briefly to learn what it is and reads
// the system memory. It takes a moment; run it off the UI goroutine.
func detectMachine() Machine {
	m := Machine{RAM: systemRAM()}
	be, err := compute.NewGL()
	if err != nil {
		return m
	}
	defer be.Close()
	info := be.Info()
	m.GPU, m.GPUName = true, info.Device
	for _, k := range gpuMemoryKeys {
		if v := info.Limits[k]; v > 0 {
			m.GPUMemory = v
			break
		}
	}
	if m.GPUMemory == 0 {
		m.GPUMemory = systemGPUMemory(info.Device)
	}
	return m
}

// systemGPUMemory asks the system for the GPU's memory where the GL driver
// does not say: nvidia-smi for NVIDIA GPUs (Linux and Windows), the amdgpu
// driver's sysfs files for AMD GPUs on Linux. 0 when neither knows
// (integrated GPUs share the system memory).
func systemGPUMemory(device string) int64 {
	if strings.Contains(strings.ToUpper(device), "NVIDIA") {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits").Output()
		if err == nil {
			if n := parseNvidiaSmi(string(out)); n > 0 {
				return n
			}
		}
	}
	return sysfsVRAM("/sys/class/drm")
}

// parseNvidiaSmi reads nvidia-smi's memory.total in MiB, one GPU a line,
// and returns the largest in bytes.
func parseNvidiaSmi(out string) int64 {
	var best int64
	for _, line := range strings.Split(out, "\n") {
		if mib, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64); err == nil && mib<<20 > best {
			best = mib << 20
		}
	}
	return best
}

// sysfsVRAM returns the largest card*/device/mem_info_vram_total (bytes,
// written by the amdgpu driver) under drm, or 0.
func sysfsVRAM(drm string) int64 {
	files, _ := filepath.Glob(filepath.Join(drm, "card*", "device", "mem_info_vram_total"))
	var best int64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > best {
			best = n
		}
	}
	return best
}

// systemRAM reads MemTotal from /proc/meminfo; 0 elsewhere.
func systemRAM() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			fs := strings.Fields(rest)
			if len(fs) > 0 {
				if kb, err := strconv.ParseInt(fs[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}
