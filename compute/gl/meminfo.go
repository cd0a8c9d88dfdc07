package gl

import "github.com/go-gl/gl/v4.3-core/gl"

// The GPU's memory, where the driver reports it: NVIDIA's
// GL_NVX_gpu_memory_info gives the dedicated memory and what is free of it,
// AMD's GL_ATI_meminfo what is free in the texture pool (which the buffers
// share). Mesa's llvmpipe, and most other drivers, report neither; the
// application then asks the system (nvidia-smi, the amdgpu driver's sysfs
// files) or falls back to the system memory.
const (
	// LimitGPUMemory is the Info.Limits key of the GPU's dedicated memory
	// in bytes (GL_NVX_gpu_memory_info's total available memory); absent
	// where the driver does not report it.
	LimitGPUMemory = "gpu_memory_bytes"
	// LimitGPUFreeMemory is the Info.Limits key of the GPU memory free now,
	// in bytes (GL_NVX_gpu_memory_info's current available memory, or
	// GL_ATI_meminfo's free texture memory); absent where the driver does
	// not report it. Info reads it anew on every call.
	LimitGPUFreeMemory = "gpu_memory_free_bytes"
)

// The extensions' enums, in KiB (go-gl's core profile does not name them).
const (
	gpuMemoryInfoTotalAvailableNVX   = 0x9048 // GPU_MEMORY_INFO_TOTAL_AVAILABLE_MEMORY_NVX
	gpuMemoryInfoCurrentAvailableNVX = 0x9049 // GPU_MEMORY_INFO_CURRENT_AVAILABLE_VIDMEM_NVX
	textureFreeMemoryATI             = 0x87FC // TEXTURE_FREE_MEMORY_ATI: 4 values, the first the pool's free memory
)

// memoryExts says which memory extension the driver has.
type memoryExts struct{ nvx, ati bool }

func memoryExtsOf(exts map[string]bool) memoryExts {
	return memoryExts{nvx: exts["GL_NVX_gpu_memory_info"], ati: exts["GL_ATI_meminfo"]}
}

// query reads the GPU's memory into limits (LimitGPUMemory,
// LimitGPUFreeMemory) where the driver reports it. On the GL thread only.
func (m memoryExts) query(limits map[string]int64) {
	kib := func(v int32) int64 { return int64(v) << 10 }
	switch {
	case m.nvx:
		var total, free int32
		gl.GetIntegerv(gpuMemoryInfoTotalAvailableNVX, &total)
		gl.GetIntegerv(gpuMemoryInfoCurrentAvailableNVX, &free)
		if total > 0 {
			limits[LimitGPUMemory] = kib(total)
		}
		if free > 0 {
			limits[LimitGPUFreeMemory] = kib(free)
		}
	case m.ati:
		var v [4]int32
		gl.GetIntegerv(textureFreeMemoryATI, &v[0])
		if v[0] > 0 {
			limits[LimitGPUFreeMemory] = kib(v[0])
		}
	}
}
