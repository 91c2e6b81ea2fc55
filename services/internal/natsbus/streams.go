package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// MinDuplicateWindow is the shortest duplicate window EnsureStreams accepts:
// Meta retries a webhook it saw no quick answer to within a minute or two.
const MinDuplicateWindow = 2 * time.Minute

// StreamLimits bound one stream. Zero values mean the defaults given in
// DefaultStreamsConfig (for MaxAge) or no limit (for MaxBytes, MaxMsgs).
type StreamLimits struct {
	// MaxAge is how long a message is kept.
	MaxAge time.Duration
	// MaxBytes caps the stream's size in bytes; 0 means unlimited.
	MaxBytes int64
	// MaxMsgs caps the number of messages; 0 means unlimited.
	MaxMsgs int64
}

// StreamsConfig says how EnsureStreams sets up CHAT_IN, CHAT_OUT and CHAT_DLQ.
type StreamsConfig struct {
	// Namespace, when not empty, prefixes every stream name ("<ns>_CHAT_IN")
	// and subject ("<ns>.chat.in.>"). Production leaves it empty; tests on a
	// shared server set a unique one so they never touch the real streams.
	// Letters, digits, '-' and '_' only.
	Namespace string
	// Replicas is the number of copies of each stream: 1 on a single server,
	// 3 (or 5) in a JetStream cluster. Default 1.
	Replicas int
	// DuplicateWindow is how long JetStream remembers Nats-Msg-Id values to
	// drop duplicate publishes. Default 10 minutes; at least
	// MinDuplicateWindow and at most the shortest MaxAge.
	DuplicateWindow time.Duration
	// ChatIn limits CHAT_IN. Default max age 24 hours.
	ChatIn StreamLimits
	// ChatOut limits CHAT_OUT. Default max age 24 hours.
	ChatOut StreamLimits
	// DLQ limits CHAT_DLQ. Default max age 14 days.
	DLQ StreamLimits
}

// DefaultStreamsConfig returns the production settings.
func DefaultStreamsConfig() StreamsConfig {
	return StreamsConfig{
		Replicas:        1,
		DuplicateWindow: 10 * time.Minute,
		ChatIn:          StreamLimits{MaxAge: 24 * time.Hour},
		ChatOut:         StreamLimits{MaxAge: 24 * time.Hour},
		DLQ:             StreamLimits{MaxAge: 14 * 24 * time.Hour},
	}
}

// withDefaults fills zero fields from DefaultStreamsConfig.
func (c StreamsConfig) withDefaults() StreamsConfig {
	d := DefaultStreamsConfig()
	if c.Replicas == 0 {
		c.Replicas = d.Replicas
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = d.DuplicateWindow
	}
	for _, p := range []struct{ l, d *StreamLimits }{{&c.ChatIn, &d.ChatIn}, {&c.ChatOut, &d.ChatOut}, {&c.DLQ, &d.DLQ}} {
		if p.l.MaxAge == 0 {
			p.l.MaxAge = p.d.MaxAge
		}
	}
	return c
}

// Validate reports settings EnsureStreams would refuse. Zero fields are
// valid: they take defaults.
func (c StreamsConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	for _, r := range c.Namespace {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			errs = append(errs, fmt.Errorf("namespace %q: only letters, digits, '-' and '_' are allowed", c.Namespace))
			break
		}
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas %d: must be between 1 and 5", c.Replicas))
	}
	if c.DuplicateWindow < MinDuplicateWindow {
		errs = append(errs, fmt.Errorf("duplicate window %v: must be at least %v", c.DuplicateWindow, MinDuplicateWindow))
	}
	for _, s := range []struct {
		name string
		l    StreamLimits
	}{{corralv1.StreamChatIn, c.ChatIn}, {corralv1.StreamChatOut, c.ChatOut}, {corralv1.StreamChatDLQ, c.DLQ}} {
		if s.l.MaxAge < c.DuplicateWindow {
			errs = append(errs, fmt.Errorf("%s max age %v: must be at least the duplicate window %v", s.name, s.l.MaxAge, c.DuplicateWindow))
		}
		if s.l.MaxBytes < 0 || s.l.MaxMsgs < 0 {
			errs = append(errs, fmt.Errorf("%s limits: max bytes and max messages must not be negative", s.name))
		}
	}
	return errors.Join(errs...)
}

// StreamName returns the name of stream base (a corralv1.Stream* constant)
// in c's namespace.
func (c StreamsConfig) StreamName(base string) string {
	if c.Namespace == "" {
		return base
	}
	return c.Namespace + "_" + base
}

// Subject returns subject (built with corralv1) in c's namespace.
func (c StreamsConfig) Subject(subject string) string {
	if c.Namespace == "" {
		return subject
	}
	return c.Namespace + "." + subject
}

// DLQSubject returns the dead-letter subject for a message that failed on
// subject (already in c's namespace). It fits ConsumerConfig.DeadLetter.
func (c StreamsConfig) DLQSubject(subject string) string {
	return c.Subject(corralv1.DLQSubject(strings.TrimPrefix(subject, c.Subject(""))))
}

