//go:build amd64 && !purego

// Micro-kernels of the packed matrix product (gemm.go): an mr×nr tile of
// outputs held in vector registers while k runs over a packed panel.
//
// Register plan:
//   SI  x row 0, R9 x row 3 (rows 1, 2 and 4, 5 are R8 and 2·R8 beyond)
//   R8  x row stride in bytes
//   DI  the packed panel, nr floats per k
//   CX  k left
//   DX  c row 0, R11 c row 3; R10 the c row stride in bytes
// AVX2 (6×16): Y0–Y11 the tile (row i in Y2i, Y2i+1), Y12–Y13 one k of
// the panel, Y14–Y15 broadcast x values. Each k is 2 panel loads and 6
// broadcasts for 12 FMAs, so the two FMA units, not the loads, set the pace;
// twelve independent accumulators cover the FMA latency.
// AVX-512 (6×32): the same with Z registers and 32 columns.

#include "textflag.h"

// ROW multiplies one broadcast x value (at addr) into a row's two
// accumulators.
#define ROW(addr, bc, a0, a1) \
	VBROADCASTSS addr, bc \
	VFMADD231PS  Y12, bc, a0 \
	VFMADD231PS  Y13, bc, a1

// STEP is one k: panel values at off(DI), x values at xoff.
#define STEP(off, xoff) \
	VMOVUPS off(DI), Y12 \
	VMOVUPS off+32(DI), Y13 \
	ROW(xoff(SI), Y14, Y0, Y1) \
	ROW(xoff(SI)(R8*1), Y15, Y2, Y3) \
	ROW(xoff(SI)(R8*2), Y14, Y4, Y5) \
	ROW(xoff(R9), Y15, Y6, Y7) \
	ROW(xoff(R9)(R8*1), Y14, Y8, Y9) \
	ROW(xoff(R9)(R8*2), Y15, Y10, Y11)

