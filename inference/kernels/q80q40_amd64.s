//go:build amd64

#include "textflag.h"
#include "reduce_amd64.h"

// Q8_0 and Q4_0 weights (blocks of 32 with an f16 scale) times Q8_0-style
// activations (int8 in blocks of 32, a float32 scale each), AVX2: the
// plain row layout. The interleaved layout has its own file.

DATA eight<>+0(SB)/8, $0x0808080808080808
DATA eight<>+8(SB)/8, $0x0808080808080808
DATA eight<>+16(SB)/8, $0x0808080808080808
DATA eight<>+24(SB)/8, $0x0808080808080808
GLOBL eight<>(SB), RODATA|NOPTR, $32

// One Q8_0 block (w at wo(SI), activations at xo(DI), scale at dof(DX))
// accumulated into acc. |w| times x·sign(w) keeps vpmaddubsw's unsigned
// operand non-negative; int8 activations never hold -128.
#define Q80BLOCK(wo, xo, dof, acc) \
	VMOVDQU      2+wo(SI), Y2 \
	VMOVDQU      xo(DI), Y3 \
	VPSIGNB      Y2, Y3, Y3 \
	VPABSB       Y2, Y2 \
	VPMADDUBSW   Y3, Y2, Y2 \
	VPMADDWD     Y15, Y2, Y2 \
	VCVTDQ2PS    Y2, Y2 \
	VPBROADCASTW wo(SI), X4 \
	VCVTPH2PS    X4, Y4 \
	VBROADCASTSS dof(DX), Y5 \
	VMULPS       Y5, Y4, Y4 \
	VFMADD231PS  Y4, Y2, acc

// func dotQ8_0AVX2(w *byte, x *int8, d *float32, nb int) float32
TEXT ·dotQ8_0AVX2(SB), NOSPLIT, $0-36
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     d+16(FP), DX
	MOVQ     nb+24(FP), CX
	VXORPS   Y0, Y0, Y0
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15

q80loop2:
	CMPQ CX, $2
	JLT  q80tail
	Q80BLOCK(0, 0, 0, Y0)
	Q80BLOCK(34, 32, 4, Y0)
	ADDQ $68, SI
	ADDQ $64, DI
	ADDQ $8, DX
	SUBQ $2, CX
	JMP  q80loop2

q80tail:
	TESTQ CX, CX
	JZ    q80done
	Q80BLOCK(0, 0, 0, Y0)

q80done:
	HSUM1
	VZEROUPPER
	MOVSS  X0, ret+32(FP)
	RET

// One Q4_0 block: nibbles to bytes (low nibbles are values 0-15, high
// nibbles 16-31), minus 8, then as Q8_0.
#define Q40BLOCK(wo, xo, dof, acc) \
	VMOVDQU      2+wo(SI), X2 \
	VPSRLW       $4, X2, X3 \
	VINSERTI128  $1, X3, Y2, Y2 \
	VPAND        Y14, Y2, Y2 \
	VPSUBB       Y13, Y2, Y2 \
	VMOVDQU      xo(DI), Y3 \
	VPSIGNB      Y2, Y3, Y3 \
	VPABSB       Y2, Y2 \
	VPMADDUBSW   Y3, Y2, Y2 \
	VPMADDWD     Y15, Y2, Y2 \
	VCVTDQ2PS    Y2, Y2 \
	VPBROADCASTW wo(SI), X4 \
	VCVTPH2PS    X4, Y4 \
	VBROADCASTSS dof(DX), Y5 \
	VMULPS       Y5, Y4, Y4 \
	VFMADD231PS  Y4, Y2, acc

// func dotQ4_0AVX2(w *byte, x *int8, d *float32, nb int) float32
TEXT ·dotQ4_0AVX2(SB), NOSPLIT, $0-36
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     d+16(FP), DX
	MOVQ     nb+24(FP), CX
	VXORPS   Y0, Y0, Y0
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	VMOVDQU  ·nibMask(SB), Y14
	VMOVDQU  eight<>(SB), Y13

q40loop2:
	CMPQ CX, $2
	JLT  q40tail
	Q40BLOCK(0, 0, 0, Y0)
	Q40BLOCK(18, 32, 4, Y0)
	ADDQ $36, SI
	ADDQ $64, DI
	ADDQ $8, DX
	SUBQ $2, CX
	JMP  q40loop2

q40tail:
	TESTQ CX, CX
	JZ    q40done
	Q40BLOCK(0, 0, 0, Y0)

q40done:
	HSUM1
	VZEROUPPER
	MOVSS  X0, ret+32(FP)
	RET

// One token of the 4-token integer kernels: Y4 holds signed weights, Y5
// their magnitudes, Y6 the weight scale.
#define TOK8(xa, da, acc, t1, t2) \
	VMOVDQU      xa, t1 \
	VPSIGNB      Y4, t1, t1 \
	VPMADDUBSW   t1, Y5, t1 \
	VPMADDWD     Y15, t1, t1 \
	VCVTDQ2PS    t1, t1 \
	VBROADCASTSS da, t2 \
	VMULPS       Y6, t2, t2 \
	VFMADD231PS  t2, t1, acc

