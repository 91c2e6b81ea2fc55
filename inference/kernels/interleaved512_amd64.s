//go:build amd64

#include "textflag.h"

// AVX-512 kernels for the interleaved layouts of repack.go: Q4_0 and Q8_0
// in groups of 16 rows (q4x16, q8x16) and F16 in groups of 32 rows
// (f16x32, bf16x32). Each lane of a result vector is one row, so no horizontal sums
// are needed; each kernel takes 1, 4, 8 or 16 (F16: 1, 4 or 12) tokens
// at once, activation rows xs bytes apart, and writes token t's results at
// out + t·os bytes.
//
// Q4_0 and Q8_0: vpdpbusd multiplies the unsigned weight bytes (Q4_0
// nibbles 0..15, Q8_0 quants plus 128) with a broadcast 4-byte piece of
// the signed activations and adds groups of four products to 32-bit lanes.
// A token's lanes start each block at -8·Σx (Q4_0) or -128·Σx (Q8_0), read
// from its activation record (d, -8·Σx, -128·Σx, 0; 16 bytes per block,
// records ps bytes apart per token), so they end the block holding the
// exact integer sum of dotQ4_0Go or dotQ8_0Go; then
// acc = fma(float(sum), d_w·d_x, acc). Integer sums are exact in any
// order, so the 1-, 4-, 8- and 16-token kernels agree bit for bit.
//
// F16 and BF16: columns one after the other, acc = fma(w, x, acc) per
// (row, token), the same chain in every kernel; the activations are
// rounded to the weights' type, so each product is exact.
//
// Every kernel prefetches the weights a few kilobytes ahead: the hardware
// prefetchers stop at each 4 KB page, and in a one-token product, which
// only streams the weights, that alone cost a fifth of the speed.
//
// Kernel bodies are macros defined before the first TEXT so that go vet's
// frame checks read them as no function's lines.


// Q4_0: the low nibbles of piece c are columns 4c..4c+3, the high ones
// 16+4c..16+4c+3 (activation offsets xo and xo+16).
#define Q4PIECE8(wo, xo) \
	VMOVDQU32 wo(SI), Z28 \
	VPSRLW    $4, Z28, Z29 \
	VPANDD    Z31, Z28, Z28 \
	VPANDD    Z31, Z29, Z29 \
	VPDPBUSD.BCST xo(DI), Z28, Z0 \
	VPDPBUSD.BCST xo+16(DI), Z29, Z0 \
	VPDPBUSD.BCST xo(DI)(R8*1), Z28, Z1 \
	VPDPBUSD.BCST xo+16(DI)(R8*1), Z29, Z1 \
	VPDPBUSD.BCST xo(DI)(R8*2), Z28, Z2 \
	VPDPBUSD.BCST xo+16(DI)(R8*2), Z29, Z2 \
	VPDPBUSD.BCST xo(DI)(R10*1), Z28, Z3 \
	VPDPBUSD.BCST xo+16(DI)(R10*1), Z29, Z3 \
	VPDPBUSD.BCST xo(R12), Z28, Z4 \
	VPDPBUSD.BCST xo+16(R12), Z29, Z4 \
	VPDPBUSD.BCST xo(R12)(R8*1), Z28, Z5 \
	VPDPBUSD.BCST xo+16(R12)(R8*1), Z29, Z5 \
	VPDPBUSD.BCST xo(R12)(R8*2), Z28, Z6 \
	VPDPBUSD.BCST xo+16(R12)(R8*2), Z29, Z6 \
	VPDPBUSD.BCST xo(R12)(R10*1), Z28, Z7 \
	VPDPBUSD.BCST xo+16(R12)(R10*1), Z29, Z7

#define Q4PIECE4(wo, xo) \
	VMOVDQU32 wo(SI), Z28 \
	VPSRLW    $4, Z28, Z29 \
	VPANDD    Z31, Z28, Z28 \
	VPANDD    Z31, Z29, Z29 \
	VPDPBUSD.BCST xo(DI), Z28, Z0 \
	VPDPBUSD.BCST xo+16(DI), Z29, Z0 \
	VPDPBUSD.BCST xo(DI)(R8*1), Z28, Z1 \
	VPDPBUSD.BCST xo+16(DI)(R8*1), Z29, Z1 \
	VPDPBUSD.BCST xo(DI)(R8*2), Z28, Z2 \
	VPDPBUSD.BCST xo+16(DI)(R8*2), Z29, Z2 \
	VPDPBUSD.BCST xo(DI)(R10*1), Z28, Z3 \
	VPDPBUSD.BCST xo+16(DI)(R10*1), Z29, Z3

// One token: low and high nibbles go to two accumulators (Z0, Z1) that
// the block end adds, to shorten the dependency chain.
#define Q4PIECE1(wo, xo) \
	VMOVDQU32     wo(SI), Z28 \
	VPSRLW        $4, Z28, Z29 \
	VPANDD        Z31, Z28, Z28 \
	VPANDD        Z31, Z29, Z29 \
	VPDPBUSD.BCST xo(DI), Z28, Z0 \
	VPDPBUSD.BCST xo+16(DI), Z29, Z1

// Q8_0: piece c is columns 4c..4c+3.
#define Q8PIECE8(wo, xo, wr) \
	VMOVDQU32 wo(SI), wr \
	VPDPBUSD.BCST xo(DI), wr, Z0 \
	VPDPBUSD.BCST xo(DI)(R8*1), wr, Z1 \
	VPDPBUSD.BCST xo(DI)(R8*2), wr, Z2 \
	VPDPBUSD.BCST xo(DI)(R10*1), wr, Z3 \
	VPDPBUSD.BCST xo(R12), wr, Z4 \
	VPDPBUSD.BCST xo(R12)(R8*1), wr, Z5 \
	VPDPBUSD.BCST xo(R12)(R8*2), wr, Z6 \
	VPDPBUSD.BCST xo(R12)(R10*1), wr, Z7

#define Q8PIECE4(wo, xo, wr) \
	VMOVDQU32 wo(SI), wr \
	VPDPBUSD.BCST xo(DI), wr, Z0 \
	VPDPBUSD.BCST xo(DI)(R8*1), wr, Z1 \
	VPDPBUSD.BCST xo(DI)(R8*2), wr, Z2 \
	VPDPBUSD.BCST xo(DI)(R10*1), wr, Z3

#define Q8PIECE1(wo, xo, acc, wr) \
	VMOVDQU32     wo(SI), wr \
	VPDPBUSD.BCST xo(DI), wr, acc

#define QINIT8(so) \
	VPBROADCASTD so(DX), Z0 \
	VPBROADCASTD so(DX)(R9*1), Z1 \
	VPBROADCASTD so(DX)(R9*2), Z2 \
	VPBROADCASTD so(DX)(R11*1), Z3 \
	VPBROADCASTD so(R14), Z4 \
	VPBROADCASTD so(R14)(R9*1), Z5 \
	VPBROADCASTD so(R14)(R9*2), Z6 \
	VPBROADCASTD so(R14)(R11*1), Z7

#define QINIT4(so) \
	VPBROADCASTD so(DX), Z0 \
	VPBROADCASTD so(DX)(R9*1), Z1 \
	VPBROADCASTD so(DX)(R9*2), Z2 \
	VPBROADCASTD so(DX)(R11*1), Z3

