//go:build amd64

#include "textflag.h"
#include "reduce_amd64.h"

// F32 weights times float32 activations, AVX-512: the float_amd64.s
// kernels with sixteen lanes. Column c of the first n&^15 goes to lane
// c%16; when n%16 is 8 the last eight columns go to lanes 0-7 (a masked
// multiply-add, K1 = 0xff); the lanes are then folded to eight (lane i plus
// lane i+8) and reduced by the tree of reduce_amd64.h. Every kernel (and
// Dot, DotRows at this level) does exactly this, so they agree bit for bit.
// Lengths n are multiples of 8.
//
// Kernel bodies are macros defined before the first TEXT so that go vet's
// frame checks read them as no function's lines.

// FOLD adds the upper eight lanes of Zz to the lower eight, in Yy.
#define FOLD(zz, yy, yt) \
	VEXTRACTF64X4 $1, zz, yt \
	VADDPS        yt, yy, yy

#define MASK8 \
	MOVL  $0xff, AX \
	KMOVW AX, K1

// func dotF32AVX512(w *byte, x *float32, n int) float32
#define ZDOT \
	MOVQ   w+0(FP), SI \
	MOVQ   x+8(FP), DI \
	MOVQ   n+16(FP), CX \
	MASK8 \
	VXORPS Z0, Z0, Z0 \
loop64: \
	CMPQ        CX, $64 \
	JLT         loop16 \
	VMOVUPS     (SI), Z4 \
	VMOVUPS     64(SI), Z5 \
	VMOVUPS     128(SI), Z6 \
	VMOVUPS     192(SI), Z7 \
	VFMADD231PS (DI), Z4, Z0 \
	VFMADD231PS 64(DI), Z5, Z0 \
	VFMADD231PS 128(DI), Z6, Z0 \
	VFMADD231PS 192(DI), Z7, Z0 \
	ADDQ        $256, SI \
	ADDQ        $256, DI \
	SUBQ        $64, CX \
	JMP         loop64 \
loop16: \
	CMPQ        CX, $16 \
	JLT         tail \
	VMOVUPS     (SI), Z4 \
	VFMADD231PS (DI), Z4, Z0 \
	ADDQ        $64, SI \
	ADDQ        $64, DI \
	SUBQ        $16, CX \
	JMP         loop16 \
tail: \
	TESTQ       CX, CX \
	JZ          done \
	VMOVUPS     (SI), Y4 \
	VMOVUPS     (DI), Y5 \
	VFMADD231PS Z5, Z4, K1, Z0 \
done: \
	FOLD(Z0, Y0, Y1) \
	HSUM1 \
	VZEROUPPER \
	MOVSS X0, ret+24(FP) \
	RET

// func dot4F32AVX512(w *byte, x *float32, xs int, n int, out *[4]float32)
#define ZDOT4 \
	MOVQ   w+0(FP), SI \
	MOVQ   x+8(FP), DI \
	MOVQ   xs+16(FP), R8 \
	MOVQ   n+24(FP), CX \
	LEAQ   (R8)(R8*2), R10 \
	MASK8 \
	VXORPS Z0, Z0, Z0 \
	VXORPS Z1, Z1, Z1 \
	VXORPS Z2, Z2, Z2 \
	VXORPS Z3, Z3, Z3 \
loop16: \
	CMPQ        CX, $16 \
	JLT         tail \
	VMOVUPS     (SI), Z4 \
	VFMADD231PS (DI), Z4, Z0 \
	VFMADD231PS (DI)(R8*1), Z4, Z1 \
	VFMADD231PS (DI)(R8*2), Z4, Z2 \
	VFMADD231PS (DI)(R10*1), Z4, Z3 \
	ADDQ        $64, SI \
	ADDQ        $64, DI \
	SUBQ        $16, CX \
	JMP         loop16 \
tail: \
	TESTQ       CX, CX \
	JZ          done \
	VMOVUPS     (SI), Y4 \
	VMOVUPS     (DI), Y5 \
	VMOVUPS     (DI)(R8*1), Y6 \
	VMOVUPS     (DI)(R8*2), Y7 \
	VMOVUPS     (DI)(R10*1), Y8 \
	VFMADD231PS Z5, Z4, K1, Z0 \
	VFMADD231PS Z6, Z4, K1, Z1 \
	VFMADD231PS Z7, Z4, K1, Z2 \
	VFMADD231PS Z8, Z4, K1, Z3 \