// StreamConfigs returns the JetStream configuration of the three streams, in
// the order EnsureStreams applies them.
func (c StreamsConfig) StreamConfigs() []jetstream.StreamConfig {
	c = c.withDefaults()
	mk := func(base, subject, desc string, l StreamLimits, discard jetstream.DiscardPolicy) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        c.StreamName(base),
			Description: desc,
			Subjects:    []string{c.Subject(subject)},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			MaxAge:      l.MaxAge,
			MaxBytes:    orUnlimited(l.MaxBytes),
			MaxMsgs:     orUnlimited(l.MaxMsgs),
			// Per-subject and consumer counts stay unlimited; the server's
			// defaults of -1 are spelled out so an update compares equal.
			MaxMsgsPerSubject: -1,
			MaxConsumers:      -1,
			MaxMsgSize:        -1,
			Discard:           discard,
			Duplicates:        c.DuplicateWindow,
		}
	}
	return []jetstream.StreamConfig{
		mk(corralv1.StreamChatIn, corralv1.SubjectChatIn, "Corral inbound chat messages (corral.v1.ChatMessage)", c.ChatIn, jetstream.DiscardNew),
		mk(corralv1.StreamChatOut, corralv1.SubjectChatOut, "Corral replies waiting to be sent (corral.v1.OutboundMessage)", c.ChatOut, jetstream.DiscardNew),
		mk(corralv1.StreamChatDLQ, corralv1.SubjectChatDLQ, "Corral poison messages, with Corral-Dlq-* headers saying why", c.DLQ, jetstream.DiscardOld),
	}
}

func orUnlimited(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

// ErrNeedsCluster means streams were asked for more than one replica on a
// NATS server that is not part of a JetStream cluster.
var ErrNeedsCluster = errors.New("stream replicas > 1 need a JetStream cluster")

// JetStream API error codes EnsureStreams explains.
const (
	codeReplicasNotSupported jetstream.ErrorCode = 10074 // replicas > 1 not supported in non-clustered mode
	codeInsufficientPeers    jetstream.ErrorCode = 10023 // insufficient resources (too few servers for the replicas)
)

// EnsureStreams creates CHAT_IN, CHAT_OUT and CHAT_DLQ, or updates them to
// cfg when they exist. It is idempotent and safe to run from every replica at
// start. Settings JetStream cannot change in place (storage, retention) make
// it fail with the server's error. More than one replica on a server outside
// a cluster fails with ErrNeedsCluster, whether the streams exist or not: a
// single server would otherwise accept the update and keep one copy.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfg StreamsConfig) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("ensure streams: %w", err)
	}
	cfg = cfg.withDefaults()
	if nc := js.Conn(); cfg.Replicas > 1 && nc != nil && nc.ConnectedClusterName() == "" {
		return fmt.Errorf("%w: %d replicas asked for, but the NATS server at %s is not clustered; use 1 replica, or a cluster of at least %d JetStream servers",
			ErrNeedsCluster, cfg.Replicas, nc.ConnectedUrlRedacted(), cfg.Replicas)
	}
	for _, sc := range cfg.StreamConfigs() {
		if err := ensureStream(ctx, js, sc); err != nil {
			return err
		}
	}
	return nil
}

// explainReplicas turns the server's answer to too many replicas into
// ErrNeedsCluster with the numbers.
func explainReplicas(err error, replicas int) error {
	var api *jetstream.APIError
	if errors.As(err, &api) && (api.ErrorCode == codeReplicasNotSupported || api.ErrorCode == codeInsufficientPeers) && replicas > 1 {
		return fmt.Errorf("%w of at least %d servers (%w)", ErrNeedsCluster, replicas, err)
	}
	return err
}

func ensureStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig) error {
	s, err := js.Stream(ctx, sc.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		if _, err := js.CreateStream(ctx, sc); err != nil {
			return fmt.Errorf("create stream %s: %w", sc.Name, explainReplicas(err, sc.Replicas))
		}
		return nil
	case err != nil:
		return fmt.Errorf("look up stream %s: %w", sc.Name, err)
	}
	if sameStreamConfig(s.CachedInfo().Config, sc) {
		return nil
	}
	if _, err := js.UpdateStream(ctx, sc); err != nil {
		return fmt.Errorf("update stream %s: %w", sc.Name, explainReplicas(err, sc.Replicas))
	}
	return nil
}

// sameStreamConfig compares the fields EnsureStreams sets, so an unchanged
// stream is not updated (an update is cheap, but skipping it keeps start-up
// quiet in the server's audit log and avoids needless cluster proposals).
func sameStreamConfig(have, want jetstream.StreamConfig) bool {
	return have.Description == want.Description &&
		strings.Join(have.Subjects, " ") == strings.Join(want.Subjects, " ") &&
		have.Retention == want.Retention &&
		have.Storage == want.Storage &&
		have.Replicas == want.Replicas &&
		have.MaxAge == want.MaxAge &&
		have.MaxBytes == want.MaxBytes &&
		have.MaxMsgs == want.MaxMsgs &&
		have.MaxMsgsPerSubject == want.MaxMsgsPerSubject &&
		have.MaxConsumers == want.MaxConsumers &&
		have.MaxMsgSize == want.MaxMsgSize &&
		have.Discard == want.Discard &&
		have.Duplicates == want.Duplicates
}
