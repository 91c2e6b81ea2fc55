package kernels

// Attention over a half-float KV cache. The cache rounds keys and values
// to half floats once, when it stores them; converting back is exact, so
// reading half floats directly gives the bits of Dot and WeightedSum over
// the converted float32 rows, and a token's attention has the same bits
// whichever way its cache is read (the matrix path converts a page of keys
// first). Reading the half floats in place halves the bytes attention
// streams and saves the scratch a conversion writes.

var (
	// dotRowsHalfFast and weightedSumHalfFast are the assembly versions
	// (installHalfRows), on checked operands.
	dotRowsHalfFast     func(out []float32, rows []uint16, stride int, x []float32)
	weightedSumHalfFast func(out, a []float32, v []uint16, stride int)
)

// DotRowsHalf sets out[i] = Dot(f32(rows[i*stride:i*stride+len(x)]), x)
// for i < len(out), where f32 converts half-float bits exactly: DotRows
// over half-float rows, with its bits. It does nothing when rows is too
// short for len(out) rows.
func DotRowsHalf(out []float32, rows []uint16, stride int, x []float32) {
	if len(out) == 0 || stride < len(x) || len(rows) < (len(out)-1)*stride+len(x) {
		return
	}
	if accel && dotRowsHalfFast != nil {
		dotRowsHalfFast(out, rows, stride, x)
		return
	}
	dotRowsHalfGo(out, rows, stride, x)
}

// dotRowsHalfGo is the portable Dot's arithmetic over converted values.
func dotRowsHalfGo(out []float32, rows []uint16, stride int, x []float32) {
	n := len(x)
	for r := range out {
		row := rows[r*stride : r*stride+n]
		var s0, s1, s2, s3 float32
		i := 0
		for ; i+4 <= n; i += 4 {
			s0 += F16ToF32(row[i]) * x[i]
			s1 += F16ToF32(row[i+1]) * x[i+1]
			s2 += F16ToF32(row[i+2]) * x[i+2]
			s3 += F16ToF32(row[i+3]) * x[i+3]
		}
		for ; i < n; i++ {
			s0 += F16ToF32(row[i]) * x[i]
		}
		out[r] = (s0 + s1) + (s2 + s3)
	}
}

// WeightedSumHalf adds Σ_p a[p]·f32(v[p·stride : p·stride+len(out)]) to
// out: WeightedSum over half-float value rows, with its bits. It does
// nothing when v is too short for len(a) rows.
func WeightedSumHalf(out, a []float32, v []uint16, stride int) {
	if len(a) == 0 || len(out) == 0 || stride < len(out) || len(v) < (len(a)-1)*stride+len(out) {
		return
	}
	if accel && weightedSumHalfFast != nil {
		weightedSumHalfFast(out, a, v, stride)
		return
	}
	weightedSumHalfGo(out, a, v, stride)
}

// weightedSumHalfGo is weightedSumGo over converted values.
func weightedSumHalfGo(out, a []float32, v []uint16, stride int) {
	for p, w := range a {
		row := v[p*stride : p*stride+len(out)]
		for i, h := range row {
			x := F16ToF32(h)
			out[i] += w * x
		}
	}
}
