package compute_test

import (
	"fmt"

	"glimpse/compute"
)

// A forward step on the CPU backend: weights are uploaded once (here packed
// as F16), a Context runs the operations, Read brings results back, and
// closing the Context frees everything it made.
func ExampleNewCPU() {
	be := compute.NewCPU()
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

// Q8 stores one float32 scale per block of 32 row values and the values as
// int8, four to a word, rounding halves away from zero; Unpack gives back
// float32(q)·scale.
func ExamplePack() {
	row := make([]float32, compute.BlockSize)
	row[0], row[1], row[2] = 127, -63.5, 1.2
	words, scales, err := compute.Pack(compute.Q8, []int{1, compute.BlockSize}, row)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("scale %v, first word %#08x\n", scales[0], words[0])
	fmt.Println(compute.Unpack(compute.Q8, []int{1, compute.BlockSize}, words, scales)[:3])
	// Output:
	// scale 1, first word 0x0001c07f
	// [127 -64 1]
}
