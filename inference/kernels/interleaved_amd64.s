//go:build amd64

#include "textflag.h"

// Interleaved kernels. A group of eight rows stores, per block of 32
// values, the eight f16 scales and then the quants in 4-byte pieces: piece
// c of row j at 16+32c+4j. One 32-byte load thus holds the same four
// columns of all eight rows, which multiply one broadcast 4-byte piece of
// the activations; lane j of the result belongs to row j, so no horizontal
// sums are needed and one conversion serves eight rows.

// Q4_0 pieces: low nibbles are columns 4c..4c+3, high nibbles 16+4c..;
// quants are used as 0..15 and 8·Σx is taken off each row's int32 sum
// (the activation record of a block holds d and -8·Σx; p points at the
// records, 16 bytes each), so the sum is exactly dotQ4_0Go's. Sums of
// eight vpmaddubsw results (each at most 2·15·127) fit in int16.
#define G40PIECE(wo, xo) \
	VMOVDQU      wo(SI), Y1 \
	VPSRLW       $4, Y1, Y2 \
	VPAND        Y14, Y1, Y1 \
	VPAND        Y14, Y2, Y2 \
	VPBROADCASTD xo(DI), Y3 \
	VPMADDUBSW   Y3, Y1, Y3 \
	VPADDW       Y3, Y4, Y4 \
	VPBROADCASTD xo+16(DI), Y3 \
	VPMADDUBSW   Y3, Y2, Y3 \
	VPADDW       Y3, Y4, Y4

// func q40x8AVX2(w *byte, x *int8, p *int32, nb int, out *float32)
TEXT ·q40x8AVX2(SB), NOSPLIT, $0-40
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     p+16(FP), DX
	MOVQ     nb+24(FP), CX
	VXORPS   Y0, Y0, Y0
	VMOVDQU  ·nibMask(SB), Y14
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       g40done

g40loop:
	PREFETCHT0   2048(SI)
	PREFETCHT0   2112(SI)
	PREFETCHT0   2176(SI)
	VPXOR        Y4, Y4, Y4
	G40PIECE(16, 0)
	G40PIECE(48, 4)
	G40PIECE(80, 8)
	G40PIECE(112, 12)
	VPMADDWD     Y15, Y4, Y4
	VPBROADCASTD 4(DX), Y7
	VPADDD       Y7, Y4, Y4
	VCVTDQ2PS    Y4, Y4
	VBROADCASTSS (DX), Y6
	VCVTPH2PS    (SI), Y8
	VMULPS       Y6, Y8, Y8
	VFMADD231PS  Y8, Y4, Y0
	ADDQ         $144, SI
	ADDQ         $32, DI
	ADDQ         $16, DX
	DECQ         CX
	JNZ          g40loop

g40done:
	MOVQ    out+32(FP), AX
	VMOVUPS Y0, (AX)
	VZEROUPPER
	RET

// Four tokens: int16 sums in Y4..Y7, float sums in Y0..Y3; activation
// rows xs bytes apart (R8, R10 = 3·xs), record rows ps apart (R9, R11).
#define G40TOK(xa, xb, acc) \
	VPBROADCASTD xa, Y10 \
	VPMADDUBSW   Y10, Y8, Y10 \
	VPADDW       Y10, acc, acc \
	VPBROADCASTD xb, Y11 \
	VPMADDUBSW   Y11, Y9, Y11 \
	VPADDW       Y11, acc, acc

#define G40PIECE4(wo, xo) \
	VMOVDQU wo(SI), Y8 \
	VPSRLW  $4, Y8, Y9 \
	VPAND   Y14, Y8, Y8 \
	VPAND   Y14, Y9, Y9 \
	G40TOK(xo(DI), xo+16(DI), Y4) \
	G40TOK(xo(DI)(R8*1), xo+16(DI)(R8*1), Y5) \
	G40TOK(xo(DI)(R8*2), xo+16(DI)(R8*2), Y6) \
	G40TOK(xo(DI)(R10*1), xo+16(DI)(R10*1), Y7)

#define G40END(da, sa, iacc, acc) \
	VPMADDWD     Y15, iacc, iacc \
	VPBROADCASTD sa, Y11 \
	VPADDD       Y11, iacc, iacc \
	VCVTDQ2PS    iacc, iacc \
	VBROADCASTSS da, Y10 \
	VMULPS       Y12, Y10, Y10 \
	VFMADD231PS  Y10, iacc, acc

// func q40x8x4AVX2(w *byte, x *int8, xs int, p *int32, ps int, nb int, out *float32, os int)
TEXT ·q40x8x4AVX2(SB), NOSPLIT, $0-64
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     xs+16(FP), R8
	MOVQ     p+24(FP), DX
	MOVQ     ps+32(FP), R9
	MOVQ     nb+40(FP), CX
	LEAQ     (R8)(R8*2), R10
	LEAQ     (R9)(R9*2), R11
	VXORPS   Y0, Y0, Y0
	VXORPS   Y1, Y1, Y1
	VXORPS   Y2, Y2, Y2
	VXORPS   Y3, Y3, Y3
	VMOVDQU  ·nibMask(SB), Y14
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       g40x4done

