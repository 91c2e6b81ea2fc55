//go:build amd64

#include "textflag.h"
#include "reduce_amd64.h"

// Float weights (F32, F16, BF16) times float32 activations, AVX2 + FMA +
// F16C. The three types share every kernel body below: a loader macro
// turns eight weights at an address into eight float32 lanes, and ES is
// the bytes of one weight. Lengths n are multiples of 8.
//
// Every kernel keeps one accumulator lane set per (row, token) and adds
// the products in column order, whatever the unrolling, and reduces with
// the tree of reduce_amd64.h, so each output has the same bits from every
// kernel (batch invariance).
//
// The kernel bodies are macros, defined before the first TEXT so that go
// vet's frame checks read them as no function's lines; the TEXT blocks at
// the end instantiate each body for the three types.

#define LDF32(a, r) VMOVUPS a, r
#define LDF16(a, r) VCVTPH2PS a, r
#define LDBF16(a, r) VPMOVZXWD a, r; VPSLLD $16, r, r

// Prefetches of the 4-row kernels: the bytes one loop16 pass consumes
// (16 weights of four rows).
#define PF128(r) PREFETCHT0 (r); PREFETCHT0 64(r)
#define PF256(r) PREFETCHT0 (r); PREFETCHT0 64(r); PREFETCHT0 128(r); PREFETCHT0 192(r)

// func dot*AVX2(w *byte, x *float32, n int) float32
// One weight row times one activation row.
#define FDOT(LD, ES) \
	MOVQ   w+0(FP), SI \
	MOVQ   x+8(FP), DI \
	MOVQ   n+16(FP), CX \
	VXORPS Y0, Y0, Y0 \
loop32: \
	CMPQ        CX, $32 \
	JLT         loop8 \
	LD((SI), Y4) \
	LD(8*ES(SI), Y5) \
	LD(16*ES(SI), Y6) \
	LD(24*ES(SI), Y7) \
	VFMADD231PS (DI), Y4, Y0 \
	VFMADD231PS 32(DI), Y5, Y0 \
	VFMADD231PS 64(DI), Y6, Y0 \
	VFMADD231PS 96(DI), Y7, Y0 \
	ADDQ        $(32*ES), SI \
	ADDQ        $128, DI \
	SUBQ        $32, CX \
	JMP         loop32 \
loop8: \
	CMPQ        CX, $8 \
	JLT         done \
	LD((SI), Y4) \
	VFMADD231PS (DI), Y4, Y0 \
	ADDQ        $(8*ES), SI \
	ADDQ        $32, DI \
	SUBQ        $8, CX \
	JMP         loop8 \
done: \
	HSUM1 \
	VZEROUPPER \
	MOVSS X0, ret+24(FP) \
	RET

// func dot4*AVX2(w *byte, x *float32, xs int, n int, out *[4]float32)
// One weight row times four activation rows xs bytes apart, converting
// each weight vector once.
#define FDOT4(LD, ES) \
	MOVQ   w+0(FP), SI \
	MOVQ   x+8(FP), DI \
	MOVQ   xs+16(FP), R8 \
	MOVQ   n+24(FP), CX \
	LEAQ   (R8)(R8*2), R10 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
loop16: \
	CMPQ        CX, $16 \
	JLT         loop8 \
	LD((SI), Y4) \
	LD(8*ES(SI), Y9) \
	VFMADD231PS (DI), Y4, Y0 \
	VFMADD231PS (DI)(R8*1), Y4, Y1 \
	VFMADD231PS (DI)(R8*2), Y4, Y2 \
	VFMADD231PS (DI)(R10*1), Y4, Y3 \
	VFMADD231PS 32(DI), Y9, Y0 \
	VFMADD231PS 32(DI)(R8*1), Y9, Y1 \
	VFMADD231PS 32(DI)(R8*2), Y9, Y2 \
	VFMADD231PS 32(DI)(R10*1), Y9, Y3 \
	ADDQ        $(16*ES), SI \
	ADDQ        $64, DI \
	SUBQ        $16, CX \
	JMP         loop16 \
loop8: \
	CMPQ        CX, $8 \
	JLT         done \
	LD((SI), Y4) \
	VFMADD231PS (DI), Y4, Y0 \
	VFMADD231PS (DI)(R8*1), Y4, Y1 \
	VFMADD231PS (DI)(R8*2), Y4, Y2 \
	VFMADD231PS (DI)(R10*1), Y4, Y3 \
	ADDQ        $(8*ES), SI \
	ADDQ        $32, DI \
	SUBQ        $8, CX \
	JMP         loop8 \
