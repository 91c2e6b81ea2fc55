//go:build amd64

#include "textflag.h"
#include "reduce_amd64.h"

// K-quant weights (Q4_K, Q5_K, Q6_K super-blocks of 256) times Q8_K-style
// activations (int8 in blocks of 256, a float32 scale and int16 sums of
// each 16), AVX2.

DATA m30<>+0(SB)/8, $0x3030303030303030
DATA m30<>+8(SB)/8, $0x3030303030303030
DATA m30<>+16(SB)/8, $0x3030303030303030
DATA m30<>+24(SB)/8, $0x3030303030303030
GLOBL m30<>(SB), RODATA|NOPTR, $32

DATA m10<>+0(SB)/8, $0x1010101010101010
DATA m10<>+8(SB)/8, $0x1010101010101010
DATA m10<>+16(SB)/8, $0x1010101010101010
DATA m10<>+24(SB)/8, $0x1010101010101010
GLOBL m10<>(SB), RODATA|NOPTR, $32

DATA q4kShuf<>+0(SB)/8, $0x0100010001000100
DATA q4kShuf<>+8(SB)/8, $0x0100010001000100
DATA q4kShuf<>+16(SB)/8, $0x0100010001000100
DATA q4kShuf<>+24(SB)/8, $0x0100010001000100
DATA q4kShuf<>+32(SB)/8, $0x0302030203020302
DATA q4kShuf<>+40(SB)/8, $0x0302030203020302
DATA q4kShuf<>+48(SB)/8, $0x0302030203020302
DATA q4kShuf<>+56(SB)/8, $0x0302030203020302
DATA q4kShuf<>+64(SB)/8, $0x0504050405040504
DATA q4kShuf<>+72(SB)/8, $0x0504050405040504
DATA q4kShuf<>+80(SB)/8, $0x0504050405040504
DATA q4kShuf<>+88(SB)/8, $0x0504050405040504
DATA q4kShuf<>+96(SB)/8, $0x0706070607060706
DATA q4kShuf<>+104(SB)/8, $0x0706070607060706
DATA q4kShuf<>+112(SB)/8, $0x0706070607060706
DATA q4kShuf<>+120(SB)/8, $0x0706070607060706
DATA q4kShuf<>+128(SB)/8, $0x0908090809080908
DATA q4kShuf<>+136(SB)/8, $0x0908090809080908
DATA q4kShuf<>+144(SB)/8, $0x0908090809080908
DATA q4kShuf<>+152(SB)/8, $0x0908090809080908
DATA q4kShuf<>+160(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kShuf<>+168(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kShuf<>+176(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kShuf<>+184(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kShuf<>+192(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kShuf<>+200(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kShuf<>+208(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kShuf<>+216(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kShuf<>+224(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q4kShuf<>+232(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q4kShuf<>+240(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q4kShuf<>+248(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL q4kShuf<>(SB), RODATA|NOPTR, $256

DATA q6kShuf<>+0(SB)/8, $0x0000000000000000
DATA q6kShuf<>+8(SB)/8, $0x0101010101010101
DATA q6kShuf<>+16(SB)/8, $0x0202020202020202
DATA q6kShuf<>+24(SB)/8, $0x0303030303030303
DATA q6kShuf<>+32(SB)/8, $0x0404040404040404
DATA q6kShuf<>+40(SB)/8, $0x0505050505050505
DATA q6kShuf<>+48(SB)/8, $0x0606060606060606
DATA q6kShuf<>+56(SB)/8, $0x0707070707070707
DATA q6kShuf<>+64(SB)/8, $0x0808080808080808
DATA q6kShuf<>+72(SB)/8, $0x0909090909090909
DATA q6kShuf<>+80(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA q6kShuf<>+88(SB)/8, $0x0b0b0b0b0b0b0b0b
DATA q6kShuf<>+96(SB)/8, $0x0c0c0c0c0c0c0c0c
DATA q6kShuf<>+104(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA q6kShuf<>+112(SB)/8, $0x0e0e0e0e0e0e0e0e
DATA q6kShuf<>+120(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL q6kShuf<>(SB), RODATA|NOPTR, $128

DATA kmask1<>+0(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA kmask1<>+8(SB)/8, $0x0f0f0f0f3f3f3f3f
GLOBL kmask1<>(SB), RODATA|NOPTR, $16

DATA kshift1<>+0(SB)/8, $0x0000000000000000
DATA kshift1<>+8(SB)/8, $0x0000000400000000
GLOBL kshift1<>(SB), RODATA|NOPTR, $16

DATA kmask2<>+0(SB)/8, $0x0303030300000000
DATA kmask2<>+8(SB)/8, $0x0303030300000000
GLOBL kmask2<>(SB), RODATA|NOPTR, $16

// Unpacks the 12 scale bytes at 4(SI) of a Q4_K/Q5_K super-block into Y8
// (the eight scales as int16, repeated in both lanes) and Y9 (the eight
// mins as int32).
#define KSCALES \
	MOVL        4(SI), AX \
	MOVL        8(SI), R8 \
	MOVL        12(SI), R9 \
	MOVL        AX, R10 \
	SHRL        $6, R10 \
	ANDL        $0x03030303, R10 \
	SHLL        $4, R10 \
	MOVL        R9, R11 \
	ANDL        $0x0f0f0f0f, R11 \
	ORL         R11, R10 \
	ANDL        $0x3f3f3f3f, AX \
	MOVL        R8, R11 \
	SHRL        $6, R11 \
	ANDL        $0x03030303, R11 \
	SHLL        $4, R11 \
	SHRL        $4, R9 \
	ANDL        $0x0f0f0f0f, R9 \
	ORL         R9, R11 \
	ANDL        $0x3f3f3f3f, R8 \
	SHLQ        $32, R10 \
	ORQ         R10, AX \
	SHLQ        $32, R11 \
	ORQ         R11, R8 \
	VMOVQ       AX, X8 \
	VPMOVZXBW   X8, X8 \
	VINSERTI128 $1, X8, Y8, Y8 \
	VMOVQ       R8, X9 \
	VPMOVZXBD   X9, Y9

// Mins and scales of a Q4_K/Q5_K super-block: subtracts dmin·dx·Σ m_j·(sum
// of sub-block j of x) from Y0 and leaves d·dx in Y11. Subtracting here,
// before the block's scaled sum is added, is the order dot4Q4KAVX2 uses.
#define KMINS \
	VPMADDWD     (BX), Y15, Y10 \
	VPMULLD      Y9, Y10, Y10 \
	VCVTDQ2PS    Y10, Y10 \
	VBROADCASTSS (DX), Y12 \
	VPBROADCASTW 2(SI), X11 \
	VCVTPH2PS    X11, Y11 \
	VMULPS       Y12, Y11, Y11 \
	VFNMADD231PS Y11, Y10, Y0 \
	VPBROADCASTW (SI), X11 \
	VCVTPH2PS    X11, Y11 \
	VMULPS       Y12, Y11, Y11

// Y3, Y4 hold the quants of sub-blocks 2c and 2c+1 (as bytes); multiply by
// the activations at xo(DI), xo+32(DI), scale and add to the int32 sums Y2.
#define KSUB(xo, so) \
	VPMADDUBSW xo(DI), Y3, Y3 \
	VPMADDUBSW xo+32(DI), Y4, Y4 \
	VPSHUFB    q4kShuf<>+so(SB), Y8, Y5 \
	VPSHUFB    q4kShuf<>+so+32(SB), Y8, Y6 \
	VPMADDWD   Y5, Y3, Y3 \
	VPMADDWD   Y6, Y4, Y4 \
	VPADDD     Y3, Y2, Y2 \
	VPADDD     Y4, Y2, Y2

#define Q4KCHUNK(qo, xo, so) \
	VMOVDQU qo(SI), Y3 \
	VPSRLW  $4, Y3, Y4 \
	VPAND   Y14, Y3, Y3 \
	VPAND   Y14, Y4, Y4 \
	KSUB(xo, so)

// func dotQ4KAVX2(w *byte, x *int8, d *float32, s *int16, nb int) float32
TEXT ·dotQ4KAVX2(SB), NOSPLIT, $0-44
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     d+16(FP), DX
	MOVQ     s+24(FP), BX
	MOVQ     nb+32(FP), CX
	VXORPS   Y0, Y0, Y0
	VMOVDQU  ·nibMask(SB), Y14
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       q4kdone

q4kloop:
	KSCALES
	KMINS
	VPXOR       Y2, Y2, Y2
	Q4KCHUNK(16, 0, 0)
	Q4KCHUNK(48, 64, 64)
	Q4KCHUNK(80, 128, 128)
	Q4KCHUNK(112, 192, 192)
	VCVTDQ2PS   Y2, Y2
	VFMADD231PS Y11, Y2, Y0
	ADDQ        $144, SI
	ADDQ        $256, DI
	ADDQ        $4, DX
	ADDQ        $32, BX
	DECQ        CX
	JNZ         q4kloop

q4kdone:
	HSUM1
	VZEROUPPER
	MOVSS  X0, ret+40(FP)
	RET

// Q5_K: the fifth bits for chunk c sit in bits 2c and 2c+1 of qh (Y7);
// shift them to bit 4 (shl/shr chosen per chunk) and or them in.
#define Q5KCHUNK(qo, xo, so, op1, n1, op2, n2) \
	VMOVDQU qo(SI), Y3 \
	VPSRLW  $4, Y3, Y4 \
	VPAND   Y14, Y3, Y3 \
	VPAND   Y14, Y4, Y4 \
	op1     $n1, Y7, Y5 \
	op2     $n2, Y7, Y6 \
	VPAND   Y13, Y5, Y5 \
	VPAND   Y13, Y6, Y6 \
	VPOR    Y5, Y3, Y3 \
	VPOR    Y6, Y4, Y4 \
	KSUB(xo, so)

// func dotQ5KAVX2(w *byte, x *int8, d *float32, s *int16, nb int) float32
TEXT ·dotQ5KAVX2(SB), NOSPLIT, $0-44
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     d+16(FP), DX
	MOVQ     s+24(FP), BX
	MOVQ     nb+32(FP), CX
	VXORPS   Y0, Y0, Y0
	VMOVDQU  ·nibMask(SB), Y14
	VMOVDQU  m10<>(SB), Y13
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       q5kdone

q5kloop:
	KSCALES
	KMINS
	VPXOR       Y2, Y2, Y2
	VMOVDQU     16(SI), Y7
	Q5KCHUNK(48, 0, 0, VPSLLW, 4, VPSLLW, 3)
	Q5KCHUNK(80, 64, 64, VPSLLW, 2, VPSLLW, 1)
	Q5KCHUNK(112, 128, 128, VPSRLW, 0, VPSRLW, 1)
	Q5KCHUNK(144, 192, 192, VPSRLW, 2, VPSRLW, 3)
	VCVTDQ2PS   Y2, Y2
	VFMADD231PS Y11, Y2, Y0
	ADDQ        $176, SI
	ADDQ        $256, DI
	ADDQ        $4, DX
	ADDQ        $32, BX
	DECQ        CX
	JNZ         q5kloop

q5kdone:
	HSUM1
	VZEROUPPER
	MOVSS  X0, ret+40(FP)
	RET

// One 32-value chunk of Q6_K: the 6-bit quant (0-63) is built in Y5 by the
// caller; multiply by activations at xo(DI), scale by the two group scales
// (shuffle g) and add to Y2.
#define Q6KSUM(xo, so) \
	VPMADDUBSW xo(DI), Y5, Y5 \
	VPSHUFB    q6kShuf<>+so(SB), X8, X7 \
	VPMOVSXBW  X7, Y7 \
	VPMADDWD   Y7, Y5, Y5 \
	VPADDD     Y5, Y2, Y2

// One half (128 values) of a Q6_K super-block: ql at qo, qo+32, qh at ho.
#define Q6KHALF(qo, ho, xo, so) \
	VMOVDQU qo(SI), Y3 \
	VMOVDQU qo+32(SI), Y4 \
	VMOVDQU ho(SI), Y6 \
	VPAND   Y14, Y3, Y5 \
	VPSLLW  $4, Y6, Y7 \
	VPAND   Y13, Y7, Y7 \
	VPOR    Y7, Y5, Y5 \
	Q6KSUM(xo, so) \
	VPAND   Y14, Y4, Y5 \
	VPSLLW  $2, Y6, Y7 \
	VPAND   Y13, Y7, Y7 \
	VPOR    Y7, Y5, Y5 \
	Q6KSUM(xo+32, so+16) \
	VPSRLW  $4, Y3, Y5 \
	VPAND   Y14, Y5, Y5 \
	VPAND   Y13, Y6, Y7 \
	VPOR    Y7, Y5, Y5 \
	Q6KSUM(xo+64, so+32) \
	VPSRLW  $4, Y4, Y5 \
	VPAND   Y14, Y5, Y5 \
	VPSRLW  $2, Y6, Y7 \
	VPAND   Y13, Y7, Y7 \
	VPOR    Y7, Y5, Y5 \
	Q6KSUM(xo+96, so+48)

// func dotQ6KAVX2(w *byte, x *int8, d *float32, s *int16, nb int) float32
// The quants are used unsigned (0-63); the offset of 32 is taken off with
// the activation group sums: Σ sc·(q-32)·x = Σ sc·q·x - 32·Σ sc·sum(x).
TEXT ·dotQ6KAVX2(SB), NOSPLIT, $0-44
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    d+16(FP), DX
	MOVQ    s+24(FP), BX
	MOVQ    nb+32(FP), CX
	VXORPS  Y0, Y0, Y0
	VMOVDQU ·nibMask(SB), Y14
	VMOVDQU m30<>(SB), Y13
	TESTQ   CX, CX
	JZ      q6kdone

q6kloop:
	VBROADCASTSS (DX), Y12
	VPBROADCASTW 208(SI), X11
	VCVTPH2PS    X11, Y11
	VMULPS       Y12, Y11, Y11
	VMOVDQU      192(SI), X8
	VPMOVSXBW    X8, Y9
	VPMADDWD     (BX), Y9, Y10
	VPSLLD       $5, Y10, Y10
	VPXOR        Y2, Y2, Y2
	VPSUBD       Y10, Y2, Y2
	Q6KHALF(0, 128, 0, 0)
	Q6KHALF(64, 160, 128, 64)
	VCVTDQ2PS    Y2, Y2
	VFMADD231PS  Y11, Y2, Y0
	ADDQ         $210, SI
	ADDQ         $256, DI
	ADDQ         $4, DX
	ADDQ         $32, BX
	DECQ         CX
	JNZ          q6kloop

q6kdone:
	HSUM1
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET

// Vector form of the Q4_K/Q5_K scale unpacking: the three words u0..u2 at
// 4(SI) become sc0..3, sc4..7, m0..3, m4..7 in the four words of X10, then
// Y8 = scales as int16 in both lanes, Y9 = mins as int32. Uses X10-X13.
#define KSCALESV \
	VMOVDQU     4(SI), X10 \
	VPSHUFD     $0x98, X10, X11 \
	VPSRLVD     kshift1<>(SB), X11, X11 \
	VPAND       kmask1<>(SB), X11, X11 \
	VPSHUFD     $0x40, X10, X12 \
	VPSRLD      $6, X12, X12 \
	VPAND       kmask2<>(SB), X12, X12 \
	VPSLLD      $4, X12, X12 \
	VPOR        X12, X11, X11 \
	VPMOVZXBW   X11, X8 \
	VINSERTI128 $1, X8, Y8, Y8 \
	VPSRLDQ     $8, X11, X11 \
	VPMOVZXBD   X11, Y9

// Per token: subtract dmin·dx·Σ m_j·(sum of sub-block j) from acc. Y13
// holds dmin.
#define K4MIN(sa, da, acc) \
	VPMADDWD     sa, Y15, Y10 \
	VPMULLD      Y9, Y10, Y10 \
	VCVTDQ2PS    Y10, Y10 \
	VBROADCASTSS da, Y11 \
	VMULPS       Y13, Y11, Y11 \
	VFNMADD231PS Y11, Y10, acc

#define K4TOK(xa, xb, isum) \
	VPMADDUBSW xa, Y10, Y9 \
	VPMADDWD   Y12, Y9, Y9 \
	VPADDD     Y9, isum, isum \
	VPMADDUBSW xb, Y11, Y14 \
	VPMADDWD   Y13, Y14, Y14 \
	VPADDD     Y14, isum, isum

#define K4CHUNK(qo, xo, so) \
	VMOVDQU qo(SI), Y10 \
	VPSRLW  $4, Y10, Y11 \
	VPAND   ·nibMask(SB), Y10, Y10 \
	VPAND   ·nibMask(SB), Y11, Y11 \
	VPSHUFB q4kShuf<>+so(SB), Y8, Y12 \
	VPSHUFB q4kShuf<>+so+32(SB), Y8, Y13 \
	K4TOK(xo(DI), xo+32(DI), Y4) \
	K4TOK(xo(DI)(R8*1), xo+32(DI)(R8*1), Y5) \
	K4TOK(xo(DI)(R8*2), xo+32(DI)(R8*2), Y6) \
	K4TOK(xo(DI)(R10*1), xo+32(DI)(R10*1), Y7)

#define K4END(da, isum, acc) \
	VCVTDQ2PS    isum, isum \
	VBROADCASTSS da, Y11 \
	VMULPS       Y10, Y11, Y11 \
	VFMADD231PS  Y11, isum, acc

// func dot4Q4KAVX2(w *byte, x *int8, xs int, d *float32, ds int, s *int16, ss int, nb int, out *[4]float32)
// One Q4_K row times four Q8_K activation rows: quants, scales and mins are
// decoded once per super-block for all four.
TEXT ·dot4Q4KAVX2(SB), NOSPLIT, $0-72
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     xs+16(FP), R8
	MOVQ     d+24(FP), DX
	MOVQ     ds+32(FP), R9
	MOVQ     s+40(FP), BX
	MOVQ     ss+48(FP), R12
	MOVQ     nb+56(FP), CX
	LEAQ     (R8)(R8*2), R10
	LEAQ     (R9)(R9*2), R11
	LEAQ     (R12)(R12*2), R13
	VXORPS   Y0, Y0, Y0
	VXORPS   Y1, Y1, Y1
	VXORPS   Y2, Y2, Y2
	VXORPS   Y3, Y3, Y3
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       d4q4kdone

d4q4kloop:
	KSCALESV
	VPBROADCASTW 2(SI), X13
	VCVTPH2PS    X13, Y13
	K4MIN((BX), (DX), Y0)
	K4MIN((BX)(R12*1), (DX)(R9*1), Y1)
	K4MIN((BX)(R12*2), (DX)(R9*2), Y2)
	K4MIN((BX)(R13*1), (DX)(R11*1), Y3)
	VPXOR        Y4, Y4, Y4
	VPXOR        Y5, Y5, Y5
	VPXOR        Y6, Y6, Y6
	VPXOR        Y7, Y7, Y7
	K4CHUNK(16, 0, 0)
	K4CHUNK(48, 64, 64)
	K4CHUNK(80, 128, 128)
	K4CHUNK(112, 192, 192)
	VPBROADCASTW (SI), X10
	VCVTPH2PS    X10, Y10
	K4END((DX), Y4, Y0)
	K4END((DX)(R9*1), Y5, Y1)
	K4END((DX)(R9*2), Y6, Y2)
	K4END((DX)(R11*1), Y7, Y3)
	ADDQ         $144, SI
	ADDQ         $256, DI
	ADDQ         $4, DX
	ADDQ         $32, BX
	DECQ         CX
	JNZ          d4q4kloop

d4q4kdone:
	HSUM4
	MOVQ    out+64(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// Q6_K times four tokens: the 6-bit quants of each 32-value chunk and the
// scale vector are built once and used by all four; per token the offset of
// 32 is taken off through the activation group sums as in dotQ6KAVX2.
#define Q6K4TOK(xa, isum) \
	VPMADDUBSW xa, Y13, Y15 \
	VPMADDWD   Y14, Y15, Y15 \
	VPADDD     Y15, isum, isum

#define Q6K4SUM(xo, so) \
	VPSHUFB   q6kShuf<>+so(SB), X8, X14 \
	VPMOVSXBW X14, Y14 \
	Q6K4TOK(xo(DI), Y4) \
	Q6K4TOK(xo(DI)(R8*1), Y5) \
	Q6K4TOK(xo(DI)(R8*2), Y6) \
	Q6K4TOK(xo(DI)(R10*1), Y7)

#define Q6K4HALF(qo, ho, xo, so) \
	VMOVDQU qo(SI), Y10 \
	VMOVDQU qo+32(SI), Y11 \
	VMOVDQU ho(SI), Y12 \
	VPAND   ·nibMask(SB), Y10, Y13 \
	VPSLLW  $4, Y12, Y9 \
	VPAND   m30<>(SB), Y9, Y9 \
	VPOR    Y9, Y13, Y13 \
	Q6K4SUM(xo, so) \
	VPAND   ·nibMask(SB), Y11, Y13 \
	VPSLLW  $2, Y12, Y9 \
	VPAND   m30<>(SB), Y9, Y9 \
	VPOR    Y9, Y13, Y13 \
	Q6K4SUM(xo+32, so+16) \
	VPSRLW  $4, Y10, Y13 \
	VPAND   ·nibMask(SB), Y13, Y13 \
	VPAND   m30<>(SB), Y12, Y9 \
	VPOR    Y9, Y13, Y13 \
	Q6K4SUM(xo+64, so+32) \
	VPSRLW  $4, Y11, Y13 \
	VPAND   ·nibMask(SB), Y13, Y13 \
	VPSRLW  $2, Y12, Y9 \
	VPAND   m30<>(SB), Y9, Y9 \
	VPOR    Y9, Y13, Y13 \
	Q6K4SUM(xo+96, so+48)

#define Q6K4START(sa, isum) \
	VPMADDWD sa, Y9, isum \
	VPSLLD   $5, isum, isum \
	VPSUBD   isum, Y15, isum

#define Q6K4END(da, isum, acc) \
	VCVTDQ2PS    isum, isum \
	VBROADCASTSS da, Y15 \
	VMULPS       Y9, Y15, Y15 \
	VFMADD231PS  Y15, isum, acc

// func dot4Q6KAVX2(w *byte, x *int8, xs int, d *float32, ds int, s *int16, ss int, nb int, out *[4]float32)
TEXT ·dot4Q6KAVX2(SB), NOSPLIT, $0-72
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   xs+16(FP), R8
	MOVQ   d+24(FP), DX
	MOVQ   ds+32(FP), R9
	MOVQ   s+40(FP), BX
	MOVQ   ss+48(FP), R12
	MOVQ   nb+56(FP), CX
	LEAQ   (R8)(R8*2), R10
	LEAQ   (R9)(R9*2), R11
	LEAQ   (R12)(R12*2), R13
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TESTQ  CX, CX
	JZ     d4q6kdone

d4q6kloop:
	VMOVDQU      192(SI), X8
	VPMOVSXBW    X8, Y9
	VPXOR        Y15, Y15, Y15
	Q6K4START((BX), Y4)
	Q6K4START((BX)(R12*1), Y5)
	Q6K4START((BX)(R12*2), Y6)
	Q6K4START((BX)(R13*1), Y7)
	Q6K4HALF(0, 128, 0, 0)
	Q6K4HALF(64, 160, 128, 64)
	VPBROADCASTW 208(SI), X9
	VCVTPH2PS    X9, Y9
	Q6K4END((DX), Y4, Y0)
	Q6K4END((DX)(R9*1), Y5, Y1)
	Q6K4END((DX)(R9*2), Y6, Y2)
	Q6K4END((DX)(R11*1), Y7, Y3)
	ADDQ         $210, SI
	ADDQ         $256, DI
	ADDQ         $4, DX
	ADDQ         $32, BX
	DECQ         CX
	JNZ          d4q6kloop

d4q6kdone:
	HSUM4
	MOVQ    out+64(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// func quantQ8KAVX2(q *int8, d *float32, s *int16, x *float32, nb int)
// Each block of 256 floats becomes 256 int8 and a scale as quantRowQ8K
// (and ggml's quantize_row_q8_K) computes them: against the value m of
// largest magnitude (the first one on a tie of +m and -m, found by a
// scalar scan), iscale = -127/m, quants nearest-even(iscale·x), scale
// 1/iscale; plus the sums of each 16 quants.
TEXT ·quantQ8KAVX2(SB), NOSPLIT, $0-40
	MOVQ     q+0(FP), DI
	MOVQ     d+8(FP), DX
	MOVQ     s+16(FP), BX
	MOVQ     x+24(FP), SI
	MOVQ     nb+32(FP), CX
	VMOVUPS  ·absMask(SB), Y15
	VMOVDQU  ·packPerm(SB), Y14
	VPCMPEQB Y11, Y11, Y11
	VPABSB   Y11, Y11
	MOVL     $0x42fe0000, AX
	VMOVD    AX, X13
	MOVL     $0x3f800000, AX
	VMOVD    AX, X12
	TESTQ    CX, CX
	JZ       qq8kdone

qq8kblock:
	// signed max (Y4) and min (Y5) over the block
	VMOVUPS (SI), Y4
	VMOVAPS Y4, Y5
	MOVQ    $32, AX

qq8kmax:
	VMOVUPS (SI)(AX*1), Y0
	VMAXPS  Y0, Y4, Y4
	VMINPS  Y0, Y5, Y5
	ADDQ    $32, AX
	CMPQ    AX, $1024
	JLT     qq8kmax
	VEXTRACTF128 $1, Y4, X0
	VMAXPS       X0, X4, X4
	VPERMILPS    $0x4e, X4, X0
	VMAXPS       X0, X4, X4
	VPERMILPS    $0xb1, X4, X0
	VMAXPS       X0, X4, X4
	VEXTRACTF128 $1, Y5, X0
	VMINPS       X0, X5, X5
	VPERMILPS    $0x4e, X5, X0
	VMINPS       X0, X5, X5
	VPERMILPS    $0xb1, X5, X0
	VMINPS       X0, X5, X5
	VXORPS       X7, X7, X7
	VSUBSS       X5, X7, X6
	VUCOMISS     X6, X4
	JA           qq8khave
	JB           qq8kmin
	VUCOMISS     X7, X4
	JE           qq8kzero
	// +m and -m both occur: the first one counts
	MOVQ $0, AX

qq8kscan:
	VMOVSS   (SI)(AX*4), X0
	VANDPS   X15, X0, X1
	VUCOMISS X4, X1
	JE       qq8kfound
	INCQ     AX
	CMPQ     AX, $256
	JLT      qq8kscan
	JMP      qq8khave

qq8kfound:
	VMOVAPS X0, X4
	JMP     qq8khave

qq8kmin:
	VMOVAPS X5, X4

qq8khave:
	VDIVSS       X4, X13, X8
	VSUBSS       X8, X7, X8
	VDIVSS       X8, X12, X9
	VMOVSS       X9, (DX)
	VBROADCASTSS X8, Y8
	JMP          qq8kquant

qq8kzero:
	VMOVSS       X7, (DX)
	VXORPS       Y8, Y8, Y8

qq8kquant:
	MOVQ         $8, R8

qq8kpack:
	VMULPS       (SI), Y8, Y0
	VMULPS       32(SI), Y8, Y1
	VMULPS       64(SI), Y8, Y2
	VMULPS       96(SI), Y8, Y3
	VCVTPS2DQ    Y0, Y0
	VCVTPS2DQ    Y1, Y1
	VCVTPS2DQ    Y2, Y2
	VCVTPS2DQ    Y3, Y3
	VPACKSSDW    Y1, Y0, Y0
	VPACKSSDW    Y3, Y2, Y2
	VPACKSSWB    Y2, Y0, Y0
	VPERMD       Y0, Y14, Y0
	VMOVDQU      Y0, (DI)
	VPMADDUBSW   Y0, Y11, Y1
	VEXTRACTI128 $1, Y1, X2
	VPHADDW      X2, X1, X1
	VPHADDW      X1, X1, X1
	VPHADDW      X1, X1, X1
	VMOVD        X1, (BX)
	ADDQ         $128, SI
	ADDQ         $32, DI
	ADDQ         $4, BX
	DECQ         R8
	JNZ          qq8kpack
	ADDQ         $4, DX
	DECQ         CX
	JNZ          qq8kblock

qq8kdone:
	VZEROUPPER
	RET
