package app

import (
	"fmt"

	"glimpse/compute"
	"glimpse/compute/gl"
	"glimpse/downloads"
	"glimpse/pipeline"
)

// The automatic precision (OpenOptions.Precision "auto") loads the best
// precision whose weights and one request fit the memory the device has;
// the pipeline chooses, app says how much memory there is and words the
// choice for both front ends.

// AutoChoice says why the automatic precision chose what it did
// (Description.Auto).
type AutoChoice = pipeline.AutoChoice

// autoMemory is the memory the automatic precision sizes a model for, on
// the backend that started (pipeline.Options.Memory): on a GPU, the memory
// its driver reports free (GL_NVX_gpu_memory_info, GL_ATI_meminfo), else
// its size as the driver or the system says (see gpuMemory); everywhere
// else, and on a GPU nothing reports (an integrated one shares the system
// memory), the system's available memory.
func autoMemory(backend string, info compute.Info) pipeline.DeviceMemory {
	if backend == "gl" && !compute.SoftwareRenderer(info.Device) {
		if free := info.Limits[gl.LimitGPUFreeMemory]; free > 0 {
			return pipeline.DeviceMemory{Bytes: free, Where: "free on the GPU"}
		}
		total := int64(0)
		for _, k := range gpuMemoryKeys {
			if v := info.Limits[k]; v > 0 && total == 0 {
				total = v
			}
		}
		if total == 0 {
			total = gpuMemoryOf(info.Device)
		}
		if total > 0 {
			return pipeline.DeviceMemory{Bytes: total, Where: "on the GPU"}
		}
	}
	return pipeline.DeviceMemory{Bytes: memAvailable(), Where: "available in system memory"}
}

// PrecisionNote says which precision an open model was loaded in and, when
// it was chosen automatically, why: "precision q8 (auto): fp16 needs
// 15.1 GB, 11.2 GB free on the GPU". Both front ends show it as it is.
func PrecisionNote(d Description) string {
	a := d.Auto
	switch {
	case a == nil:
		return "precision " + d.Precision
	case a.Memory.Bytes <= 0:
		what := "the CPU's"
		if d.Backend == "gl" {
			what = "the GPU's"
		}
		return fmt.Sprintf("precision %s (auto): the memory free is unknown, so %s default", d.Precision, what)
	case a.Better != "":
		return fmt.Sprintf("precision %s (auto): %s needs %s, %s %s", d.Precision, a.Better,
			downloads.FormatBytes(a.BetterNeed), downloads.FormatBytes(a.Memory.Bytes), a.Memory.Where)
	}
	return fmt.Sprintf("precision %s (auto): needs %s, %s %s", d.Precision,
		downloads.FormatBytes(a.Need), downloads.FormatBytes(a.Memory.Bytes), a.Memory.Where)
}
