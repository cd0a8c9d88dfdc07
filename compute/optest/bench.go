package optest

import (
	"math/rand/v2"

	"glimpse/compute"
)

// Helpers shared by the backends' kernel benchmarks, which run the same
// shapes on every backend so that their numbers compare.

// BenchWeights returns n·k seeded random weights (one shared source, so the
// benchmarks of every dtype and backend multiply the same values).
func BenchWeights(n, k int) []float32 {
	return RandFloats(rand.New(rand.NewPCG(1, 1)), n*k, 0.02)
}

// WeightBytes is the memory a packed [n, k] weight of dtype dt occupies:
// words plus Q8/Q4 block scales (Q4K's are in its words), what a
// matrix–vector product reads.
func WeightBytes(dt compute.DType, n, k int) float64 {
	b := 4 * compute.PackedWords(dt, n*k)
	if dt == compute.Q8 || dt == compute.Q4 {
		b += 4 * n * k / compute.BlockSize
	}
	return float64(b)
}
