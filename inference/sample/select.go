package sample

import (
	"math"
	"slices"
)

// The selections below order candidates by logit, highest first, and break
// ties by the lower token id, so results never depend on input order. They
// rearrange their input in place and run in expected linear time.

// smallRange is the size under which sorting beats partitioning.
const smallRange = 32

// ranked orders a before b when a has the higher logit or, on a tie, the
// lower id.
func ranked(a, b candidate) int {
	switch {
	case a.logit > b.logit:
		return -1
	case a.logit < b.logit:
		return 1
	}
	return int(a.id) - int(b.id)
}

func byID(a, b candidate) int { return int(a.id) - int(b.id) }

// selectTop rearranges c so that c[:k] holds its k best candidates (in no
// particular order) and returns k. It needs 0 < k <= len(c).
func selectTop(c []candidate, k int) int {
	lo, hi, need := 0, len(c), k
	for hi-lo > need {
		if hi-lo <= smallRange {
			slices.SortFunc(c[lo:hi], ranked)
			return k
		}
		gt, eq := partition3(c[lo:hi])
		switch {
		case need <= gt:
			hi = lo + gt
		case need <= gt+eq:
			slices.SortFunc(c[lo+gt:lo+gt+eq], byID)
			return k
		default:
			lo += gt + eq
			need -= gt + eq
		}
	}
	return k
}

// selectMass rearranges c so that c[:m] is the shortest run of best
// candidates whose weights add up to at least target, and
// returns m; it returns len(c) when all of c weighs less than target.
func selectMass(c []candidate, target float64) int {
	lo, hi := 0, len(c)
	var acc float64
	for hi > lo {
		if hi-lo <= smallRange {
			slices.SortFunc(c[lo:hi], ranked)
			for i := lo; i < hi; i++ {
				if acc += float64(c[i].w); acc >= target {
					return i + 1
				}
			}
			return hi
		}
		gt, eq := partition3(c[lo:hi])
		mg := mass(c[lo : lo+gt])
		if acc+mg >= target {
			hi = lo + gt
			continue
		}
		acc += mg
		w := float64(c[lo+gt].w) // every tied candidate weighs the same
		if acc+w*float64(eq) >= target {
			slices.SortFunc(c[lo+gt:lo+gt+eq], byID)
			for i := lo + gt; ; i++ {
				if acc += w; acc >= target || i == lo+gt+eq-1 {
					return i + 1
				}
			}
		}
		acc += w * float64(eq)
		lo += gt + eq
	}
	return max1(hi, len(c))
}

// max1 keeps at least one candidate when rounding stopped a mass search at
// an empty prefix.
func max1(m, n int) int {
	if m == 0 && n > 0 {
		return 1
	}
	return m
}

// partition3 splits c around a pivot logit into [greater | equal | less]
// and returns the sizes of the first two parts.
func partition3(c []candidate) (gt, eq int) {
	pv := median3(c[0].logit, c[len(c)/2].logit, c[len(c)-1].logit)
	// Invariant: c[:lt] > pv, c[lt:i] == pv, c[hi:] < pv.
	lt, i, hi := 0, 0, len(c)
	for i < hi {
		switch v := c[i].logit; {
		case v > pv:
			c[lt], c[i] = c[i], c[lt]
			lt++
			i++
		case v < pv:
			hi--
			c[i], c[hi] = c[hi], c[i]
		default:
			i++
		}
	}
	return lt, i - lt
}

func median3(a, b, c float32) float32 {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	if a > b {
		return a
	}
	return b
}

// heapTopK is the largest top-k that heapTop handles; above it the
// candidate list plus quickselect is faster.
const heapTopK = 256

// heapTop appends to dst the k best tokens of logits (in no particular
// order), skipping NaN and -Inf, using a bounded min-heap: one predictable
// comparison per token once the heap is warm.
func heapTop(dst []candidate, logits []float32, k int) []candidate {
	h := dst[:0]
	for i, l := range logits {
		if !(l > float32(math.Inf(-1))) {
			continue
		}
		if len(h) < k {
			h = append(h, candidate{id: int32(i), logit: l})
			siftUp(h, len(h)-1)
			continue
		}
		// Ties keep the earlier (lower) id, which is already in the heap.
		if l > h[0].logit {
			h[0] = candidate{id: int32(i), logit: l}
			siftDown(h, 0)
		}
	}
	return h
}

// worse orders the heap: the root is the worst candidate kept.
func worse(a, b candidate) bool { return ranked(a, b) > 0 }

func siftUp(h []candidate, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !worse(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func siftDown(h []candidate, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && worse(h[r], h[l]) {
			m = r
		}
		if !worse(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
