/*
 * membw: the memory read bandwidth ceiling that a decoding step's weight
 * streaming is measured against (docs/PERFORMANCE.md). It reads a buffer in
 * transparent huge pages (as the model loader places weights) with 64-byte
 * AVX-512 loads, each thread taking chunks of CHUNK bytes in turn (as
 * Glimpse's matrix-vector tasks do: 147456 bytes is 64 Q4K rows of 4096),
 * prefetching PFD bytes ahead into L1 (0: none), and prints the best of
 * eight passes. Nothing is computed on the data: it is the most a kernel
 * can read, not what one does.
 *
 *   gcc -O2 -mavx512f -pthread scripts/membw.c -o /tmp/membw
 *   /tmp/membw MIB THREADS CHUNK PFD      e.g. /tmp/membw 2048 2 147456 2560
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static size_t n, chunk;
static char *buf;
static int threads, pfd;

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *reader(void *arg) {
	long id = (long)arg;
	__m512i acc = _mm512_setzero_si512();
	for (size_t c = id * chunk; c + chunk <= n; c += threads * chunk) {
		char *p = buf + c;
		for (size_t i = 0; i < chunk; i += 64) {
			if (pfd)
				_mm_prefetch(p + i + pfd, _MM_HINT_T0);
			acc = _mm512_xor_si512(acc, _mm512_loadu_si512(p + i));
		}
	}
	/* The result keeps the loads from being optimised away. */
	return (void *)(long)_mm_cvtsi128_si32(_mm512_castsi512_si128(acc));
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: %s MIB THREADS CHUNK PFD\n", argv[0]);
		return 2;
	}
	n = (size_t)atol(argv[1]) << 20;
	threads = atoi(argv[2]);
	chunk = (size_t)atol(argv[3]);
	pfd = atoi(argv[4]);
	if (n == 0 || threads < 1 || threads > 64 || chunk < 64 || chunk % 64 != 0) {
		fprintf(stderr, "membw: want MIB > 0, 1 to 64 threads, CHUNK a multiple of 64\n");
		return 2;
	}
	buf = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("membw: mmap");
		return 1;
	}
	madvise(buf, n, MADV_HUGEPAGE);
	memset(buf, 1, n);
	double best = 0;
	for (int pass = 0; pass < 8; pass++) {
		pthread_t th[64];
		double t = now();
		for (long i = 0; i < threads; i++)
			pthread_create(&th[i], 0, reader, (void *)i);
		for (int i = 0; i < threads; i++)
			pthread_join(th[i], 0);
		t = now() - t;
		if (n / t / 1e9 > best)
			best = n / t / 1e9;
	}
	printf("%zu MiB, %d threads, chunks of %zu bytes, prefetch %d: best %.1f GB/s\n", n >> 20, threads, chunk, pfd, best);
	return 0;
}