#define TOKENS4 \
	TOK8((DI), (DX), Y0, Y7, Y8) \
	TOK8((DI)(R8*1), (DX)(R9*1), Y1, Y9, Y10) \
	TOK8((DI)(R8*2), (DX)(R9*2), Y2, Y11, Y12) \
	TOK8((DI)(R10*1), (DX)(R11*1), Y3, Y7, Y8)

// The 4-token kernels take activation rows xs bytes apart and their scale
// rows ds bytes apart.
// func dot4Q8_0AVX2(w *byte, x *int8, xs int, d *float32, ds int, nb int, out *[4]float32)
TEXT ·dot4Q8_0AVX2(SB), NOSPLIT, $0-56
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     xs+16(FP), R8
	MOVQ     d+24(FP), DX
	MOVQ     ds+32(FP), R9
	MOVQ     nb+40(FP), CX
	LEAQ     (R8)(R8*2), R10
	LEAQ     (R9)(R9*2), R11
	VXORPS   Y0, Y0, Y0
	VXORPS   Y1, Y1, Y1
	VXORPS   Y2, Y2, Y2
	VXORPS   Y3, Y3, Y3
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       d4q80done

d4q80loop:
	VMOVDQU      2(SI), Y4
	VPABSB       Y4, Y5
	VPBROADCASTW (SI), X6
	VCVTPH2PS    X6, Y6
	TOKENS4
	ADDQ         $34, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          d4q80loop

