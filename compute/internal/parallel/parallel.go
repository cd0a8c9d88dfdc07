// Package parallel splits loops over the cores for the compute front (packing
// weights, RoPE tables) and the CPU kernels. It is internal so that the two
// share one loop without either importing the other.
//
// Loops run on a pool of persistent workers, started once and grown to
// GOMAXPROCS−1 (the calling goroutine is the last worker), so that a
// decoding step's hundreds of parallel kernels start no goroutines.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// job is one call of For: its chunks, handed out through next.
type job struct {
	fn       func(lo, hi int)
	n, grain int
	tasks    int64
	next     atomic.Int64 // the next chunk to take
	done     atomic.Int64 // chunks finished
	finished chan struct{}
}

// run takes chunks until none is left. The goroutine that finishes the
// last chunk closes finished.
func (j *job) run() {
	for {
		t := j.next.Add(1) - 1
		if t >= j.tasks {
			return
		}
		lo := int(t) * j.grain
		j.fn(lo, min(lo+j.grain, j.n))
		if j.done.Add(1) == j.tasks {
			close(j.finished)
		}
	}
}

// pool is the set of workers. Each one waits on jobs and helps with the
// job it receives. A job is sent once per helper it wants; a worker that
// receives it after its chunks are all taken drops it. The caller of For
// waits for its chunks to finish, never for a helper to arrive, so a For
// nested inside another's chunk (all workers busy) runs on its caller
// alone instead of deadlocking.
var pool struct {
	mu      sync.Mutex
	workers int
	jobs    chan *job
}

// jobQueue bounds the jobs waiting for a worker; when it is full, For asks
// for fewer helpers rather than block.
const jobQueue = 256

// helpers makes sure at least n workers exist and returns the queue they
// read.
func helpers(n int) chan *job {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if pool.jobs == nil {
		pool.jobs = make(chan *job, jobQueue)
	}
	for ; pool.workers < n; pool.workers++ {
		go work(pool.jobs)
	}
	return pool.jobs
}

// spin is how long a worker that has run out of work, or a caller waiting
// for its helpers, keeps looking before it sleeps. Decoding makes a few
// hundred loops per token, a few hundred microseconds each, with short
// serial steps between them; a goroutine asleep on a channel is woken
// through the scheduler (a futex, and on a virtual machine an interrupt to
// an idle vCPU), which on two cores left one idle for about 5% of a step
// (perf stat of compute/cpu's BenchmarkCPUDecodeLayersHuge: 1.89 of 2
// CPUs busy, 30161 context switches in 300 iterations; 9491 with spin).
const spin = 100 * time.Microsecond

// work is a worker: it runs the jobs it receives, looking for the next
// one for spin before it blocks.
func work(jobs <-chan *job) {
	for {
		var j *job
		select {
		case j = <-jobs:
		default:
			for deadline := time.Now().Add(spin); j == nil && time.Now().Before(deadline); {
				select {
				case j = <-jobs:
				default:
					runtime.Gosched()
				}
			}
			if j == nil {
				j = <-jobs
			}
		}
		j.run()
	}
}

// For runs fn over [0, n) in chunks of about grain items, spread over
// GOMAXPROCS goroutines (the caller and pool workers) that take chunks as
// they finish (so uneven chunks balance out). Small loops run on the
// calling goroutine. For returns when every chunk has returned.
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
	j := &job{fn: fn, n: n, grain: grain, tasks: int64(tasks), finished: make(chan struct{})}
	jobs := helpers(Procs() - 1)
	for range workers - 1 {
		select {
		case jobs <- j:
		default: // the queue is full: the workers are busy anyway
		}
	}
	j.run()
	for deadline := time.Now().Add(spin); j.done.Load() < j.tasks && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	<-j.finished
}

// Grain picks a chunk size that gives each worker several chunks (for
// balance) while keeping at least minGrain items per chunk.
func Grain(n, minGrain int) int {
	g := n / (4 * Procs())
	return max(g, minGrain, 1)
}

// Procs is the number of goroutines the loops use.
func Procs() int { return runtime.GOMAXPROCS(0) }
