package loadgen

import (
	"testing"
	"time"

	"github.com/corral-ai/corral/bots/graphtest"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// TestTrackerMatching feeds Send API calls in the orders the sender can
// make them and checks which message each is counted for.
func TestTrackerMatching(t *testing.T) {
	wa, ms := corralv1.Platform_PLATFORM_WHATSAPP, corralv1.Platform_PLATFORM_MESSENGER
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	waUser := &User{ID: "1555", Platform: wa}
	msUser := &User{ID: "7555", Platform: ms}
	call := func(u *User, ms int, replyTo, meta, text string) graphtest.Call {
		return graphtest.Call{Platform: u.Platform, Kind: graphtest.CallText, Recipient: u.ID, ReplyTo: replyTo, Metadata: meta, Text: text, Status: 200, Time: at(ms)}
	}
	tr := NewTracker(100 * time.Millisecond)
	a := tr.add(waUser, Message{ID: "wamid.A"}, at(0))
	tr.acked(a, true)
	tr.OnCall(call(waUser, 10, "wamid.A", "", "first of A"))
	tr.sweep(at(200)) // A looks complete; the user writes again
	b := tr.add(waUser, Message{ID: "wamid.B"}, at(210))
	tr.acked(b, true)
	tr.OnCall(call(waUser, 250, "", "", "late second of A")) // before B's reply began: A's
	tr.OnCall(call(waUser, 300, "wamid.B", "", "first of B"))
	tr.OnCall(call(waUser, 310, "", "", "late second of A"))  // same text again, now B's: a piece of B, not a duplicate
	tr.OnCall(call(waUser, 320, "", "", "late second of A"))  // and once more: a duplicate of B's
	tr.OnCall(call(waUser, 330, "wamid.B", "", "first of B")) // B's first piece sent twice
	c := tr.add(msUser, Message{ID: "m_C"}, at(0))
	tr.acked(c, true)
	tr.OnCall(call(msUser, 40, "", "corral:messenger.104.m_C:0.0", "one"))
	tr.OnCall(call(msUser, 50, "", "corral:messenger.104.m_C:1.0", "two"))
	tr.OnCall(call(msUser, 60, "", "corral:messenger.104.m_C:1.0", "two")) // redelivered piece
	tr.OnCall(call(&User{ID: "999"}, 70, "", "", "to nobody"))
	refused := call(waUser, 80, "wamid.B", "", "x")
	refused.Status, refused.ErrorCode = 400, 131047
	tr.OnCall(refused)
	tr.OnCall(graphtest.Call{Platform: wa, Kind: graphtest.CallRead, Recipient: waUser.ID, Status: 200})

	o := tr.Outcome()
	got := map[string]MessageOutcome{}
	for _, m := range o.Messages {
		got[m.ID] = m
	}
	want := map[string][2]int{"wamid.A": {2, 0}, "wamid.B": {2, 2}, "m_C": {2, 1}}
	for id, w := range want {
		if m := got[id]; m.Parts != w[0] || m.Duplicates != w[1] {
			t.Errorf("%s: %d parts, %d duplicates; want %v", id, m.Parts, m.Duplicates, w)
		}
	}
	if a := got["wamid.A"]; !a.Last.Equal(at(250)) || !a.First.Equal(at(10)) {
		t.Errorf("A first %v last %v", a.First, a.Last)
	}
	if o.Unmatched != 1 || o.Actions != 1 || o.GraphErrors["graph_131047"] != 1 {
		t.Errorf("unmatched %d actions %d errors %v", o.Unmatched, o.Actions, o.GraphErrors)
	}
}
