package chat

import (
	"errors"
	"strconv"
	"time"

	"github.com/corral-ai/corral/persona/store"
	"github.com/corral-ai/corral/services/internal/settings"
)

// Names of the chat role's settings.
const (
	EnvWorkers         = "CORRAL_CHAT_WORKERS"
	EnvAckWait         = "CORRAL_CHAT_ACK_WAIT"
	EnvRateLimit       = "CORRAL_CHAT_RATE_LIMIT"
	EnvPause           = "CORRAL_CHAT_PAUSE"
	EnvHistory         = "CORRAL_CHAT_HISTORY"
	EnvDedupeTTL       = "CORRAL_CHAT_DEDUPE_TTL"
	EnvMaxReplyTokens  = "CORRAL_CHAT_MAX_REPLY_TOKENS"
	EnvMaxAttempts     = "CORRAL_CHAT_MAX_ATTEMPTS"
	EnvGenerateTimeout = "CORRAL_CHAT_GENERATE_TIMEOUT"
)

// Config is the chat role's configuration.
type Config struct {
	// Workers is how many conversations are answered at once; the
	// messages of one conversation are always answered one batch at a
	// time, in order. Default 64.
	Workers int
	// AckWait is how long JetStream waits for a chat process that took a
	// message and stopped answering (it crashed) before another one gets
	// it. Running work is kept alive with in-progress acks. Default 30s.
	AckWait time.Duration
	// RateLimit is the most messages a user may send in one minute before
	// the bot stops generating and answers with one polite notice; 0 turns
	// the limit off. Default 20.
	RateLimit int
	// Pause is how long the bot stays quiet in a conversation after a
	// person answered from the business side (a Messenger echo of another
	// app, a WhatsApp Business app message). Default 30m.
	Pause time.Duration
	// History is how many earlier messages of a conversation are read
	// into a prompt (the store keeps at most its own HistoryLimit).
	// Default 20.
	History int
	// DedupeTTL is how long a platform message id is remembered as
	// answered, so a webhook Meta retries after JetStream's duplicate
	// window still gets one reply. Default 24h.
	DedupeTTL time.Duration
	// MaxReplyTokens caps one reply, whatever the persona asks for.
	// Default 256.
	MaxReplyTokens int
	// MaxAttempts is how many times a batch of messages is tried when the
	// inference service or Redis fails for a while (overloaded, restarting)
	// before its messages go to the DLQ (about two minutes with the default
	// back-off). Default 10.
	MaxAttempts int
	// GenerateTimeout bounds one generation. Default 2m.
	GenerateTimeout time.Duration

	// RetryMin and RetryMax bound the back-off between tries (not
	// settings; tests shorten them). Default 500ms and 30s.
	RetryMin, RetryMax time.Duration
	// KeyPrefix starts every Redis key the role reads or writes; default
	// store.DefaultPrefix. Not a setting: tests change it.
	KeyPrefix string
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	c := Config{KeyPrefix: store.DefaultPrefix, RetryMin: 500 * time.Millisecond, RetryMax: 30 * time.Second}
	settings.Defaults(&c)
	return c
}

// Settings declares the role's settings.
func (c *Config) Settings() []settings.Setting {
	return []settings.Setting{
		{Env: EnvWorkers, Flag: "chat-workers", Default: "64",
			Help: "conversations answered at once (each one batch at a time, in order)", Set: settings.Int(&c.Workers)},
		{Env: EnvAckWait, Flag: "chat-ack-wait", Default: "30s",
			Help: "how long a message taken by a chat process that stopped answering waits before another process gets it", Set: settings.Duration(&c.AckWait)},
		{Env: EnvRateLimit, Flag: "chat-rate-limit", Default: "20",
			Help: "messages per minute a user may send before the bot answers with one notice instead of replies; 0 turns it off", Set: settings.Int(&c.RateLimit)},
		{Env: EnvPause, Flag: "chat-pause", Default: "30m",
			Help: "how long the bot stays quiet in a conversation after a person answered from the business side", Set: settings.Duration(&c.Pause)},
		{Env: EnvHistory, Flag: "chat-history", Default: "20",
			Help: "earlier messages of a conversation read into a prompt", Set: settings.Int(&c.History)},
		{Env: EnvDedupeTTL, Flag: "chat-dedupe-ttl", Default: "24h",
			Help: "how long an answered platform message id is remembered, so a retried webhook gets one reply", Set: settings.Duration(&c.DedupeTTL)},
		{Env: EnvMaxReplyTokens, Flag: "chat-max-reply-tokens", Default: "256",
			Help: "longest reply in tokens, whatever the persona asks for", Set: settings.Int(&c.MaxReplyTokens)},
		{Env: EnvMaxAttempts, Flag: "chat-max-attempts", Default: "10",
			Help: "tries of a message while inference or Redis fails before it goes to the DLQ", Set: settings.Int(&c.MaxAttempts)},
		{Env: EnvGenerateTimeout, Flag: "chat-generate-timeout", Default: "2m",
			Help: "longest one generation may take", Set: settings.Duration(&c.GenerateTimeout)},
	}
}

// Validate reports values that cannot work.
func (c Config) Validate() error {
	var errs []error
	bad := func(env, format string, a ...any) { errs = append(errs, settings.Bad(env, format, a...)) }
	if c.Workers < 1 || c.Workers > 4096 {
		bad(EnvWorkers, "%d: want 1 to 4096", c.Workers)
	}
	if c.AckWait < time.Second {
		bad(EnvAckWait, "%v: want at least 1s", c.AckWait)
	}
	if c.RateLimit < 0 {
		bad(EnvRateLimit, "%d: want 0 (off) or more", c.RateLimit)
	}
	if c.Pause < time.Second {
		bad(EnvPause, "%v: want at least 1s", c.Pause)
	}
	if c.History < 1 || c.History > 1000 {
		bad(EnvHistory, "%d: want 1 to 1000", c.History)
	}
	if c.DedupeTTL < time.Minute {
		bad(EnvDedupeTTL, "%v: want at least 1m (longer than JetStream's duplicate window)", c.DedupeTTL)
	}
	if c.MaxReplyTokens < 1 || c.MaxReplyTokens > 1<<20 {
		bad(EnvMaxReplyTokens, "%d: want 1 to %s", c.MaxReplyTokens, strconv.Itoa(1<<20))
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 100 {
		bad(EnvMaxAttempts, "%d: want 1 to 100", c.MaxAttempts)
	}
	if c.GenerateTimeout < time.Second {
		bad(EnvGenerateTimeout, "%v: want at least 1s", c.GenerateTimeout)
	}
	if c.RetryMin <= 0 || c.RetryMax < c.RetryMin {
		errs = append(errs, errors.New("chat: retry back-off bounds must be positive and ordered"))
	}
	return errors.Join(errs...)
}
