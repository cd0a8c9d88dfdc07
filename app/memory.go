package app

import "sync"

// Requests are sized before they start (pipeline.Options.Available and
// model.RequestBytes), so that one that cannot fit is refused with the
// numbers, as an ErrOutOfMemory error, instead of growing until the system
// kills the process or the GPU driver fails in the middle of a step.

// memAvailable is the memory the system can still give (MemAvailable on
// Linux), 0 where it does not say; gpuMemoryOf is a GPU's memory by its
// name (see systemGPUMemory), 0 where nothing says. Variables, so that
// tests can make the machine small.
var (
	memAvailable = systemAvailableRAM
	gpuMemoryOf  = systemGPUMemory
)

// requestBudget is what one request may use beyond the loaded weights on
// the backend d describes, given the system's available memory ram and the
// GPU's memory gpu (0: unknown): for the CPU, ram, out of which the weights
// are already taken; for a GPU, its memory less the weights uploaded to it;
// for an OpenGL that renders in software, ram, since its buffers are the
// system's. 0 means unknown, and nothing is checked.
func requestBudget(d Description, ram, gpu int64) int64 {
	switch {
	case d.Backend == "cpu" || d.Backend == "gl" && d.Software:
		return max(ram, 0)
	case d.Backend == "gl":
		weights := d.DeviceBytes
		// A model that loaded although the figures say it cannot fit
		// means the figure is wrong (a driver that pages, a second GPU):
		// check nothing rather than refuse everything.
		if left := gpu - weights; gpu > 0 && left > 0 {
			return left
		}
	}
	return 0
}

// budget sizes requests for an open model: pipeline.Options.Available.
type budget struct {
	m       *Model
	gpuOnce sync.Once
	gpu     int64
}

// available is what the next request may use, asked before each one: the
// system's available memory changes as other programs run; the GPU's size
// does not, and asking for it may start nvidia-smi, so it is asked once.
func (b *budget) available() int64 {
	d := b.m.Describe()
	if d.Backend == "gl" && !d.Software {
		b.gpuOnce.Do(func() { b.gpu = gpuMemoryOf(d.Device) })
	}
	return requestBudget(d, memAvailable(), b.gpu)
}