#define QINIT1(so) \
	VPBROADCASTD so(DX), Z0

#define QFIN8 \
	VCVTDQ2PS    Z0, Z0 \
	VCVTDQ2PS    Z1, Z1 \
	VCVTDQ2PS    Z2, Z2 \
	VCVTDQ2PS    Z3, Z3 \
	VCVTDQ2PS    Z4, Z4 \
	VCVTDQ2PS    Z5, Z5 \
	VCVTDQ2PS    Z6, Z6 \
	VCVTDQ2PS    Z7, Z7 \
	VMULPS.BCST  (DX), Z30, Z16 \
	VMULPS.BCST  (DX)(R9*1), Z30, Z17 \
	VMULPS.BCST  (DX)(R9*2), Z30, Z18 \
	VMULPS.BCST  (DX)(R11*1), Z30, Z19 \
	VMULPS.BCST  (R14), Z30, Z20 \
	VMULPS.BCST  (R14)(R9*1), Z30, Z21 \
	VMULPS.BCST  (R14)(R9*2), Z30, Z22 \
	VMULPS.BCST  (R14)(R11*1), Z30, Z23 \
	VFMADD231PS  Z16, Z0, Z8 \
	VFMADD231PS  Z17, Z1, Z9 \
	VFMADD231PS  Z18, Z2, Z10 \
	VFMADD231PS  Z19, Z3, Z11 \
	VFMADD231PS  Z20, Z4, Z12 \
	VFMADD231PS  Z21, Z5, Z13 \
	VFMADD231PS  Z22, Z6, Z14 \
	VFMADD231PS  Z23, Z7, Z15

#define QFIN4 \
	VCVTDQ2PS    Z0, Z0 \
	VCVTDQ2PS    Z1, Z1 \
	VCVTDQ2PS    Z2, Z2 \
	VCVTDQ2PS    Z3, Z3 \
	VMULPS.BCST  (DX), Z30, Z16 \
	VMULPS.BCST  (DX)(R9*1), Z30, Z17 \
	VMULPS.BCST  (DX)(R9*2), Z30, Z18 \
	VMULPS.BCST  (DX)(R11*1), Z30, Z19 \
	VFMADD231PS  Z16, Z0, Z8 \
	VFMADD231PS  Z17, Z1, Z9 \
	VFMADD231PS  Z18, Z2, Z10 \
	VFMADD231PS  Z19, Z3, Z11

#define QFIN1 \
	VCVTDQ2PS    Z0, Z0 \
	VMULPS.BCST  (DX), Z30, Z16 \
	VFMADD231PS  Z16, Z0, Z8

