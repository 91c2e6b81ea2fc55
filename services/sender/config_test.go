package sender_test

import (
	"strings"
	"testing"
	"time"

	"github.com/corral-ai/corral/services/sender"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*sender.Config)
		want string
	}{
		{"defaults", func(*sender.Config) {}, ""},
		{"graph url without scheme", func(c *sender.Config) { c.GraphURL = "graph.facebook.com" }, sender.EnvGraphURL},
		{"graph url empty", func(c *sender.Config) { c.GraphURL = "" }, sender.EnvGraphURL},
		{"version", func(c *sender.Config) { c.GraphVersion = "25" }, sender.EnvGraphVersion},
		{"workers", func(c *sender.Config) { c.Workers = 0 }, sender.EnvWorkers},
		{"attempts", func(c *sender.Config) { c.MaxAttempts = 0 }, sender.EnvMaxAttempts},
		{"retry max below min", func(c *sender.Config) { c.RetryMin, c.RetryMax = time.Second, time.Millisecond }, sender.EnvRetryMax},
		{"ack wait", func(c *sender.Config) { c.AckWait = 0 }, sender.EnvAckWait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sender.DefaultConfig()
			tt.mod(&c)
			err := c.Validate()
			if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}
