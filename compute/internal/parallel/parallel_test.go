package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestFor checks that every index is visited exactly once, in chunks of at
// most grain (or one call for the whole loop, which runs on the caller
// when there is one thread), for loops smaller and larger than the pool
// and with any number of threads.
func TestFor(t *testing.T) {
	cases := []struct {
		name               string
		n, grain, maxprocs int
	}{
		{"empty", 0, 1, 4},
		{"negative", -3, 1, 4},
		{"one", 1, 1, 4},
		{"zero grain", 10, 0, 4},
		{"one chunk", 10, 100, 4},
		{"uneven", 1001, 7, 4},
		{"more threads than chunks", 5, 1, 16},
		{"one thread", 1000, 3, 1},
		{"two threads", 1 << 16, 100, 2},
		{"many threads", 12345, 11, 33},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(c.maxprocs))
			seen := make([]atomic.Int32, max(c.n, 0))
			var bad atomic.Int32
			For(c.n, c.grain, func(lo, hi int) {
				whole := lo == 0 && hi == c.n
				if lo >= hi || (hi-lo > max(c.grain, 1) && !whole) || lo < 0 || hi > c.n {
					bad.Add(1)
					return
				}
				for i := lo; i < hi; i++ {
					seen[i].Add(1)
				}
			})
			if bad.Load() != 0 {
				t.Fatalf("%d chunks out of range or larger than the grain", bad.Load())
			}
			for i := range seen {
				if v := seen[i].Load(); v != 1 {
					t.Fatalf("index %d visited %d times", i, v)
				}
			}
		})
	}
}

// TestForNested runs For inside every chunk of another For, deeper than
// the pool has workers: the inner loops must finish on their callers even
// when every worker is busy.
func TestForNested(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	const outer, inner = 64, 50
	var total atomic.Int64
	For(outer, 1, func(lo, hi int) {
		for range hi - lo {
			For(inner, 1, func(lo, hi int) {
				For(3, 1, func(a, b int) { total.Add(int64((hi - lo) * (b - a))) })
			})
		}
	})
	if want := int64(outer * inner * 3); total.Load() != want {
		t.Fatalf("nested loops did %d items, want %d", total.Load(), want)
	}
}

// TestForConcurrent runs loops from many goroutines at once, as concurrent
// contexts of the CPU backend do, sharing the one pool.
func TestForConcurrent(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	const callers, n = 16, 997
	sums := make([]int64, callers)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			out := make([]int64, n)
			For(n, 5, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					out[i] = int64(i)
				}
			})
			for _, v := range out {
				sums[c] += v
			}
		})
	}
	wg.Wait()
	for c, s := range sums {
		if want := int64(n * (n - 1) / 2); s != want {
			t.Fatalf("caller %d: sum %d, want %d", c, s, want)
		}
	}
}

// TestGrain checks the chunk sizes Grain picks.
func TestGrain(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	cases := []struct{ n, minGrain, want int }{
		{0, 0, 1},
		{100, 1, 12}, // 100 / (4·2)
		{100, 16, 16},
		{1 << 20, 16, 1 << 17},
	}
	for _, c := range cases {
		if got := Grain(c.n, c.minGrain); got != c.want {
			t.Errorf("Grain(%d, %d) = %d, want %d", c.n, c.minGrain, got, c.want)
		}
	}
}

// BenchmarkFor is the cost of one small parallel loop: what a decoding
// step pays per kernel for spreading it over the cores.
func BenchmarkFor(b *testing.B) {
	out := make([]float32, 4096)
	for b.Loop() {
		For(len(out), 256, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				out[i]++
			}
		})
	}
}
