package kernels

import "math"

// K-quant super-blocks hold 256 values. Q4_K and Q5_K split them into eight
// sub-blocks of 32, each with a 6-bit scale and a 6-bit min packed into 12
// bytes; Q6_K splits them into sixteen groups of 16 with an int8 scale each.

// unpackScales returns the eight 6-bit scales and mins of a Q4_K/Q5_K
// super-block. Bytes 0-3 hold scales 0-3 in their low six bits, bytes 4-7 the
// mins 0-3; bytes 8-11 hold the low four bits of scale (low nibble) and min
// (high nibble) 4-7, whose top two bits sit in the spare top bits of bytes 0-7.
func unpackScales(p []byte) (sc, mn [8]uint8) {
	for j := range 4 {
		sc[j] = p[j] & 63
		mn[j] = p[j+4] & 63
		sc[j+4] = p[j+8]&0xf | (p[j]>>6)<<4
		mn[j+4] = p[j+8]>>4 | (p[j+4]>>6)<<4
	}
	return sc, mn
}

func packScales(p []byte, sc, mn *[8]uint8) {
	for j := range 4 {
		p[j] = sc[j] | (sc[j+4]>>4)<<6
		p[j+4] = mn[j] | (mn[j+4]>>4)<<6
		p[j+8] = sc[j+4]&0xf | (mn[j+4]&0xf)<<4
	}
}

// Q4_K layout: d f16, dmin f16, scales[12], qs[128]. Each run of 64 values
// uses 32 bytes: the first 32 values in the low nibbles, the next 32 in the
// high nibbles. Value = d*sc*q - dmin*m.
func dequantQ4K(dst []float32, b []byte) {
	d, dmin := f16Table[le16(b)], f16Table[le16(b[2:])]
	sc, mn := unpackScales(b[4:])
	qs := b[4+kScales:]
	for c := range 4 {
		d1, m1 := d*float32(sc[2*c]), dmin*float32(mn[2*c])
		d2, m2 := d*float32(sc[2*c+1]), dmin*float32(mn[2*c+1])
		q := qs[32*c : 32*c+32]
		y := dst[64*c : 64*c+64]
		for l := range 32 {
			y[l] = d1*float32(q[l]&0xf) - m1
			y[l+32] = d2*float32(q[l]>>4) - m2
		}
	}
}

// Q5_K layout: d, dmin, scales[12], qh[32], qs[128]. As Q4_K, with the fifth
// bit of value 64c+l in bit 2c of qh[l] and of value 64c+32+l in bit 2c+1.
func dequantQ5K(dst []float32, b []byte) {
	d, dmin := f16Table[le16(b)], f16Table[le16(b[2:])]
	sc, mn := unpackScales(b[4:])
	qh := b[4+kScales : 4+kScales+32]
	qs := b[4+kScales+32:]
	for c := range 4 {
		d1, m1 := d*float32(sc[2*c]), dmin*float32(mn[2*c])
		d2, m2 := d*float32(sc[2*c+1]), dmin*float32(mn[2*c+1])
		q := qs[32*c : 32*c+32]
		y := dst[64*c : 64*c+64]
		for l := range 32 {
			h1 := (qh[l] >> (2 * c) & 1) << 4
			h2 := (qh[l] >> (2*c + 1) & 1) << 4
			y[l] = d1*float32(q[l]&0xf|h1) - m1
			y[l+32] = d2*float32(q[l]>>4|h2) - m2
		}
	}
}

