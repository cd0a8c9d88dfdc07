package cpu

import (
	"sync"
	"unsafe"

	"glimpse/compute"

	"glimpse/compute/internal/parallel"
)

// Packed matrix product for many x rows (the vision encoder, prompts).
//
// The matrix–vector kernels of vec.go read every weight once per x row
// (or per four rows), which is right when there are few rows but leaves a
// matrix product bound by loads: 257 rows would stream each weight row 65
// times. Here a register-blocked micro-kernel in assembly keeps an mr×nr
// tile of outputs in vector registers (6×16 float32 with AVX2 and NEON,
// 6×32 with AVX-512) and, for every k, loads nr widened weights once and
// broadcasts mr x values, so each loaded value feeds several FMAs.
//
// The weights are packed once per call: a task takes gemmNC output columns
// (w rows), widens them to float32 (whatever their dtype) and transposes
// them into panels of nr columns, laid out k-major ([k][nr]) so that the
// micro-kernel reads them contiguously. K is cut into blocks of gemmKC so
// that one panel's block (gemmKC·nr floats, 16 or 32 KiB) stays in L1
// while every group of x rows passes over it, and the x rows' block
// (gemmKC floats a row: 257 rows are 257 KiB) stays in L2. Each output is
// one running sum over k in ascending order, whatever the split, so results
// do not depend on the number of threads.

// gemmKC is the depth of one K block.
const gemmKC = 256

// gemmNC is the number of output columns (w rows) one parallel task takes:
// a multiple of every kernel's nr.
const gemmNC = 64

// gemmKernel is a micro-kernel and its tile shape, with the transposing
// copies that pack its panels. fn computes the mr×nr tile
// c[i*ldc+j] = Σ_k x[i*ldx+k]·b[k*nr+j] over k < kc (kc >= 1), adding to
// what c holds when acc is 1 and overwriting it when acc is 0. x holds mr
// rows ldx apart; b is a packed panel. nr is a multiple of 8.
//
// The t8 functions write dst[k*ldd+r] = (element k of row r of src) for
// r < 8 and k < n (a multiple of 8), widening it to float32: t8f32 and
// t8f16 with rows lds elements apart, t8bf16 too; t8q8 and t8q4 with rows
// lds bytes apart, n a multiple of the block size and the eight rows' block
// scales as [n/32][8]; t8q4k below. Without them (nil) the packing is done
// in Go, the quantized dtypes by widening whole rows first.
type gemmKernel struct {
	mr, nr int
	fn     func(x *float32, ldx int, b *float32, kc int, c *float32, ldc int, acc int)
	t8f32  func(src *float32, lds int, dst *float32, ldd int, n int)
	t8f16  func(src *uint16, lds int, dst *float32, ldd int, n int)
	t8bf16 func(src *uint16, lds int, dst *float32, ldd int, n int)
	t8q8   func(src *uint8, lds int, scales *float32, dst *float32, ldd int, n int)
	t8q4   func(src *uint32, lds int, scales *float32, dst *float32, ldd int, n int)
	// t8q4k is t8q4 for Q4K, n a multiple of the super-block, with the
	// sub-blocks' mins beside their scales.
	t8q4k func(src *uint32, lds int, scales, mins *float32, dst *float32, ldd int, n int)
}

// gemmPool recycles the packed panels and the edge tiles of gemm tasks.
var gemmPool sync.Pool

// gemmScratch is one task's working memory.
type gemmScratch struct {
	panels []float32 // packed weights, every K block
	rows   []float32 // eight widened w rows
	scales []float32 // eight quantized rows' block scales, [K/32][8] (and Q4K's mins after them)
	xedge  []float32 // the last, partial group of x rows, padded with zeros
	cedge  []float32 // a partial output tile
}

// getGemmScratch returns scratch for a task of the given panel size, K
// and tile, reusing a pooled one: a task's panels are up to gemmNC·K
// floats, too large to allocate per call.
func getGemmScratch(panels, k, mr, nr int) *gemmScratch {
	s, _ := gemmPool.Get().(*gemmScratch)
	if s == nil {
		s = new(gemmScratch)
	}
	s.panels = grow(s.panels, panels)
	s.rows = grow(s.rows, 8*k)
	s.scales = grow(s.scales, 16*((k+compute.BlockSize-1)/compute.BlockSize))
	s.xedge = grow(s.xedge, mr*gemmKC)
	s.cedge = grow(s.cedge, mr*nr)
	return s
}