done: \
	HSUM4 \
	MOVQ    out+32(FP), AX \
	VMOVUPS X0, (AX) \
	VZEROUPPER \
	RET

// func tile34*AVX2(w *byte, rb int, x *float32, xs int, n int, out *float32, os int)
// Register tiles: three weight rows (rb bytes apart) times four activation
// rows (xs bytes apart), twelve accumulators. Each weight vector is
// converted once and meets four tokens; each activation vector is read
// from L1 by three multiply-adds. Results go to out[t·os + r], three
// floats per token, written one by one so neighbouring rows (another
// thread's) are never touched.
#define STORE3(ax) \
	VMOVSS     ax, (AX) \
	VEXTRACTPS $1, ax, 4(AX) \
	VEXTRACTPS $2, ax, 8(AX)

#define FTILE34(LD, ES) \
	MOVQ   w+0(FP), SI \
	MOVQ   rb+8(FP), R9 \
	MOVQ   x+16(FP), DI \
	MOVQ   xs+24(FP), R8 \
	MOVQ   n+32(FP), CX \
	LEAQ   (R8)(R8*2), R10 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7 \
	VXORPS Y8, Y8, Y8 \
	VXORPS Y9, Y9, Y9 \
	VXORPS Y10, Y10, Y10 \
	VXORPS Y11, Y11, Y11 \
	TESTQ  CX, CX \
	JZ     done \
loop: \
	LD((SI), Y12) \
	LD((SI)(R9*1), Y13) \
	LD((SI)(R9*2), Y14) \
	VFMADD231PS (DI), Y12, Y0 \
	VFMADD231PS (DI), Y13, Y1 \
	VFMADD231PS (DI), Y14, Y2 \
	VFMADD231PS (DI)(R8*1), Y12, Y3 \
	VFMADD231PS (DI)(R8*1), Y13, Y4 \
	VFMADD231PS (DI)(R8*1), Y14, Y5 \
	VFMADD231PS (DI)(R8*2), Y12, Y6 \
	VFMADD231PS (DI)(R8*2), Y13, Y7 \
	VFMADD231PS (DI)(R8*2), Y14, Y8 \
	VFMADD231PS (DI)(R10*1), Y12, Y9 \
	VFMADD231PS (DI)(R10*1), Y13, Y10 \
	VFMADD231PS (DI)(R10*1), Y14, Y11 \
	ADDQ        $(8*ES), SI \
	ADDQ        $32, DI \
	SUBQ        $8, CX \
	JNZ         loop \
done: \
	MOVQ out+40(FP), AX \
	MOVQ os+48(FP), R11 \
	HSUM3(Y0, Y1, Y2, X0, X15) \
	STORE3(X0) \
	ADDQ R11, AX \
	HSUM3(Y3, Y4, Y5, X3, X15) \
	STORE3(X3) \
	ADDQ R11, AX \
	HSUM3(Y6, Y7, Y8, X6, X15) \
	STORE3(X6) \
	ADDQ R11, AX \
	HSUM3(Y9, Y10, Y11, X9, X15) \
	STORE3(X9) \
	VZEROUPPER \
	RET

// func rows4*AVX2(w *byte, rb int, x *float32, n int, out *[4]float32)
// A single token: four weight rows (rb bytes apart) times one activation
// row, one accumulator per row and the HSUM4 tree, so each result has the
// bits of the dot and dot4 kernels while the four independent multiply-add
// chains keep the FMA units busy (a 1-token product has no other
// parallelism inside a row). out gets the four rows' results.
//
// Reading four rows side by side breaks the weights' one long sequential
// stream into short ones that the hardware prefetcher misses, so R11 walks
// the next four rows (from SI+4·rb) linearly, as fast as the loop consumes
// this group, prefetching them into the cache.
#define FROWS4(LD, ES, PF) \
	MOVQ   w+0(FP), SI \
	MOVQ   rb+8(FP), R9 \
	MOVQ   x+16(FP), DI \
	MOVQ   n+24(FP), CX \
	LEAQ   (R9)(R9*2), R10 \
	LEAQ   (SI)(R9*4), R11 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
