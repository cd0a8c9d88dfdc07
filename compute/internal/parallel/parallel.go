// Package parallel splits loops over the cores for the compute front (packing
// weights, RoPE tables) and the CPU kernels. It is internal so that the two
// share one loop without either importing the other.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// For runs fn over [0, n) in chunks of about grain items, spread over
// GOMAXPROCS goroutines that take chunks as they finish (so uneven chunks
// balance out). Small loops run on the calling goroutine.
func For(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	tasks := (n + grain - 1) / grain
	workers := min(Procs(), tasks)
	if workers <= 1 {
		fn(0, n)
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			t := int(next.Add(1)) - 1
			if t >= tasks {
				return
			}
			fn(t*grain, min((t+1)*grain, n))
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// Grain picks a chunk size that gives each worker several chunks (for
// balance) while keeping at least minGrain items per chunk.
func Grain(n, minGrain int) int {
	g := n / (4 * Procs())
	return max(g, minGrain, 1)
}

// Procs is the number of goroutines the loops use.
func Procs() int { return runtime.GOMAXPROCS(0) }
