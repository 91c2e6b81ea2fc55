package sample

import "strings"

// StopMatcher finds stop strings in text that arrives in pieces. It holds
// back the end of the text while that end could still grow into a stop
// string, and releases it as soon as it cannot.
//
// When several stop strings occur, the one that is complete first wins (the
// earliest end; on a tie, the longest), which is what a reader of the stream
// would see, and the result does not depend on how the text was split.
type StopMatcher struct {
	stops   []string
	held    string
	stopped bool
}

// NewStopMatcher returns a matcher for the given stop strings; empty strings
// are ignored.
func NewStopMatcher(stops []string) *StopMatcher {
	m := &StopMatcher{}
	for _, s := range stops {
		if s != "" {
			m.stops = append(m.stops, s)
		}
	}
	return m
}

// Push adds piece to the text and returns what can be shown now. stopped is
// true once a stop string has been seen; emit then holds the text before it,
// and later calls return nothing.
func (m *StopMatcher) Push(piece string) (emit string, stopped bool) {
	if m.stopped {
		return "", true
	}
	if len(m.stops) == 0 {
		return piece, false
	}
	buf := m.held + piece
	if start, ok := m.firstMatch(buf); ok {
		m.held, m.stopped = "", true
		return buf[:start], true
	}
	keep := m.partialSuffix(buf)
	m.held = buf[len(buf)-keep:]
	return buf[:len(buf)-keep], false
}

// Flush returns the held-back text and forgets it; call it when the request
// ends without a stop string.
func (m *StopMatcher) Flush() string {
	h := m.held
	m.held = ""
	return h
}

// Stopped reports whether a stop string has been seen.
func (m *StopMatcher) Stopped() bool { return m.stopped }

// firstMatch returns the start of the stop string that ends first in buf.
func (m *StopMatcher) firstMatch(buf string) (int, bool) {
	bestStart, bestEnd := -1, -1
	for _, s := range m.stops {
		i := strings.Index(buf, s)
		if i < 0 {
			continue
		}
		end := i + len(s)
		if bestEnd < 0 || end < bestEnd || (end == bestEnd && i < bestStart) {
			bestStart, bestEnd = i, end
		}
	}
	return bestStart, bestEnd >= 0
}

// partialSuffix returns the length of the longest suffix of buf that is a
// proper prefix of some stop string.
func (m *StopMatcher) partialSuffix(buf string) int {
	best := 0
	for _, s := range m.stops {
		n := min(len(s)-1, len(buf))
		for ; n > best; n-- {
			if strings.HasSuffix(buf, s[:n]) {
				best = n
				break
			}
		}
	}
	return best
}
