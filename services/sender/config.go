package sender

import (
	"errors"
	"time"

	"github.com/corral-ai/corral/bots/graph"
	"github.com/corral-ai/corral/persona/store"
	"github.com/corral-ai/corral/services/internal/secretkey"
	"github.com/corral-ai/corral/services/internal/settings"
)

// Names of the sender's settings.
const (
	EnvGraphURL     = "CORRAL_GRAPH_URL"
	EnvGraphVersion = "CORRAL_GRAPH_VERSION"
	EnvAccessToken  = "CORRAL_ACCESS_TOKEN"
	EnvSecretKey    = secretkey.Env
	EnvWorkers      = "CORRAL_SENDER_WORKERS"
	EnvMaxAttempts  = "CORRAL_SENDER_MAX_ATTEMPTS"
	EnvRetryMin     = "CORRAL_SENDER_RETRY_MIN"
	EnvRetryMax     = "CORRAL_SENDER_RETRY_MAX"
	EnvAckWait      = "CORRAL_SENDER_ACK_WAIT"
)

// Config is the sender role's configuration.
type Config struct {
	// GraphURL is the Graph API's scheme and host (tests and loadgen point
	// it at a fake); default graph.DefaultBaseURL.
	GraphURL string
	// GraphVersion is the Graph API version path segment; default
	// graph.DefaultVersion.
	GraphVersion string
	// AccessToken is the Send API token used for channels that have none
	// of their own in the persona store (a WhatsApp system-user token or a
	// Page token).
	AccessToken string
	// SecretKey opens the channel access tokens sealed in the persona store
	// (the shared CORRAL_SECRET_KEY, services/internal/secretkey). Nil
	// means channel tokens cannot be read and AccessToken is used for all.
	SecretKey []byte
	// Workers is how many replies are sent at once (one conversation is
	// always sent by one worker at a time). Default 32.
	Workers int
	// MaxAttempts is how many failed tries of a reply's next message
	// (rate limits, 5xx, timeouts) are made before the reply goes to the
	// DLQ. Default 8.
	MaxAttempts int
	// RetryMin and RetryMax bound the exponential back-off between tries
	// (with jitter; a longer Retry-After from Meta wins). Default 500ms and
	// 1m.
	RetryMin time.Duration
	RetryMax time.Duration
	// AckWait is how long JetStream waits for a sender that took a reply
	// before giving it to another one (a sender that crashed). Default 30s.
	AckWait time.Duration
	// KeyPrefix starts every Redis key the sender writes; default
	// store.DefaultPrefix ("corral:"). Not a setting: tests change it.
	KeyPrefix string
}

// DefaultConfig returns the defaults: Meta's Graph API, no tokens.
func DefaultConfig() Config {
	c := Config{KeyPrefix: store.DefaultPrefix}
	settings.Defaults(&c)
	return c
}

// Settings declares the role's settings.
func (c *Config) Settings() []settings.Setting {
	return []settings.Setting{
		{Env: EnvGraphURL, Flag: "graph-url", Default: graph.DefaultBaseURL,
			Help: "where Send API calls go (scheme and host of the Graph API)", Set: settings.String(&c.GraphURL)},
		{Env: EnvGraphVersion, Flag: "graph-version", Default: graph.DefaultVersion,
			Help: "Graph API version segment", Set: settings.String(&c.GraphVersion)},
		{Env: EnvAccessToken, Flag: "access-token", Secret: true,
			Help: "Send API token used when a channel has none of its own", Set: settings.String(&c.AccessToken)},
		secretkey.Setting(&c.SecretKey),
		{Env: EnvWorkers, Flag: "sender-workers", Default: "32",
			Help: "replies sent at once (one conversation at a time each)", Set: settings.Int(&c.Workers)},
		{Env: EnvMaxAttempts, Flag: "sender-max-attempts", Default: "8",
			Help: "failed tries of a reply (rate limits, 5xx, timeouts) before it goes to the DLQ", Set: settings.Int(&c.MaxAttempts)},
		{Env: EnvRetryMin, Flag: "sender-retry-min", Default: "500ms",
			Help: "first back-off between tries of a reply", Set: settings.Duration(&c.RetryMin)},
		{Env: EnvRetryMax, Flag: "sender-retry-max", Default: "1m",
			Help: "longest back-off between tries of a reply", Set: settings.Duration(&c.RetryMax)},
		{Env: EnvAckWait, Flag: "sender-ack-wait", Default: "30s",
			Help: "how long a reply taken by a sender that stopped answering waits before another sender gets it", Set: settings.Duration(&c.AckWait)},
	}
}

// Validate reports values that cannot work.
func (c Config) Validate() error {
	var errs []error
	bad := func(env, format string, a ...any) { errs = append(errs, settings.Bad(env, format, a...)) }
	// Validated one field at a time, so each problem names its setting.
	if err := (graph.Config{BaseURL: c.GraphURL}).Validate(); err != nil || c.GraphURL == "" {
		bad(EnvGraphURL, "%q: want the Graph API's http(s) scheme and host, such as %s", c.GraphURL, graph.DefaultBaseURL)
	}
	if err := (graph.Config{Version: c.GraphVersion}).Validate(); err != nil || c.GraphVersion == "" {
		bad(EnvGraphVersion, "%q: want the form %s", c.GraphVersion, graph.DefaultVersion)
	}
	if c.Workers < 1 || c.Workers > 1024 {
		bad(EnvWorkers, "%d: want 1 to 1024", c.Workers)
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 100 {
		bad(EnvMaxAttempts, "%d: want 1 to 100", c.MaxAttempts)
	}
	if c.RetryMin < time.Millisecond {
		bad(EnvRetryMin, "%v: want at least 1ms", c.RetryMin)
	}
	if c.RetryMax < c.RetryMin {
		bad(EnvRetryMax, "%v: want at least the minimum back-off %v", c.RetryMax, c.RetryMin)
	}
	if c.AckWait < time.Second {
		bad(EnvAckWait, "%v: want at least 1s", c.AckWait)
	}
	return errors.Join(errs...)
}

func (c Config) graphConfig() graph.Config {
	return graph.Config{BaseURL: c.GraphURL, Version: c.GraphVersion}
}