#define QSTORE8 \
	VMOVUPS      Z8, 0(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z9, 0(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z10, 0(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z11, 0(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z12, 0(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z13, 0(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z14, 0(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z15, 0(AX)

#define QSTORE4 \
	VMOVUPS      Z8, 0(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z9, 0(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z10, 0(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z11, 0(AX)

#define QSTORE1 \
	VMOVUPS      Z8, 0(AX)

#define Q4BODY8 \
	MOVQ w+0(FP), SI \
	MOVQ x+8(FP), DI \
	MOVQ xs+16(FP), R8 \
	MOVQ p+24(FP), DX \
	MOVQ ps+32(FP), R9 \
	MOVQ nb+40(FP), CX \
	LEAQ (R8)(R8*2), R10 \
	LEAQ (R9)(R9*2), R11 \
	LEAQ (DI)(R8*4), R12 \
	LEAQ (DX)(R9*4), R14 \
	MOVL         $0x0f0f0f0f, AX \
	VPBROADCASTD AX, Z31 \
	VPXORD       Z8, Z8, Z8 \
	VPXORD       Z9, Z9, Z9 \
	VPXORD       Z10, Z10, Z10 \
	VPXORD       Z11, Z11, Z11 \
	VPXORD       Z12, Z12, Z12 \
	VPXORD       Z13, Z13, Z13 \
	VPXORD       Z14, Z14, Z14 \
	VPXORD       Z15, Z15, Z15 \
	TESTQ        CX, CX \
	JZ           done \
loop: \
	PREFETCHT0   2048(SI) \
	PREFETCHT0   2112(SI) \
	PREFETCHT0   2176(SI) \
	PREFETCHT0   2240(SI) \
	PREFETCHT0   2304(SI) \
	VCVTPH2PS    (SI), Z30 \
	QINIT8(4) \
	Q4PIECE8(32, 0) \
	Q4PIECE8(96, 4) \
	Q4PIECE8(160, 8) \
	Q4PIECE8(224, 12) \
	QFIN8 \
	ADDQ         $288, SI \
	ADDQ         $32, DI \
	ADDQ         $32, R12 \
	ADDQ         $16, DX \
	ADDQ         $16, R14 \
	DECQ         CX \
	JNZ          loop \
done: \
	MOVQ         out+48(FP), AX \
	MOVQ         os+56(FP), BX \
	QSTORE8 \
	VZEROUPPER \
	RET

#define Q4BODY4 \
	MOVQ w+0(FP), SI \
	MOVQ x+8(FP), DI \
	MOVQ xs+16(FP), R8 \
	MOVQ p+24(FP), DX \
	MOVQ ps+32(FP), R9 \
	MOVQ nb+40(FP), CX \
	LEAQ (R8)(R8*2), R10 \
	LEAQ (R9)(R9*2), R11 \
	LEAQ (DI)(R8*4), R12 \
	LEAQ (DX)(R9*4), R14 \
	MOVL         $0x0f0f0f0f, AX \
	VPBROADCASTD AX, Z31 \
	VPXORD       Z8, Z8, Z8 \
	VPXORD       Z9, Z9, Z9 \
	VPXORD       Z10, Z10, Z10 \
	VPXORD       Z11, Z11, Z11 \
	TESTQ        CX, CX \
	JZ           done \
loop: \
	PREFETCHT0   2048(SI) \
	PREFETCHT0   2112(SI) \
	PREFETCHT0   2176(SI) \
	PREFETCHT0   2240(SI) \
	PREFETCHT0   2304(SI) \
	VCVTPH2PS    (SI), Z30 \
	QINIT4(4) \
	Q4PIECE4(32, 0) \
	Q4PIECE4(96, 4) \
	Q4PIECE4(160, 8) \
	Q4PIECE4(224, 12) \
	QFIN4 \
	ADDQ         $288, SI \
	ADDQ         $32, DI \
	ADDQ         $32, R12 \
	ADDQ         $16, DX \
	ADDQ         $16, R14 \
	DECQ         CX \
	JNZ          loop \
done: \
	MOVQ         out+48(FP), AX \
	MOVQ         os+56(FP), BX \
	QSTORE4 \
	VZEROUPPER \
	RET

#define Q4BODY1 \
	MOVQ w+0(FP), SI \
	MOVQ x+8(FP), DI \
	MOVQ xs+16(FP), R8 \
	MOVQ p+24(FP), DX \
	MOVQ ps+32(FP), R9 \
	MOVQ nb+40(FP), CX \
	LEAQ (R8)(R8*2), R10 \
	LEAQ (R9)(R9*2), R11 \
	LEAQ (DI)(R8*4), R12 \
	LEAQ (DX)(R9*4), R14 \
	MOVL         $0x0f0f0f0f, AX \
	VPBROADCASTD AX, Z31 \
	VPXORD       Z8, Z8, Z8 \
	TESTQ        CX, CX \
	JZ           done \
loop: \
	PREFETCHT0   2048(SI) \
	PREFETCHT0   2112(SI) \
	PREFETCHT0   2176(SI) \
	PREFETCHT0   2240(SI) \
	PREFETCHT0   2304(SI) \
	VCVTPH2PS    (SI), Z30 \
	QINIT1(4) \
	VPXORD       Z1, Z1, Z1 \
	Q4PIECE1(32, 0) \
	Q4PIECE1(96, 4) \
	Q4PIECE1(160, 8) \
	Q4PIECE1(224, 12) \
	VPADDD       Z1, Z0, Z0 \
	QFIN1 \
	ADDQ         $288, SI \
	ADDQ         $32, DI \
	ADDQ         $32, R12 \
	ADDQ         $16, DX \
	ADDQ         $16, R14 \
	DECQ         CX \
	JNZ          loop \
done: \
	MOVQ         out+48(FP), AX \
	MOVQ         os+56(FP), BX \
	QSTORE1 \
	VZEROUPPER \
	RET

#define Q8BODY8 \
	MOVQ w+0(FP), SI \
	MOVQ x+8(FP), DI \
	MOVQ xs+16(FP), R8 \
	MOVQ p+24(FP), DX \
	MOVQ ps+32(FP), R9 \
	MOVQ nb+40(FP), CX \
	LEAQ (R8)(R8*2), R10 \
	LEAQ (R9)(R9*2), R11 \
	LEAQ (DI)(R8*4), R12 \
	LEAQ (DX)(R9*4), R14 \
	VPXORD       Z8, Z8, Z8 \
	VPXORD       Z9, Z9, Z9 \
	VPXORD       Z10, Z10, Z10 \
	VPXORD       Z11, Z11, Z11 \
	VPXORD       Z12, Z12, Z12 \
	VPXORD       Z13, Z13, Z13 \
	VPXORD       Z14, Z14, Z14 \
	VPXORD       Z15, Z15, Z15 \
	TESTQ        CX, CX \
	JZ           done \
loop: \
	PREFETCHT0   4096(SI) \
	PREFETCHT0   4160(SI) \
	PREFETCHT0   4224(SI) \
	PREFETCHT0   4288(SI) \
	PREFETCHT0   4352(SI) \
	PREFETCHT0   4416(SI) \
	PREFETCHT0   4480(SI) \
	PREFETCHT0   4544(SI) \
	PREFETCHT0   4608(SI) \
	VCVTPH2PS    (SI), Z30 \
	QINIT8(8) \
	Q8PIECE8(32, 0, Z28) \
	Q8PIECE8(96, 4, Z29) \
	Q8PIECE8(160, 8, Z28) \
	Q8PIECE8(224, 12, Z29) \
	Q8PIECE8(288, 16, Z28) \
	Q8PIECE8(352, 20, Z29) \
	Q8PIECE8(416, 24, Z28) \
	Q8PIECE8(480, 28, Z29) \
	QFIN8 \
	ADDQ         $544, SI \
	ADDQ         $32, DI \
	ADDQ         $32, R12 \
	ADDQ         $16, DX \
	ADDQ         $16, R14 \
	DECQ         CX \
	JNZ          loop \
done: \
	MOVQ         out+48(FP), AX \
	MOVQ         os+56(FP), BX \
	QSTORE8 \
	VZEROUPPER \
	RET

#define Q8BODY4 \
	MOVQ w+0(FP), SI \
	MOVQ x+8(FP), DI \
	MOVQ xs+16(FP), R8 \
	MOVQ p+24(FP), DX \
	MOVQ ps+32(FP), R9 \
	MOVQ nb+40(FP), CX \
	LEAQ (R8)(R8*2), R10 \
	LEAQ (R9)(R9*2), R11 \
	LEAQ (DI)(R8*4), R12 \
	LEAQ (DX)(R9*4), R14 \
	VPXORD       Z8, Z8, Z8 \
	VPXORD       Z9, Z9, Z9 \
	VPXORD       Z10, Z10, Z10 \
	VPXORD       Z11, Z11, Z11 \
	TESTQ        CX, CX \
	JZ           done \
loop: \
	PREFETCHT0   4096(SI) \
	PREFETCHT0   4160(SI) \
	PREFETCHT0   4224(SI) \
	PREFETCHT0   4288(SI) \
	PREFETCHT0   4352(SI) \
	PREFETCHT0   4416(SI) \
	PREFETCHT0   4480(SI) \
	PREFETCHT0   4544(SI) \
	PREFETCHT0   4608(SI) \
	VCVTPH2PS    (SI), Z30 \
	QINIT4(8) \
	Q8PIECE4(32, 0, Z28) \
	Q8PIECE4(96, 4, Z29) \
	Q8PIECE4(160, 8, Z28) \
	Q8PIECE4(224, 12, Z29) \
	Q8PIECE4(288, 16, Z28) \
	Q8PIECE4(352, 20, Z29) \
	Q8PIECE4(416, 24, Z28) \
	Q8PIECE4(480, 28, Z29) \
	QFIN4 \
	ADDQ         $544, SI \
	ADDQ         $32, DI \
	ADDQ         $32, R12 \
	ADDQ         $16, DX \
	ADDQ         $16, R14 \
	DECQ         CX \
	JNZ          loop \
done: \
	MOVQ         out+48(FP), AX \
	MOVQ         os+56(FP), BX \
	QSTORE4 \
	VZEROUPPER \
	RET

#define Q8BODY1 \
	MOVQ w+0(FP), SI \
	MOVQ x+8(FP), DI \
	MOVQ xs+16(FP), R8 \
	MOVQ p+24(FP), DX \
	MOVQ ps+32(FP), R9 \
	MOVQ nb+40(FP), CX \
	LEAQ (R8)(R8*2), R10 \
	LEAQ (R9)(R9*2), R11 \
	LEAQ (DI)(R8*4), R12 \
	LEAQ (DX)(R9*4), R14 \
	VPXORD       Z8, Z8, Z8 \
	TESTQ        CX, CX \
	JZ           done \
loop: \
	PREFETCHT0   4096(SI) \
	PREFETCHT0   4160(SI) \
	PREFETCHT0   4224(SI) \
	PREFETCHT0   4288(SI) \
	PREFETCHT0   4352(SI) \
	PREFETCHT0   4416(SI) \
	PREFETCHT0   4480(SI) \
	PREFETCHT0   4544(SI) \
	PREFETCHT0   4608(SI) \
	VCVTPH2PS    (SI), Z30 \
	QINIT1(8) \
	VPXORD       Z1, Z1, Z1 \
	Q8PIECE1(32, 0, Z0, Z28) \
	Q8PIECE1(96, 4, Z1, Z29) \
	Q8PIECE1(160, 8, Z0, Z28) \
	Q8PIECE1(224, 12, Z1, Z29) \
	Q8PIECE1(288, 16, Z0, Z28) \
	Q8PIECE1(352, 20, Z1, Z29) \
	Q8PIECE1(416, 24, Z0, Z28) \
	Q8PIECE1(480, 28, Z1, Z29) \
	VPADDD       Z1, Z0, Z0 \
	QFIN1 \
	ADDQ         $544, SI \
	ADDQ         $32, DI \
	ADDQ         $32, R12 \
	ADDQ         $16, DX \
	ADDQ         $16, R14 \
	DECQ         CX \
	JNZ          loop \
done: \
	MOVQ         out+48(FP), AX \
	MOVQ         os+56(FP), BX \
	QSTORE1 \
	VZEROUPPER \
	RET

// Sixteen tokens: the 8-token kernels' arithmetic for tokens 0-7 (float
// sums in Z8-Z15) and then 8-15 (Z16-Z23) in turn within each block, the
// second half re-reading the block's weights from L1. One pass over the
// weights serves all sixteen tokens, so the weights stream from memory
// throughout the pass instead of only during the first of two 8-token
// calls (the second finds them in the cache and leaves memory idle). The
// integer accumulators Z0-Z7 serve both halves; Z24-Z27 hold d_w·d_x.
// Activation rows 8-15 start at R13 and R15, their records at AX and BX.
#define Q8PIECE8B(wo, xo, wr, b0, b1) \
	VMOVDQU32 wo(SI), wr \
	VPDPBUSD.BCST xo(b0), wr, Z0 \
	VPDPBUSD.BCST xo(b0)(R8*1), wr, Z1 \
	VPDPBUSD.BCST xo(b0)(R8*2), wr, Z2 \
	VPDPBUSD.BCST xo(b0)(R10*1), wr, Z3 \
	VPDPBUSD.BCST xo(b1), wr, Z4 \
	VPDPBUSD.BCST xo(b1)(R8*1), wr, Z5 \
	VPDPBUSD.BCST xo(b1)(R8*2), wr, Z6 \
	VPDPBUSD.BCST xo(b1)(R10*1), wr, Z7

#define Q4PIECE8B(wo, xo, b0, b1) \
	VMOVDQU32 wo(SI), Z28 \
	VPSRLW    $4, Z28, Z29 \
	VPANDD    Z31, Z28, Z28 \
	VPANDD    Z31, Z29, Z29 \
	VPDPBUSD.BCST xo(b0), Z28, Z0 \
	VPDPBUSD.BCST xo+16(b0), Z29, Z0 \
	VPDPBUSD.BCST xo(b0)(R8*1), Z28, Z1 \
	VPDPBUSD.BCST xo+16(b0)(R8*1), Z29, Z1 \
	VPDPBUSD.BCST xo(b0)(R8*2), Z28, Z2 \
	VPDPBUSD.BCST xo+16(b0)(R8*2), Z29, Z2 \
	VPDPBUSD.BCST xo(b0)(R10*1), Z28, Z3 \
	VPDPBUSD.BCST xo+16(b0)(R10*1), Z29, Z3 \
	VPDPBUSD.BCST xo(b1), Z28, Z4 \
	VPDPBUSD.BCST xo+16(b1), Z29, Z4 \
	VPDPBUSD.BCST xo(b1)(R8*1), Z28, Z5 \
	VPDPBUSD.BCST xo+16(b1)(R8*1), Z29, Z5 \
	VPDPBUSD.BCST xo(b1)(R8*2), Z28, Z6 \
	VPDPBUSD.BCST xo+16(b1)(R8*2), Z29, Z6 \
	VPDPBUSD.BCST xo(b1)(R10*1), Z28, Z7 \
	VPDPBUSD.BCST xo+16(b1)(R10*1), Z29, Z7

#define QINIT8B(so, r0, r1) \
	VPBROADCASTD so(r0), Z0 \
	VPBROADCASTD so(r0)(R9*1), Z1 \
	VPBROADCASTD so(r0)(R9*2), Z2 \
	VPBROADCASTD so(r0)(R11*1), Z3 \
	VPBROADCASTD so(r1), Z4 \
	VPBROADCASTD so(r1)(R9*1), Z5 \
	VPBROADCASTD so(r1)(R9*2), Z6 \
	VPBROADCASTD so(r1)(R11*1), Z7

#define QFIN16A \
	VCVTDQ2PS Z0, Z0 \
	VCVTDQ2PS Z1, Z1 \
	VCVTDQ2PS Z2, Z2 \
	VCVTDQ2PS Z3, Z3 \
	VCVTDQ2PS Z4, Z4 \
	VCVTDQ2PS Z5, Z5 \
	VCVTDQ2PS Z6, Z6 \
	VCVTDQ2PS Z7, Z7 \
	VMULPS.BCST (DX), Z30, Z24 \
	VMULPS.BCST (DX)(R9*1), Z30, Z25 \
	VMULPS.BCST (DX)(R9*2), Z30, Z26 \
	VMULPS.BCST (DX)(R11*1), Z30, Z27 \
	VFMADD231PS Z24, Z0, Z8 \
	VFMADD231PS Z25, Z1, Z9 \
	VFMADD231PS Z26, Z2, Z10 \
	VFMADD231PS Z27, Z3, Z11 \
	VMULPS.BCST (R14), Z30, Z24 \
	VMULPS.BCST (R14)(R9*1), Z30, Z25 \
	VMULPS.BCST (R14)(R9*2), Z30, Z26 \
	VMULPS.BCST (R14)(R11*1), Z30, Z27 \
	VFMADD231PS Z24, Z4, Z12 \
	VFMADD231PS Z25, Z5, Z13 \
	VFMADD231PS Z26, Z6, Z14 \
	VFMADD231PS Z27, Z7, Z15

#define QFIN16B \
	VCVTDQ2PS Z0, Z0 \
	VCVTDQ2PS Z1, Z1 \
	VCVTDQ2PS Z2, Z2 \
	VCVTDQ2PS Z3, Z3 \
	VCVTDQ2PS Z4, Z4 \
	VCVTDQ2PS Z5, Z5 \
	VCVTDQ2PS Z6, Z6 \
	VCVTDQ2PS Z7, Z7 \
	VMULPS.BCST (AX), Z30, Z24 \
	VMULPS.BCST (AX)(R9*1), Z30, Z25 \
	VMULPS.BCST (AX)(R9*2), Z30, Z26 \
	VMULPS.BCST (AX)(R11*1), Z30, Z27 \
	VFMADD231PS Z24, Z0, Z16 \
	VFMADD231PS Z25, Z1, Z17 \
	VFMADD231PS Z26, Z2, Z18 \
	VFMADD231PS Z27, Z3, Z19 \
	VMULPS.BCST (BX), Z30, Z24 \
	VMULPS.BCST (BX)(R9*1), Z30, Z25 \
	VMULPS.BCST (BX)(R9*2), Z30, Z26 \
	VMULPS.BCST (BX)(R11*1), Z30, Z27 \
	VFMADD231PS Z24, Z4, Z20 \
	VFMADD231PS Z25, Z5, Z21 \
	VFMADD231PS Z26, Z6, Z22 \
	VFMADD231PS Z27, Z7, Z23

#define QSTORE16 \
	VMOVUPS Z8, 0(AX) \
	ADDQ BX, AX \
	VMOVUPS Z9, 0(AX) \
	ADDQ BX, AX \
	VMOVUPS Z10, 0(AX) \
	ADDQ BX, AX \
	VMOVUPS Z11, 0(AX) \
	ADDQ BX, AX \
	VMOVUPS Z12, 0(AX) \
	ADDQ BX, AX \
	VMOVUPS Z13, 0(AX) \
	ADDQ BX, AX \
	VMOVUPS Z14, 0(AX) \
	ADDQ BX, AX \
	VMOVUPS Z15, 0(AX) \
	ADDQ BX, AX \
	VMOVUPS Z16, 0(AX) \
	ADDQ BX, AX \
	VMOVUPS Z17, 0(AX) \
	ADDQ BX, AX \
	VMOVUPS Z18, 0(AX) \
	ADDQ BX, AX \
	VMOVUPS Z19, 0(AX) \
	ADDQ BX, AX \
	VMOVUPS Z20, 0(AX) \
	ADDQ BX, AX \
	VMOVUPS Z21, 0(AX) \
	ADDQ BX, AX \
	VMOVUPS Z22, 0(AX) \
	ADDQ BX, AX \
	VMOVUPS Z23, 0(AX)

#define Q4BODY16 \
	MOVQ w+0(FP), SI \
	MOVQ x+8(FP), DI \
	MOVQ xs+16(FP), R8 \
	MOVQ p+24(FP), DX \
	MOVQ ps+32(FP), R9 \
	MOVQ nb+40(FP), CX \
	MOVL $0x0f0f0f0f, AX \
	VPBROADCASTD AX, Z31 \
	LEAQ (R8)(R8*2), R10 \
	LEAQ (R9)(R9*2), R11 \
	LEAQ (DI)(R8*4), R12 \
	LEAQ (DX)(R9*4), R14 \
	LEAQ (DI)(R8*8), R13 \
	LEAQ (R13)(R8*4), R15 \
	LEAQ (DX)(R9*8), AX \
	LEAQ (AX)(R9*4), BX \
	VPXORD Z8, Z8, Z8 \
	VPXORD Z9, Z9, Z9 \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11 \
	VPXORD Z12, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	VPXORD Z14, Z14, Z14 \
	VPXORD Z15, Z15, Z15 \
	VPXORD Z16, Z16, Z16 \
	VPXORD Z17, Z17, Z17 \
	VPXORD Z18, Z18, Z18 \
	VPXORD Z19, Z19, Z19 \
	VPXORD Z20, Z20, Z20 \
	VPXORD Z21, Z21, Z21 \
	VPXORD Z22, Z22, Z22 \
	VPXORD Z23, Z23, Z23 \
	TESTQ CX, CX \
	JZ done \
loop: \
	PREFETCHT0 2048(SI) \
	PREFETCHT0 2112(SI) \
	PREFETCHT0 2176(SI) \
	PREFETCHT0 2240(SI) \
	PREFETCHT0 2304(SI) \
	VCVTPH2PS (SI), Z30 \
	QINIT8B(4, DX, R14) \
	Q4PIECE8B(32, 0, DI, R12) \
	Q4PIECE8B(96, 4, DI, R12) \
	Q4PIECE8B(160, 8, DI, R12) \
	Q4PIECE8B(224, 12, DI, R12) \
	QFIN16A \
	QINIT8B(4, AX, BX) \
	Q4PIECE8B(32, 0, R13, R15) \
	Q4PIECE8B(96, 4, R13, R15) \
	Q4PIECE8B(160, 8, R13, R15) \
	Q4PIECE8B(224, 12, R13, R15) \
	QFIN16B \
	ADDQ $288, SI \
	ADDQ $32, DI \
	ADDQ $32, R12 \
	ADDQ $32, R13 \
	ADDQ $32, R15 \
	ADDQ $16, DX \
	ADDQ $16, R14 \
	ADDQ $16, AX \
	ADDQ $16, BX \
	DECQ CX \
	JNZ loop \
done: \
	MOVQ out+48(FP), AX \
	MOVQ os+56(FP), BX \
	QSTORE16 \
	VZEROUPPER \
	RET

#define Q8BODY16 \
	MOVQ w+0(FP), SI \
	MOVQ x+8(FP), DI \
	MOVQ xs+16(FP), R8 \
	MOVQ p+24(FP), DX \
	MOVQ ps+32(FP), R9 \
	MOVQ nb+40(FP), CX \
	LEAQ (R8)(R8*2), R10 \
	LEAQ (R9)(R9*2), R11 \
	LEAQ (DI)(R8*4), R12 \
	LEAQ (DX)(R9*4), R14 \
	LEAQ (DI)(R8*8), R13 \
	LEAQ (R13)(R8*4), R15 \
	LEAQ (DX)(R9*8), AX \
	LEAQ (AX)(R9*4), BX \
	VPXORD Z8, Z8, Z8 \
	VPXORD Z9, Z9, Z9 \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11 \
	VPXORD Z12, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	VPXORD Z14, Z14, Z14 \
	VPXORD Z15, Z15, Z15 \
	VPXORD Z16, Z16, Z16 \
	VPXORD Z17, Z17, Z17 \
	VPXORD Z18, Z18, Z18 \
	VPXORD Z19, Z19, Z19 \
	VPXORD Z20, Z20, Z20 \
	VPXORD Z21, Z21, Z21 \
	VPXORD Z22, Z22, Z22 \
	VPXORD Z23, Z23, Z23 \
	TESTQ CX, CX \
	JZ done \
loop: \
	PREFETCHT0 4096(SI) \
	PREFETCHT0 4160(SI) \
	PREFETCHT0 4224(SI) \
	PREFETCHT0 4288(SI) \
	PREFETCHT0 4352(SI) \
	PREFETCHT0 4416(SI) \
	PREFETCHT0 4480(SI) \
	PREFETCHT0 4544(SI) \
	PREFETCHT0 4608(SI) \
	VCVTPH2PS (SI), Z30 \
	QINIT8B(8, DX, R14) \
	Q8PIECE8B(32, 0, Z28, DI, R12) \
	Q8PIECE8B(96, 4, Z29, DI, R12) \
	Q8PIECE8B(160, 8, Z28, DI, R12) \
	Q8PIECE8B(224, 12, Z29, DI, R12) \
	Q8PIECE8B(288, 16, Z28, DI, R12) \
	Q8PIECE8B(352, 20, Z29, DI, R12) \
	Q8PIECE8B(416, 24, Z28, DI, R12) \
	Q8PIECE8B(480, 28, Z29, DI, R12) \
	QFIN16A \
	QINIT8B(8, AX, BX) \
	Q8PIECE8B(32, 0, Z28, R13, R15) \
	Q8PIECE8B(96, 4, Z29, R13, R15) \
	Q8PIECE8B(160, 8, Z28, R13, R15) \
	Q8PIECE8B(224, 12, Z29, R13, R15) \
	Q8PIECE8B(288, 16, Z28, R13, R15) \
	Q8PIECE8B(352, 20, Z29, R13, R15) \
	Q8PIECE8B(416, 24, Z28, R13, R15) \
	Q8PIECE8B(480, 28, Z29, R13, R15) \
	QFIN16B \
	ADDQ $544, SI \
	ADDQ $32, DI \
	ADDQ $32, R12 \
	ADDQ $32, R13 \
	ADDQ $32, R15 \
	ADDQ $16, DX \
	ADDQ $16, R14 \
	ADDQ $16, AX \
	ADDQ $16, BX \
	DECQ CX \
	JNZ loop \
done: \
	MOVQ out+48(FP), AX \
	MOVQ os+56(FP), BX \
	QSTORE16 \
	VZEROUPPER \
	RET

// F16 and BF16: per column, the 32 rows' weights in Z24 (rows 0-15) and
// Z25 (rows 16-31), converted by the loader LD; token t accumulates in
// Z(2t) and Z(2t+1).
#define LDF16Z(a, r) VCVTPH2PS a, r
#define LDBF16Z(a, r) VPMOVZXWD a, r; VPSLLD $16, r, r

#define FCOL12(LD, wo, xo) \
	LD(wo(SI), Z24) \
	LD(wo+32(SI), Z25) \
	VBROADCASTSS xo(DI), Z26 \
	VFMADD231PS  Z26, Z24, Z0 \
	VFMADD231PS  Z26, Z25, Z1 \
	VBROADCASTSS xo(DI)(R8*1), Z27 \
	VFMADD231PS  Z27, Z24, Z2 \
	VFMADD231PS  Z27, Z25, Z3 \
	VBROADCASTSS xo(DI)(R8*2), Z26 \
	VFMADD231PS  Z26, Z24, Z4 \
	VFMADD231PS  Z26, Z25, Z5 \
	VBROADCASTSS xo(DI)(R10*1), Z27 \
	VFMADD231PS  Z27, Z24, Z6 \
	VFMADD231PS  Z27, Z25, Z7 \
	VBROADCASTSS xo(R12), Z26 \
	VFMADD231PS  Z26, Z24, Z8 \
	VFMADD231PS  Z26, Z25, Z9 \
	VBROADCASTSS xo(R12)(R8*1), Z27 \
	VFMADD231PS  Z27, Z24, Z10 \
	VFMADD231PS  Z27, Z25, Z11 \
	VBROADCASTSS xo(R12)(R8*2), Z26 \
	VFMADD231PS  Z26, Z24, Z12 \
	VFMADD231PS  Z26, Z25, Z13 \
	VBROADCASTSS xo(R12)(R10*1), Z27 \
	VFMADD231PS  Z27, Z24, Z14 \
	VFMADD231PS  Z27, Z25, Z15 \
	VBROADCASTSS xo(R13), Z26 \
	VFMADD231PS  Z26, Z24, Z16 \
	VFMADD231PS  Z26, Z25, Z17 \
	VBROADCASTSS xo(R13)(R8*1), Z27 \
	VFMADD231PS  Z27, Z24, Z18 \
	VFMADD231PS  Z27, Z25, Z19 \
	VBROADCASTSS xo(R13)(R8*2), Z26 \
	VFMADD231PS  Z26, Z24, Z20 \
	VFMADD231PS  Z26, Z25, Z21 \
	VBROADCASTSS xo(R13)(R10*1), Z27 \
	VFMADD231PS  Z27, Z24, Z22 \
	VFMADD231PS  Z27, Z25, Z23

#define FCOL4(LD, wo, xo) \
	LD(wo(SI), Z24) \
	LD(wo+32(SI), Z25) \
	VBROADCASTSS xo(DI), Z26 \
	VFMADD231PS  Z26, Z24, Z0 \
	VFMADD231PS  Z26, Z25, Z1 \
	VBROADCASTSS xo(DI)(R8*1), Z27 \
	VFMADD231PS  Z27, Z24, Z2 \
	VFMADD231PS  Z27, Z25, Z3 \
	VBROADCASTSS xo(DI)(R8*2), Z26 \
	VFMADD231PS  Z26, Z24, Z4 \
	VFMADD231PS  Z26, Z25, Z5 \
	VBROADCASTSS xo(DI)(R10*1), Z27 \
	VFMADD231PS  Z27, Z24, Z6 \
	VFMADD231PS  Z27, Z25, Z7

#define FCOL1(LD, wo, xo) \
	LD(wo(SI), Z24) \
	LD(wo+32(SI), Z25) \
	VBROADCASTSS xo(DI), Z26 \
	VFMADD231PS  Z26, Z24, Z0 \
	VFMADD231PS  Z26, Z25, Z1

#define FSTORE12 \
	VMOVUPS      Z0, 0(AX) \
	VMOVUPS      Z1, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z2, 0(AX) \
	VMOVUPS      Z3, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z4, 0(AX) \
	VMOVUPS      Z5, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z6, 0(AX) \
	VMOVUPS      Z7, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z8, 0(AX) \
	VMOVUPS      Z9, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z10, 0(AX) \
	VMOVUPS      Z11, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z12, 0(AX) \
	VMOVUPS      Z13, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z14, 0(AX) \
	VMOVUPS      Z15, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z16, 0(AX) \
	VMOVUPS      Z17, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z18, 0(AX) \
	VMOVUPS      Z19, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z20, 0(AX) \
	VMOVUPS      Z21, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z22, 0(AX) \
	VMOVUPS      Z23, 64(AX)

#define FSTORE4 \
	VMOVUPS      Z0, 0(AX) \
	VMOVUPS      Z1, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z2, 0(AX) \
	VMOVUPS      Z3, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z4, 0(AX) \
	VMOVUPS      Z5, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z6, 0(AX) \
	VMOVUPS      Z7, 64(AX)

#define FSTORE1 \
	VMOVUPS      Z0, 0(AX) \
	VMOVUPS      Z1, 64(AX)

#define FBODY12(LD) \
	MOVQ         w+0(FP), SI \
	MOVQ         x+8(FP), DI \
	MOVQ         xs+16(FP), R8 \
	MOVQ         k+24(FP), CX \
	LEAQ         (R8)(R8*2), R10 \
	LEAQ         (DI)(R8*4), R12 \
	LEAQ         (R12)(R8*4), R13 \
	VPXORD       Z0, Z0, Z0 \
	VPXORD       Z1, Z1, Z1 \
	VPXORD       Z2, Z2, Z2 \
	VPXORD       Z3, Z3, Z3 \
	VPXORD       Z4, Z4, Z4 \
	VPXORD       Z5, Z5, Z5 \
	VPXORD       Z6, Z6, Z6 \
	VPXORD       Z7, Z7, Z7 \
	VPXORD       Z8, Z8, Z8 \
	VPXORD       Z9, Z9, Z9 \
	VPXORD       Z10, Z10, Z10 \
	VPXORD       Z11, Z11, Z11 \
	VPXORD       Z12, Z12, Z12 \
	VPXORD       Z13, Z13, Z13 \
	VPXORD       Z14, Z14, Z14 \
	VPXORD       Z15, Z15, Z15 \
	VPXORD       Z16, Z16, Z16 \
	VPXORD       Z17, Z17, Z17 \
	VPXORD       Z18, Z18, Z18 \
	VPXORD       Z19, Z19, Z19 \
	VPXORD       Z20, Z20, Z20 \
	VPXORD       Z21, Z21, Z21 \
	VPXORD       Z22, Z22, Z22 \
	VPXORD       Z23, Z23, Z23 \
loop2: \
	CMPQ         CX, $2 \
	JLT          tail \
	PREFETCHT0   4096(SI) \
	PREFETCHT0   4160(SI) \
	FCOL12(LD, 0, 0) \
	FCOL12(LD, 64, 4) \
	ADDQ         $128, SI \
	ADDQ         $8, DI \
	ADDQ         $8, R12 \
	ADDQ         $8, R13 \
	SUBQ         $2, CX \
	JMP          loop2 \
tail: \
	TESTQ        CX, CX \
	JZ           done \
	FCOL12(LD, 0, 0) \
done: \
	MOVQ         out+32(FP), AX \
	MOVQ         os+40(FP), BX \
	FSTORE12 \
	VZEROUPPER \
	RET

#define FBODY4(LD) \
	MOVQ         w+0(FP), SI \
	MOVQ         x+8(FP), DI \
	MOVQ         xs+16(FP), R8 \
	MOVQ         k+24(FP), CX \
	LEAQ         (R8)(R8*2), R10 \
	LEAQ         (DI)(R8*4), R12 \
	LEAQ         (R12)(R8*4), R13 \
	VPXORD       Z0, Z0, Z0 \
	VPXORD       Z1, Z1, Z1 \
	VPXORD       Z2, Z2, Z2 \
	VPXORD       Z3, Z3, Z3 \
	VPXORD       Z4, Z4, Z4 \
	VPXORD       Z5, Z5, Z5 \
	VPXORD       Z6, Z6, Z6 \
	VPXORD       Z7, Z7, Z7 \
loop2: \
	CMPQ         CX, $2 \
	JLT          tail \
	PREFETCHT0   4096(SI) \
	PREFETCHT0   4160(SI) \
	FCOL4(LD, 0, 0) \
	FCOL4(LD, 64, 4) \
	ADDQ         $128, SI \
	ADDQ         $8, DI \
	ADDQ         $8, R12 \
	ADDQ         $8, R13 \
	SUBQ         $2, CX \
	JMP          loop2 \
tail: \
	TESTQ        CX, CX \
	JZ           done \
	FCOL4(LD, 0, 0) \
done: \
	MOVQ         out+32(FP), AX \
	MOVQ         os+40(FP), BX \
	FSTORE4 \
	VZEROUPPER \
	RET

#define FBODY1(LD) \
	MOVQ         w+0(FP), SI \
	MOVQ         x+8(FP), DI \
	MOVQ         xs+16(FP), R8 \
	MOVQ         k+24(FP), CX \
	LEAQ         (R8)(R8*2), R10 \
	LEAQ         (DI)(R8*4), R12 \
	LEAQ         (R12)(R8*4), R13 \
	VPXORD       Z0, Z0, Z0 \
	VPXORD       Z1, Z1, Z1 \
loop2: \
	CMPQ         CX, $2 \
	JLT          tail \
	PREFETCHT0   4096(SI) \
	PREFETCHT0   4160(SI) \
	FCOL1(LD, 0, 0) \
	FCOL1(LD, 64, 4) \
	ADDQ         $128, SI \
	ADDQ         $8, DI \
	ADDQ         $8, R12 \
	ADDQ         $8, R13 \
	SUBQ         $2, CX \
	JMP          loop2 \
tail: \
	TESTQ        CX, CX \
	JZ           done \
	FCOL1(LD, 0, 0) \
done: \
	MOVQ         out+32(FP), AX \
	MOVQ         os+40(FP), BX \
	FSTORE1 \
	VZEROUPPER \
	RET
// Four streams: the one-token kernels below multiply one token with four
// groups gs bytes apart at once, a block (Q4_0) or two columns (F16) of
// each in turn, and store group k's results at out + k·os bytes. Each
// group's lanes see exactly the operations of q4x16x1AVX512 or
// f16x32x1AVX512, so the results are the same bits. A core streaming
// from four places at once keeps more cache misses in flight than one
// running through memory in order, and decode is bound by that.

// Q4STREAM is one block of the group at W: int lanes lo and hi, float
// accumulator acc, scale register sc.
#define Q4STREAM(W, lo, hi, acc, sc) \
	PREFETCHT0    2048(W) \
	PREFETCHT0    2112(W) \
	PREFETCHT0    2176(W) \
	PREFETCHT0    2240(W) \
	PREFETCHT0    2304(W) \
	VCVTPH2PS     (W), sc \
	VPBROADCASTD  4(DX), lo \
	VPXORD        hi, hi, hi \
	VMOVDQU32     32(W), Z28 \
	VPSRLW        $4, Z28, Z29 \
	VPANDD        Z31, Z28, Z28 \
	VPANDD        Z31, Z29, Z29 \
	VPDPBUSD.BCST 0(DI), Z28, lo \
	VPDPBUSD.BCST 16(DI), Z29, hi \
	VMOVDQU32     96(W), Z28 \
	VPSRLW        $4, Z28, Z29 \
	VPANDD        Z31, Z28, Z28 \
	VPANDD        Z31, Z29, Z29 \
	VPDPBUSD.BCST 4(DI), Z28, lo \
	VPDPBUSD.BCST 20(DI), Z29, hi \
	VMOVDQU32     160(W), Z28 \
	VPSRLW        $4, Z28, Z29 \
	VPANDD        Z31, Z28, Z28 \
	VPANDD        Z31, Z29, Z29 \
	VPDPBUSD.BCST 8(DI), Z28, lo \
	VPDPBUSD.BCST 24(DI), Z29, hi \
	VMOVDQU32     224(W), Z28 \
	VPSRLW        $4, Z28, Z29 \
	VPANDD        Z31, Z28, Z28 \
	VPANDD        Z31, Z29, Z29 \
	VPDPBUSD.BCST 12(DI), Z28, lo \
	VPDPBUSD.BCST 28(DI), Z29, hi \
	VPADDD        hi, lo, lo \
	VCVTDQ2PS     lo, lo \
	VMULPS.BCST   (DX), sc, sc \
	VFMADD231PS   sc, lo, acc

#define Q4BODY1X4 \
	MOVQ         w+0(FP), SI \
	MOVQ         gs+8(FP), BX \
	MOVQ         x+16(FP), DI \
	MOVQ         p+24(FP), DX \
	MOVQ         nb+32(FP), CX \
	LEAQ         (SI)(BX*1), R8 \
	LEAQ         (SI)(BX*2), R9 \
	LEAQ         (R8)(BX*2), R10 \
	MOVL         $0x0f0f0f0f, AX \
	VPBROADCASTD AX, Z31 \
	VPXORD       Z8, Z8, Z8 \
	VPXORD       Z9, Z9, Z9 \
	VPXORD       Z10, Z10, Z10 \
	VPXORD       Z11, Z11, Z11 \
	TESTQ        CX, CX \
	JZ           done \
loop: \
	Q4STREAM(SI, Z0, Z1, Z8, Z12) \
	Q4STREAM(R8, Z2, Z3, Z9, Z13) \
	Q4STREAM(R9, Z4, Z5, Z10, Z14) \
	Q4STREAM(R10, Z6, Z7, Z11, Z15) \
	ADDQ         $288, SI \
	ADDQ         $288, R8 \
	ADDQ         $288, R9 \
	ADDQ         $288, R10 \
	ADDQ         $32, DI \
	ADDQ         $16, DX \
	DECQ         CX \
	JNZ          loop \
done: \
	MOVQ         out+40(FP), AX \
	MOVQ         os+48(FP), BX \
	VMOVUPS      Z8, 0(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z9, 0(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z10, 0(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z11, 0(AX) \
	VZEROUPPER \
	RET

// FSTREAM is column xo/4 of the group at W (offset wo), rows 0-15 into
// lo and 16-31 into hi; the column's activation is in Z26.
#define FSTREAM(W, wo, lo, hi, t0, t1) \
	VCVTPH2PS    wo(W), t0 \
	VCVTPH2PS    wo+32(W), t1 \
	VFMADD231PS  Z26, t0, lo \
	VFMADD231PS  Z26, t1, hi

#define F16BODY1X4 \
	MOVQ         w+0(FP), SI \
	MOVQ         gs+8(FP), BX \
	MOVQ         x+16(FP), DI \
	MOVQ         k+24(FP), CX \
	LEAQ         (SI)(BX*1), R8 \
	LEAQ         (SI)(BX*2), R9 \
	LEAQ         (R8)(BX*2), R10 \
	VPXORD       Z0, Z0, Z0 \
	VPXORD       Z1, Z1, Z1 \
	VPXORD       Z2, Z2, Z2 \
	VPXORD       Z3, Z3, Z3 \
	VPXORD       Z4, Z4, Z4 \
	VPXORD       Z5, Z5, Z5 \
	VPXORD       Z6, Z6, Z6 \
	VPXORD       Z7, Z7, Z7 \
loop2: \
	CMPQ         CX, $2 \
	JLT          tail \
	PREFETCHT0   4096(SI) \
	PREFETCHT0   4160(SI) \
	PREFETCHT0   4096(R8) \
	PREFETCHT0   4160(R8) \
	PREFETCHT0   4096(R9) \
	PREFETCHT0   4160(R9) \
	PREFETCHT0   4096(R10) \
	PREFETCHT0   4160(R10) \
	VBROADCASTSS 0(DI), Z26 \
	FSTREAM(SI, 0, Z0, Z1, Z16, Z17) \
	FSTREAM(R8, 0, Z2, Z3, Z18, Z19) \
	FSTREAM(R9, 0, Z4, Z5, Z20, Z21) \
	FSTREAM(R10, 0, Z6, Z7, Z22, Z23) \
	VBROADCASTSS 4(DI), Z26 \
	FSTREAM(SI, 64, Z0, Z1, Z16, Z17) \
	FSTREAM(R8, 64, Z2, Z3, Z18, Z19) \
	FSTREAM(R9, 64, Z4, Z5, Z20, Z21) \
	FSTREAM(R10, 64, Z6, Z7, Z22, Z23) \
	ADDQ         $128, SI \
	ADDQ         $128, R8 \
	ADDQ         $128, R9 \
	ADDQ         $128, R10 \
	ADDQ         $8, DI \
	SUBQ         $2, CX \
	JMP          loop2 \
tail: \
	TESTQ        CX, CX \
	JZ           done \
	VBROADCASTSS 0(DI), Z26 \
	FSTREAM(SI, 0, Z0, Z1, Z16, Z17) \
	FSTREAM(R8, 0, Z2, Z3, Z18, Z19) \
	FSTREAM(R9, 0, Z4, Z5, Z20, Z21) \
	FSTREAM(R10, 0, Z6, Z7, Z22, Z23) \
done: \
	MOVQ         out+32(FP), AX \
	MOVQ         os+40(FP), BX \
	VMOVUPS      Z0, 0(AX) \
	VMOVUPS      Z1, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z2, 0(AX) \
	VMOVUPS      Z3, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z4, 0(AX) \
	VMOVUPS      Z5, 64(AX) \
	ADDQ         BX, AX \
	VMOVUPS      Z6, 0(AX) \
	VMOVUPS      Z7, 64(AX) \
	VZEROUPPER \
	RET



// func q4x16x16AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)
TEXT ·q4x16x16AVX512(SB), NOSPLIT, $0-64
	Q4BODY16

// func q8x16x16AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)
TEXT ·q8x16x16AVX512(SB), NOSPLIT, $0-64
	Q8BODY16

// func q4x16x8AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)
TEXT ·q4x16x8AVX512(SB), NOSPLIT, $0-64
	Q4BODY8

// func q4x16x4AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)
TEXT ·q4x16x4AVX512(SB), NOSPLIT, $0-64
	Q4BODY4

// func q4x16x1AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)
TEXT ·q4x16x1AVX512(SB), NOSPLIT, $0-64
	Q4BODY1

// func q8x16x8AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)
TEXT ·q8x16x8AVX512(SB), NOSPLIT, $0-64
	Q8BODY8

// func q8x16x4AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)
TEXT ·q8x16x4AVX512(SB), NOSPLIT, $0-64
	Q8BODY4

// func q8x16x1AVX512(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)
TEXT ·q8x16x1AVX512(SB), NOSPLIT, $0-64
	Q8BODY1

// func f16x32x12AVX512(w *byte, x *float32, xs int, k int, out *float32, os int)
TEXT ·f16x32x12AVX512(SB), NOSPLIT, $0-48
	FBODY12(LDF16Z)

// func f16x32x4AVX512(w *byte, x *float32, xs int, k int, out *float32, os int)
TEXT ·f16x32x4AVX512(SB), NOSPLIT, $0-48
	FBODY4(LDF16Z)

// func f16x32x1AVX512(w *byte, x *float32, xs int, k int, out *float32, os int)
TEXT ·f16x32x1AVX512(SB), NOSPLIT, $0-48
	FBODY1(LDF16Z)

// func bf16x32x12AVX512(w *byte, x *float32, xs int, k int, out *float32, os int)
TEXT ·bf16x32x12AVX512(SB), NOSPLIT, $0-48
	FBODY12(LDBF16Z)

// func bf16x32x4AVX512(w *byte, x *float32, xs int, k int, out *float32, os int)
TEXT ·bf16x32x4AVX512(SB), NOSPLIT, $0-48
	FBODY4(LDBF16Z)

// func bf16x32x1AVX512(w *byte, x *float32, xs int, k int, out *float32, os int)
TEXT ·bf16x32x1AVX512(SB), NOSPLIT, $0-48
	FBODY1(LDBF16Z)

// func q4x16x1x4AVX512(w *byte, gs int, x *int8, p *int32, nb int, out *float32, os int)
TEXT ·q4x16x1x4AVX512(SB), NOSPLIT, $0-56
	Q4BODY1X4

// func f16x32x1x4AVX512(w *byte, gs int, x *float32, k int, out *float32, os int)
TEXT ·f16x32x1x4AVX512(SB), NOSPLIT, $0-48
	F16BODY1X4
