//go:build (amd64 || arm64) && !purego

package cpu

import "glimpse/compute"

// The integer kernels in assembly take pointers and block counts. These
// wrappers, shared by every architecture's kernels, check the slices
// first, so that a short slice panics in Go instead of reading past its
// end, and skip empty rows, which the assembly does not take.

// Signatures of the assembly integer kernels: one x row (its bytes, block
// scales and, for Q4 and Q4K, block sums) against one weight row of nb
// blocks (nsb super-blocks), or four x rows k bytes apart.
type (
	q8Asm    func(q *int8, d *float32, w *uint32, scales *float32, nb int) float32
	q4Asm    func(q *int8, d, sum *float32, w *uint32, scales *float32, nb int) float32
	q4kAsm   func(q *int8, d, sum *float32, w *uint32, nsb int) float32
	q4kx4Asm func(q *int8, k int, d, sum *float32, w *uint32, nsb int, out *[4]float32)
	// Q6K's offset of 32 multiplies x's own bytes: no block sums.
	q6kAsm   func(q *int8, d *float32, w *uint32, nsb int) float32
	q6kx4Asm func(q *int8, k int, d *float32, w *uint32, nsb int, out *[4]float32)
)

// checkQRow checks that x holds nb blocks and returns them.
func checkQRow(x qrow, nb int) qrow {
	return qrow{q: x.q[:nb*compute.BlockSize], d: x.d[:nb], sum: x.sum[:nb], isum: x.isum[:nb]}
}

// callQ8 runs a Q8 kernel: dotQ8i's contract.
func callQ8(asm q8Asm, x qrow, w []uint32, scales []float32) float32 {
	nb := len(scales)
	if nb == 0 {
		return 0
	}
	x = checkQRow(x, nb)
	w = w[:nb*compute.BlockSize/4]
	return asm(&x.q[0], &x.d[0], &w[0], &scales[0], nb)
}

// callQ4 runs a Q4 kernel: dotQ4i's contract.
func callQ4(asm q4Asm, x qrow, w []uint32, scales []float32) float32 {
	nb := len(scales)
	if nb == 0 {
		return 0
	}
	x = checkQRow(x, nb)
	w = w[:nb*compute.BlockSize/8]
	return asm(&x.q[0], &x.d[0], &x.sum[0], &w[0], &scales[0], nb)
}

// callQ4K runs a Q4K kernel: dotQ4Ki's contract.
func callQ4K(asm q4kAsm, x qrow, w []uint32) float32 {
	nsb := len(w) / compute.Q4KWords
	if nsb == 0 {
		return 0
	}
	x = checkQRow(x, nsb*compute.SuperBlockSize/compute.BlockSize)
	w = w[:nsb*compute.Q4KWords]
	return asm(&x.q[0], &x.d[0], &x.sum[0], &w[0], nsb)
}

// callQ4Kx4 runs a four-row Q4K kernel: rows m..m+3 of x against w, the
// q4kix4 contract.
func callQ4Kx4(asm q4kx4Asm, x *qrows, m int, w []uint32, out *[4]float32) {
	k, nb := x.k, x.k/compute.BlockSize
	nsb := len(w) / compute.Q4KWords
	if nsb*compute.SuperBlockSize != k {
		panic("cpu: Q4K x4 kernel with a weight row of another length than x's")
	}
	*out = [4]float32{}
	if nsb == 0 {
		return
	}
	// The last row's ends bound every row's.
	_ = x.q[(m+4)*k-1]
	_ = x.d[(m+4)*nb-1]
	_ = x.sum[(m+4)*nb-1]
	w = w[:nsb*compute.Q4KWords]
	asm(&x.q[m*k], k, &x.d[m*nb], &x.sum[m*nb], &w[0], nsb, out)
}

// callQ6K runs a Q6K kernel: dotQ6Ki's contract.
func callQ6K(asm q6kAsm, x qrow, w []uint32) float32 {
	nsb := len(w) / compute.Q6KWords
	if nsb == 0 {
		return 0
	}
	q := x.q[:nsb*compute.SuperBlockSize]
	d := x.d[:nsb*compute.SuperBlockSize/compute.BlockSize]
	w = w[:nsb*compute.Q6KWords]
	return asm(&q[0], &d[0], &w[0], nsb)
}

// callQ6Kx4 runs a four-row Q6K kernel: rows m..m+3 of x against w, the
// q6kix4 contract.
func callQ6Kx4(asm q6kx4Asm, x *qrows, m int, w []uint32, out *[4]float32) {
	k, nb := x.k, x.k/compute.BlockSize
	nsb := len(w) / compute.Q6KWords
	if nsb*compute.SuperBlockSize != k {
		panic("cpu: Q6K x4 kernel with a weight row of another length than x's")
	}
	*out = [4]float32{}
	if nsb == 0 {
		return
	}
	// The last row's ends bound every row's.
	_ = x.q[(m+4)*k-1]
	_ = x.d[(m+4)*nb-1]
	w = w[:nsb*compute.Q6KWords]
	asm(&x.q[m*k], k, &x.d[m*nb], &w[0], nsb, out)
}
