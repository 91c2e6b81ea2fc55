package natsbus_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/corral-ai/corral/services/internal/natsbus"
)

// TestEnsureStreamsReplicasNeedCluster asks a single, non-clustered server
// for 3 replicas: refused with ErrNeedsCluster both before the streams exist
// and once they do (the server itself would accept that update and keep
// one copy).
func TestEnsureStreamsReplicasNeedCluster(t *testing.T) {
	js, cfg := setup(t) // the streams now exist with 1 replica
	fresh := cfg
	fresh.Namespace = cfg.Namespace + "fresh"
	for _, tt := range []struct {
		name string
		cfg  natsbus.StreamsConfig
	}{
		{"existing streams", cfg},
		{"new streams", fresh},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg
			c.Replicas = 3
			err := natsbus.EnsureStreams(t.Context(), js, c)
			if !errors.Is(err, natsbus.ErrNeedsCluster) || !strings.Contains(err.Error(), "not clustered") {
				t.Fatalf("EnsureStreams with 3 replicas = %v, want ErrNeedsCluster", err)
			}
			if _, err := js.Stream(t.Context(), fresh.StreamName("CHAT_IN")); !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Errorf("a stream was created anyway: %v", err)
			}
		})
	}
	s, err := js.Stream(t.Context(), cfg.StreamName("CHAT_IN"))
	if err != nil {
		t.Fatal(err)
	}
	if r := s.CachedInfo().Config.Replicas; r != 1 {
		t.Errorf("existing stream has %d replicas after the refused update, want 1", r)
	}
}

// TestEnsureStreamsServerRefusesReplicas skips the cluster check (the
// connection is hidden) so the real server answers the create itself; its
// error comes back as ErrNeedsCluster with the number of servers needed.
func TestEnsureStreamsServerRefusesReplicas(t *testing.T) {
	js, cfg := setup(t)
	cfg.Namespace += "srv"
	cfg.Replicas = 3
	err := natsbus.EnsureStreams(t.Context(), connless{js}, cfg)
	if !errors.Is(err, natsbus.ErrNeedsCluster) || !strings.Contains(err.Error(), "at least 3 servers") {
		t.Fatalf("EnsureStreams with 3 replicas = %v, want ErrNeedsCluster from the server's answer", err)
	}
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		t.Errorf("the server's error is lost: %v", err)
	}
}

// connless hides the connection, as a JetStream context made some other way
// might.
type connless struct{ jetstream.JetStream }

func (connless) Conn() *nats.Conn { return nil }
