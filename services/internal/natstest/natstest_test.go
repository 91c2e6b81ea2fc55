package natstest_test

import (
	"regexp"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/corral-ai/corral/services/internal/natstest"
)

func TestStartServerHasJetStream(t *testing.T) {
	url := natstest.StartServer(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(t.Context()); err != nil {
		t.Fatalf("JetStream not enabled on the in-process server: %v", err)
	}
}

func TestURLFollowsEnvironment(t *testing.T) {
	t.Setenv(natstest.EnvURL, "nats://example.invalid:4222")
	if !natstest.External() || natstest.URL(t) != "nats://example.invalid:4222" {
		t.Fatal("NATS_URL not used")
	}
	t.Setenv(natstest.EnvURL, "")
	if natstest.External() {
		t.Fatal("empty NATS_URL counted as external")
	}
	if u := natstest.URL(t); u == "" || u == "nats://example.invalid:4222" {
		t.Fatalf("URL without NATS_URL = %q, want an in-process server", u)
	}
}

func TestConnect(t *testing.T) {
	nc := natstest.Connect(t)
	if !nc.IsConnected() {
		t.Fatal("not connected")
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestNameIsUniqueAndSafe(t *testing.T) {
	safe := regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	seen := map[string]bool{}
	for _, sub := range []string{"a.b c*>", "x/y", "plain", "a-very-long-subtest-name-that-goes-on-and-on-and-on"} {
		t.Run(sub, func(t *testing.T) {
			n := natstest.Name(t)
			if !safe.MatchString(n) || len(n) > 48 {
				t.Errorf("Name = %q: want at most 48 letters, digits and underscores", n)
			}
			if seen[n] {
				t.Errorf("Name %q repeated", n)
			}
			seen[n] = true
			if n2 := natstest.Name(t); n2 == n {
				t.Errorf("two calls gave the same name %q", n)
			}
		})
	}
}
