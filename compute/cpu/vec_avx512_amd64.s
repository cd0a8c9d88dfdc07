//go:build amd64 && !purego

// The AVX-512 kernels: a Q8 one-row kernel, float kernels in 512-bit
// vectors, and float kernels over four weight rows at once.
//
// Q8 one row: sixteen lanes halve the widening work per weight, which
// bounds Q8 once the weights come from cache (BenchmarkCPUVecKernels:
// 0.045 against 0.050 ns/weight, best of five). A Q4 variant gained 1 %,
// within the noise, and was dropped. Every instruction of that kernel is
// AVX-512 F (VEXTRACTF64X4, not the DQ VEXTRACTF32X8).
//
// Register plan of the Q8 kernel:
//   SI  x;  DI  w;  DX  block scales;  CX  blocks left
//   Z0, Z1  running sums (even and odd blocks, so that the scale FMA of
//           one block need not wait for the previous one's)
//   Z4, Z5  a block's 32 weights widened to floats (elements 0–15, 16–31)
//   Z8, Z9  the block's products;  Z10  its scale, broadcast
// The sums are added to one 8-lane Y0 and reduced as the AVX2 kernels do.

#include "textflag.h"

// ZREDUCE leaves Z0+Z1, summed over its sixteen lanes, in X0.
#define ZREDUCE \
	VADDPS        Z1, Z0, Z0 \
	VEXTRACTF64X4 $1, Z0, Y1 \
	VADDPS        Y1, Y0, Y0 \
	VEXTRACTF128  $1, Y0, X1 \
	VADDPS        X1, X0, X0 \
	VPERMILPS     $0x4e, X0, X1 \
	VADDPS        X1, X0, X0 \
	VPERMILPS     $0xb1, X0, X1 \
	VADDPS        X1, X0, X0

// ZBLOCK adds scale·Σ x·q for the widened block in Z4, Z5 to acc (x at
// xo(SI), the scale at so(DX)).
#define ZBLOCK(xo, so, acc) \
	VCVTDQ2PS    Z4, Z4 \
	VCVTDQ2PS    Z5, Z5 \
	VMULPS       xo+0(SI), Z4, Z8 \
	VMULPS       xo+64(SI), Z5, Z9 \
	VADDPS       Z9, Z8, Z8 \
	VBROADCASTSS so(DX), Z10 \
	VFMADD231PS  Z10, Z8, acc

#define Q8Z(xo, wo, so, acc) \
	VPMOVSXBD wo+0(DI), Z4 \
	VPMOVSXBD wo+16(DI), Z5 \
	ZBLOCK(xo, so, acc)

