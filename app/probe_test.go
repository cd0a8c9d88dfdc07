package app

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"glimpse/compute"
)

// TestGPUMemorySources reads the GPU memory the system reports.
func TestGPUMemorySources(t *testing.T) {
	for out, want := range map[string]int64{
		"81559\n":            81559 << 20,
		"24576\n81559\n":     81559 << 20,
		"[N/A]\n":            0,
		"":                   0,
		"  16384  \r\n12288": 16384 << 20,
	} {
		if got := parseNvidiaSmi(out); got != want {
			t.Errorf("parseNvidiaSmi(%q) = %d, want %d", out, got, want)
		}
	}
	drm := t.TempDir()
	for card, v := range map[string]string{"card0": "8573157376\n", "card1": "garbage", "card2": "17163091968"} {
		os.MkdirAll(filepath.Join(drm, card, "device"), 0o755)
		os.WriteFile(filepath.Join(drm, card, "device", "mem_info_vram_total"), []byte(v), 0o644)
	}
	if got := sysfsVRAM(drm); got != 17163091968 {
		t.Errorf("sysfsVRAM = %d, want the larger card's 17163091968", got)
	}
	if got := sysfsVRAM(t.TempDir()); got != 0 {
		t.Errorf("no cards: %d", got)
	}
}

// TestParseMeminfo reads the system memory, and the memory still
// available, as Linux reports them.
func TestParseMeminfo(t *testing.T) {
	const sample = "MemTotal:       131891120 kB\nMemFree:         1000 kB\nMemAvailable:   98765432 kB\n"
	tests := []struct {
		in, key string
		want    int64
	}{
		{sample, "MemTotal", 131891120 << 10},
		{sample, "MemAvailable", 98765432 << 10},
		{sample, "MemFree", 1000 << 10},
		{"MemFree:         1000 kB\nMemTotal: 2048 kB\n", "MemTotal", 2048 << 10},
		{"MemFree: 1000 kB\n", "MemTotal", 0},
		{"MemTotal: lots\n", "MemTotal", 0},
		{"MemAvailableX: 5 kB\n", "MemAvailable", 0},
	}
	for _, tc := range tests {
		if got := parseMeminfo(bufio.NewScanner(strings.NewReader(tc.in)), tc.key); got != tc.want {
			t.Errorf("parseMeminfo(%q, %s) = %d, want %d", tc.in, tc.key, got, tc.want)
		}
	}
}

// TestProbe looks at this machine. CI has Mesa's llvmpipe through EGL, so
// the GL backend must be usable, with its limits, and known for a
// software renderer.
func TestProbe(t *testing.T) {
	m := Probe()
	if m.Go != runtime.Version() || m.OS != runtime.GOOS || m.Arch != runtime.GOARCH || m.CPUs != runtime.NumCPU() {
		t.Errorf("system %+v", m)
	}
	if runtime.GOOS == "linux" && m.RAM <= 0 {
		t.Errorf("no system memory found on Linux: %+v", m)
	}
	if len(m.Backends) != 2 {
		t.Fatalf("backends %+v, want cpu and gl", m.Backends)
	}
	cpu, gl := m.Backends[0], m.Backends[1]
	if cpu.Name != "cpu" || !cpu.Usable || len(cpu.Variants) == 0 {
		t.Errorf("cpu backend %+v", cpu)
	}
	if gl.Name != "gl" || !gl.Usable || gl.Device == "" || gl.Limits["max_ssbo_bytes"] <= 0 {
		t.Fatalf("gl backend %+v: want usable with a device and limits", gl)
	}
	// llvmpipe renders on the CPU: usable, but no GPU to recommend for.
	if compute.SoftwareRenderer(gl.Device) {
		if !gl.Software || m.GPU || m.GPUName != "" || m.GPUMemory != 0 {
			t.Errorf("software renderer %q: Software %v, GPU summary %v %q %d; want software and no GPU",
				gl.Device, gl.Software, m.GPU, m.GPUName, m.GPUMemory)
		}
		return
	}
	if gl.Software || !m.GPU || m.GPUName != gl.Device || m.GPUMemory != gl.Memory {
		t.Errorf("GPU summary %v %q %d does not repeat the gl backend %+v", m.GPU, m.GPUName, m.GPUMemory, gl)
	}
}

// TestProbeWithoutGL: where no GL context can be made (macOS, no driver),
// the gl backend says why, and the machine has no GPU for recommendations.
func TestProbeWithoutGL(t *testing.T) {
	reason := fmt.Errorf("%w: macOS offers OpenGL 4.1 at most", compute.ErrUnavailable)
	saved := newGL
	t.Cleanup(func() { newGL = saved })
	newGL = func() (compute.Backend, error) { return nil, reason }
	m := Probe()
	if len(m.Backends) != 2 || !m.Backends[0].Usable {
		t.Fatalf("backends %+v", m.Backends)
	}
	gl := m.Backends[1]
	if gl.Name != "gl" || gl.Usable || gl.Reason != "compute backend unavailable: macOS offers OpenGL 4.1 at most" {
		t.Errorf("gl backend %+v", gl)
	}
	if m.GPU || m.GPUName != "" || m.GPUMemory != 0 {
		t.Errorf("GPU summary %v %q %d on a machine without GL", m.GPU, m.GPUName, m.GPUMemory)
	}
}