loop16: \
	CMPQ        CX, $16 \
	JLT         tail \
	PF(R11) \
	ADDQ        $(64*ES), R11 \
	VMOVUPS     (DI), Y4 \
	VMOVUPS     32(DI), Y9 \
	LD((SI), Y5) \
	LD((SI)(R9*1), Y6) \
	LD((SI)(R9*2), Y7) \
	LD((SI)(R10*1), Y8) \
	VFMADD231PS Y4, Y5, Y0 \
	VFMADD231PS Y4, Y6, Y1 \
	VFMADD231PS Y4, Y7, Y2 \
	VFMADD231PS Y4, Y8, Y3 \
	LD(8*ES(SI), Y5) \
	LD(8*ES(SI)(R9*1), Y6) \
	LD(8*ES(SI)(R9*2), Y7) \
	LD(8*ES(SI)(R10*1), Y8) \
	VFMADD231PS Y9, Y5, Y0 \
	VFMADD231PS Y9, Y6, Y1 \
	VFMADD231PS Y9, Y7, Y2 \
	VFMADD231PS Y9, Y8, Y3 \
	ADDQ        $(16*ES), SI \
	ADDQ        $64, DI \
	SUBQ        $16, CX \
	JMP         loop16 \
tail: \
	TESTQ       CX, CX \
	JZ          done \
	VMOVUPS     (DI), Y4 \
	LD((SI), Y5) \
	LD((SI)(R9*1), Y6) \
	LD((SI)(R9*2), Y7) \
	LD((SI)(R10*1), Y8) \
	VFMADD231PS Y4, Y5, Y0 \
	VFMADD231PS Y4, Y6, Y1 \
	VFMADD231PS Y4, Y7, Y2 \
	VFMADD231PS Y4, Y8, Y3 \
done: \
	HSUM4 \
	MOVQ    out+32(FP), AX \
	VMOVUPS X0, (AX) \
	VZEROUPPER \
	RET

TEXT ·dotF32AVX2(SB), NOSPLIT, $0-28
	FDOT(LDF32, 4)

TEXT ·dotF16AVX2(SB), NOSPLIT, $0-28
	FDOT(LDF16, 2)

TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-28
	FDOT(LDBF16, 2)

TEXT ·dot4F32AVX2(SB), NOSPLIT, $0-40
	FDOT4(LDF32, 4)

TEXT ·dot4F16AVX2(SB), NOSPLIT, $0-40
	FDOT4(LDF16, 2)

TEXT ·dot4BF16AVX2(SB), NOSPLIT, $0-40
	FDOT4(LDBF16, 2)

TEXT ·tile34F32AVX2(SB), NOSPLIT, $0-56
	FTILE34(LDF32, 4)

TEXT ·tile34F16AVX2(SB), NOSPLIT, $0-56
	FTILE34(LDF16, 2)

TEXT ·tile34BF16AVX2(SB), NOSPLIT, $0-56
	FTILE34(LDBF16, 2)

TEXT ·rows4F32AVX2(SB), NOSPLIT, $0-40
	FROWS4(LDF32, 4, PF256)

TEXT ·rows4F16AVX2(SB), NOSPLIT, $0-40
	FROWS4(LDF16, 2, PF128)

TEXT ·rows4BF16AVX2(SB), NOSPLIT, $0-40
	FROWS4(LDBF16, 2, PF128)

// func roundF16AVX2(dst *float32, src *float32, n int)
// dst = src rounded to nearest-even f16, as float32; n is a multiple of 8.
TEXT ·roundF16AVX2(SB), NOSPLIT, $0-24
	MOVQ  dst+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  n+16(FP), CX
	TESTQ CX, CX
	JZ    rf16done

rf16loop:
	VMOVUPS   (SI), Y0
	VCVTPS2PH $0, Y0, X1
	VCVTPH2PS X1, Y1
	VMOVUPS   Y1, (DI)
	ADDQ      $32, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JNZ       rf16loop

rf16done:
	VZEROUPPER
	RET

// func roundBF16AVX2(dst *float32, src *float32, n int)
// dst = src rounded to nearest-even bf16, as float32 (F32ToBF16's
// arithmetic: NaNs keep their top bits and become quiet); n is a multiple
// of 8.
TEXT ·roundBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	MOVL         $1, AX
	VMOVD        AX, X8
	VPBROADCASTD X8, Y8
	MOVL         $0x7fff, AX
	VMOVD        AX, X9
	VPBROADCASTD X9, Y9
	MOVL         $0xffff0000, AX
	VMOVD        AX, X10
	VPBROADCASTD X10, Y10
	MOVL         $0x00400000, AX
	VMOVD        AX, X11
	VPBROADCASTD X11, Y11
	TESTQ        CX, CX
	JZ           rbf16done