// grow returns s resliced to n, reallocated if it is too short.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// gemmPacker fills the panels of one task: output columns [n0, n0+nw) of
// a product with inner dimension K, in the layout panelAt describes.
type gemmPacker func(s *gemmScratch, n0, nw int)

// panelAt returns the offset in the packed panels of K block k0 (of depth
// kcb), panel p, for a task of np panels of width nr.
func panelAt(k0, kcb, p, np, nr int) int { return k0*np*nr + p*kcb*nr }

// packRows is the gemmPacker of Linear and MatMul with transB: column n of
// the product is row n of w, widened and transposed into the panels eight
// rows at a time. Rows are read where they are when ker has a transpose
// for their dtype; otherwise (and for the zero rows that pad the last
// panel) they are widened into scratch first.
func packRows(ker *gemmKernel, w *weightRows, K int) gemmPacker {
	nr := ker.nr
	return func(s *gemmScratch, n0, nw int) {
		np := (nw + nr - 1) / nr
		for j0 := 0; j0 < np*nr; j0 += 8 {
			p, jj := j0/nr, j0%nr
			full := j0+8 <= nw
			// The eight rows' elements: float32 rows, halves (F16 or
			// BF16, two per word) or quantized words, lds elements
			// apart.
			var (
				f    []float32
				h    []uint32
				bf16 bool
				lds  = K
			)
			switch {
			case full && w.dt == compute.F32:
				f = w.f[(n0+j0)*K : (n0+j0+8)*K]
			case full && w.dt == compute.F16 && K%2 == 0:
				h = w.words[(n0+j0)*K/2 : (n0+j0+8)*K/2]
			case full && w.dt == compute.BF16 && K%2 == 0 && ker.t8bf16 != nil:
				h, bf16 = w.words[(n0+j0)*K/2:(n0+j0+8)*K/2], true
			case full && (w.dt == compute.Q8 && ker.t8q8 != nil || w.dt == compute.Q4 && ker.t8q4 != nil ||
				w.dt == compute.Q4K && ker.t8q4k != nil):
				packQuantized(ker, s, w, n0+j0, K, s.panels, p, jj, np)
				continue
			default:
				f = s.rows[:8*K]
				for r := range 8 {
					d := f[r*K : (r+1)*K]
					if j0+r < nw {
						if src := w.row(n0+j0+r, d); &src[0] != &d[0] {
							copy(d, src)
						}
					} else {
						clear(d)
					}
				}
			}
			for k0 := 0; k0 < K; k0 += gemmKC {
				kcb := min(gemmKC, K-k0)
				dst := s.panels[panelAt(k0, kcb, p, np, nr)+jj : panelAt(k0, kcb, p+1, np, nr)]
				n := kcb &^ 7
				switch {
				case h == nil:
					transpose8F32(ker, f, k0, lds, dst, nr, n)
				case bf16:
					transpose8Halves(ker.t8bf16, h, k0, lds, dst, nr, n)
				default:
					transpose8Halves(ker.t8f16, h, k0, lds, dst, nr, n)
				}
				// The last k of a block that is not a multiple of 8.
				for kk := n; kk < kcb; kk++ {
					for r := range 8 {
						k := k0 + kk
						switch i := r*lds + k; {
						case h == nil:
							dst[kk*nr+r] = f[i]
						case bf16:
							dst[kk*nr+r] = compute.BF16ToFloat32(uint16(h[i/2] >> (16 * uint(i&1))))
						default:
							dst[kk*nr+r] = halfTable[uint16(h[i/2]>>(16*uint(i&1)))]
						}
					}
				}
			}
		}
	}
}

