package compute_test

import (
	"fmt"

	"glimpse/compute"
)

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
