//go:build amd64

#include "textflag.h"
#include "reduce_amd64.h"

// AVX-512 kernels for K-quant weights (Q4_K, Q5_K, Q6_K) in the file's
// layout times Q8_K-style activations, for 1 or 4 tokens. The AVX2
// kernels' arithmetic in 512-bit vectors: a vector holds 64 consecutive
// weights (for Q4_K and Q5_K a 32-byte chunk's low nibbles, then its high
// ones), vpmaddubsw multiplies them with 64 activations into pair sums and
// vpdpwssd adds those, times each sub-block's (or group's) scale, to the
// super-block's 32-bit sums. Per super-block and token the float
// accumulator's sixteen lanes first lose dmin·dx·Σ min·(sub-block sum) (in
// lanes 0-7), then gain d·dx·float(sum); at the end the lanes are folded
// to eight and reduced by the tree of reduce_amd64.h. The 1- and 4-token
// kernels do exactly this for each token, so they agree bit for bit.
//
// Kernel bodies are macros defined before the first TEXT so that go vet's
// frame checks read them as no function's lines.

// Word indices for vpermw: the scale vector of chunk c repeats sub-block
// 2c's scale in words 0-15 and 2c+1's in words 16-31 (Q4_K, Q5_K; the
// source holds sc0..sc7, m0..m7); the mins vector is m0 m0 m1 m1 ... m7 m7.

DATA k4idx0<>+0(SB)/8, $0x0000000000000000
DATA k4idx0<>+8(SB)/8, $0x0000000000000000
DATA k4idx0<>+16(SB)/8, $0x0000000000000000
DATA k4idx0<>+24(SB)/8, $0x0000000000000000
DATA k4idx0<>+32(SB)/8, $0x0001000100010001
DATA k4idx0<>+40(SB)/8, $0x0001000100010001
DATA k4idx0<>+48(SB)/8, $0x0001000100010001
DATA k4idx0<>+56(SB)/8, $0x0001000100010001
GLOBL k4idx0<>(SB), RODATA|NOPTR, $64

DATA k4idx1<>+0(SB)/8, $0x0002000200020002
DATA k4idx1<>+8(SB)/8, $0x0002000200020002
DATA k4idx1<>+16(SB)/8, $0x0002000200020002
DATA k4idx1<>+24(SB)/8, $0x0002000200020002
DATA k4idx1<>+32(SB)/8, $0x0003000300030003
DATA k4idx1<>+40(SB)/8, $0x0003000300030003
DATA k4idx1<>+48(SB)/8, $0x0003000300030003
DATA k4idx1<>+56(SB)/8, $0x0003000300030003
GLOBL k4idx1<>(SB), RODATA|NOPTR, $64

DATA k4idx2<>+0(SB)/8, $0x0004000400040004
DATA k4idx2<>+8(SB)/8, $0x0004000400040004
DATA k4idx2<>+16(SB)/8, $0x0004000400040004
DATA k4idx2<>+24(SB)/8, $0x0004000400040004
DATA k4idx2<>+32(SB)/8, $0x0005000500050005
DATA k4idx2<>+40(SB)/8, $0x0005000500050005
DATA k4idx2<>+48(SB)/8, $0x0005000500050005
DATA k4idx2<>+56(SB)/8, $0x0005000500050005
GLOBL k4idx2<>(SB), RODATA|NOPTR, $64

DATA k4idx3<>+0(SB)/8, $0x0006000600060006
DATA k4idx3<>+8(SB)/8, $0x0006000600060006
DATA k4idx3<>+16(SB)/8, $0x0006000600060006
DATA k4idx3<>+24(SB)/8, $0x0006000600060006
DATA k4idx3<>+32(SB)/8, $0x0007000700070007
DATA k4idx3<>+40(SB)/8, $0x0007000700070007
DATA k4idx3<>+48(SB)/8, $0x0007000700070007
DATA k4idx3<>+56(SB)/8, $0x0007000700070007
GLOBL k4idx3<>(SB), RODATA|NOPTR, $64

DATA k4midx<>+0(SB)/8, $0x0009000900080008
DATA k4midx<>+8(SB)/8, $0x000b000b000a000a
DATA k4midx<>+16(SB)/8, $0x000d000d000c000c
DATA k4midx<>+24(SB)/8, $0x000f000f000e000e
GLOBL k4midx<>(SB), RODATA|NOPTR, $32

