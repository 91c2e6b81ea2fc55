package store_test

import (
	"testing"

	"github.com/corral-ai/corral/persona/store"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// TestNewOnSharedClient checks that a store made on a caller's client reads
// what another store wrote, and that closing it leaves the client open.
func TestNewOnSharedClient(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.s.PutChannel(ctx, store.Channel{Platform: corralv1.Platform_PLATFORM_MESSENGER, ID: "104", AccessToken: "page-token"}); err != nil {
		t.Fatal(err)
	}
	shared := rawClient(t, e.cfg.URL)
	s, err := store.New(shared, store.Config{Prefix: e.cfg.Prefix, SecretKey: testKey}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.Channel(ctx, corralv1.Platform_PLATFORM_MESSENGER, "104")
	if err != nil || ch.AccessToken.Reveal() != "page-token" {
		t.Fatalf("Channel = %v (token %q), %v", ch, ch.AccessToken.Reveal(), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := shared.Ping(ctx).Err(); err != nil {
		t.Fatalf("closing the store closed the caller's client: %v", err)
	}
	if _, err := store.New(nil, store.Config{}, nil, nil); err == nil {
		t.Error("New without a client succeeded")
	}
	if _, err := store.New(shared, store.Config{SecretKey: []byte("short")}, nil, nil); err == nil {
		t.Error("New with a bad secret key succeeded")
	}
}
