package app

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"glimpse/compute"
	"glimpse/compute/cpu"
	"glimpse/compute/gl"
)

// Machine is what Probe finds: the system, and each compute backend with
// whether it works here. `glimpse info` prints it; the app's model manager
// recommends a model from it.
type Machine struct {
	Go   string `json:"go"`
	OS   string `json:"os"`
	Arch string `json:"arch"`
	CPUs int    `json:"cpus"`
	// RAM is the system memory in bytes; 0 where the system does not say.
	RAM      int64     `json:"memory_bytes,omitempty"`
	Backends []Backend `json:"backends"` // cpu, then gl
	// GPU says the GPU backend (OpenGL 4.3) works on a GPU (not a software
	// renderer). GPUName and GPUMemory
	// repeat its Device and Memory for recommendations.
	GPU       bool   `json:"-"`
	GPUName   string `json:"-"`
	GPUMemory int64  `json:"-"`
}

// Backend describes one compute backend: usable, or the reason not.
type Backend struct {
	Name   string `json:"name"`
	Usable bool   `json:"usable"`
	// Software says the GL backend renders on the CPU (Mesa's llvmpipe):
	// usable when asked for, but no GPU, and slower than the CPU engine.
	Software bool   `json:"software,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Device   string `json:"device,omitempty"` // GL_RENDERER, or the CPU's name
	// Version is the driver's GL_VERSION, or the CPU engine's.
	Version string `json:"version,omitempty"`
	// Memory is the GPU's memory in bytes, from the GL driver, else
	// nvidia-smi or the amdgpu driver; 0 where nothing says (integrated
	// GPUs share the system memory) and for the CPU.
	Memory   int64             `json:"memory_bytes,omitempty"`
	Variants []string          `json:"variants,omitempty"`
	Limits   map[string]int64  `json:"limits,omitempty"`
	Extra    map[string]string `json:"extra,omitempty"`
}

// newGL starts the GPU backend; tests replace it to probe a machine without
// OpenGL 4.3.
var newGL = gl.New

// Probe looks at the machine: the Go runtime, the system memory, and each
// compute backend, starting the GPU one briefly to learn what it is. It
// takes a moment; front ends with a window run it off the UI goroutine.
func Probe() Machine {
	m := Machine{Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), RAM: systemRAM()}
	cpu := cpu.New()
	m.Backends = append(m.Backends, backendOf(cpu.Info()))
	cpu.Close()
	gl, err := newGL()
	if err != nil {
		m.Backends = append(m.Backends, Backend{Name: "gl", Reason: err.Error()})
		return m
	}
	b := backendOf(gl.Info())
	gl.Close()
	if compute.SoftwareRenderer(b.Device) {
		// It runs, on the CPU and slower than the CPU engine: not a GPU.
		b.Software = true
		m.Backends = append(m.Backends, b)
		return m
	}
	b.Memory = gpuMemory(b)
	m.Backends = append(m.Backends, b)
	m.GPU, m.GPUName, m.GPUMemory = true, b.Device, b.Memory
	return m
}

func backendOf(i compute.Info) Backend {
	return Backend{Name: i.Name, Usable: true, Device: i.Device, Version: i.Version,
		Variants: i.Variants, Limits: i.Limits, Extra: i.Extra}
}

// gpuMemoryKeys are the Info.Limits keys a backend may use for its device
// memory (from GL_NVX_gpu_memory_info or GL_ATI_meminfo).
var gpuMemoryKeys = []string{"gpu_memory_bytes", "total_memory_bytes", "memory_bytes"}

// gpuMemory is the GPU's memory as its driver reports it, else as the
// system does.
func gpuMemory(b Backend) int64 {
	for _, k := range gpuMemoryKeys {
		if v := b.Limits[k]; v > 0 {
			return v
		}
	}
	return systemGPUMemory(b.Device)
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
func systemRAM() int64 { return meminfo("MemTotal") }

// systemAvailableRAM reads MemAvailable from /proc/meminfo: what the
// system can still give a process without swapping (free memory and the
// caches it can drop); 0 elsewhere.
func systemAvailableRAM() int64 { return meminfo("MemAvailable") }

// meminfo reads one field of /proc/meminfo in bytes; 0 where there is no
// such file or field.
func meminfo(key string) int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	return parseMeminfo(bufio.NewScanner(f), key)
}

// parseMeminfo returns field key (kB in the file) in bytes, or 0.
func parseMeminfo(sc *bufio.Scanner, key string) int64 {
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			if fs := strings.Fields(rest); len(fs) > 0 {
				if kb, err := strconv.ParseInt(fs[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}
