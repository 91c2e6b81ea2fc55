package chat

import (
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		text string
		ok   bool
		want command
	}{
		{text: "/help", ok: true, want: command{kind: cmdHelp}},
		{text: "  /HELP  ", ok: true, want: command{kind: cmdHelp}},
		{text: "/start", ok: true, want: command{kind: cmdHelp}},
		{text: "/reset", ok: true, want: command{kind: cmdReset}},
		{text: "/reset please", ok: true, want: command{kind: cmdUnknown, name: "/reset"}},
		{text: "/persona", ok: true, want: command{kind: cmdListPersona}},
		{text: "/persona @luna", ok: true, want: command{kind: cmdPickPersona, handle: "luna"}},
		{text: "/persona   Luna", ok: true, want: command{kind: cmdPickPersona, handle: "Luna"}},
		{text: "/Persona @a b", ok: true, want: command{kind: cmdUnknown, name: "/persona"}},
		{text: "/frob_2", ok: true, want: command{kind: cmdUnknown, name: "/frob_2"}},
		{text: "hello /help", ok: false},
		{text: "/", ok: false},
		{text: "/ help", ok: false},
		{text: "/usr/bin is a folder", ok: false},
		{text: "/5 of them", ok: false},
		{text: "/é", ok: false},
		{text: "/_x", ok: false},
		{text: "/help " + strings.Repeat("x", maxCommandLen), ok: false},
		{text: "", ok: false},
	} {
		got, ok := parseCommand(tc.text)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseCommand(%q) = %+v, %v; want %+v, %v", tc.text, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParseCommand: any text parses without panicking, only texts that
// start with "/" are commands, and a command always has a kind.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"/help", "/persona @luna", "/reset", "/x y z", "/", "//", "/persona \u00a0@a", "\x00/help", "/\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, ok := parseCommand(text)
		if !ok {
			return
		}
		if !strings.HasPrefix(strings.TrimSpace(text), "/") || c.kind == 0 {
			t.Fatalf("parseCommand(%q) = %+v", text, c)
		}
		if c.kind == cmdPickPersona && (c.handle == "" && !strings.Contains(text, "@")) {
			t.Fatalf("pick without a handle: %q", text)
		}
		if again, ok2 := parseCommand(" " + text + " "); !ok2 || again != c {
			t.Fatalf("surrounding space changes %q: %+v", text, again)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		env    string
		mutate func(*Config)
	}{
		{EnvWorkers, func(c *Config) { c.Workers = 0 }},
		{EnvAckWait, func(c *Config) { c.AckWait = 0 }},
		{EnvRateLimit, func(c *Config) { c.RateLimit = -1 }},
		{EnvPause, func(c *Config) { c.Pause = 0 }},
		{EnvHistory, func(c *Config) { c.History = -1 }},
		{EnvDedupeTTL, func(c *Config) { c.DedupeTTL = 0 }},
		{EnvMaxReplyTokens, func(c *Config) { c.MaxReplyTokens = 0 }},
		{EnvMaxAttempts, func(c *Config) { c.MaxAttempts = 0 }},
		{EnvGenerateTimeout, func(c *Config) { c.GenerateTimeout = 0 }},
	} {
		c := DefaultConfig()
		tc.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.env) {
			t.Errorf("%s: Validate() = %v, want an error naming it", tc.env, err)
		}
	}
}