done: \
	FOLD(Z0, Y0, Y4) \
	FOLD(Z1, Y1, Y5) \
	FOLD(Z2, Y2, Y6) \
	FOLD(Z3, Y3, Y7) \
	HSUM4 \
	MOVQ    out+32(FP), AX \
	VMOVUPS X0, (AX) \
	VZEROUPPER \
	RET

// func rows4F32AVX512(w *byte, rb int, x *float32, n int, out *[4]float32)
// Four rows rb bytes apart times one token; R11 prefetches the next four
// rows as float_amd64.s's rows4 kernels do.
#define ZROWS4 \
	MOVQ   w+0(FP), SI \
	MOVQ   rb+8(FP), R9 \
	MOVQ   x+16(FP), DI \
	MOVQ   n+24(FP), CX \
	LEAQ   (R9)(R9*2), R10 \
	LEAQ   (SI)(R9*4), R11 \
	MASK8 \
	VXORPS Z0, Z0, Z0 \
	VXORPS Z1, Z1, Z1 \
	VXORPS Z2, Z2, Z2 \
	VXORPS Z3, Z3, Z3 \
loop16: \
	CMPQ        CX, $16 \
	JLT         tail \
	PREFETCHT0  (R11) \
	PREFETCHT0  64(R11) \
	PREFETCHT0  128(R11) \
	PREFETCHT0  192(R11) \
	ADDQ        $256, R11 \
	VMOVUPS     (DI), Z4 \
	VFMADD231PS (SI), Z4, Z0 \
	VFMADD231PS (SI)(R9*1), Z4, Z1 \
	VFMADD231PS (SI)(R9*2), Z4, Z2 \
	VFMADD231PS (SI)(R10*1), Z4, Z3 \
	ADDQ        $64, SI \
	ADDQ        $64, DI \
	SUBQ        $16, CX \
	JMP         loop16 \
tail: \
	TESTQ       CX, CX \
	JZ          done \
	VMOVUPS     (DI), Y4 \
	VMOVUPS     (SI), Y5 \
	VMOVUPS     (SI)(R9*1), Y6 \
	VMOVUPS     (SI)(R9*2), Y7 \
	VMOVUPS     (SI)(R10*1), Y8 \
	VFMADD231PS Z4, Z5, K1, Z0 \
	VFMADD231PS Z4, Z6, K1, Z1 \
	VFMADD231PS Z4, Z7, K1, Z2 \
	VFMADD231PS Z4, Z8, K1, Z3 \
done: \
	FOLD(Z0, Y0, Y4) \
	FOLD(Z1, Y1, Y5) \
	FOLD(Z2, Y2, Y6) \
	FOLD(Z3, Y3, Y7) \
	HSUM4 \
	MOVQ    out+32(FP), AX \
	VMOVUPS X0, (AX) \
	VZEROUPPER \
	RET

#define STORE3Z(ax) \
	VMOVSS     ax, (AX) \
	VEXTRACTPS $1, ax, 4(AX) \
	VEXTRACTPS $2, ax, 8(AX)

// func tile34F32AVX512(w *byte, rb int, x *float32, xs int, n int, out *float32, os int)
// Three rows rb bytes apart times four tokens xs bytes apart; token t's
// three results go to out + t·os.
#define ZTILE34 \
	MOVQ   w+0(FP), SI \
	MOVQ   rb+8(FP), R9 \
	MOVQ   x+16(FP), DI \
	MOVQ   xs+24(FP), R8 \
	MOVQ   n+32(FP), CX \
	LEAQ   (R8)(R8*2), R10 \
	MASK8 \
	VXORPS Z0, Z0, Z0 \
	VXORPS Z1, Z1, Z1 \
	VXORPS Z2, Z2, Z2 \
	VXORPS Z3, Z3, Z3 \
	VXORPS Z4, Z4, Z4 \
	VXORPS Z5, Z5, Z5 \
	VXORPS Z6, Z6, Z6 \
	VXORPS Z7, Z7, Z7 \
	VXORPS Z8, Z8, Z8 \
	VXORPS Z9, Z9, Z9 \
	VXORPS Z10, Z10, Z10 \
	VXORPS Z11, Z11, Z11 \