g40x4loop:
	PREFETCHT0   2048(SI)
	PREFETCHT0   2112(SI)
	PREFETCHT0   2176(SI)
	VPXOR     Y4, Y4, Y4
	VPXOR     Y5, Y5, Y5
	VPXOR     Y6, Y6, Y6
	VPXOR     Y7, Y7, Y7
	G40PIECE4(16, 0)
	G40PIECE4(48, 4)
	G40PIECE4(80, 8)
	G40PIECE4(112, 12)
	VCVTPH2PS (SI), Y12
	G40END((DX), 4(DX), Y4, Y0)
	G40END((DX)(R9*1), 4(DX)(R9*1), Y5, Y1)
	G40END((DX)(R9*2), 4(DX)(R9*2), Y6, Y2)
	G40END((DX)(R11*1), 4(DX)(R11*1), Y7, Y3)
	ADDQ      $144, SI
	ADDQ      $32, DI
	ADDQ      $16, DX
	DECQ      CX
	JNZ       g40x4loop

g40x4done:
	MOVQ    out+48(FP), AX
	MOVQ    os+56(FP), R12
	LEAQ    (R12)(R12*2), R13
	VMOVUPS Y0, (AX)
	VMOVUPS Y1, (AX)(R12*1)
	VMOVUPS Y2, (AX)(R12*2)
	VMOVUPS Y3, (AX)(R13*1)
	VZEROUPPER
	RET

// Q8_0 pieces: signed quants, so |w| times x·sign(w) as in dotQ8_0AVX2;
// the int16 pair sums can reach 2·128·127 and are widened at once.
#define G80PIECE(wo, xo) \
	VMOVDQU      wo(SI), Y1 \
	VPABSB       Y1, Y2 \
	VPBROADCASTD xo(DI), Y3 \
	VPSIGNB      Y1, Y3, Y3 \
	VPMADDUBSW   Y3, Y2, Y3 \
	VPMADDWD     Y15, Y3, Y3 \
	VPADDD       Y3, Y4, Y4

// func q80x8AVX2(w *byte, x *int8, d *float32, nb int, out *float32)
TEXT ·q80x8AVX2(SB), NOSPLIT, $0-40
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     d+16(FP), DX
	MOVQ     nb+24(FP), CX
	VXORPS   Y0, Y0, Y0
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       g80done

g80loop:
	PREFETCHT0   4096(SI)
	PREFETCHT0   4160(SI)
	PREFETCHT0   4224(SI)
	PREFETCHT0   4288(SI)
	PREFETCHT0   4352(SI)
	VPXOR        Y4, Y4, Y4
	G80PIECE(16, 0)
	G80PIECE(48, 4)
	G80PIECE(80, 8)
	G80PIECE(112, 12)
	G80PIECE(144, 16)
	G80PIECE(176, 20)
	G80PIECE(208, 24)
	G80PIECE(240, 28)
	VCVTDQ2PS    Y4, Y4
	VBROADCASTSS (DX), Y6
	VCVTPH2PS    (SI), Y8
	VMULPS       Y6, Y8, Y8
	VFMADD231PS  Y8, Y4, Y0
	ADDQ         $272, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          g80loop

g80done:
	MOVQ    out+32(FP), AX
	VMOVUPS Y0, (AX)
	VZEROUPPER
	RET

#define G80TOK(xa, acc) \
	VPBROADCASTD xa, Y10 \
	VPSIGNB      Y8, Y10, Y10 \
	VPMADDUBSW   Y10, Y9, Y10 \
	VPMADDWD     Y15, Y10, Y10 \
	VPADDD       Y10, acc, acc

#define G80PIECE4(wo, xo) \
	VMOVDQU wo(SI), Y8 \
	VPABSB  Y8, Y9 \
	G80TOK(xo(DI), Y4) \
	G80TOK(xo(DI)(R8*1), Y5) \
	G80TOK(xo(DI)(R8*2), Y6) \
	G80TOK(xo(DI)(R10*1), Y7)

#define G80END(da, iacc, acc) \
	VCVTDQ2PS    iacc, iacc \
	VBROADCASTSS da, Y10 \
	VMULPS       Y12, Y10, Y10 \
	VFMADD231PS  Y10, iacc, acc

// func q80x8x4AVX2(w *byte, x *int8, xs int, d *float32, ds int, nb int, out *float32, os int)
TEXT ·q80x8x4AVX2(SB), NOSPLIT, $0-64
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
	JZ       g80x4done

g80x4loop:
	PREFETCHT0   4096(SI)
	PREFETCHT0   4160(SI)
	PREFETCHT0   4224(SI)
	PREFETCHT0   4288(SI)
	PREFETCHT0   4352(SI)
	VPXOR     Y4, Y4, Y4
	VPXOR     Y5, Y5, Y5
	VPXOR     Y6, Y6, Y6
	VPXOR     Y7, Y7, Y7
	G80PIECE4(16, 0)
	G80PIECE4(48, 4)
	G80PIECE4(80, 8)
	G80PIECE4(112, 12)
	G80PIECE4(144, 16)
	G80PIECE4(176, 20)
	G80PIECE4(208, 24)
	G80PIECE4(240, 28)
	VCVTPH2PS (SI), Y12
	G80END((DX), Y4, Y0)
	G80END((DX)(R9*1), Y5, Y1)
	G80END((DX)(R9*2), Y6, Y2)
	G80END((DX)(R11*1), Y7, Y3)
	ADDQ      $272, SI
	ADDQ      $32, DI
	ADDQ      $4, DX
	DECQ      CX
	JNZ       g80x4loop

g80x4done:
	MOVQ    out+48(FP), AX
	MOVQ    os+56(FP), R12
	LEAQ    (R12)(R12*2), R13
	VMOVUPS Y0, (AX)
	VMOVUPS Y1, (AX)(R12*1)
	VMOVUPS Y2, (AX)(R12*2)
	VMOVUPS Y3, (AX)(R13*1)
	VZEROUPPER
	RET
