package gateway

import (
	"errors"
	"strconv"
	"time"

	"github.com/corral-ai/corral/services/internal/settings"
)

// Names of the gateway's settings.
const (
	EnvAppSecret      = "CORRAL_APP_SECRET"
	EnvVerifyToken    = "CORRAL_VERIFY_TOKEN"
	EnvMaxBody        = "CORRAL_GATEWAY_MAX_BODY"
	EnvPublishTimeout = "CORRAL_GATEWAY_PUBLISH_TIMEOUT"
)

// DefaultMaxBody is the largest webhook body accepted: 1 MiB.
const DefaultMaxBody = 1 << 20

// Config is the gateway role's configuration.
type Config struct {
	// AppSecrets are the Meta app secrets a delivery's X-Hub-Signature-256
	// may be made with: one per app, two while a secret is rotated. None
	// means every delivery is refused (401).
	AppSecrets []string
	// VerifyToken is the string typed into the App Dashboard as the webhook's
	// verify token; the GET handshake must present it. Empty refuses every
	// handshake.
	VerifyToken string
	// MaxBody is the largest body accepted, in bytes; larger ones get 413.
	// Default 1 MiB.
	MaxBody int
	// PublishTimeout bounds waiting for JetStream's acknowledgements of one
	// delivery; past it the answer is 503 and Meta retries. Default 5s,
	// well inside Meta's delivery timeout.
	PublishTimeout time.Duration
}

// DefaultConfig returns the defaults: no secrets, 1 MiB, 5s.
func DefaultConfig() Config {
	var c Config
	settings.Defaults(&c)
	return c
}

// Settings declares the role's settings.
func (c *Config) Settings() []settings.Setting {
	return []settings.Setting{
		{Env: EnvAppSecret, Flag: "app-secret", Secret: true,
			Help: "Meta app secret(s) webhooks are signed with (X-Hub-Signature-256), comma-separated; none refuses every webhook",
			Set:  settings.List(&c.AppSecrets)},
		{Env: EnvVerifyToken, Flag: "verify-token", Secret: true,
			Help: "webhook verify token, as typed into the App Dashboard; none refuses the handshake",
			Set:  settings.String(&c.VerifyToken)},
		{Env: EnvMaxBody, Flag: "gateway-max-body", Default: strconv.Itoa(DefaultMaxBody),
			Help: "largest webhook body in bytes; larger ones get 413",
			Set:  settings.Int(&c.MaxBody)},
		{Env: EnvPublishTimeout, Flag: "gateway-publish-timeout", Default: "5s",
			Help: "how long a webhook waits for JetStream to acknowledge its messages before answering 503",
			Set:  settings.Duration(&c.PublishTimeout)},
	}
}

// Validate reports values that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBody < 1024 {
		errs = append(errs, settings.Bad(EnvMaxBody, "%d: want at least 1024 bytes", c.MaxBody))
	}
	if c.PublishTimeout < 100*time.Millisecond || c.PublishTimeout > 20*time.Second {
		errs = append(errs, settings.Bad(EnvPublishTimeout, "%v: want 100ms to 20s (Meta gives up on a delivery after 20s)", c.PublishTimeout))
	}
	return errors.Join(errs...)
}
