package cpu_test

import (
	"fmt"

	"glimpse/compute"
	"glimpse/compute/cpu"
)

// A forward step on the CPU backend: weights are uploaded once (here packed
// as F16), a Context runs the operations, Read brings results back, and
// closing the Context frees everything it made.
func ExampleNew() {
	be := cpu.New()
	defer be.Close()
	w, err := be.Upload(compute.F16, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := be.NewContext()
	defer ctx.Close()
	x := ctx.FromFloats([]int{1, 3}, []float32{1, 0, -1})
	bias := ctx.FromFloats([]int{2}, []float32{0.5, -0.5})
	y := ctx.Linear(x, w, bias) // x·wᵀ + bias
	fmt.Println(y.Shape(), ctx.Read(y))
	// Output: [1 2] [-1.5 -2.5]
}
