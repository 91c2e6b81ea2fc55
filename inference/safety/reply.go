package safety

import "strings"

// ReplyScreen checks one reply while it is generated. The engine calls
// Screen with the whole reply so far at each sentence boundary and once at
// the end; ReplyScreen only analyses the sentences that are new since its
// last call (plus a little of the text before, so a phrase split across
// the boundary still matches), so a long reply costs about one full check
// in total. A ReplyScreen belongs to one reply; it is not safe for
// concurrent use.
type ReplyScreen struct {
	stage   *Stage
	policy  *Policy
	checked int // bytes of the reply already analysed
	blocked bool
	reason  string
}

// screenOverlap is how many bytes before the new part are analysed again.
const screenOverlap = 200

// ReplyScreen returns a screen for one reply under policy p (nil: the
// baseline).
func (s *Stage) ReplyScreen(p *Policy) *ReplyScreen {
	if p == nil {
		b := Baseline()
		p = &b
	}
	return &ReplyScreen{stage: s, policy: p}
}

// Screen gets the whole reply so far each time it reaches a sentence
// boundary, and once at the end. blocked stops the generation with the
// safety finish reason; reason is for logs. Once blocked, it stays blocked.
func (r *ReplyScreen) Screen(reply string) (blocked bool, reason string) {
	if r.blocked {
		return true, r.reason
	}
	if len(reply) < r.checked {
		r.checked = 0 // a different reply: start over
	}
	if len(reply) == r.checked {
		return false, ""
	}
	start := max(0, r.checked-screenOverlap)
	// Start at a word boundary so the overlap does not begin mid-word.
	if start > 0 {
		if i := strings.IndexAny(reply[start:r.checked], " \n\t"); i >= 0 {
			start += i + 1
		}
	}
	v := r.stage.Check(reply[start:], Assistant, r.policy)
	r.checked = len(reply)
	if v.Action == ActionRefuse {
		r.blocked, r.reason = true, v.Reason
		return true, v.Reason
	}
	return false, ""
}