rbf16loop:
	VMOVDQU   (SI), Y0
	VPSRLD    $16, Y0, Y1
	VPAND     Y8, Y1, Y1
	VPADDD    Y1, Y0, Y2
	VPADDD    Y9, Y2, Y2
	VPAND     Y10, Y2, Y2
	VCMPPS    $3, Y0, Y0, Y3
	VPOR      Y11, Y0, Y4
	VPAND     Y10, Y4, Y4
	VBLENDVPS Y3, Y4, Y2, Y2
	VMOVDQU   Y2, (DI)
	ADDQ      $32, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JNZ       rbf16loop

rbf16done:
	VZEROUPPER
	RET

// func tile34RunF32AVX2(w *byte, rb int, x *float32, xs int, n int, out *float32, os int, tri int)
// FTILE34(LDF32, 4) for tri row triples one after the other (rows
// 3i..3i+2 at w + 3i·rb, their results at out + 12i), in one call, as
// tile34RunF32AVX512: the same instructions per tile, so the same bits.
TEXT ·tile34RunF32AVX2(SB), NOSPLIT, $0-64
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
	TESTQ  CX, CX
	JZ     rdone
rloop:
	VMOVUPS (SI), Y12
	VMOVUPS (SI)(R9*1), Y13
	VMOVUPS (SI)(R9*2), Y14
	VFMADD231PS (DI), Y12, Y0
	VFMADD231PS (DI), Y13, Y1
	VFMADD231PS (DI), Y14, Y2
	VFMADD231PS (DI)(R8*1), Y12, Y3
	VFMADD231PS (DI)(R8*1), Y13, Y4
	VFMADD231PS (DI)(R8*1), Y14, Y5
	VFMADD231PS (DI)(R8*2), Y12, Y6
	VFMADD231PS (DI)(R8*2), Y13, Y7
	VFMADD231PS (DI)(R8*2), Y14, Y8
	VFMADD231PS (DI)(R10*1), Y12, Y9
	VFMADD231PS (DI)(R10*1), Y13, Y10
	VFMADD231PS (DI)(R10*1), Y14, Y11
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JNZ         rloop
rdone:
	MOVQ DX, AX
	MOVQ os+48(FP), R11
	HSUM3(Y0, Y1, Y2, X0, X15)
	STORE3(X0)
	ADDQ R11, AX
	HSUM3(Y3, Y4, Y5, X3, X15)
	STORE3(X3)
	ADDQ R11, AX
	HSUM3(Y6, Y7, Y8, X6, X15)
	STORE3(X6)
	ADDQ R11, AX
	HSUM3(Y9, Y10, Y11, X9, X15)
	STORE3(X9)
	ADDQ R13, BX
	ADDQ $12, DX
	DECQ R12
	JNZ rtri
rend:
	VZEROUPPER
	RET

// func toHalfAVX2(dst *uint16, src *float32, n int)
// dst = src as half-float bits, rounded to nearest even (VCVTPS2PH),
// with every NaN made sign | 0x7e00 as F32ToF16 does (the instruction
// keeps the top bits of a NaN's payload); n is a multiple of 8.
TEXT ·toHalfAVX2(SB), NOSPLIT, $0-24
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	MOVL         $0x7fff7fff, AX
	VMOVD        AX, X8
	VPBROADCASTD X8, X8
	MOVL         $0x7c007c00, AX
	VMOVD        AX, X9
	VPBROADCASTD X9, X9
	MOVL         $0x80008000, AX
	VMOVD        AX, X10
	VPBROADCASTD X10, X10
	MOVL         $0x7e007e00, AX
	VMOVD        AX, X11
	VPBROADCASTD X11, X11
	TESTQ        CX, CX
	JZ           thdone

thloop:
	VMOVUPS   (SI), Y0
	VCVTPS2PH $0, Y0, X1
	VPAND     X8, X1, X2
	VPCMPGTW  X9, X2, X3
	VPAND     X10, X1, X4
	VPOR      X11, X4, X4
	VPBLENDVB X3, X4, X1, X1
	VMOVDQU   X1, (DI)
	ADDQ      $32, SI
	ADDQ      $16, DI
	SUBQ      $8, CX
	JNZ       thloop

thdone:
	VZEROUPPER
	RET
