package kernels

// DotRows sets out[i] = Dot(rows[i*stride:i*stride+len(x)], x) for i <
// len(out): x against rows laid out stride values apart, such as one
// attention head's keys in a cache row that holds every head. Each output
// has Dot's bits; the assembly takes four rows at a time, so that a score
// costs one call in four and the rows' multiply-adds overlap. It does
// nothing when rows is too short for len(out) rows.
func DotRows(out, rows []float32, stride int, x []float32) {
	if len(out) == 0 || stride < len(x) || len(rows) < (len(out)-1)*stride+len(x) {
		return
	}
	impl.dotRows(out, rows, stride, x)
}

// dotRowsGo is DotRows one Dot at a time.
func dotRowsGo(out, rows []float32, stride int, x []float32) {
	for i := range out {
		out[i] = Dot(rows[i*stride:i*stride+len(x)], x)
	}
}