// packQuantized packs the eight Q8 or Q4 rows from row n of w into
// column jj of panel p (of np) in every K block, with ker's transposes,
// which widen them and apply their block scales.
func packQuantized(ker *gemmKernel, s *gemmScratch, w *weightRows, n, K int, panels []float32, p, jj, np int) {
	const bs = compute.BlockSize
	nr, nb := ker.nr, K/bs
	if w.dt == compute.Q4K {
		packQ4K(ker, s, w, n, K, panels, p, jj, np)
		return
	}
	// The scales of the eight rows, block by block.
	tab := s.scales[:8*nb]
	sc := w.scales[n*nb : (n+8)*nb]
	for r := range 8 {
		for b, v := range sc[r*nb : (r+1)*nb] {
			tab[b*8+r] = v
		}
	}
	perWord := 4 // Q8
	if w.dt == compute.Q4 {
		perWord = 8
	}
	rowWords := K / perWord
	words := w.words[n*rowWords : (n+8)*rowWords]
	for k0 := 0; k0 < K; k0 += gemmKC {
		kcb := min(gemmKC, K-k0) // whole blocks: K is
		dst := panels[panelAt(k0, kcb, p, np, nr)+jj : panelAt(k0, kcb, p+1, np, nr)]
		_ = dst[(kcb-1)*nr+7]
		src := words[k0/perWord:]
		_ = src[7*rowWords+(kcb/perWord)-1]
		if w.dt == compute.Q8 {
			ker.t8q8((*uint8)(unsafe.Pointer(&src[0])), 4*rowWords, &tab[k0/bs*8], &dst[0], nr, kcb)
		} else {
			ker.t8q4(&src[0], 4*rowWords, &tab[k0/bs*8], &dst[0], nr, kcb)
		}
	}
}

// packQ4K is packQuantized for Q4K rows: their super-blocks' scales and
// mins are decoded in Go (q4kScalesMins, bit for bit the format's
// definition) into tables the assembly reads.
func packQ4K(ker *gemmKernel, s *gemmScratch, w *weightRows, n, K int, panels []float32, p, jj, np int) {
	const sw, sbs, bs = compute.Q4KWords, compute.SuperBlockSize, compute.BlockSize
	nr, nsb, nb := ker.nr, K/sbs, K/bs
	scales, mins := s.scales[:8*nb], s.scales[8*nb:16*nb]
	rowWords := nsb * sw
	words := w.words[n*rowWords : (n+8)*rowWords]
	var sm [16]float32
	for r := range 8 {
		for b := range nsb {
			q4kScalesMins(words[r*rowWords+b*sw:r*rowWords+(b+1)*sw], &sm)
			for j := range sbs / bs {
				scales[(b*8+j)*8+r] = sm[j]
				mins[(b*8+j)*8+r] = sm[8+j]
			}
		}
	}
	for k0 := 0; k0 < K; k0 += gemmKC {
		kcb := min(gemmKC, K-k0) // whole super-blocks: K is
		dst := panels[panelAt(k0, kcb, p, np, nr)+jj : panelAt(k0, kcb, p+1, np, nr)]
		_ = dst[(kcb-1)*nr+7]
		src := words[k0/sbs*sw:]
		_ = src[7*rowWords+kcb/sbs*sw-1]
		ker.t8q4k(&src[0], 4*rowWords, &scales[k0/bs*8], &mins[k0/bs*8], &dst[0], nr, kcb)
	}
}

// transpose8F32 writes dst[k*ldd+r] = src[r*lds+k0+k] for r < 8, k < n
// (a multiple of 8), with ker's assembly where it has some.
func transpose8F32(ker *gemmKernel, src []float32, k0, lds int, dst []float32, ldd, n int) {
	if n == 0 {
		return
	}
	_, _ = src[7*lds+k0+n-1], dst[(n-1)*ldd+7]
	if ker.t8f32 != nil {
		ker.t8f32(&src[k0], lds, &dst[0], ldd, n)
		return
	}
	for k := range n {
		for r := range 8 {
			dst[k*ldd+r] = src[r*lds+k0+k]
		}
	}
}

// transpose8Halves is transpose8F32 for F16 or BF16 halves, two per word
// of src (k0 and lds even), with asm (ker.t8f16 or t8bf16), or in Go where
// that is nil, which happens for F16 only.
func transpose8Halves(asm func(src *uint16, lds int, dst *float32, ldd int, n int), src []uint32, k0, lds int, dst []float32, ldd, n int) {
	if n == 0 {
		return
	}
	_, _ = src[(7*lds+k0+n-1)/2], dst[(n-1)*ldd+7]
	if asm != nil {
		asm((*uint16)(unsafe.Pointer(&src[k0/2])), lds, &dst[0], ldd, n)
		return
	}
	for k := range n {
		for r := range 8 {
			i := r*lds + k0 + k
			dst[k*ldd+r] = halfTable[uint16(src[i/2]>>(16*uint(i&1)))]
		}
	}
}

