package app

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"glimpse/compute"
	"glimpse/model"
	"glimpse/pipeline"
)

// TestAutoMemory: a GPU is sized by the free memory its driver reports,
// else by its size, else (like the CPU and software OpenGL) by the system's
// available memory.
func TestAutoMemory(t *testing.T) {
	const gb = int64(1_000_000_000)
	nvidia := func(limits map[string]int64) compute.Info {
		return compute.Info{Name: "gl", Device: "NVIDIA GeForce RTX 3060/PCIe/SSE2", Limits: limits}
	}
	tests := []struct {
		name    string
		backend string
		info    compute.Info
		gpu     int64 // what nvidia-smi would say
		want    pipeline.DeviceMemory
	}{
		{"driver reports free", "gl", nvidia(map[string]int64{"gpu_memory_bytes": 12 * gb, "gpu_memory_free_bytes": 11 * gb}), 12 * gb,
			pipeline.DeviceMemory{Bytes: 11 * gb, Where: "free on the GPU"}},
		{"driver reports the size only", "gl", nvidia(map[string]int64{"gpu_memory_bytes": 12 * gb}), 0,
			pipeline.DeviceMemory{Bytes: 12 * gb, Where: "on the GPU"}},
		{"the system reports the size", "gl", nvidia(nil), 8 * gb,
			pipeline.DeviceMemory{Bytes: 8 * gb, Where: "on the GPU"}},
		{"nothing reports the GPU's memory", "gl", nvidia(nil), 0,
			pipeline.DeviceMemory{Bytes: 20 * gb, Where: "available in system memory"}},
		{"llvmpipe", "gl", compute.Info{Name: "gl", Device: "llvmpipe (LLVM 15.0.7, 256 bits)"}, 8 * gb,
			pipeline.DeviceMemory{Bytes: 20 * gb, Where: "available in system memory"}},
		{"cpu", "cpu", compute.Info{Name: "cpu", Device: "AMD EPYC"}, 8 * gb,
			pipeline.DeviceMemory{Bytes: 20 * gb, Where: "available in system memory"}},
	}
	oldRAM, oldGPU := memAvailable, gpuMemoryOf
	defer func() { memAvailable, gpuMemoryOf = oldRAM, oldGPU }()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			memAvailable = func() int64 { return 20 * gb }
			gpuMemoryOf = func(string) int64 { return tc.gpu }
			if got := autoMemory(tc.backend, tc.info); got != tc.want {
				t.Errorf("autoMemory = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestPrecisionNote: the sentence both front ends show for the precision
// loaded.
func TestPrecisionNote(t *testing.T) {
	gpu := pipeline.DeviceMemory{Bytes: 11_200_000_000, Where: "free on the GPU"}
	ram := pipeline.DeviceMemory{Bytes: 64_000_000_000, Where: "available in system memory"}
	tests := []struct {
		d    Description
		want string
	}{
		{Description{Backend: "gl", Precision: "q8", Auto: &AutoChoice{Memory: gpu, Need: 8_300_000_000, Better: "fp16", BetterNeed: 15_100_000_000}},
			"precision q8 (auto): fp16 needs 15.1 GB, 11.2 GB free on the GPU"},
		{Description{Backend: "cpu", Precision: "fp32", Auto: &AutoChoice{Memory: ram, Need: 37_500_000_000}},
			"precision fp32 (auto): needs 37.5 GB, 64.0 GB available in system memory"},
		{Description{Backend: "gl", Precision: "fp16", Auto: &AutoChoice{}},
			"precision fp16 (auto): the memory free is unknown, so the GPU's default"},
		{Description{Backend: "cpu", Precision: "fp32", Auto: &AutoChoice{}},
			"precision fp32 (auto): the memory free is unknown, so the CPU's default"},
		{Description{Backend: "cpu", Precision: "q4"}, "precision q4"},
	}
	for _, tc := range tests {
		if got := PrecisionNote(tc.d); got != tc.want {
			t.Errorf("PrecisionNote = %q, want %q", got, tc.want)
		}
	}
}

// TestOpenAutoTooSmall makes the machine one byte too small for the tiny
// Vicuna in q4: Open refuses with an ErrOutOfMemory error that gives the
// numbers.
func TestOpenAutoTooSmall(t *testing.T) {
	dir := filepath.Join(fixtures, "models", "tiny-instructblip-vicuna")
	plan, err := model.PlanFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	need := plan.Need(model.Q4)
	old := memAvailable
	defer func() { memAvailable = old }()
	memAvailable = func() int64 { return need - 1 }
	m, err := Open(context.Background(), dir, OpenOptions{Backend: "cpu", Precision: "auto"})
	if m != nil {
		m.Close()
	}
	var fe *pipeline.FitError
	if !errors.Is(err, ErrOutOfMemory) || !errors.As(err, &fe) {
		t.Fatalf("Open = %v, want ErrOutOfMemory", err)
	}
	if fe.Precision != "q4" || fe.Need != need || fe.Memory.Bytes != need-1 || fe.Memory.Where != "available in system memory" {
		t.Errorf("FitError %+v, want q4 needing %d with %d available", fe, need, need-1)
	}
	if msg := err.Error(); !strings.Contains(msg, "even in q4") || !strings.Contains(msg, "available in system memory") {
		t.Errorf("%q does not say q4 and where the memory is", msg)
	}
}