// func dotQ8AVX512Asm(x *float32, w *uint32, scales *float32, nb int) float32
// nb > 0 blocks.
TEXT ·dotQ8AVX512Asm(SB), NOSPLIT, $0-36
	MOVQ   x+0(FP), SI
	MOVQ   w+8(FP), DI
	MOVQ   scales+16(FP), DX
	MOVQ   nb+24(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1

q8zloop2:
	CMPQ CX, $2
	JLT  q8zloop1
	PREFETCHT0 8192(DI)
	Q8Z(0, 0, 0, Z0)
	Q8Z(128, 32, 4, Z1)
	ADDQ $256, SI
	ADDQ $64, DI
	ADDQ $8, DX
	SUBQ $2, CX
	JMP  q8zloop2

q8zloop1:
	CMPQ CX, $1
	JLT  q8zdone
	Q8Z(0, 0, 0, Z0)

q8zdone:
	ZREDUCE
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// The float kernels in 512-bit vectors. From the cache, the AVX2 kernels
// are bound by instructions, not bytes: an F16 weight row against five
// beams needs a load and a widening per 8 weights and a load and an FMA per
// row, and ggml's AVX-512 kernels reached 1.6–1.8× their speed
// (scripts/bench-ggml.sh). Sixteen lanes halve every count.
// Register plan: as the AVX2 kernels (SI x, DI w, CX elements left; BX
// out and R8–R10 the other x rows for x4), with Z0–Z3 the sums of one-row
// kernels and Z0–Z7 two sets of four rows' sums for x4; Z8–Z11 widened
// weights.

// ZSUM4 leaves Z0+Z1+Z2+Z3, summed over its sixteen lanes, in X0.
#define ZSUM4 \
	VADDPS        Z1, Z0, Z0 \
	VADDPS        Z3, Z2, Z2 \
	VADDPS        Z2, Z0, Z0 \
	VEXTRACTF64X4 $1, Z0, Y1 \
	VADDPS        Y1, Y0, Y0 \
	VEXTRACTF128  $1, Y0, X1 \
	VADDPS        X1, X0, X0 \
	VPERMILPS     $0x4e, X0, X1 \
	VADDPS        X1, X0, X0 \
	VPERMILPS     $0xb1, X0, X1 \
	VADDPS        X1, X0, X0

#define ZZERO4 \
	VXORPS Z0, Z0, Z0 \
	VXORPS Z1, Z1, Z1 \
	VXORPS Z2, Z2, Z2 \
	VXORPS Z3, Z3, Z3

// The widening loads: 16 weights at off(DI) into z.
#define WF32(off, z) VMOVUPS off(DI), z
#define WF16(off, z) VCVTPH2PS off(DI), z
#define WBF16(off, z) \
	VPMOVZXWD off(DI), z \
	VPSLLD    $16, z, z

// func dotF32AVX512Asm(x, w *float32, n int) float32
// n is a multiple of 16.
TEXT ·dotF32AVX512Asm(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	ZZERO4

zf32loop64:
	CMPQ        CX, $64
	JLT         zf32loop16
	PREFETCHT0  8192(DI)
	PREFETCHT0  8256(DI)
	PREFETCHT0  8320(DI)
	PREFETCHT0  8384(DI)
	VMOVUPS     0(SI), Z4
	VMOVUPS     64(SI), Z5
	VMOVUPS     128(SI), Z6
	VMOVUPS     192(SI), Z7
	VFMADD231PS 0(DI), Z4, Z0
	VFMADD231PS 64(DI), Z5, Z1
	VFMADD231PS 128(DI), Z6, Z2
	VFMADD231PS 192(DI), Z7, Z3
	ADDQ        $256, SI
	ADDQ        $256, DI
	SUBQ        $64, CX
	JMP         zf32loop64

zf32loop16:
	CMPQ        CX, $16
	JLT         zf32done
	VMOVUPS     0(SI), Z4
	VFMADD231PS 0(DI), Z4, Z0
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         zf32loop16

zf32done:
	ZSUM4
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// ZHALVES is the loop of a one-row kernel of 16-bit weights (F16 or BF16:
// widen is WF16 or WBF16), n a multiple of 16, 32 bytes of weights per 16.
#define ZHALVES(widen, l64, l16, done) \
	ZZERO4 \
l64: \
	CMPQ        CX, $64 \
	JLT         l16 \
	PREFETCHT0  8192(DI) \
	PREFETCHT0  8256(DI) \
	widen(0, Z4) \
	widen(32, Z5) \
	widen(64, Z6) \
	widen(96, Z7) \
	VFMADD231PS 0(SI), Z4, Z0 \
	VFMADD231PS 64(SI), Z5, Z1 \
	VFMADD231PS 128(SI), Z6, Z2 \
	VFMADD231PS 192(SI), Z7, Z3 \
	ADDQ        $256, SI \
	ADDQ        $128, DI \
	SUBQ        $64, CX \
	JMP         l64 \
l16: \
	CMPQ        CX, $16 \
	JLT         done \
	widen(0, Z4) \
	VFMADD231PS 0(SI), Z4, Z0 \
	ADDQ        $64, SI \
	ADDQ        $32, DI \
	SUBQ        $16, CX \
	JMP         l16 \
done: \
	ZSUM4 \
	VZEROUPPER

// func dotF16AVX512Asm(x *float32, w *uint32, n int) float32
// n (halves) is a multiple of 16.
TEXT ·dotF16AVX512Asm(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	ZHALVES(WF16, zf16loop64, zf16loop16, zf16done)
	MOVSS X0, ret+24(FP)
	RET

// func dotBF16AVX512Asm(x *float32, w *uint32, n int) float32
// n (bfloat16s) is a multiple of 16.
TEXT ·dotBF16AVX512Asm(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	ZHALVES(WBF16, zbf16loop64, zbf16loop16, zbf16done)
	MOVSS X0, ret+24(FP)
	RET

// ZFMA4 adds z times the sixteen x at byte offset off of each row to that
// row's sum.
#define ZFMA4(off, z, a0, a1, a2, a3) \
	VFMADD231PS off(SI), z, a0 \
	VFMADD231PS off(R8), z, a1 \
	VFMADD231PS off(R9), z, a2 \
	VFMADD231PS off(R10), z, a3

// ZX4 is the loop of an x4 kernel: widen loads 16 weights (wbytes bytes)
// at a time, 32 an iteration into two sets of sums.
#define ZX4(widen, wbytes, l32, l16, done) \
	ZZERO4 \
	VXORPS Z4, Z4, Z4 \
	VXORPS Z5, Z5, Z5 \
	VXORPS Z6, Z6, Z6 \
	VXORPS Z7, Z7, Z7 \
l32: \
	CMPQ       CX, $32 \
	JLT        l16 \
	PREFETCHT0 8192(DI) \
	widen(0, Z8) \
	widen(wbytes, Z9) \
	ZFMA4(0, Z8, Z0, Z1, Z2, Z3) \
	ZFMA4(64, Z9, Z4, Z5, Z6, Z7) \
	ADDQ       $128, SI \
	ADDQ       $128, R8 \
	ADDQ       $128, R9 \
	ADDQ       $128, R10 \
	ADDQ       $(2*wbytes), DI \
	SUBQ       $32, CX \
	JMP        l32 \
l16: \
	CMPQ       CX, $16 \
	JLT        done \
	widen(0, Z8) \
	ZFMA4(0, Z8, Z0, Z1, Z2, Z3) \
	ADDQ       $64, SI \
	ADDQ       $64, R8 \
	ADDQ       $64, R9 \
	ADDQ       $64, R10 \
	ADDQ       $wbytes, DI \
	SUBQ       $16, CX \
	JMP        l16 \
done: \
	VADDPS        Z4, Z0, Z0 \
	VADDPS        Z5, Z1, Z1 \
	VADDPS        Z6, Z2, Z2 \
	VADDPS        Z7, Z3, Z3 \
	VEXTRACTF64X4 $1, Z0, Y8 \
	VADDPS        Y8, Y0, Y0 \
	VEXTRACTF64X4 $1, Z1, Y8 \
	VADDPS        Y8, Y1, Y1 \
	VEXTRACTF64X4 $1, Z2, Y8 \
	VADDPS        Y8, Y2, Y2 \
	VEXTRACTF64X4 $1, Z3, Y8 \
	VADDPS        Y8, Y3, Y3

// ZROWS sets R8–R10 to the rows after SI, AX·4 bytes apart.
#define ZROWS \
	SHLQ $2, AX \
	LEAQ (SI)(AX*1), R8 \
	LEAQ (R8)(AX*1), R9 \
	LEAQ (R9)(AX*1), R10

// ZSTORE4 sums each of Y0–Y3's eight lanes and stores them to out (BX).
#define ZSTORE4 \
	VEXTRACTF128 $1, Y0, X8 \
	VADDPS       X8, X0, X0 \
	HSUM4Z(X0) \
	VEXTRACTF128 $1, Y1, X8 \
	VADDPS       X8, X1, X1 \
	HSUM4Z(X1) \
	VEXTRACTF128 $1, Y2, X8 \
	VADDPS       X8, X2, X2 \
	HSUM4Z(X2) \
	VEXTRACTF128 $1, Y3, X8 \
	VADDPS       X8, X3, X3 \
	HSUM4Z(X3) \
	VZEROUPPER \
	MOVSS X0, 0(BX) \
	MOVSS X1, 4(BX) \
	MOVSS X2, 8(BX) \
	MOVSS X3, 12(BX)

#define HSUM4Z(x) \
	VPERMILPS $0x4e, x, X9 \
	VADDPS    X9, x, x \
	VPERMILPS $0xb1, x, X9 \
	VADDPS    X9, x, x

// func dotF32x4AVX512Asm(x *float32, ldx int, w *float32, n int, out *[4]float32)
// n is a multiple of 16.
TEXT ·dotF32x4AVX512Asm(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ ldx+8(FP), AX
	MOVQ w+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), BX
	ZROWS
	ZX4(WF32, 64, zf32x4loop32, zf32x4loop16, zf32x4done)
	ZSTORE4
	RET

// func dotF16x4AVX512Asm(x *float32, ldx int, w *uint32, n int, out *[4]float32)
// n (halves) is a multiple of 16.
TEXT ·dotF16x4AVX512Asm(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ ldx+8(FP), AX
	MOVQ w+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), BX
	ZROWS
	ZX4(WF16, 32, zf16x4loop32, zf16x4loop16, zf16x4done)
	ZSTORE4
	RET

// func dotBF16x4AVX512Asm(x *float32, ldx int, w *uint32, n int, out *[4]float32)
// n (bfloat16s) is a multiple of 16.
TEXT ·dotBF16x4AVX512Asm(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ ldx+8(FP), AX
	MOVQ w+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), BX
	ZROWS
	ZX4(WBF16, 32, zbf16x4loop32, zbf16x4loop16, zbf16x4done)
	ZSTORE4
	RET

// The multi-row float kernels: four weight rows at once, against one x row
// (r4) or four (x4r4). Reading four weight streams side by side keeps more
// loads in flight than one row after another, and in x4r4 every loaded x
// and weight feeds four FMAs (16 sums in Z16–Z31) instead of one weight
// feeding four FMAs with four x loads: 8 loads per 16 FMAs instead of 20.
// Registers: SI, R8–R10 the x rows (x4r4); DI, R11–R13 the weight rows
// (ldw bytes apart); CX elements left; BX out.

// WROWS sets R11–R13 to the weight rows after DI, AX bytes apart.
#define WROWS \
	LEAQ (DI)(AX*1), R11 \
	LEAQ (R11)(AX*1), R12 \
	LEAQ (R12)(AX*1), R13

// WIDEN4 loads sixteen weights at off of each weight row into Z8–Z11
// (wr: the widening load from any base register).
#define WIDEN4(wr, off) \
	wr(off, DI, Z8) \
	wr(off, R11, Z9) \
	wr(off, R12, Z10) \
	wr(off, R13, Z11)

// The widening loads from a base register.
#define WF32_R(off, base, z) VMOVUPS off(base), z
#define WF16_R(off, base, z) VCVTPH2PS off(base), z
#define WBF16_R(off, base, z) \
	VPMOVZXWD off(base), z \
	VPSLLD    $16, z, z

#define PREFETCH4(off) \
	PREFETCHT0 off(DI) \
	PREFETCHT0 off(R11) \
	PREFETCHT0 off(R12) \
	PREFETCHT0 off(R13)

#define ADVANCEW(bytes) \
	ADDQ $bytes, DI \
	ADDQ $bytes, R11 \
	ADDQ $bytes, R12 \
	ADDQ $bytes, R13

// ZOUT sums z's sixteen lanes (y: its 256-bit name) and stores the sum at
// off(BX); Y8, X9 are scratch.
#define ZOUT(z, y, off) \
	VEXTRACTF64X4 $1, z, Y8 \
	VADDPS        Y8, y, Y8 \
	VEXTRACTF128  $1, Y8, X9 \
	VADDPS        X9, X8, X8 \
	VPERMILPS     $0x4e, X8, X9 \
	VADDPS        X9, X8, X8 \
	VPERMILPS     $0xb1, X8, X9 \
	VADDPS        X9, X8, X8 \
	MOVSS         X8, off(BX)

// R4 is the body of an r4 kernel: 16 weights (wbytes bytes) a step, two
// steps an iteration into Z0–Z3 and Z4–Z7.
#define R4(wr, wbytes, l32, l16, done) \
	WROWS \
	ZZERO4 \
	VXORPS Z4, Z4, Z4 \
	VXORPS Z5, Z5, Z5 \
	VXORPS Z6, Z6, Z6 \
	VXORPS Z7, Z7, Z7 \
l32: \
	CMPQ        CX, $32 \
	JLT         l16 \
	PREFETCH4(2048) \
	VMOVUPS     0(SI), Z16 \
	VMOVUPS     64(SI), Z17 \
	WIDEN4(wr, 0) \
	VFMADD231PS Z16, Z8, Z0 \
	VFMADD231PS Z16, Z9, Z1 \
	VFMADD231PS Z16, Z10, Z2 \
	VFMADD231PS Z16, Z11, Z3 \
	WIDEN4(wr, wbytes) \
	VFMADD231PS Z17, Z8, Z4 \
	VFMADD231PS Z17, Z9, Z5 \
	VFMADD231PS Z17, Z10, Z6 \
	VFMADD231PS Z17, Z11, Z7 \
	ADDQ        $128, SI \
	ADVANCEW(2*wbytes) \
	SUBQ        $32, CX \
	JMP         l32 \
l16: \
	CMPQ        CX, $16 \
	JLT         done \
	VMOVUPS     0(SI), Z16 \
	WIDEN4(wr, 0) \
	VFMADD231PS Z16, Z8, Z0 \
	VFMADD231PS Z16, Z9, Z1 \
	VFMADD231PS Z16, Z10, Z2 \
	VFMADD231PS Z16, Z11, Z3 \
	ADDQ        $64, SI \
	ADVANCEW(wbytes) \
	SUBQ        $16, CX \
	JMP         l16 \
done: \
	VADDPS Z4, Z0, Z0 \
	VADDPS Z5, Z1, Z1 \
	VADDPS Z6, Z2, Z2 \
	VADDPS Z7, Z3, Z3 \
	ZOUT(Z0, Y0, 0) \
	ZOUT(Z1, Y1, 4) \
	ZOUT(Z2, Y2, 8) \
	ZOUT(Z3, Y3, 12) \
	VZEROUPPER

// func dotF32r4AVX512Asm(x *float32, w *float32, ldw int, n int, out *[4]float32)
// out[j] = x · weight row j (rows ldw bytes apart); n a multiple of 16.
TEXT ·dotF32r4AVX512Asm(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ ldw+16(FP), AX
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), BX
	R4(WF32_R, 64, zr4f32l32, zr4f32l16, zr4f32done)
	RET

// func dotF16r4AVX512Asm(x *float32, w *uint32, ldw int, n int, out *[4]float32)
TEXT ·dotF16r4AVX512Asm(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ ldw+16(FP), AX
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), BX
	R4(WF16_R, 32, zr4f16l32, zr4f16l16, zr4f16done)
	RET

// func dotBF16r4AVX512Asm(x *float32, w *uint32, ldw int, n int, out *[4]float32)
TEXT ·dotBF16r4AVX512Asm(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ ldw+16(FP), AX
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), BX
	R4(WBF16_R, 32, zr4bf16l32, zr4bf16l16, zr4bf16done)
	RET

// XROW4 multiplies the x row at base (sixteen values at off) by Z8–Z11
// into that row's four sums a0–a3.
#define XROW4(off, base, a0, a1, a2, a3) \
	VMOVUPS     off(base), Z12 \
	VFMADD231PS Z12, Z8, a0 \
	VFMADD231PS Z12, Z9, a1 \
	VFMADD231PS Z12, Z10, a2 \
	VFMADD231PS Z12, Z11, a3

#define X4R4STEP(wr, woff, xoff) \
	WIDEN4(wr, woff) \
	XROW4(xoff, SI, Z16, Z17, Z18, Z19) \
	XROW4(xoff, R8, Z20, Z21, Z22, Z23) \
	XROW4(xoff, R9, Z24, Z25, Z26, Z27) \
	XROW4(xoff, R10, Z28, Z29, Z30, Z31)

// X4R4 is the body of an x4r4 kernel (AX: ldw bytes, DX: ldx·4 bytes).
#define X4R4(wr, wbytes, l32, l16, done) \
	WROWS \
	LEAQ (SI)(DX*1), R8 \
	LEAQ (R8)(DX*1), R9 \
	LEAQ (R9)(DX*1), R10 \
	VXORPS Z16, Z16, Z16 \
	VXORPS Z17, Z17, Z17 \
	VXORPS Z18, Z18, Z18 \
	VXORPS Z19, Z19, Z19 \
	VXORPS Z20, Z20, Z20 \
	VXORPS Z21, Z21, Z21 \
	VXORPS Z22, Z22, Z22 \
	VXORPS Z23, Z23, Z23 \
	VXORPS Z24, Z24, Z24 \
	VXORPS Z25, Z25, Z25 \
	VXORPS Z26, Z26, Z26 \
	VXORPS Z27, Z27, Z27 \
	VXORPS Z28, Z28, Z28 \
	VXORPS Z29, Z29, Z29 \
	VXORPS Z30, Z30, Z30 \
	VXORPS Z31, Z31, Z31 \
l32: \
	CMPQ CX, $32 \
	JLT  l16 \
	PREFETCH4(2048) \
	X4R4STEP(wr, 0, 0) \
	X4R4STEP(wr, wbytes, 64) \
	ADDQ $128, SI \
	ADDQ $128, R8 \
	ADDQ $128, R9 \
	ADDQ $128, R10 \
	ADVANCEW(2*wbytes) \
	SUBQ $32, CX \
	JMP  l32 \
l16: \
	CMPQ CX, $16 \
	JLT  done \
	X4R4STEP(wr, 0, 0) \
	ADDQ $64, SI \
	ADDQ $64, R8 \
	ADDQ $64, R9 \
	ADDQ $64, R10 \
	ADVANCEW(wbytes) \
	SUBQ $16, CX \
	JMP  l16 \
done: \
	ZOUT(Z16, Y16, 0) \
	ZOUT(Z17, Y17, 4) \
	ZOUT(Z18, Y18, 8) \
	ZOUT(Z19, Y19, 12) \
	ZOUT(Z20, Y20, 16) \
	ZOUT(Z21, Y21, 20) \
	ZOUT(Z22, Y22, 24) \
	ZOUT(Z23, Y23, 28) \
	ZOUT(Z24, Y24, 32) \
	ZOUT(Z25, Y25, 36) \
	ZOUT(Z26, Y26, 40) \
	ZOUT(Z27, Y27, 44) \
	ZOUT(Z28, Y28, 48) \
	ZOUT(Z29, Y29, 52) \
	ZOUT(Z30, Y30, 56) \
	ZOUT(Z31, Y31, 60) \
	VZEROUPPER

// func dotF32x4r4AVX512Asm(x *float32, ldx int, w *float32, ldw int, n int, out *[16]float32)
// out[4r+j] = x row r (ldx floats apart) · weight row j (ldw bytes
// apart); n a multiple of 16.
TEXT ·dotF32x4r4AVX512Asm(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ ldx+8(FP), DX
	SHLQ $2, DX
	MOVQ w+16(FP), DI
	MOVQ ldw+24(FP), AX
	MOVQ n+32(FP), CX
	MOVQ out+40(FP), BX
	X4R4(WF32_R, 64, zx4r4f32l32, zx4r4f32l16, zx4r4f32done)
	RET

// func dotF16x4r4AVX512Asm(x *float32, ldx int, w *uint32, ldw int, n int, out *[16]float32)
TEXT ·dotF16x4r4AVX512Asm(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ ldx+8(FP), DX
	SHLQ $2, DX
	MOVQ w+16(FP), DI
	MOVQ ldw+24(FP), AX
	MOVQ n+32(FP), CX
	MOVQ out+40(FP), BX
	X4R4(WF16_R, 32, zx4r4f16l32, zx4r4f16l16, zx4r4f16done)
	RET

// func dotBF16x4r4AVX512Asm(x *float32, ldx int, w *uint32, ldw int, n int, out *[16]float32)
TEXT ·dotBF16x4r4AVX512Asm(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ ldx+8(FP), DX
	SHLQ $2, DX
	MOVQ w+16(FP), DI
	MOVQ ldw+24(FP), AX
	MOVQ n+32(FP), CX
	MOVQ out+40(FP), BX
	X4R4(WBF16_R, 32, zx4r4bf16l32, zx4r4bf16l16, zx4r4bf16done)
	RET

// Attention's kernels over a block of heads at one cached position: the
// heads' queries (or output rows) and keys (or values) lie side by side,
// d values apart, so one call covers the block where one call per head
// spent more on the call than on its 128 values. Each head's sum is the
// one-row kernel's, term for term: the same macro, or the same fused
// multiply–add per element, so Attention's results do not depend on
// which path ran.

// func dotF16HeadsAVX512Asm(q *float32, k *uint32, d, heads int, scale float32, out *float32, stride int)
// out[h·stride] = scale · (q_h · k_h) for h < heads (stride in bytes);
// d (halves) is a multiple of 16.
TEXT ·dotF16HeadsAVX512Asm(SB), NOSPLIT, $0-56
	MOVQ  q+0(FP), SI
	MOVQ  k+8(FP), DI
	MOVQ  d+16(FP), R11
	MOVQ  heads+24(FP), BX
	VMOVSS scale+32(FP), X10
	MOVQ  out+40(FP), R12
	MOVQ  stride+48(FP), R13

zhdloop:
	MOVQ    R11, CX
	ZHALVES(WF16, zhdl64, zhdl16, zhdsum)
	VMULSS  X10, X0, X0
	VMOVSS  X0, (R12)
	ADDQ    R13, R12
	DECQ    BX
	JNZ     zhdloop
	RET

// func axpyF16HeadsAVX512Asm(dst *float32, p *float32, stride int, v *uint32, d, heads int)
// dst_h += p[h·stride] · v_h for h < heads (stride in bytes), one fused
// multiply–add per element as axpyF16AVX2Asm; d is a multiple of 16.
TEXT ·axpyF16HeadsAVX512Asm(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ p+8(FP), R12
	MOVQ stride+16(FP), R13
	MOVQ v+24(FP), SI
	MOVQ d+32(FP), R11
	MOVQ heads+40(FP), BX

zhaloop:
	VBROADCASTSS (R12), Z15
	MOVQ         R11, CX

zhal64:
	CMPQ        CX, $64
	JLT         zhal16
	PREFETCHT0  8192(SI)
	PREFETCHT0  8256(SI)
	VCVTPH2PS   0(SI), Z4
	VCVTPH2PS   32(SI), Z5
	VCVTPH2PS   64(SI), Z6
	VCVTPH2PS   96(SI), Z7
	VMOVUPS     0(DI), Z0
	VMOVUPS     64(DI), Z1
	VMOVUPS     128(DI), Z2
	VMOVUPS     192(DI), Z3
	VFMADD231PS Z4, Z15, Z0
	VFMADD231PS Z5, Z15, Z1
	VFMADD231PS Z6, Z15, Z2
	VFMADD231PS Z7, Z15, Z3
	VMOVUPS     Z0, 0(DI)
	VMOVUPS     Z1, 64(DI)
	VMOVUPS     Z2, 128(DI)
	VMOVUPS     Z3, 192(DI)
	ADDQ        $256, DI
	ADDQ        $128, SI
	SUBQ        $64, CX
	JMP         zhal64

zhal16:
	CMPQ        CX, $16
	JLT         zhanext
	VCVTPH2PS   0(SI), Z4
	VMOVUPS     0(DI), Z0
	VFMADD231PS Z4, Z15, Z0
	VMOVUPS     Z0, 0(DI)
	ADDQ        $64, DI
	ADDQ        $32, SI
	SUBQ        $16, CX
	JMP         zhal16

zhanext:
	ADDQ R13, R12
	DECQ BX
	JNZ  zhaloop
	VZEROUPPER
	RET
