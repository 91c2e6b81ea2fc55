// Horizontal sums shared by the product kernels of every family.
//
// Batch invariance: every product kernel reduces each token's eight lanes
// l0..l7 with the same tree, ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)), so the
// 1-token, 4-token, 4-row and tile kernels give identical bits. HSUM1,
// HSUM4 and HSUM3 all compute that tree.

// Sum of the 8 floats in Y0 into X0.
#define HSUM1 \
	VHADDPS      Y0, Y0, Y0 \
	VHADDPS      Y0, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0

// Sums of Y0..Y3 into the four lanes of X0.
#define HSUM4 \
	VHADDPS      Y1, Y0, Y0 \
	VHADDPS      Y3, Y2, Y2 \
	VHADDPS      Y2, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0

// Sums of a, b, c (8 lanes each) into lanes 0-2 of a's X register.
#define HSUM3(a, b, c, ax, tx) \
	VHADDPS      b, a, a \
	VHADDPS      c, c, c \
	VHADDPS      c, a, a \
	VEXTRACTF128 $1, a, tx \
	VADDPS       tx, ax, ax
