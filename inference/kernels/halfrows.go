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

// The query heads that share a KV head (grouped-query attention) read the
// same keys and values. The Multi forms take all of them at once, so that
// each half float is loaded and converted once for the group instead of
// once per head, and the group's multiply-add chains, independent of each
// other, overlap instead of each waiting on its own latency. Every output
// keeps its single-head bits.
var (
	// dotRowsHalfMultiFast and weightedSumHalfMultiFast handle four
	// queries (heads) of width a multiple of 16 (rows a multiple of 4
	// for the dots; width a multiple of 64 for the sums) on checked
	// operands; nil below AVX-512.
	dotRowsHalfMultiFast     func(out []float32, os, n int, rows []uint16, stride int, xs []float32, width int)
	weightedSumHalfMultiFast func(out []float32, width int, a []float32, as, n int, v []uint16, stride int)
)

// DotRowsHalfMulti is DotRowsHalf for several queries of width values
// each, one after the other in xs: out[g*os+r] is row r's product with
// query g, for r < n, with DotRowsHalf's bits. It does nothing when an
// operand is too short.
func DotRowsHalfMulti(out []float32, os, n int, rows []uint16, stride int, xs []float32, width int) {
	if n <= 0 || width <= 0 || len(xs) < width || stride < width || len(rows) < (n-1)*stride+width {
		return
	}
	nq := len(xs) / width
	if os < n || len(out) < (nq-1)*os+n {
		return
	}
	g := 0
	if accel && dotRowsHalfMultiFast != nil && width%16 == 0 && n >= 4 {
		n4 := n &^ 3 // the kernel takes rows four at a time
		for ; g+4 <= nq; g += 4 {
			dotRowsHalfMultiFast(out[g*os:], os, n4, rows, stride, xs[g*width:(g+4)*width], width)
			if n4 == n {
				continue
			}
			for q := g; q < g+4; q++ {
				DotRowsHalf(out[q*os+n4:q*os+n], rows[n4*stride:], stride, xs[q*width:(q+1)*width])
			}
		}
	}
	for ; g < nq; g++ {
		DotRowsHalf(out[g*os:g*os+n], rows, stride, xs[g*width:(g+1)*width])
	}
}

// WeightedSumHalfMulti is WeightedSumHalf for several heads: head g adds
// Σ_p a[g*as+p]·f32(v[p·stride : p·stride+width]) over p < n to
// out[g*width:(g+1)*width], with WeightedSumHalf's bits. It does nothing
// when an operand is too short.
func WeightedSumHalfMulti(out []float32, width int, a []float32, as, n int, v []uint16, stride int) {
	if n <= 0 || width <= 0 || len(out) < width || stride < width || len(v) < (n-1)*stride+width {
		return
	}
	nh := len(out) / width
	if as < n || len(a) < (nh-1)*as+n {
		return
	}
	g := 0
	if accel && weightedSumHalfMultiFast != nil && width%64 == 0 {
		for ; g+4 <= nh; g += 4 {
			weightedSumHalfMultiFast(out[g*width:(g+4)*width], width, a[g*as:], as, n, v, stride)
		}
	}
	for ; g < nh; g++ {
		WeightedSumHalf(out[g*width:(g+1)*width], a[g*as:g*as+n], v, stride)
	}
}
