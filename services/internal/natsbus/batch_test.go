package natsbus_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/natstest"
)

// batchPublisher is a BatchPublisher on js's connection, closed with t.
func batchPublisher(t *testing.T, js jetstream.JetStream) (*natsbus.BatchPublisher, *nats.Conn) {
	t.Helper()
	nc := js.Conn()
	p, err := natsbus.NewBatchPublisher(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p, nc
}

// TestBatchPublisherKeepsOrder publishes batches from many callers at once
// (so acknowledgements are handed from one caller to another) and checks
// every message is stored once, in each batch's order, with its headers,
// and a repeated id is reported as a duplicate of the first.
func TestBatchPublisherKeepsOrder(t *testing.T) {
	js, cfg := setup(t)
	p, _ := batchPublisher(t, js)
	ctx := t.Context()
	const callers, batches, size = 8, 25, 4
	results := make([][]natsbus.PublishResult, callers*batches)
	outs := make([][]natsbus.Outgoing, callers*batches)
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		wg.Go(func() {
			for b := range batches {
				k := c*batches + b
				for i := range size {
					m := chatMessage(strconv.Itoa(c), "wamid.batch."+strconv.Itoa(k)+"."+strconv.Itoa(i))
					outs[k] = append(outs[k], natsbus.Outgoing{Subject: cfg.Subject(corralv1.ChatInSubject(m.Conversation())), MsgID: m.DedupeID(), Msg: m})
				}
				var err error
				if results[k], err = p.PublishAll(ctx, 10*time.Second, outs[k]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, cfg.StreamName(corralv1.StreamChatIn))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for k, res := range results {
		var seqs []uint64
		for i, r := range res {
			if r.Err != nil || r.Duplicate || r.Stream != cfg.StreamName(corralv1.StreamChatIn) || seen[r.Sequence] {
				t.Fatalf("batch %d message %d: %+v", k, i, r)
			}
			seen[r.Sequence] = true
			seqs = append(seqs, r.Sequence)
		}
		if !slices.IsSorted(seqs) {
			t.Fatalf("batch %d stored at %v: want increasing", k, seqs)
		}
		raw, err := s.GetMsg(ctx, res[0].Sequence)
		if err != nil {
			t.Fatal(err)
		}
		if raw.Header.Get(jetstream.MsgIDHeader) != outs[k][0].MsgID ||
			raw.Header.Get(natsbus.HeaderType) != "corral.v1.ChatMessage" ||
			raw.Header.Get(natsbus.HeaderContentType) != natsbus.ContentTypeProtobuf || len(raw.Header) != 3 {
			t.Fatalf("batch %d stored headers %v", k, raw.Header)
		}
	}

	again := outs[0][:1]
	res, err := p.PublishAll(ctx, 10*time.Second, again)
	if err != nil || !res[0].Duplicate || res[0].Sequence != results[0][0].Sequence {
		t.Fatalf("the same id again: %+v, %v; want a duplicate of sequence %d", res, err, results[0][0].Sequence)
	}
}

// TestBatchPublisherFailures answers every message, including those no
// stream takes, those the stream refuses and those nobody acknowledges.
func TestBatchPublisherFailures(t *testing.T) {
	js, cfg := setup(t)
	p, nc := batchPublisher(t, js)
	ctx := t.Context()
	m := chatMessage("1", "wamid.fail")
	ok := natsbus.Outgoing{Subject: cfg.Subject(corralv1.ChatInSubject(m.Conversation())), MsgID: m.DedupeID(), Msg: m}

	// No stream: the server answers no responders at once.
	res, err := p.PublishAll(ctx, 10*time.Second, []natsbus.Outgoing{ok, {Subject: "nowhere." + natstest.Name(t), Msg: m}})
	if !errors.Is(err, nats.ErrNoResponders) || res[0].Err != nil || res[1].Err == nil {
		t.Fatalf("a publish no stream takes: %+v, %v", res, err)
	}

	// A full stream that discards new messages refuses with an error.
	name := natstest.Name(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"},
		MaxMsgs: 1, Discard: jetstream.DiscardNew, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
	full := []natsbus.Outgoing{{Subject: name + ".a", MsgID: "one", Msg: m}, {Subject: name + ".a", MsgID: "two", Msg: m}}
	res, err = p.PublishAll(ctx, 10*time.Second, full)
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != 10077 || res[0].Err != nil || res[1].Err == nil {
		t.Fatalf("a publish the stream refuses: %+v, %v; want the server's error 10077 (maximum messages exceeded) as a *jetstream.APIError", res, err)
	}

	// A subscriber that never answers: the wait ends the call.
	silent, err := nc.SubscribeSync("silent." + name)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Unsubscribe()
	res, err = p.PublishAll(ctx, 200*time.Millisecond, []natsbus.Outgoing{{Subject: "silent." + name, Msg: m}})
	if !errors.Is(err, natsbus.ErrAckTimeout) || !errors.Is(res[0].Err, natsbus.ErrAckTimeout) {
		t.Fatalf("an unacknowledged publish: %+v, %v", res, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.PublishAll(cctx, 10*time.Second, []natsbus.Outgoing{{Subject: "silent." + name, Msg: m}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled call: %v", err)
	}
	// The silent subscriber got the timed-out call's message and nothing
	// of the cancelled one.
	if _, err := silent.NextMsg(time.Second); err != nil {
		t.Fatalf("the unacknowledged message: %v", err)
	}
	if got, err := silent.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("a cancelled call published %q", got.Subject)
	}

	// The publisher still works after calls gave up.
	m2 := chatMessage("1", "wamid.after")
	if _, err := p.PublishAll(ctx, 10*time.Second, []natsbus.Outgoing{{Subject: ok.Subject, MsgID: m2.DedupeID(), Msg: m2}}); err != nil {
		t.Fatal(err)
	}

	// After Close a call fails at once instead of waiting for
	// acknowledgements that cannot arrive.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.PublishAll(ctx, time.Hour, []natsbus.Outgoing{{Subject: ok.Subject, Msg: m2}}); !errors.Is(err, natsbus.ErrPublisherClosed) {
		t.Fatalf("a call after Close: %v", err)
	}
}