loop16: \
	CMPQ        CX, $16 \
	JLT         tail \
	VMOVUPS     (SI), Z12 \
	VMOVUPS     (SI)(R9*1), Z13 \
	VMOVUPS     (SI)(R9*2), Z14 \
	VFMADD231PS (DI), Z12, Z0 \
	VFMADD231PS (DI), Z13, Z1 \
	VFMADD231PS (DI), Z14, Z2 \
	VFMADD231PS (DI)(R8*1), Z12, Z3 \
	VFMADD231PS (DI)(R8*1), Z13, Z4 \
	VFMADD231PS (DI)(R8*1), Z14, Z5 \
	VFMADD231PS (DI)(R8*2), Z12, Z6 \
	VFMADD231PS (DI)(R8*2), Z13, Z7 \
	VFMADD231PS (DI)(R8*2), Z14, Z8 \
	VFMADD231PS (DI)(R10*1), Z12, Z9 \
	VFMADD231PS (DI)(R10*1), Z13, Z10 \
	VFMADD231PS (DI)(R10*1), Z14, Z11 \
	ADDQ        $64, SI \
	ADDQ        $64, DI \
	SUBQ        $16, CX \
	JMP         loop16 \
tail: \
	TESTQ       CX, CX \
	JZ          done \
	VMOVUPS     (SI), Y12 \
	VMOVUPS     (SI)(R9*1), Y13 \
	VMOVUPS     (SI)(R9*2), Y14 \
	VMOVUPS     (DI), Y15 \
	VFMADD231PS Z15, Z12, K1, Z0 \
	VFMADD231PS Z15, Z13, K1, Z1 \
	VFMADD231PS Z15, Z14, K1, Z2 \
	VMOVUPS     (DI)(R8*1), Y15 \
	VFMADD231PS Z15, Z12, K1, Z3 \
	VFMADD231PS Z15, Z13, K1, Z4 \
	VFMADD231PS Z15, Z14, K1, Z5 \
	VMOVUPS     (DI)(R8*2), Y15 \
	VFMADD231PS Z15, Z12, K1, Z6 \
	VFMADD231PS Z15, Z13, K1, Z7 \
	VFMADD231PS Z15, Z14, K1, Z8 \
	VMOVUPS     (DI)(R10*1), Y15 \
	VFMADD231PS Z15, Z12, K1, Z9 \
	VFMADD231PS Z15, Z13, K1, Z10 \
	VFMADD231PS Z15, Z14, K1, Z11 \
done: \
	FOLD(Z0, Y0, Y12) \
	FOLD(Z1, Y1, Y13) \
	FOLD(Z2, Y2, Y14) \
	FOLD(Z3, Y3, Y12) \
	FOLD(Z4, Y4, Y13) \
	FOLD(Z5, Y5, Y14) \
	FOLD(Z6, Y6, Y12) \
	FOLD(Z7, Y7, Y13) \
	FOLD(Z8, Y8, Y14) \
	FOLD(Z9, Y9, Y12) \
	FOLD(Z10, Y10, Y13) \
	FOLD(Z11, Y11, Y14) \
	MOVQ out+40(FP), AX \
	MOVQ os+48(FP), R11 \
	HSUM3(Y0, Y1, Y2, X0, X15) \
	STORE3Z(X0) \
	ADDQ R11, AX \
	HSUM3(Y3, Y4, Y5, X3, X15) \
	STORE3Z(X3) \
	ADDQ R11, AX \
	HSUM3(Y6, Y7, Y8, X6, X15) \
	STORE3Z(X6) \
	ADDQ R11, AX \
	HSUM3(Y9, Y10, Y11, X9, X15) \
	STORE3Z(X9) \
	VZEROUPPER \
	RET

TEXT ·dotF32AVX512(SB), NOSPLIT, $0-28
	ZDOT

TEXT ·dot4F32AVX512(SB), NOSPLIT, $0-40
	ZDOT4

TEXT ·rows4F32AVX512(SB), NOSPLIT, $0-40
	ZROWS4

TEXT ·tile34F32AVX512(SB), NOSPLIT, $0-56
	ZTILE34