// packCols is the gemmPacker of MatMul without transB: b is [K, N]
// row-major, so each k of a panel is nr contiguous values of b.
func packCols(ker *gemmKernel, b []float32, K, N int) gemmPacker {
	nr := ker.nr
	return func(s *gemmScratch, n0, nw int) {
		np := (nw + nr - 1) / nr
		for p := 0; p < np; p++ {
			c0 := n0 + p*nr
			c1 := min(c0+nr, n0+nw)
			for k0 := 0; k0 < K; k0 += gemmKC {
				kcb := min(gemmKC, K-k0)
				dst := s.panels[panelAt(k0, kcb, p, np, nr):]
				for kk := 0; kk < kcb; kk++ {
					d := dst[kk*nr : (kk+1)*nr]
					n := copy(d, b[(k0+kk)*N+c0:(k0+kk)*N+c1])
					clear(d[n:])
				}
			}
		}
	}
}

// gemmPacked computes out[m, n] = Σ_k x[m, k]·B[k, n] (+ bias[n]) for
// m < M, n < N, with kernel ker, where pack provides B's panels. x holds M
// rows of length K (K >= 1); out rows are ldo apart.
func gemmPacked(ker *gemmKernel, x []float32, M, K int, pack gemmPacker, N int, bias []float32, out []float32, ldo int) {
	if M == 0 || N == 0 {
		return
	}
	mr, nr := ker.mr, ker.nr
	tasks := (N + gemmNC - 1) / gemmNC
	parallel.For(tasks, 1, func(t0, t1 int) {
		s := getGemmScratch(gemmNC*K, K, mr, nr)
		defer gemmPool.Put(s)
		for t := t0; t < t1; t++ {
			n0 := t * gemmNC
			nw := min(gemmNC, N-n0)
			np := (nw + nr - 1) / nr
			pack(s, n0, nw)
			for k0 := 0; k0 < K; k0 += gemmKC {
				kcb := min(gemmKC, K-k0)
				acc := 0
				if k0 > 0 {
					acc = 1
				}
				// Panel by panel: one panel's K block (kcb·nr floats,
				// 16 or 32 KiB) stays in L1 while every group of x rows
				// passes over it from L2.
				for p := range np {
					b := &s.panels[panelAt(k0, kcb, p, np, nr)]
					cols := min(nr, nw-p*nr)
					for m0 := 0; m0 < M; m0 += mr {
						xs, ldx := x[m0*K+k0:], K
						rows := min(mr, M-m0)
						if rows == mr {
							_ = xs[(mr-1)*K+kcb-1] // the kernel reads this far
						} else {
							// The last rows: copy them into a full group
							// padded with zero rows, whose outputs are
							// dropped.
							xs, ldx = s.xedge, kcb
							for i := range mr {
								d := xs[i*kcb : (i+1)*kcb]
								if i < rows {
									copy(d, x[(m0+i)*K+k0:])
								} else {
									clear(d)
								}
							}
						}
						o := out[m0*ldo+n0+p*nr:]
						if rows == mr && cols == nr {
							_ = o[(mr-1)*ldo+nr-1]
							ker.fn(&xs[0], ldx, b, kcb, &o[0], ldo, acc)
							continue
						}
						c := s.cedge
						if acc == 1 {
							for i := range rows {
								copy(c[i*nr:i*nr+cols], o[i*ldo:i*ldo+cols])
							}
						}
						ker.fn(&xs[0], ldx, b, kcb, &c[0], nr, acc)
						for i := range rows {
							copy(o[i*ldo:i*ldo+cols], c[i*nr:i*nr+cols])
						}
					}
				}
			}
			if bias != nil {
				for m := range M {
					o := out[m*ldo+n0 : m*ldo+n0+nw]
					for j, b := range bias[n0 : n0+nw] {
						o[j] += b
					}
				}
			}
		}
	})
}