d4q80done:
	HSUM4
	MOVQ    out+48(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// func dot4Q4_0AVX2(w *byte, x *int8, xs int, d *float32, ds int, nb int, out *[4]float32)
TEXT ·dot4Q4_0AVX2(SB), NOSPLIT, $0-56
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     xs+16(FP), R8
	MOVQ     d+24(FP), DX
	MOVQ     ds+32(FP), R9
	MOVQ     nb+40(FP), CX
	LEAQ     (R8)(R8*2), R10
	LEAQ     (R9)(R9*2), R11
	VXORPS   Y0, Y0, Y0
	VXORPS   Y1, Y1, Y1
	VXORPS   Y2, Y2, Y2
	VXORPS   Y3, Y3, Y3
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	VMOVDQU  ·nibMask(SB), Y14
	VMOVDQU  eight<>(SB), Y13
	TESTQ    CX, CX
	JZ       d4q40done

d4q40loop:
	VMOVDQU      2(SI), X4
	VPSRLW       $4, X4, X5
	VINSERTI128  $1, X5, Y4, Y4
	VPAND        Y14, Y4, Y4
	VPSUBB       Y13, Y4, Y4
	VPABSB       Y4, Y5
	VPBROADCASTW (SI), X6
	VCVTPH2PS    X6, Y6
	TOKENS4
	ADDQ         $18, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          d4q40loop

d4q40done:
	HSUM4
	MOVQ    out+48(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// One row of the 4-row integer kernels: Y2 holds the row's signed weights
// (quants at wa, f16 scale at sa), Y8 the activations, Y9 their scale;
// the steps are Q80BLOCK's.
#define ROW8(sa, acc) \
	VPSIGNB      Y2, Y8, Y3 \
	VPABSB       Y2, Y2 \
	VPMADDUBSW   Y3, Y2, Y2 \
	VPMADDWD     Y15, Y2, Y2 \
	VCVTDQ2PS    Y2, Y2 \
	VPBROADCASTW sa, X4 \
	VCVTPH2PS    X4, Y4 \
	VMULPS       Y9, Y4, Y4 \
	VFMADD231PS  Y4, Y2, acc

#define ROWQ80(wa, sa, acc) \
	VMOVDQU wa, Y2 \
	ROW8(sa, acc)

#define ROWQ40(wa, sa, acc) \
	VMOVDQU     wa, X2 \
	VPSRLW      $4, X2, X3 \
	VINSERTI128 $1, X3, Y2, Y2 \
	VPAND       Y14, Y2, Y2 \
	VPSUBB      Y13, Y2, Y2 \
	ROW8(sa, acc)

// func rows4Q8_0AVX2(w *byte, rb int, x *int8, d *float32, nb int, out *[4]float32)
TEXT ·rows4Q8_0AVX2(SB), NOSPLIT, $0-48
	MOVQ     w+0(FP), SI
	MOVQ     rb+8(FP), R9
	MOVQ     x+16(FP), DI
	MOVQ     d+24(FP), DX
	MOVQ     nb+32(FP), CX
	LEAQ     (R9)(R9*2), R10
	LEAQ     (SI)(R9*4), R11
	VXORPS   Y0, Y0, Y0
	VXORPS   Y1, Y1, Y1
	VXORPS   Y5, Y5, Y5
	VXORPS   Y6, Y6, Y6
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       r4q80done

r4q80loop:
	PREFETCHT0   (R11)
	PREFETCHT0   64(R11)
	PREFETCHT0   128(R11)
	ADDQ         $136, R11
	VMOVDQU      (DI), Y8
	VBROADCASTSS (DX), Y9
	ROWQ80(2(SI), (SI), Y0)
	ROWQ80(2(SI)(R9*1), (SI)(R9*1), Y1)
	ROWQ80(2(SI)(R9*2), (SI)(R9*2), Y5)
	ROWQ80(2(SI)(R10*1), (SI)(R10*1), Y6)
	ADDQ         $34, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          r4q80loop

r4q80done:
	VMOVAPS Y5, Y2
	VMOVAPS Y6, Y3
	HSUM4
	MOVQ    out+40(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// func rows4Q4_0AVX2(w *byte, rb int, x *int8, d *float32, nb int, out *[4]float32)
TEXT ·rows4Q4_0AVX2(SB), NOSPLIT, $0-48
	MOVQ     w+0(FP), SI
	MOVQ     rb+8(FP), R9
	MOVQ     x+16(FP), DI
	MOVQ     d+24(FP), DX
	MOVQ     nb+32(FP), CX
	LEAQ     (R9)(R9*2), R10
	LEAQ     (SI)(R9*4), R11
	VXORPS   Y0, Y0, Y0
	VXORPS   Y1, Y1, Y1
	VXORPS   Y5, Y5, Y5
	VXORPS   Y6, Y6, Y6
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	VMOVDQU  ·nibMask(SB), Y14
	VMOVDQU  eight<>(SB), Y13
	TESTQ    CX, CX
	JZ       r4q40done

r4q40loop:
	PREFETCHT0   (R11)
	PREFETCHT0   64(R11)
	ADDQ         $72, R11
	VMOVDQU      (DI), Y8
	VBROADCASTSS (DX), Y9
	ROWQ40(2(SI), (SI), Y0)
	ROWQ40(2(SI)(R9*1), (SI)(R9*1), Y1)
	ROWQ40(2(SI)(R9*2), (SI)(R9*2), Y5)
	ROWQ40(2(SI)(R10*1), (SI)(R10*1), Y6)
	ADDQ         $18, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          r4q40loop

r4q40done:
	VMOVAPS Y5, Y2
	VMOVAPS Y6, Y3
	HSUM4
	MOVQ    out+40(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// func quantQ8AVX2(q *int8, d *float32, s *int32, x *float32, nb int)
// Each block of 32 floats becomes 32 int8, x·(127/max|x|) rounded to
// nearest even, the scale max|x|/127 rounded to f16 and the sum of the
// quants: the arithmetic of quantActQ8Go (and of ggml's quantize_row_q8_0).
TEXT ·quantQ8AVX2(SB), NOSPLIT, $0-40
	MOVQ     q+0(FP), DI
	MOVQ     d+8(FP), DX
	MOVQ     s+16(FP), BX
	MOVQ     x+24(FP), SI
	MOVQ     nb+32(FP), CX
	VPCMPEQW Y10, Y10, Y10
	VPSRLW   $15, Y10, Y10
	VPCMPEQB Y11, Y11, Y11
	VPABSB   Y11, Y11
	VMOVUPS  ·absMask(SB), Y15
	VMOVDQU  ·packPerm(SB), Y14
	MOVL     $0x42fe0000, AX
	VMOVD    AX, X13
	VXORPS   X9, X9, X9
	TESTQ    CX, CX
	JZ       qq8done

qq8loop:
	VMOVUPS      (SI), Y0
	VMOVUPS      32(SI), Y1
	VMOVUPS      64(SI), Y2
	VMOVUPS      96(SI), Y3
	VANDPS       Y15, Y0, Y4
	VANDPS       Y15, Y1, Y5
	VANDPS       Y15, Y2, Y6
	VANDPS       Y15, Y3, Y7
	VMAXPS       Y5, Y4, Y4
	VMAXPS       Y7, Y6, Y6
	VMAXPS       Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VMAXPS       X5, X4, X4
	VPERMILPS    $0x4e, X4, X5
	VMAXPS       X5, X4, X4
	VPERMILPS    $0xb1, X4, X5
	VMAXPS       X5, X4, X4
	VDIVSS       X13, X4, X5
	VCVTPS2PH    $0, X5, X5
	VCVTPH2PS    X5, X5
	VMOVSS       X5, (DX)
	VCMPSS       $4, X9, X4, X7
	VDIVSS       X4, X13, X8
	VANDPS       X7, X8, X8
	VBROADCASTSS X8, Y8
	VMULPS       Y8, Y0, Y0
	VMULPS       Y8, Y1, Y1
	VMULPS       Y8, Y2, Y2
	VMULPS       Y8, Y3, Y3
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
	VPMADDWD     Y10, Y1, Y1
	VEXTRACTI128 $1, Y1, X2
	VPADDD       X2, X1, X1
	VPSHUFD      $0x4e, X1, X2
	VPADDD       X2, X1, X1
	VPSHUFD      $0xb1, X1, X2
	VPADDD       X2, X1, X1
	VMOVD        X1, (BX)
	ADDQ         $128, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	ADDQ         $4, BX
	DECQ         CX
	JNZ          qq8loop

qq8done:
	VZEROUPPER
	RET
