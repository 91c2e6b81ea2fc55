package loadgen

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/corral-ai/corral/bots/graphtest"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Tracker matches every Send API call the fake Graph API answers to the
// message that caused it, and so knows each message's reply parts, when
// they came, and which came twice.
//
// A call is matched by what the sender puts in it: a WhatsApp reply's
// first message quotes the user's message (context.message_id); a
// Messenger reply carries metadata "corral:<reply id>:<piece>" whose reply
// id names the user's message. The sender sends a conversation's replies
// in order, first piece first, so any other piece belongs to the newest
// message of its recipient whose reply has begun; that is exact as long as
// a user never has two messages waiting, as the drivers ensure.
//
// A piece is known by its metadata (Messenger) or quoted id and text
// (WhatsApp); the same piece arriving again is a duplicate.
type Tracker struct {
	settle time.Duration

	mu          sync.Mutex
	msgs        map[string]*tracked
	byUser      map[string][]*tracked
	outstanding map[*tracked]struct{}
	unmatched   int64
	actions     int64
	graphErrors map[string]int64
	// live is e2e latency of settled replies, for the progress line.
	live Histogram
}

// tracked is one sent message and what came back for it.
type tracked struct {
	user  *User
	msg   Message
	start time.Time // latency origin: intended send time (open loop) or the send
	sent  time.Time // first actual post
	acked bool
	// refused: the gateway never accepted the webhook; no reply is owed.
	refused     bool
	first, last time.Time
	parts       int
	dups        int
	pieces      map[string]int
	settled     bool
	done        chan struct{} // closed when settled or refused
}

// NewTracker returns a tracker that takes a reply as complete after
// settle without a new part.
func NewTracker(settle time.Duration) *Tracker {
	return &Tracker{settle: settle, msgs: map[string]*tracked{}, byUser: map[string][]*tracked{},
		outstanding: map[*tracked]struct{}{}, graphErrors: map[string]int64{}}
}

// add registers message m of u before it is posted, with the time
// latencies are measured from.
func (t *Tracker) add(u *User, m Message, start time.Time) *tracked {
	tr := &tracked{user: u, msg: m, start: start, pieces: map[string]int{}, done: make(chan struct{})}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.msgs[m.ID] = tr
	t.byUser[u.ID] = append(t.byUser[u.ID], tr)
	return tr
}

// posted records the first post of tr.
func (t *Tracker) posted(tr *tracked, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr.sent.IsZero() {
		tr.sent = at
	}
}

// acked records that the gateway accepted tr; refused that it never did.
func (t *Tracker) acked(tr *tracked, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ok {
		tr.acked = true
		if !tr.settled {
			t.outstanding[tr] = struct{}{}
		}
		return
	}
	tr.refused = true
	if !tr.settled {
		tr.settled = true
		close(tr.done)
	}
}

// OnCall takes every call the fake Graph API answered.
func (t *Tracker) OnCall(c graphtest.Call) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case !c.Accepted():
		kind := "graph_" + strconv.Itoa(c.ErrorCode)
		if c.ErrorCode == 0 {
			kind = "graph_http_" + strconv.Itoa(c.Status)
		}
		t.graphErrors[kind]++
		return
	case !c.IsMessage():
		t.actions++
		return
	}
	list := t.byUser[c.Recipient]
	if len(list) == 0 {
		t.unmatched++
		return
	}
	var tr *tracked
	switch {
	case c.Platform == corralv1.Platform_PLATFORM_WHATSAPP && c.ReplyTo != "":
		if m := t.msgs[c.ReplyTo]; m != nil && m.user.ID == c.Recipient {
			tr = m
		}
	case c.Metadata != "":
		for i := len(list) - 1; i >= 0 && tr == nil; i-- {
			if strings.Contains(c.Metadata, list[i].msg.ID) {
				tr = list[i]
			}
		}
	}
	if tr == nil {
		// The sender sends a conversation's replies in order, each
		// starting with its quoted (or tagged) piece: an untagged piece
		// belongs to the newest message whose reply has begun.
		tr = list[len(list)-1]
		for i := len(list) - 1; i >= 0; i-- {
			if list[i].parts > 0 {
				tr = list[i]
				break
			}
		}
	}
	key := c.Metadata
	if key == "" {
		key = c.ReplyTo + "\x00" + c.Text
	}
	tr.pieces[key]++
	if tr.pieces[key] > 1 {
		tr.dups++
		return
	}
	tr.parts++
	if tr.first.IsZero() || c.Time.Before(tr.first) {
		tr.first = c.Time
	}
	if c.Time.After(tr.last) {
		tr.last = c.Time
	}
}

// sweep settles the replies that got no new part for the settle time.
func (t *Tracker) sweep(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for tr := range t.outstanding {
		if tr.parts > 0 && now.Sub(tr.last) >= t.settle {
			tr.settled = true
			close(tr.done)
			delete(t.outstanding, tr)
			t.live.Record(tr.last.Sub(tr.start))
		}
	}
}

// waiting is the number of accepted messages whose reply is not complete.
func (t *Tracker) waiting() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.outstanding)
}

// liveStats are the numbers of the progress line.
type liveStats struct {
	replies, waiting int
	dups             int
	p50, p99         time.Duration
}

func (t *Tracker) stats() liveStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := liveStats{replies: int(t.live.Count()), waiting: len(t.outstanding), p50: t.live.Quantile(0.5), p99: t.live.Quantile(0.99)}
	for _, tr := range t.msgs {
		s.dups += tr.dups
	}
	return s
}

// Outcome is what the tracker knows at the end of a run.
type Outcome struct {
	// Messages is every message registered, in no order.
	Messages []MessageOutcome
	// Unmatched counts accepted sends to nobody of this run.
	Unmatched int64
	// Actions counts read receipts, typing indicators and sender actions.
	Actions int64
	// GraphErrors counts the calls the fake refused, by code.
	GraphErrors map[string]int64
}

// MessageOutcome is one message's fate.
type MessageOutcome struct {
	ID                string
	Platform          corralv1.Platform
	Start, Sent       time.Time
	Acked, Refused    bool
	Parts, Duplicates int
	First, Last       time.Time
}

// Outcome returns every message's fate so far.
func (t *Tracker) Outcome() Outcome {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := Outcome{Unmatched: t.unmatched, Actions: t.actions, GraphErrors: map[string]int64{}}
	for k, v := range t.graphErrors {
		o.GraphErrors[k] = v
	}
	for _, tr := range t.msgs {
		o.Messages = append(o.Messages, MessageOutcome{ID: tr.msg.ID, Platform: tr.user.Platform, Start: tr.start, Sent: tr.sent,
			Acked: tr.acked, Refused: tr.refused, Parts: tr.parts, Duplicates: tr.dups, First: tr.first, Last: tr.last})
	}
	return o
}
