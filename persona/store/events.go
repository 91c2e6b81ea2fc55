package store

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// ChangeKind is what happened to a persona.
type ChangeKind int

// Kinds of change.
const (
	// Updated: the draft, handle or visibility changed.
	Updated ChangeKind = iota + 1
	// Published: a new version was published or rolled back to.
	Published
	// Deleted: the persona was deleted.
	Deleted
)

func (k ChangeKind) String() string {
	switch k {
	case Updated:
		return "updated"
	case Published:
		return "published"
	case Deleted:
		return "deleted"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// Change is a committed change to a persona, as announced to the caches of
// other processes.
type Change struct {
	// PersonaID is the persona that changed.
	PersonaID string
	// Kind is what happened.
	Kind ChangeKind
	// Published is the newest published version after the change.
	Published uint32
	// Handles are the handle keys (lower case) whose mapping changed.
	Handles []string
	// At is when the change was committed.
	At time.Time
}

// Notifier carries Changes between processes. The store calls Notify after
// every committed change; caches Subscribe. Delivery is at most once:
// subscribers must not depend on seeing every change.
type Notifier interface {
	// Notify announces c.
	Notify(ctx context.Context, c Change) error
	// Subscribe calls fn for every change announced from now on, in one
	// goroutine at a time, until stop is called.
	Subscribe(fn func(Change)) (stop func() error, err error)
}

// notify announces a committed change. The change is already in Redis, so
// a failure only delays other caches until their entries expire; it is
// logged, not returned.
func (s *Store) notify(ctx context.Context, c Change) {
	if s.notifier == nil {
		return
	}
	if err := s.notifier.Notify(ctx, c); err != nil {
		s.log.Warn("announcing persona change failed; caches elsewhere refresh when their entries expire",
			"persona", c.PersonaID, "change", c.Kind.String(), "err", err)
	}
}

// NATSNotifier carries Changes as corralv1.PersonaEvent messages on a core
// NATS subject, with the W3C trace context in the headers.
type NATSNotifier struct {
	nc      *nats.Conn
	subject string
	log     *slog.Logger
}

var _ Notifier = (*NATSNotifier)(nil)

// NewNATSNotifier returns a Notifier on nc. subject is normally
// corralv1.SubjectPersonaUpdated (used when empty); tests give their own.
func NewNATSNotifier(nc *nats.Conn, subject string, log *slog.Logger) *NATSNotifier {
	if subject == "" {
		subject = corralv1.SubjectPersonaUpdated
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &NATSNotifier{nc: nc, subject: subject, log: log.With("component", "persona/store/events")}
}

// Notify publishes c.
func (n *NATSNotifier) Notify(ctx context.Context, c Change) error {
	data, err := proto.Marshal(changeProto(c))
	if err != nil {
		return fmt.Errorf("encode persona event: %w", err)
	}
	msg := nats.NewMsg(n.subject)
	msg.Data = data
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(http.Header(msg.Header)))
	if err := n.nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("publish persona event on %s: %w", n.subject, err)
	}
	return nil
}

// Subscribe subscribes to the subject and waits until the server has the
// subscription, so no change announced after it returns is missed.
func (n *NATSNotifier) Subscribe(fn func(Change)) (func() error, error) {
	sub, err := n.nc.Subscribe(n.subject, func(m *nats.Msg) {
		var ev corralv1.PersonaEvent
		if err := proto.Unmarshal(m.Data, &ev); err != nil {
			n.log.Warn("ignoring malformed persona event", "subject", m.Subject, "err", err)
			return
		}
		fn(changeFromProto(&ev))
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", n.subject, err)
	}
	if err := n.nc.FlushTimeout(5 * time.Second); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe to %s: %w", n.subject, err)
	}
	return sub.Unsubscribe, nil
}

func changeProto(c Change) *corralv1.PersonaEvent {
	ev := &corralv1.PersonaEvent{PersonaId: c.PersonaID, PublishedVersion: c.Published, Handles: c.Handles}
	switch c.Kind {
	case Updated:
		ev.Change = corralv1.PersonaChange_PERSONA_CHANGE_UPDATED
	case Published:
		ev.Change = corralv1.PersonaChange_PERSONA_CHANGE_PUBLISHED
	case Deleted:
		ev.Change = corralv1.PersonaChange_PERSONA_CHANGE_DELETED
	}
	if !c.At.IsZero() {
		ev.Time = timestamppb.New(c.At)
	}
	return ev
}

func changeFromProto(ev *corralv1.PersonaEvent) Change {
	c := Change{PersonaID: ev.GetPersonaId(), Published: ev.GetPublishedVersion(), Handles: ev.GetHandles()}
	switch ev.GetChange() {
	case corralv1.PersonaChange_PERSONA_CHANGE_UPDATED:
		c.Kind = Updated
	case corralv1.PersonaChange_PERSONA_CHANGE_PUBLISHED:
		c.Kind = Published
	case corralv1.PersonaChange_PERSONA_CHANGE_DELETED:
		c.Kind = Deleted
	}
	if ev.GetTime() != nil {
		c.At = ev.GetTime().AsTime()
	}
	return c
}
