package tokenizer

// ordered is an element of a pqueue: a.before(b) means a pops first.
type ordered[T any] interface {
	before(T) bool
}

// pqueue is a binary heap popping the element that comes before all others.
// The merge loops use it instead of container/heap to avoid boxing.
type pqueue[T ordered[T]] []T

func (q *pqueue[T]) push(x T) {
	h := append(*q, x)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].before(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	*q = h
}

func (q *pqueue[T]) pop() T {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r].before(h[l]) {
			m = r
		}
		if !h[m].before(h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}