// func tile34RunF32AVX512(w *byte, rb int, x *float32, xs int, n int, out *float32, os int, tri int)
// tile34F32AVX512 for tri row triples one after the other (rows 3i..3i+2
// at w + 3i·rb, their results at out + 12i), in one call: attention
// scores have rows of 64 values, for which a call per tile cost about as
// much as the tile. Each tile runs ZTILE34's instructions: the same bits.
TEXT ·tile34RunF32AVX512(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), BX
	MOVQ out+40(FP), DX
	MOVQ tri+56(FP), R12
	MOVQ rb+8(FP), R13
	LEAQ (R13)(R13*2), R13
	TESTQ R12, R12
	JZ rend
rtri:
	MOVQ BX, SI
	MOVQ   rb+8(FP), R9
	MOVQ   x+16(FP), DI
	MOVQ   xs+24(FP), R8
	MOVQ   n+32(FP), CX
	LEAQ   (R8)(R8*2), R10
	MASK8
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
rloop16:
	CMPQ        CX, $16
	JLT         rtail
	VMOVUPS     (SI), Z12
	VMOVUPS     (SI)(R9*1), Z13
	VMOVUPS     (SI)(R9*2), Z14
	VFMADD231PS (DI), Z12, Z0
	VFMADD231PS (DI), Z13, Z1
	VFMADD231PS (DI), Z14, Z2
	VFMADD231PS (DI)(R8*1), Z12, Z3
	VFMADD231PS (DI)(R8*1), Z13, Z4
	VFMADD231PS (DI)(R8*1), Z14, Z5
	VFMADD231PS (DI)(R8*2), Z12, Z6
	VFMADD231PS (DI)(R8*2), Z13, Z7
	VFMADD231PS (DI)(R8*2), Z14, Z8
	VFMADD231PS (DI)(R10*1), Z12, Z9
	VFMADD231PS (DI)(R10*1), Z13, Z10
	VFMADD231PS (DI)(R10*1), Z14, Z11
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         rloop16
rtail:
	TESTQ       CX, CX
	JZ          rdone
	VMOVUPS     (SI), Y12
	VMOVUPS     (SI)(R9*1), Y13
	VMOVUPS     (SI)(R9*2), Y14
	VMOVUPS     (DI), Y15
	VFMADD231PS Z15, Z12, K1, Z0
	VFMADD231PS Z15, Z13, K1, Z1
	VFMADD231PS Z15, Z14, K1, Z2
	VMOVUPS     (DI)(R8*1), Y15
	VFMADD231PS Z15, Z12, K1, Z3
	VFMADD231PS Z15, Z13, K1, Z4
	VFMADD231PS Z15, Z14, K1, Z5
	VMOVUPS     (DI)(R8*2), Y15
	VFMADD231PS Z15, Z12, K1, Z6
	VFMADD231PS Z15, Z13, K1, Z7
	VFMADD231PS Z15, Z14, K1, Z8
	VMOVUPS     (DI)(R10*1), Y15
	VFMADD231PS Z15, Z12, K1, Z9
	VFMADD231PS Z15, Z13, K1, Z10
	VFMADD231PS Z15, Z14, K1, Z11
rdone:
	FOLD(Z0, Y0, Y12)
	FOLD(Z1, Y1, Y13)
	FOLD(Z2, Y2, Y14)
	FOLD(Z3, Y3, Y12)
	FOLD(Z4, Y4, Y13)
	FOLD(Z5, Y5, Y14)
	FOLD(Z6, Y6, Y12)
	FOLD(Z7, Y7, Y13)
	FOLD(Z8, Y8, Y14)
	FOLD(Z9, Y9, Y12)
	FOLD(Z10, Y10, Y13)
	FOLD(Z11, Y11, Y14)
	MOVQ DX, AX
	MOVQ os+48(FP), R11
	HSUM3(Y0, Y1, Y2, X0, X15)
	STORE3Z(X0)
	ADDQ R11, AX
	HSUM3(Y3, Y4, Y5, X3, X15)
	STORE3Z(X3)
	ADDQ R11, AX
	HSUM3(Y6, Y7, Y8, X6, X15)
	STORE3Z(X6)
	ADDQ R11, AX
	HSUM3(Y9, Y10, Y11, X9, X15)
	STORE3Z(X9)
	ADDQ R13, BX
	ADDQ $12, DX
	DECQ R12
	JNZ rtri
rend:
	VZEROUPPER
	RET