// Q6_K: the scale vector of 64 weights repeats each of its four groups' scales
// in eight words (the source holds the sixteen scales).

DATA k6idx0<>+0(SB)/8, $0x0000000000000000
DATA k6idx0<>+8(SB)/8, $0x0000000000000000
DATA k6idx0<>+16(SB)/8, $0x0001000100010001
DATA k6idx0<>+24(SB)/8, $0x0001000100010001
DATA k6idx0<>+32(SB)/8, $0x0002000200020002
DATA k6idx0<>+40(SB)/8, $0x0002000200020002
DATA k6idx0<>+48(SB)/8, $0x0003000300030003
DATA k6idx0<>+56(SB)/8, $0x0003000300030003
GLOBL k6idx0<>(SB), RODATA|NOPTR, $64

DATA k6idx1<>+0(SB)/8, $0x0004000400040004
DATA k6idx1<>+8(SB)/8, $0x0004000400040004
DATA k6idx1<>+16(SB)/8, $0x0005000500050005
DATA k6idx1<>+24(SB)/8, $0x0005000500050005
DATA k6idx1<>+32(SB)/8, $0x0006000600060006
DATA k6idx1<>+40(SB)/8, $0x0006000600060006
DATA k6idx1<>+48(SB)/8, $0x0007000700070007
DATA k6idx1<>+56(SB)/8, $0x0007000700070007
GLOBL k6idx1<>(SB), RODATA|NOPTR, $64

DATA k6idx2<>+0(SB)/8, $0x0008000800080008
DATA k6idx2<>+8(SB)/8, $0x0008000800080008
DATA k6idx2<>+16(SB)/8, $0x0009000900090009
DATA k6idx2<>+24(SB)/8, $0x0009000900090009
DATA k6idx2<>+32(SB)/8, $0x000a000a000a000a
DATA k6idx2<>+40(SB)/8, $0x000a000a000a000a
DATA k6idx2<>+48(SB)/8, $0x000b000b000b000b
DATA k6idx2<>+56(SB)/8, $0x000b000b000b000b
GLOBL k6idx2<>(SB), RODATA|NOPTR, $64

DATA k6idx3<>+0(SB)/8, $0x000c000c000c000c
DATA k6idx3<>+8(SB)/8, $0x000c000c000c000c
DATA k6idx3<>+16(SB)/8, $0x000d000d000d000d
DATA k6idx3<>+24(SB)/8, $0x000d000d000d000d
DATA k6idx3<>+32(SB)/8, $0x000e000e000e000e
DATA k6idx3<>+40(SB)/8, $0x000e000e000e000e
DATA k6idx3<>+48(SB)/8, $0x000f000f000f000f
DATA k6idx3<>+56(SB)/8, $0x000f000f000f000f
GLOBL k6idx3<>(SB), RODATA|NOPTR, $64