// Q6_K layout: ql[128], qh[64], scales[16] int8, d f16. In each half of 128
// values, ql[l] holds values l (low nibble) and 64+l (high), ql[32+l] values
// 32+l and 96+l, and qh[l] the top two bits of values l, 32+l, 64+l, 96+l
// (bits 0-1, 2-3, 4-5, 6-7). Value v has scale index v/16 and is
// d*scale*(q-32).
func dequantQ6K(dst []float32, b []byte) {
	d := f16Table[le16(b[q6KBytes-2:])]
	scales := b[192:208]
	for h := range 2 {
		ql := b[64*h : 64*h+64]
		qh := b[128+32*h : 128+32*h+32]
		y := dst[128*h : 128*h+128]
		sc := scales[8*h : 8*h+8]
		for l := range 32 {
			is := l / 16
			q1 := int(ql[l]&0xf|(qh[l]&3)<<4) - 32
			q2 := int(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
			q3 := int(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
			q4 := int(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
			y[l] = d * float32(int8(sc[is])) * float32(q1)
			y[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
			y[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
			y[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
		}
	}
}

// quantScaleMin picks, for each sub-block of 32, an affine map x ≈ s*q - m
// with q in [0, nmax], then quantises the eight s and m to 6 bits against
// super-block scales d and dmin. It returns the integer quants in q.
func quantScaleMin(x []float32, nmax int, q *[qkK]uint8) (d, dmin uint16, sc, mn [8]uint8) {
	var scale, minv [8]float32
	var maxScale, maxMin float32
	for j := range 8 {
		lo, hi := float32(0), x[32*j]
		for _, v := range x[32*j : 32*j+32] {
			lo, hi = min(lo, v), max(hi, v)
		}
		scale[j] = (hi - lo) / float32(nmax)
		minv[j] = -lo
		maxScale, maxMin = max(maxScale, scale[j]), max(maxMin, minv[j])
	}
	d = F32ToF16(maxScale / 63)
	dmin = F32ToF16(maxMin / 63)
	df, dminf := f16Table[d], f16Table[dmin]
	for j := range 8 {
		if df > 0 {
			sc[j] = uint8(clampInt(roundInt(scale[j]/df), 0, 63))
		}
		if dminf > 0 {
			mn[j] = uint8(clampInt(roundInt(minv[j]/dminf), 0, 63))
		}
		ds, dm := df*float32(sc[j]), dminf*float32(mn[j])
		for l := 32 * j; l < 32*j+32; l++ {
			if ds > 0 {
				q[l] = uint8(clampInt(roundInt((x[l]+dm)/ds), 0, nmax))
			} else {
				q[l] = 0
			}
		}
	}
	return d, dmin, sc, mn
}

func quantQ4K(dst []byte, x []float32) {
	var q [qkK]uint8
	d, dmin, sc, mn := quantScaleMin(x, 15, &q)
	put16(dst, d)
	put16(dst[2:], dmin)
	packScales(dst[4:], &sc, &mn)
	qs := dst[4+kScales:]
	for c := range 4 {
		for l := range 32 {
			qs[32*c+l] = q[64*c+l] | q[64*c+32+l]<<4
		}
	}
}

func quantQ5K(dst []byte, x []float32) {
	var q [qkK]uint8
	d, dmin, sc, mn := quantScaleMin(x, 31, &q)
	put16(dst, d)
	put16(dst[2:], dmin)
	packScales(dst[4:], &sc, &mn)
	qh := dst[4+kScales : 4+kScales+32]
	qs := dst[4+kScales+32:]
	clear(qh)
	for c := range 4 {
		for l := range 32 {
			a, b := q[64*c+l], q[64*c+32+l]
			qs[32*c+l] = a&0xf | (b&0xf)<<4
			qh[l] |= (a>>4)<<(2*c) | (b>>4)<<(2*c+1)
		}
	}
}

func quantQ6K(dst []byte, x []float32) {
	// Each group of 16 gets a signed scale that maps its largest-magnitude
	// value to -32; the scales are then stored as int8 against d.
	var gs [16]float32
	var big float32
	for g := range 16 {
		gs[g] = signedAbsMax(x[16*g:16*g+16]) / -32
		if math.Abs(float64(gs[g])) > math.Abs(float64(big)) {
			big = gs[g]
		}
	}
	dh := F32ToF16(big / -128)
	d := f16Table[dh]
	var sc [16]int8
	var q [qkK]uint8
	for g := range 16 {
		if d != 0 {
			sc[g] = int8(clampInt(roundInt(gs[g]/d), -128, 127))
		}
		ds := d * float32(sc[g])
		for l := 16 * g; l < 16*g+16; l++ {
			v := 0
			if ds != 0 {
				v = clampInt(roundInt(x[l]/ds), -32, 31)
			}
			q[l] = uint8(v + 32)
		}
	}
	for h := range 2 {
		ql := dst[64*h : 64*h+64]
		qh := dst[128+32*h : 128+32*h+32]
		y := q[128*h : 128*h+128]
		for l := range 32 {
			ql[l] = y[l]&0xf | (y[l+64]&0xf)<<4
			ql[l+32] = y[l+32]&0xf | (y[l+96]&0xf)<<4
			qh[l] = y[l]>>4 | (y[l+32]>>4)<<2 | (y[l+64]>>4)<<4 | (y[l+96]>>4)<<6
		}
	}
	for g, s := range sc {
		dst[192+g] = byte(s)
	}
	put16(dst[q6KBytes-2:], dh)
}

// quantRowQ8K quantises 256 values to int8 as ggml's quantize_row_q8_K
// does: against the value of largest magnitude m (the first, on ties),
// with iscale = -127/m, quants min(127, nearest-even(iscale·x)) and the
// scale 1/iscale (negative when m is positive). It fills the sums of each
// group of 16 quants, which the K-quant dot products use to apply mins
// and offsets, and returns the scale.
func quantRowQ8K(qs []int8, sums []int16, x []float32) float32 {
	m := signedAbsMax(x[:qkK])
	if m == 0 {
		clear(qs[:qkK])
		clear(sums[:qkK/16])
		return 0
	}
	iscale := -127 / m
	for i, v := range x[:qkK] {
		qs[i] = int8(clampInt(roundEven(iscale*v), -128, 127))
	}
	for g := range qkK / 16 {
		var s int16
		for _, q := range qs[16*g : 16*g+16] {
			s += int16(q)
		}
		sums[g] = s
	}
	return 1 / iscale
}

// quantActQ8K fills the Q8_K-style activations of whole blocks of x.
func quantActQ8K(q []int8, d []float32, s []int16, x []float32) { impl.quantQ8K(q, d, s, x) }

func quantActQ8KGo(q []int8, d []float32, s []int16, x []float32) {
	for b := range d {
		d[b] = quantRowQ8K(q[b*qkK:(b+1)*qkK], s[b*16:(b+1)*16], x[b*qkK:(b+1)*qkK])
	}
}