// func gemm6x16AVX2(x *float32, ldx int, b *float32, kc int, c *float32, ldc int, acc int)
TEXT ·gemm6x16AVX2(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ ldx+8(FP), R8
	SHLQ $2, R8
	LEAQ (SI)(R8*2), R9
	ADDQ R8, R9
	MOVQ b+16(FP), DI
	MOVQ kc+24(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

avx2loop4:
	CMPQ CX, $4
	JLT  avx2loop1
	STEP(0, 0)
	STEP(64, 4)
	STEP(128, 8)
	STEP(192, 12)
	ADDQ $16, SI
	ADDQ $16, R9
	ADDQ $256, DI
	SUBQ $4, CX
	JMP  avx2loop4

avx2loop1:
	TESTQ CX, CX
	JZ    avx2done
	STEP(0, 0)
	ADDQ  $4, SI
	ADDQ  $4, R9
	ADDQ  $64, DI
	DECQ  CX
	JMP   avx2loop1

avx2done:
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R10
	SHLQ $2, R10
	LEAQ (DX)(R10*2), R11
	ADDQ R10, R11
	MOVQ acc+48(FP), AX
	TESTQ AX, AX
	JZ   avx2store
	VADDPS (DX), Y0, Y0
	VADDPS 32(DX), Y1, Y1
	VADDPS (DX)(R10*1), Y2, Y2
	VADDPS 32(DX)(R10*1), Y3, Y3
	VADDPS (DX)(R10*2), Y4, Y4
	VADDPS 32(DX)(R10*2), Y5, Y5
	VADDPS (R11), Y6, Y6
	VADDPS 32(R11), Y7, Y7
	VADDPS (R11)(R10*1), Y8, Y8
	VADDPS 32(R11)(R10*1), Y9, Y9
	VADDPS (R11)(R10*2), Y10, Y10
	VADDPS 32(R11)(R10*2), Y11, Y11

avx2store:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, (DX)(R10*1)
	VMOVUPS Y3, 32(DX)(R10*1)
	VMOVUPS Y4, (DX)(R10*2)
	VMOVUPS Y5, 32(DX)(R10*2)
	VMOVUPS Y6, (R11)
	VMOVUPS Y7, 32(R11)
	VMOVUPS Y8, (R11)(R10*1)
	VMOVUPS Y9, 32(R11)(R10*1)
	VMOVUPS Y10, (R11)(R10*2)
	VMOVUPS Y11, 32(R11)(R10*2)
	VZEROUPPER
	RET

#define ROWZ(addr, bc, a0, a1) \
	VBROADCASTSS addr, bc \
	VFMADD231PS  Z12, bc, a0 \
	VFMADD231PS  Z13, bc, a1

#define STEPZ(off, xoff) \
	VMOVUPS off(DI), Z12 \
	VMOVUPS off+64(DI), Z13 \
	ROWZ(xoff(SI), Z14, Z0, Z1) \
	ROWZ(xoff(SI)(R8*1), Z15, Z2, Z3) \
	ROWZ(xoff(SI)(R8*2), Z14, Z4, Z5) \
	ROWZ(xoff(R9), Z15, Z6, Z7) \
	ROWZ(xoff(R9)(R8*1), Z14, Z8, Z9) \
	ROWZ(xoff(R9)(R8*2), Z15, Z10, Z11)

// func gemm6x32AVX512(x *float32, ldx int, b *float32, kc int, c *float32, ldc int, acc int)
TEXT ·gemm6x32AVX512(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ ldx+8(FP), R8
	SHLQ $2, R8
	LEAQ (SI)(R8*2), R9
	ADDQ R8, R9
	MOVQ b+16(FP), DI
	MOVQ kc+24(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11

z512loop4:
	CMPQ CX, $4
	JLT  z512loop1
	STEPZ(0, 0)
	STEPZ(128, 4)
	STEPZ(256, 8)
	STEPZ(384, 12)
	ADDQ $16, SI
	ADDQ $16, R9
	ADDQ $512, DI
	SUBQ $4, CX
	JMP  z512loop4

z512loop1:
	TESTQ CX, CX
	JZ    z512done
	STEPZ(0, 0)
	ADDQ  $4, SI
	ADDQ  $4, R9
	ADDQ  $128, DI
	DECQ  CX
	JMP   z512loop1

z512done:
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R10
	SHLQ $2, R10
	LEAQ (DX)(R10*2), R11
	ADDQ R10, R11
	MOVQ acc+48(FP), AX
	TESTQ AX, AX
	JZ   z512store
	VADDPS (DX), Z0, Z0
	VADDPS 64(DX), Z1, Z1
	VADDPS (DX)(R10*1), Z2, Z2
	VADDPS 64(DX)(R10*1), Z3, Z3
	VADDPS (DX)(R10*2), Z4, Z4
	VADDPS 64(DX)(R10*2), Z5, Z5
	VADDPS (R11), Z6, Z6
	VADDPS 64(R11), Z7, Z7
	VADDPS (R11)(R10*1), Z8, Z8
	VADDPS 64(R11)(R10*1), Z9, Z9
	VADDPS (R11)(R10*2), Z10, Z10
	VADDPS 64(R11)(R10*2), Z11, Z11

z512store:
	VMOVUPS Z0, (DX)
	VMOVUPS Z1, 64(DX)
	VMOVUPS Z2, (DX)(R10*1)
	VMOVUPS Z3, 64(DX)(R10*1)
	VMOVUPS Z4, (DX)(R10*2)
	VMOVUPS Z5, 64(DX)(R10*2)
	VMOVUPS Z6, (R11)
	VMOVUPS Z7, 64(R11)
	VMOVUPS Z8, (R11)(R10*1)
	VMOVUPS Z9, 64(R11)(R10*1)
	VMOVUPS Z10, (R11)(R10*2)
	VMOVUPS Z11, 64(R11)(R10*2)
	VZEROUPPER
	RET

// Packing: eight w rows (float32, or halves widened with VCVTPH2PS) are
// transposed eight k at a time into eight columns of a panel, with the
// usual 8×8 transpose of three shuffle stages (unpack pairs, shuffle
// quads, swap 128-bit halves). Register plan: SI row 0, R9 row 3, R10
// row 6, R8 the row stride; DI the panel, R11 its stride (one k), R12
// three strides beyond DI; CX the k left.

// TRANSPOSE8 transposes Y0–Y7 (rows) into Y8–Y15 (columns k..k+7).
#define TRANSPOSE8 \
	VUNPCKLPS  Y1, Y0, Y8 \
	VUNPCKHPS  Y1, Y0, Y9 \
	VUNPCKLPS  Y3, Y2, Y10 \
	VUNPCKHPS  Y3, Y2, Y11 \
	VUNPCKLPS  Y5, Y4, Y12 \
	VUNPCKHPS  Y5, Y4, Y13 \
	VUNPCKLPS  Y7, Y6, Y14 \
	VUNPCKHPS  Y7, Y6, Y15 \
	VSHUFPS    $0x44, Y10, Y8, Y0 \
	VSHUFPS    $0xee, Y10, Y8, Y1 \
	VSHUFPS    $0x44, Y11, Y9, Y2 \
	VSHUFPS    $0xee, Y11, Y9, Y3 \
	VSHUFPS    $0x44, Y14, Y12, Y4 \
	VSHUFPS    $0xee, Y14, Y12, Y5 \
	VSHUFPS    $0x44, Y15, Y13, Y6 \
	VSHUFPS    $0xee, Y15, Y13, Y7 \
	VPERM2F128 $0x20, Y4, Y0, Y8 \
	VPERM2F128 $0x20, Y5, Y1, Y9 \
	VPERM2F128 $0x20, Y6, Y2, Y10 \
	VPERM2F128 $0x20, Y7, Y3, Y11 \
	VPERM2F128 $0x31, Y4, Y0, Y12 \
	VPERM2F128 $0x31, Y5, Y1, Y13 \
	VPERM2F128 $0x31, Y6, Y2, Y14 \
	VPERM2F128 $0x31, Y7, Y3, Y15

// STORE8 writes Y8–Y15 to eight panel rows and moves DI and R12 past them.
#define STORE8 \
	VMOVUPS Y8, (DI) \
	VMOVUPS Y9, (DI)(R11*1) \
	VMOVUPS Y10, (DI)(R11*2) \
	VMOVUPS Y11, (R12) \
	VMOVUPS Y12, (R12)(R11*1) \
	VMOVUPS Y13, (R12)(R11*2) \
	LEAQ    (R12)(R11*2), R12 \
	ADDQ    R11, R12 \
	VMOVUPS Y14, (R12) \
	VMOVUPS Y15, (R12)(R11*1) \
	LEAQ    (R12)(R11*2), DI \
	LEAQ    (DI)(R11*2), R12 \
	ADDQ    R11, R12

// PACKSETUP sets the row and panel pointers from SI (rows), R8 (row
// stride in bytes), DI (panel) and R11 (panel stride in floats).
#define PACKSETUP \
	LEAQ (SI)(R8*2), R9 \
	ADDQ R8, R9 \
	LEAQ (R9)(R8*2), R10 \
	ADDQ R8, R10 \
	SHLQ $2, R11 \
	LEAQ (DI)(R11*2), R12 \
	ADDQ R11, R12

// func packT8F32(src *float32, lds int, dst *float32, ldd int, n int)
TEXT ·packT8F32(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), R8
	SHLQ $2, R8
	MOVQ dst+16(FP), DI
	MOVQ ldd+24(FP), R11
	MOVQ n+32(FP), CX
	PACKSETUP

pf32loop:
	TESTQ   CX, CX
	JZ      pf32done
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (R9), Y3
	VMOVUPS (R9)(R8*1), Y4
	VMOVUPS (R9)(R8*2), Y5
	VMOVUPS (R10), Y6
	VMOVUPS (R10)(R8*1), Y7
	TRANSPOSE8
	STORE8
	ADDQ    $32, SI
	ADDQ    $32, R9
	ADDQ    $32, R10
	SUBQ    $8, CX
	JMP     pf32loop

pf32done:
	VZEROUPPER
	RET

// func packT8F16(src *uint16, lds int, dst *float32, ldd int, n int)
TEXT ·packT8F16(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), R8
	SHLQ $1, R8
	MOVQ dst+16(FP), DI
	MOVQ ldd+24(FP), R11
	MOVQ n+32(FP), CX
	PACKSETUP

pf16loop:
	TESTQ     CX, CX
	JZ        pf16done
	VCVTPH2PS (SI), Y0
	VCVTPH2PS (SI)(R8*1), Y1
	VCVTPH2PS (SI)(R8*2), Y2
	VCVTPH2PS (R9), Y3
	VCVTPH2PS (R9)(R8*1), Y4
	VCVTPH2PS (R9)(R8*2), Y5
	VCVTPH2PS (R10), Y6
	VCVTPH2PS (R10)(R8*1), Y7
	TRANSPOSE8
	STORE8
	ADDQ      $16, SI
	ADDQ      $16, R9
	ADDQ      $16, R10
	SUBQ      $8, CX
	JMP       pf16loop

pf16done:
	VZEROUPPER
	RET

// LOAD8(op) applies the widening load op to the eight rows' current
// addresses (SI, R9 and R10 with R8 beyond them) into Y0–Y7.
#define LOAD8(op) \
	op (SI), Y0 \
	op (SI)(R8*1), Y1 \
	op (SI)(R8*2), Y2 \
	op (R9), Y3 \
	op (R9)(R8*1), Y4 \
	op (R9)(R8*2), Y5 \
	op (R10), Y6 \
	op (R10)(R8*1), Y7

// ALL8(op, arg) applies op arg, Yi, Yi to Y0–Y7.
#define ALL8(op, arg) \
	op arg, Y0, Y0 \
	op arg, Y1, Y1 \
	op arg, Y2, Y2 \
	op arg, Y3, Y3 \
	op arg, Y4, Y4 \
	op arg, Y5, Y5 \
	op arg, Y6, Y6 \
	op arg, Y7, Y7

// CVT8 converts Y0–Y7 from int32 to float32.
#define CVT8 \
	VCVTDQ2PS Y0, Y0 \
	VCVTDQ2PS Y1, Y1 \
	VCVTDQ2PS Y2, Y2 \
	VCVTDQ2PS Y3, Y3 \
	VCVTDQ2PS Y4, Y4 \
	VCVTDQ2PS Y5, Y5 \
	VCVTDQ2PS Y6, Y6 \
	VCVTDQ2PS Y7, Y7

// SCALE8 multiplies the transposed columns Y8–Y15 by the eight rows'
// block scales at (DX).
#define SCALE8 \
	VMULPS (DX), Y8, Y8 \
	VMULPS (DX), Y9, Y9 \
	VMULPS (DX), Y10, Y10 \
	VMULPS (DX), Y11, Y11 \
	VMULPS (DX), Y12, Y12 \
	VMULPS (DX), Y13, Y13 \
	VMULPS (DX), Y14, Y14 \
	VMULPS (DX), Y15, Y15

// func packT8BF16(src *uint16, lds int, dst *float32, ldd int, n int)
// A bfloat16 is the top half of a float32: zero-extend and shift.
TEXT ·packT8BF16(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), R8
	SHLQ $1, R8
	MOVQ dst+16(FP), DI
	MOVQ ldd+24(FP), R11
	MOVQ n+32(FP), CX
	PACKSETUP

pbf16loop:
	TESTQ CX, CX
	JZ    pbf16done
	LOAD8(VPMOVZXWD)
	ALL8(VPSLLD, $16)
	TRANSPOSE8
	STORE8
	ADDQ  $16, SI
	ADDQ  $16, R9
	ADDQ  $16, R10
	SUBQ  $8, CX
	JMP   pbf16loop

pbf16done:
	VZEROUPPER
	RET

// func packT8Q8(src *uint8, lds int, scales *float32, dst *float32, ldd int, n int)
// src: eight rows of int8, lds bytes apart; scales: the rows' block
// scales as [n/32][8]; n a multiple of 32 (whole blocks).
TEXT ·packT8Q8(SB), NOSPLIT, $0-48
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), R8
	MOVQ scales+16(FP), DX
	MOVQ dst+24(FP), DI
	MOVQ ldd+32(FP), R11
	MOVQ n+40(FP), CX
	PACKSETUP

pq8loop:
	TESTQ CX, CX
	JZ    pq8done
	MOVQ  $4, BX

pq8block:
	LOAD8(VPMOVSXBD)
	CVT8
	TRANSPOSE8
	SCALE8
	STORE8
	ADDQ  $8, SI
	ADDQ  $8, R9
	ADDQ  $8, R10
	DECQ  BX
	JNZ   pq8block
	ADDQ  $32, DX
	SUBQ  $32, CX
	JMP   pq8loop

pq8done:
	VZEROUPPER
	RET

// Nibble j of a Q4 word is element j: shift each lane's copy of the word
// by 4j, keep four bits, and take 8 away after converting.
DATA q4shifts<>+0(SB)/4, $0
DATA q4shifts<>+4(SB)/4, $4
DATA q4shifts<>+8(SB)/4, $8
DATA q4shifts<>+12(SB)/4, $12
DATA q4shifts<>+16(SB)/4, $16
DATA q4shifts<>+20(SB)/4, $20
DATA q4shifts<>+24(SB)/4, $24
DATA q4shifts<>+28(SB)/4, $28
GLOBL q4shifts<>(SB), RODATA|NOPTR, $32

DATA q4mask<>+0(SB)/4, $15
GLOBL q4mask<>(SB), RODATA|NOPTR, $4

DATA q4eight<>+0(SB)/4, $8.0
GLOBL q4eight<>(SB), RODATA|NOPTR, $4

// func packT8Q4(src *uint32, lds int, scales *float32, dst *float32, ldd int, n int)
// src: eight rows of Q4 words, lds bytes apart; scales as packT8Q8's.
TEXT ·packT8Q4(SB), NOSPLIT, $0-48
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), R8
	MOVQ scales+16(FP), DX
	MOVQ dst+24(FP), DI
	MOVQ ldd+32(FP), R11
	MOVQ n+40(FP), CX
	PACKSETUP

pq4loop:
	TESTQ CX, CX
	JZ    pq4done
	MOVQ  $4, BX

pq4block:
	LOAD8(VPBROADCASTD)
	VMOVDQU q4shifts<>(SB), Y8
	VPBROADCASTD q4mask<>(SB), Y9
	VBROADCASTSS q4eight<>(SB), Y10
	ALL8(VPSRLVD, Y8)
	ALL8(VPAND, Y9)
	CVT8
	ALL8(VSUBPS, Y10)
	TRANSPOSE8
	SCALE8
	STORE8
	ADDQ  $4, SI
	ADDQ  $4, R9
	ADDQ  $4, R10
	DECQ  BX
	JNZ   pq4block
	ADDQ  $32, DX
	SUBQ  $32, CX
	JMP   pq4loop

pq4done:
	VZEROUPPER
	RET

// Q4K: a super-block of 256 elements is a 16-byte header (scales and
// mins, decoded in Go into tables) and 128 bytes of nibbles: each 64
// elements are 32 bytes, the first 32 elements their low nibbles, the next
// 32 their high ones. An element is scale·q − min of its 32-element
// sub-block, the product rounded before the subtraction as
// compute.DequantizeQ4K does.

DATA q4k15<>+0(SB)/8, $0x0000000f0000000f
DATA q4k15<>+8(SB)/8, $0x0000000f0000000f
DATA q4k15<>+16(SB)/8, $0x0000000f0000000f
DATA q4k15<>+24(SB)/8, $0x0000000f0000000f
GLOBL q4k15<>(SB), RODATA|NOPTR, $32

// LOADB8 zero-extends eight bytes at off of each row into Y0–Y7.
#define LOADB8(off) \
	VPMOVZXBD off(SI), Y0 \
	VPMOVZXBD off(SI)(R8*1), Y1 \
	VPMOVZXBD off(SI)(R8*2), Y2 \
	VPMOVZXBD off(R9), Y3 \
	VPMOVZXBD off(R9)(R8*1), Y4 \
	VPMOVZXBD off(R9)(R8*2), Y5 \
	VPMOVZXBD off(R10), Y6 \
	VPMOVZXBD off(R10)(R8*1), Y7

// SCALEMIN8 makes the columns Y8–Y15 scale·q − min, the sub-block's
// scales at (DX) and mins at (R13).
#define SCALEMIN8 \
	VMULPS (DX), Y8, Y8 \
	VMULPS (DX), Y9, Y9 \
	VMULPS (DX), Y10, Y10 \
	VMULPS (DX), Y11, Y11 \
	VMULPS (DX), Y12, Y12 \
	VMULPS (DX), Y13, Y13 \
	VMULPS (DX), Y14, Y14 \
	VMULPS (DX), Y15, Y15 \
	VSUBPS (R13), Y8, Y8 \
	VSUBPS (R13), Y9, Y9 \
	VSUBPS (R13), Y10, Y10 \
	VSUBPS (R13), Y11, Y11 \
	VSUBPS (R13), Y12, Y12 \
	VSUBPS (R13), Y13, Y13 \
	VSUBPS (R13), Y14, Y14 \
	VSUBPS (R13), Y15, Y15

// Q4KLO and Q4KHI pack eight elements from the low or high nibbles of the
// eight bytes at off.
#define Q4KLO(off) \
	LOADB8(off) \
	ALL8(VPAND, q4k15<>(SB)) \
	CVT8 \
	TRANSPOSE8 \
	SCALEMIN8 \
	STORE8

#define Q4KHI(off) \
	LOADB8(off) \
	ALL8(VPSRLD, $4) \
	CVT8 \
	TRANSPOSE8 \
	SCALEMIN8 \
	STORE8

// func packT8Q4K(src *uint32, lds int, scales, mins *float32, dst *float32, ldd int, n int)
// src: eight rows of Q4K super-blocks, lds bytes apart; scales and mins:
// the rows' sub-block scales and mins as [n/32][8]; n a multiple of 256.
TEXT ·packT8Q4K(SB), NOSPLIT, $0-56
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), R8
	MOVQ scales+16(FP), DX
	MOVQ mins+24(FP), R13
	MOVQ dst+32(FP), DI
	MOVQ ldd+40(FP), R11
	MOVQ n+48(FP), CX
	PACKSETUP
	ADDQ $16, SI
	ADDQ $16, R9
	ADDQ $16, R10

pq4ksuper:
	TESTQ CX, CX
	JZ    pq4kdone
	MOVQ  $4, BX

pq4kchunk:
	Q4KLO(0)
	Q4KLO(8)
	Q4KLO(16)
	Q4KLO(24)
	ADDQ $32, DX
	ADDQ $32, R13
	Q4KHI(0)
	Q4KHI(8)
	Q4KHI(16)
	Q4KHI(24)
	ADDQ $32, DX
	ADDQ $32, R13
	ADDQ $32, SI
	ADDQ $32, R9
	ADDQ $32, R10
	DECQ BX
	JNZ  pq4kchunk
	ADDQ $16, SI
	ADDQ $16, R9
	ADDQ $16, R10
	SUBQ $256, CX
	JMP  pq4ksuper

pq4kdone:
	VZEROUPPER
	RET