DATA kq4m1<>+0(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA kq4m1<>+8(SB)/8, $0x0f0f0f0f3f3f3f3f
GLOBL kq4m1<>(SB), RODATA|NOPTR, $16

DATA kq4s1<>+0(SB)/8, $0x0000000000000000
DATA kq4s1<>+8(SB)/8, $0x0000000400000000
GLOBL kq4s1<>(SB), RODATA|NOPTR, $16

DATA kq4m2<>+0(SB)/8, $0x0303030300000000
DATA kq4m2<>+8(SB)/8, $0x0303030300000000
GLOBL kq4m2<>(SB), RODATA|NOPTR, $16

// Q4_K/Q5_K super-block header: Z25 = d, Z26 = dmin (16 lanes), Z20-Z23 the
// chunks' scale vectors, Y24 the mins vector. Uses X10-X12, Z30.
#define KHEAD \
	VPBROADCASTW 0(SI), Y25 \
	VCVTPH2PS    Y25, Z25 \
	VPBROADCASTW 2(SI), Y26 \
	VCVTPH2PS    Y26, Z26 \
	VMOVDQU      4(SI), X10 \
	VPSHUFD      $0x98, X10, X11 \
	VPSRLVD      kq4s1<>(SB), X11, X11 \
	VPAND        kq4m1<>(SB), X11, X11 \
	VPSHUFD      $0x40, X10, X12 \
	VPSRLD       $6, X12, X12 \
	VPAND        kq4m2<>(SB), X12, X12 \
	VPSLLD       $4, X12, X12 \
	VPOR         X12, X11, X11 \
	VPMOVZXBW    X11, Y30 \
	VMOVDQU64    k4idx0<>(SB), Z20 \
	VPERMW       Z30, Z20, Z20 \
	VMOVDQU64    k4idx1<>(SB), Z21 \
	VPERMW       Z30, Z21, Z21 \
	VMOVDQU64    k4idx2<>(SB), Z22 \
	VPERMW       Z30, Z22, Z22 \
	VMOVDQU64    k4idx3<>(SB), Z23 \
	VPERMW       Z30, Z23, Z23 \
	VMOVDQU32    k4midx<>(SB), Y24 \
	VPERMW       Y30, Y24, Y24

// Q4_K chunk c (32 bytes at qo): low nibbles then high ones in Zr.
#define K4NIB(qo, zr) \
	VMOVDQU32    qo(SI), Y30 \
	VPSRLW       $4, Y30, Y31 \
	VINSERTI64X4 $1, Y31, Z30, zr \
	VPANDD       Z28, zr, zr

// Q5_K: the fifth bits of chunk c are bits 2c (low half) and 2c+1 (high
// half) of qh (Y27); op1/op2 shift them to bit 4.
#define K5NIB(qo, zr, op1, n1, op2, n2) \
	K4NIB(qo, zr) \
	op1          $n1, Y27, Y30 \
	op2          $n2, Y27, Y31 \
	VINSERTI64X4 $1, Y31, Z30, Z30 \
	VPANDD       Z29, Z30, Z30 \
	VPORD        Z30, zr, zr

// Q6_K half h: ql (64 bytes at qo) gives weights 0-63 (low nibbles, zlo)
// and 64-127 (high nibbles, zhi); qh (32 bytes at ho) their top two bits.
#define K6HALF(qo, ho, zlo, zhi) \
	VMOVDQU64    qo(SI), Z30 \
	VMOVDQU32    ho(SI), Y27 \
	VPANDD       Z28, Z30, zlo \
	VPSRLW       $4, Z30, zhi \
	VPANDD       Z28, zhi, zhi \
	VPSLLW       $4, Y27, Y30 \
	VPSLLW       $2, Y27, Y31 \
	VINSERTI64X4 $1, Y31, Z30, Z30 \
	VPANDD       Z29, Z30, Z30 \
	VPORD        Z30, zlo, zlo \
	VPSRLW       $2, Y27, Y31 \
	VINSERTI64X4 $1, Y31, Z27, Z30 \
	VPANDD       Z29, Z30, Z30 \
	VPORD        Z30, zhi, zhi

#define KTOK4 \
	VPMADDWD     (BX), Y24, Y8 \
	VCVTDQ2PS    Z8, Z8 \
	VMULPS.BCST  (DX), Z26, Z12 \
	VFNMADD231PS Z12, Z8, Z0 \
	VPXORD       Z4, Z4, Z4 \
	VPMADDWD     (BX)(R12*1), Y24, Y9 \
	VCVTDQ2PS    Z9, Z9 \
	VMULPS.BCST  (DX)(R9*1), Z26, Z13 \
	VFNMADD231PS Z13, Z9, Z1 \
	VPXORD       Z5, Z5, Z5 \
	VPMADDWD     (BX)(R12*2), Y24, Y10 \
	VCVTDQ2PS    Z10, Z10 \
	VMULPS.BCST  (DX)(R9*2), Z26, Z14 \
	VFNMADD231PS Z14, Z10, Z2 \
	VPXORD       Z6, Z6, Z6 \
	VPMADDWD     (BX)(R13*1), Y24, Y11 \
	VCVTDQ2PS    Z11, Z11 \
	VMULPS.BCST  (DX)(R11*1), Z26, Z15 \
	VFNMADD231PS Z15, Z11, Z3 \
	VPXORD       Z7, Z7, Z7 \
	VPMADDUBSW   0(DI), Z16, Z8 \
	VPDPWSSD     Z20, Z8, Z4 \
	VPMADDUBSW   0(DI)(R8*1), Z16, Z9 \
	VPDPWSSD     Z20, Z9, Z5 \
	VPMADDUBSW   0(DI)(R8*2), Z16, Z10 \
	VPDPWSSD     Z20, Z10, Z6 \
	VPMADDUBSW   0(DI)(R10*1), Z16, Z11 \
	VPDPWSSD     Z20, Z11, Z7 \
	VPMADDUBSW   64(DI), Z17, Z8 \
	VPDPWSSD     Z21, Z8, Z4 \
	VPMADDUBSW   64(DI)(R8*1), Z17, Z9 \
	VPDPWSSD     Z21, Z9, Z5 \
	VPMADDUBSW   64(DI)(R8*2), Z17, Z10 \
	VPDPWSSD     Z21, Z10, Z6 \
	VPMADDUBSW   64(DI)(R10*1), Z17, Z11 \
	VPDPWSSD     Z21, Z11, Z7 \
	VPMADDUBSW   128(DI), Z18, Z8 \
	VPDPWSSD     Z22, Z8, Z4 \
	VPMADDUBSW   128(DI)(R8*1), Z18, Z9 \
	VPDPWSSD     Z22, Z9, Z5 \
	VPMADDUBSW   128(DI)(R8*2), Z18, Z10 \
	VPDPWSSD     Z22, Z10, Z6 \
	VPMADDUBSW   128(DI)(R10*1), Z18, Z11 \
	VPDPWSSD     Z22, Z11, Z7 \
	VPMADDUBSW   192(DI), Z19, Z8 \
	VPDPWSSD     Z23, Z8, Z4 \
	VPMADDUBSW   192(DI)(R8*1), Z19, Z9 \
	VPDPWSSD     Z23, Z9, Z5 \
	VPMADDUBSW   192(DI)(R8*2), Z19, Z10 \
	VPDPWSSD     Z23, Z10, Z6 \
	VPMADDUBSW   192(DI)(R10*1), Z19, Z11 \
	VPDPWSSD     Z23, Z11, Z7 \
	VCVTDQ2PS    Z4, Z4 \
	VMULPS.BCST  (DX), Z25, Z12 \
	VFMADD231PS  Z12, Z4, Z0 \
	VCVTDQ2PS    Z5, Z5 \
	VMULPS.BCST  (DX)(R9*1), Z25, Z13 \
	VFMADD231PS  Z13, Z5, Z1 \
	VCVTDQ2PS    Z6, Z6 \
	VMULPS.BCST  (DX)(R9*2), Z25, Z14 \
	VFMADD231PS  Z14, Z6, Z2 \
	VCVTDQ2PS    Z7, Z7 \
	VMULPS.BCST  (DX)(R11*1), Z25, Z15 \
	VFMADD231PS  Z15, Z7, Z3

#define K6TOK4 \
	VPMADDWD     (BX), Y24, Y4 \
	VPSLLD       $5, Z4, Z4 \
	VPXORD       Z8, Z8, Z8 \
	VPSUBD       Z4, Z8, Z4 \
	VPMADDWD     (BX)(R12*1), Y24, Y5 \
	VPSLLD       $5, Z5, Z5 \
	VPXORD       Z9, Z9, Z9 \
	VPSUBD       Z5, Z9, Z5 \
	VPMADDWD     (BX)(R12*2), Y24, Y6 \
	VPSLLD       $5, Z6, Z6 \
	VPXORD       Z10, Z10, Z10 \
	VPSUBD       Z6, Z10, Z6 \
	VPMADDWD     (BX)(R13*1), Y24, Y7 \
	VPSLLD       $5, Z7, Z7 \
	VPXORD       Z11, Z11, Z11 \
	VPSUBD       Z7, Z11, Z7 \
	VPMADDUBSW   0(DI), Z16, Z8 \
	VPDPWSSD     Z20, Z8, Z4 \
	VPMADDUBSW   0(DI)(R8*1), Z16, Z9 \
	VPDPWSSD     Z20, Z9, Z5 \
	VPMADDUBSW   0(DI)(R8*2), Z16, Z10 \
	VPDPWSSD     Z20, Z10, Z6 \
	VPMADDUBSW   0(DI)(R10*1), Z16, Z11 \
	VPDPWSSD     Z20, Z11, Z7 \
	VPMADDUBSW   64(DI), Z17, Z8 \
	VPDPWSSD     Z21, Z8, Z4 \
	VPMADDUBSW   64(DI)(R8*1), Z17, Z9 \
	VPDPWSSD     Z21, Z9, Z5 \
	VPMADDUBSW   64(DI)(R8*2), Z17, Z10 \
	VPDPWSSD     Z21, Z10, Z6 \
	VPMADDUBSW   64(DI)(R10*1), Z17, Z11 \
	VPDPWSSD     Z21, Z11, Z7 \
	VPMADDUBSW   128(DI), Z18, Z8 \
	VPDPWSSD     Z22, Z8, Z4 \
	VPMADDUBSW   128(DI)(R8*1), Z18, Z9 \
	VPDPWSSD     Z22, Z9, Z5 \
	VPMADDUBSW   128(DI)(R8*2), Z18, Z10 \
	VPDPWSSD     Z22, Z10, Z6 \
	VPMADDUBSW   128(DI)(R10*1), Z18, Z11 \
	VPDPWSSD     Z22, Z11, Z7 \
	VPMADDUBSW   192(DI), Z19, Z8 \
	VPDPWSSD     Z23, Z8, Z4 \
	VPMADDUBSW   192(DI)(R8*1), Z19, Z9 \
	VPDPWSSD     Z23, Z9, Z5 \
	VPMADDUBSW   192(DI)(R8*2), Z19, Z10 \
	VPDPWSSD     Z23, Z10, Z6 \
	VPMADDUBSW   192(DI)(R10*1), Z19, Z11 \
	VPDPWSSD     Z23, Z11, Z7 \
	VCVTDQ2PS    Z4, Z4 \
	VMULPS.BCST  (DX), Z25, Z12 \
	VFMADD231PS  Z12, Z4, Z0 \
	VCVTDQ2PS    Z5, Z5 \
	VMULPS.BCST  (DX)(R9*1), Z25, Z13 \
	VFMADD231PS  Z13, Z5, Z1 \
	VCVTDQ2PS    Z6, Z6 \
	VMULPS.BCST  (DX)(R9*2), Z25, Z14 \
	VFMADD231PS  Z14, Z6, Z2 \
	VCVTDQ2PS    Z7, Z7 \
	VMULPS.BCST  (DX)(R11*1), Z25, Z15 \
	VFMADD231PS  Z15, Z7, Z3

#define KTOK1 \
	VPMADDWD     (BX), Y24, Y8 \
	VCVTDQ2PS    Z8, Z8 \
	VMULPS.BCST  (DX), Z26, Z12 \
	VFNMADD231PS Z12, Z8, Z0 \
	VPXORD       Z4, Z4, Z4 \
	VPMADDUBSW   0(DI), Z16, Z8 \
	VPDPWSSD     Z20, Z8, Z4 \
	VPMADDUBSW   64(DI), Z17, Z8 \
	VPDPWSSD     Z21, Z8, Z4 \
	VPMADDUBSW   128(DI), Z18, Z8 \
	VPDPWSSD     Z22, Z8, Z4 \
	VPMADDUBSW   192(DI), Z19, Z8 \
	VPDPWSSD     Z23, Z8, Z4 \
	VCVTDQ2PS    Z4, Z4 \
	VMULPS.BCST  (DX), Z25, Z12 \
	VFMADD231PS  Z12, Z4, Z0

#define K6TOK1 \
	VPMADDWD     (BX), Y24, Y4 \
	VPSLLD       $5, Z4, Z4 \
	VPXORD       Z8, Z8, Z8 \
	VPSUBD       Z4, Z8, Z4 \
	VPMADDUBSW   0(DI), Z16, Z8 \
	VPDPWSSD     Z20, Z8, Z4 \
	VPMADDUBSW   64(DI), Z17, Z8 \
	VPDPWSSD     Z21, Z8, Z4 \
	VPMADDUBSW   128(DI), Z18, Z8 \
	VPDPWSSD     Z22, Z8, Z4 \
	VPMADDUBSW   192(DI), Z19, Z8 \
	VPDPWSSD     Z23, Z8, Z4 \
	VCVTDQ2PS    Z4, Z4 \
	VMULPS.BCST  (DX), Z25, Z12 \
	VFMADD231PS  Z12, Z4, Z0

#define Q4KBODY4 \
	MOVQ         w+0(FP), SI \
	MOVQ         x+8(FP), DI \
	MOVQ         xs+16(FP), R8 \
	MOVQ         d+24(FP), DX \
	MOVQ         ds+32(FP), R9 \
	MOVQ         s+40(FP), BX \
	MOVQ         ss+48(FP), R12 \
	MOVQ         nb+56(FP), CX \
	LEAQ         (R8)(R8*2), R10 \
	LEAQ         (R9)(R9*2), R11 \
	LEAQ         (R12)(R12*2), R13 \
	MOVL         $0x0f0f0f0f, AX \
	VPBROADCASTD AX, Z28 \
	VPXORD       Z0, Z0, Z0 \
	VPXORD       Z1, Z1, Z1 \
	VPXORD       Z2, Z2, Z2 \
	VPXORD       Z3, Z3, Z3 \
	TESTQ        CX, CX \
	JZ           done \
loop: \
	KHEAD \
	K4NIB(16, Z16) \
	K4NIB(48, Z17) \
	K4NIB(80, Z18) \
	K4NIB(112, Z19) \
	KTOK4 \
	ADDQ         $144, SI \
	ADDQ         $256, DI \
	ADDQ         $4, DX \
	ADDQ         $32, BX \
	DECQ         CX \
	JNZ          loop \
done: \
	VEXTRACTF64X4 $1, Z0, Y8 \
	VADDPS       Y8, Y0, Y0 \
	VEXTRACTF64X4 $1, Z1, Y9 \
	VADDPS       Y9, Y1, Y1 \
	VEXTRACTF64X4 $1, Z2, Y10 \
	VADDPS       Y10, Y2, Y2 \
	VEXTRACTF64X4 $1, Z3, Y11 \
	VADDPS       Y11, Y3, Y3 \
	HSUM4 \
	MOVQ         out+64(FP), AX \
	VMOVUPS      X0, (AX) \
	VZEROUPPER \
	RET

#define Q4KBODY1 \
	MOVQ         w+0(FP), SI \
	MOVQ         x+8(FP), DI \
	MOVQ         d+16(FP), DX \
	MOVQ         s+24(FP), BX \
	MOVQ         nb+32(FP), CX \
	MOVL         $0x0f0f0f0f, AX \
	VPBROADCASTD AX, Z28 \
	VPXORD       Z0, Z0, Z0 \
	TESTQ        CX, CX \
	JZ           done \
loop: \
	KHEAD \
	K4NIB(16, Z16) \
	K4NIB(48, Z17) \
	K4NIB(80, Z18) \
	K4NIB(112, Z19) \
	KTOK1 \
	ADDQ         $144, SI \
	ADDQ         $256, DI \
	ADDQ         $4, DX \
	ADDQ         $32, BX \
	DECQ         CX \
	JNZ          loop \
done: \
	VEXTRACTF64X4 $1, Z0, Y8 \
	VADDPS       Y8, Y0, Y0 \
	HSUM1 \
	VZEROUPPER \
	MOVSS        X0, ret+40(FP) \
	RET

#define Q5KBODY4 \
	MOVQ         w+0(FP), SI \
	MOVQ         x+8(FP), DI \
	MOVQ         xs+16(FP), R8 \
	MOVQ         d+24(FP), DX \
	MOVQ         ds+32(FP), R9 \
	MOVQ         s+40(FP), BX \
	MOVQ         ss+48(FP), R12 \
	MOVQ         nb+56(FP), CX \
	LEAQ         (R8)(R8*2), R10 \
	LEAQ         (R9)(R9*2), R11 \
	LEAQ         (R12)(R12*2), R13 \
	MOVL         $0x0f0f0f0f, AX \
	VPBROADCASTD AX, Z28 \
	MOVL         $0x10101010, AX \
	VPBROADCASTD AX, Z29 \
	VPXORD       Z0, Z0, Z0 \
	VPXORD       Z1, Z1, Z1 \
	VPXORD       Z2, Z2, Z2 \
	VPXORD       Z3, Z3, Z3 \
	TESTQ        CX, CX \
	JZ           done \
loop: \
	KHEAD \
	VMOVDQU32    16(SI), Y27 \
	K5NIB(48, Z16, VPSLLW, 4, VPSLLW, 3) \
	K5NIB(80, Z17, VPSLLW, 2, VPSLLW, 1) \
	K5NIB(112, Z18, VPSRLW, 0, VPSRLW, 1) \
	K5NIB(144, Z19, VPSRLW, 2, VPSRLW, 3) \
	KTOK4 \
	ADDQ         $176, SI \
	ADDQ         $256, DI \
	ADDQ         $4, DX \
	ADDQ         $32, BX \
	DECQ         CX \
	JNZ          loop \
done: \
	VEXTRACTF64X4 $1, Z0, Y8 \
	VADDPS       Y8, Y0, Y0 \
	VEXTRACTF64X4 $1, Z1, Y9 \
	VADDPS       Y9, Y1, Y1 \
	VEXTRACTF64X4 $1, Z2, Y10 \
	VADDPS       Y10, Y2, Y2 \
	VEXTRACTF64X4 $1, Z3, Y11 \
	VADDPS       Y11, Y3, Y3 \
	HSUM4 \
	MOVQ         out+64(FP), AX \
	VMOVUPS      X0, (AX) \
	VZEROUPPER \
	RET

#define Q5KBODY1 \
	MOVQ         w+0(FP), SI \
	MOVQ         x+8(FP), DI \
	MOVQ         d+16(FP), DX \
	MOVQ         s+24(FP), BX \
	MOVQ         nb+32(FP), CX \
	MOVL         $0x0f0f0f0f, AX \
	VPBROADCASTD AX, Z28 \
	MOVL         $0x10101010, AX \
	VPBROADCASTD AX, Z29 \
	VPXORD       Z0, Z0, Z0 \
	TESTQ        CX, CX \
	JZ           done \
loop: \
	KHEAD \
	VMOVDQU32    16(SI), Y27 \
	K5NIB(48, Z16, VPSLLW, 4, VPSLLW, 3) \
	K5NIB(80, Z17, VPSLLW, 2, VPSLLW, 1) \
	K5NIB(112, Z18, VPSRLW, 0, VPSRLW, 1) \
	K5NIB(144, Z19, VPSRLW, 2, VPSRLW, 3) \
	KTOK1 \
	ADDQ         $176, SI \
	ADDQ         $256, DI \
	ADDQ         $4, DX \
	ADDQ         $32, BX \
	DECQ         CX \
	JNZ          loop \
done: \
	VEXTRACTF64X4 $1, Z0, Y8 \
	VADDPS       Y8, Y0, Y0 \
	HSUM1 \
	VZEROUPPER \
	MOVSS        X0, ret+40(FP) \
	RET

#define Q6KBODY4 \
	MOVQ         w+0(FP), SI \
	MOVQ         x+8(FP), DI \
	MOVQ         xs+16(FP), R8 \
	MOVQ         d+24(FP), DX \
	MOVQ         ds+32(FP), R9 \
	MOVQ         s+40(FP), BX \
	MOVQ         ss+48(FP), R12 \
	MOVQ         nb+56(FP), CX \
	LEAQ         (R8)(R8*2), R10 \
	LEAQ         (R9)(R9*2), R11 \
	LEAQ         (R12)(R12*2), R13 \
	MOVL         $0x0f0f0f0f, AX \
	VPBROADCASTD AX, Z28 \
	MOVL         $0x30303030, AX \
	VPBROADCASTD AX, Z29 \
	VPXORD       Z0, Z0, Z0 \
	VPXORD       Z1, Z1, Z1 \
	VPXORD       Z2, Z2, Z2 \
	VPXORD       Z3, Z3, Z3 \
	TESTQ        CX, CX \
	JZ           done \
loop: \
	VPBROADCASTW 208(SI), Y25 \
	VCVTPH2PS    Y25, Z25 \
	VPMOVSXBW    192(SI), Y30 \
	VMOVDQU64    k6idx0<>(SB), Z20 \
	VPERMW       Z30, Z20, Z20 \
	VMOVDQU64    k6idx1<>(SB), Z21 \
	VPERMW       Z30, Z21, Z21 \
	VMOVDQU64    k6idx2<>(SB), Z22 \
	VPERMW       Z30, Z22, Z22 \
	VMOVDQU64    k6idx3<>(SB), Z23 \
	VPERMW       Z30, Z23, Z23 \
	VMOVDQA64    Z30, Z24 \
	K6HALF(0, 128, Z16, Z17) \
	K6HALF(64, 160, Z18, Z19) \
	K6TOK4 \
	ADDQ         $210, SI \
	ADDQ         $256, DI \
	ADDQ         $4, DX \
	ADDQ         $32, BX \
	DECQ         CX \
	JNZ          loop \
done: \
	VEXTRACTF64X4 $1, Z0, Y8 \
	VADDPS       Y8, Y0, Y0 \
	VEXTRACTF64X4 $1, Z1, Y9 \
	VADDPS       Y9, Y1, Y1 \
	VEXTRACTF64X4 $1, Z2, Y10 \
	VADDPS       Y10, Y2, Y2 \
	VEXTRACTF64X4 $1, Z3, Y11 \
	VADDPS       Y11, Y3, Y3 \
	HSUM4 \
	MOVQ         out+64(FP), AX \
	VMOVUPS      X0, (AX) \
	VZEROUPPER \
	RET

#define Q6KBODY1 \
	MOVQ         w+0(FP), SI \
	MOVQ         x+8(FP), DI \
	MOVQ         d+16(FP), DX \
	MOVQ         s+24(FP), BX \
	MOVQ         nb+32(FP), CX \
	MOVL         $0x0f0f0f0f, AX \
	VPBROADCASTD AX, Z28 \
	MOVL         $0x30303030, AX \
	VPBROADCASTD AX, Z29 \
	VPXORD       Z0, Z0, Z0 \
	TESTQ        CX, CX \
	JZ           done \
loop: \
	VPBROADCASTW 208(SI), Y25 \
	VCVTPH2PS    Y25, Z25 \
	VPMOVSXBW    192(SI), Y30 \
	VMOVDQU64    k6idx0<>(SB), Z20 \
	VPERMW       Z30, Z20, Z20 \
	VMOVDQU64    k6idx1<>(SB), Z21 \
	VPERMW       Z30, Z21, Z21 \
	VMOVDQU64    k6idx2<>(SB), Z22 \
	VPERMW       Z30, Z22, Z22 \
	VMOVDQU64    k6idx3<>(SB), Z23 \
	VPERMW       Z30, Z23, Z23 \
	VMOVDQA64    Z30, Z24 \
	K6HALF(0, 128, Z16, Z17) \
	K6HALF(64, 160, Z18, Z19) \
	K6TOK1 \
	ADDQ         $210, SI \
	ADDQ         $256, DI \
	ADDQ         $4, DX \
	ADDQ         $32, BX \
	DECQ         CX \
	JNZ          loop \
done: \
	VEXTRACTF64X4 $1, Z0, Y8 \
	VADDPS       Y8, Y0, Y0 \
	HSUM1 \
	VZEROUPPER \
	MOVSS        X0, ret+40(FP) \
	RET

// func dotQ4KAVX512(w *byte, x *int8, d *float32, s *int16, nb int) float32
TEXT ·dotQ4KAVX512(SB), NOSPLIT, $0-44
	Q4KBODY1

// func dot4Q4KAVX512(w *byte, x *int8, xs int, d *float32, ds int, s *int16, ss int, nb int, out *[4]float32)
TEXT ·dot4Q4KAVX512(SB), NOSPLIT, $0-72
	Q4KBODY4

// func dotQ5KAVX512(w *byte, x *int8, d *float32, s *int16, nb int) float32
TEXT ·dotQ5KAVX512(SB), NOSPLIT, $0-44
	Q5KBODY1

// func dot4Q5KAVX512(w *byte, x *int8, xs int, d *float32, ds int, s *int16, ss int, nb int, out *[4]float32)
TEXT ·dot4Q5KAVX512(SB), NOSPLIT, $0-72
	Q5KBODY4

// func dotQ6KAVX512(w *byte, x *int8, d *float32, s *int16, nb int) float32
TEXT ·dotQ6KAVX512(SB), NOSPLIT, $0-44
	Q6KBODY1

// func dot4Q6KAVX512(w *byte, x *int8, xs int, d *float32, ds int, s *int16, ss int, nb int, out *[4]float32)
TEXT ·dot4Q6KAVX512(SB), NOSPLIT, $0-72
	Q6KBODY4
