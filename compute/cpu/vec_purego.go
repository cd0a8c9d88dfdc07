//go:build purego || !(amd64 || arm64)

package cpu

// archKernels lists no SIMD kernels: this build (the purego tag, or an
// architecture without assembly here) runs the pure-Go reference set.
func archKernels() []vecKernels { return nil }
