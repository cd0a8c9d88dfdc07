package pipeline

import (
	"errors"
	"fmt"

	"glimpse/compute"
	"glimpse/model"
)

// The automatic precision: the best precision whose weights and one
// request (model.Plan.Need: the weights as the loader stores them, the KV
// cache, activations and scratch of the seed settings' request) fit the
// memory the device has.

// DeviceMemory is the memory the automatic precision sizes a model for.
type DeviceMemory struct {
	// Bytes is the memory in bytes; 0 or less means unknown, and auto
	// keeps the backend's default (fp16 on gl, fp32 on cpu).
	Bytes int64
	// Where says what Bytes is, after the number: "free on the GPU",
	// "available in system memory".
	Where string
}

// AutoChoice says why the automatic precision chose what it did.
type AutoChoice struct {
	// Memory is what the device has (Bytes 0: unknown).
	Memory DeviceMemory
	// Need is what the chosen precision needs; 0 when Memory is unknown.
	Need int64
	// Better is the best precision for the backend when it did not fit
	// (the chosen one is then lower), with what it needs; "" when the best
	// fits or Memory is unknown.
	Better     string
	BetterNeed int64
}

// ErrNoFit is matched by a *FitError: no precision of the model fits the
// device's memory.
var ErrNoFit = errors.New("the model does not fit in memory")

// FitError is the automatic precision finding that even the smallest
// precision does not fit.
type FitError struct {
	Precision string // the smallest precision, "q4"
	Need      int64  // what it needs
	Memory    DeviceMemory
}

// Error gives both numbers and what to change, in one line.
func (e *FitError) Error() string {
	return fmt.Sprintf("the model does not fit: even in %s it needs about %s (weights and one request), and %s is %s; "+
		"close other programs, choose a smaller model, or run on the other backend",
		e.Precision, formatBytes(e.Need), formatBytes(e.Memory.Bytes), e.Memory.Where)
}

// Is reports that e is an ErrNoFit.
func (e *FitError) Is(target error) bool { return target == ErrNoFit }

// autoOrder lists the precisions auto tries on a backend, best first: the
// CPU computes in float32 anyway, so fp32 is exact there; GL keeps fp16 as
// its best, halving the upload and the bandwidth every step needs.
func autoOrder(backend string) []model.Precision {
	if backend == "gl" {
		return []model.Precision{model.FP16, model.Q8, model.Q4}
	}
	return []model.Precision{model.FP32, model.FP16, model.Q8, model.Q4}
}

// choosePrecision picks the best precision in autoOrder(backend) whose
// need fits mem; with mem unknown, the best.
func choosePrecision(need func(model.Precision) int64, backend string, mem DeviceMemory) (model.Precision, *AutoChoice, error) {
	order := autoOrder(backend)
	choice := &AutoChoice{Memory: mem}
	if mem.Bytes <= 0 {
		return order[0], choice, nil
	}
	for i, p := range order {
		n := need(p)
		if n <= mem.Bytes {
			choice.Need = n
			if i > 0 {
				choice.Better, choice.BetterNeed = order[0].String(), need(order[0])
			}
			return p, choice, nil
		}
	}
	last := order[len(order)-1]
	return "", nil, &FitError{Precision: last.String(), Need: need(last), Memory: mem}
}

// autoPrecision sizes the model in dir for the device (opt.Memory) and
// returns the precision to load it in, and why.
func autoPrecision(dir, backend string, info compute.Info, opt Options) (string, *AutoChoice, error) {
	var mem DeviceMemory
	if opt.Memory != nil {
		mem = opt.Memory(backend, info)
	}
	need := func(model.Precision) int64 { return 0 }
	if mem.Bytes > 0 {
		plan, err := model.PlanFolder(dir)
		if err != nil {
			return "", nil, err
		}
		need = plan.Need
	}
	p, choice, err := choosePrecision(need, backend, mem)
	if err != nil {
		return "", nil, err
	}
	return p.String(), choice, nil
}
