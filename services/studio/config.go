package studio

import (
	"errors"
	"strconv"
	"time"

	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/services/internal/settings"
)

// Names of the studio's settings.
const (
	EnvOrigins      = "CORRAL_STUDIO_ORIGINS"
	EnvMaxFrame     = "CORRAL_STUDIO_MAX_FRAME"
	EnvRate         = "CORRAL_STUDIO_RATE"
	EnvBurst        = "CORRAL_STUDIO_BURST"
	EnvSendQueue    = "CORRAL_STUDIO_SEND_QUEUE"
	EnvWriteTimeout = "CORRAL_STUDIO_WRITE_TIMEOUT"
	EnvPingInterval = "CORRAL_STUDIO_PING_INTERVAL"
	EnvMaxPreviews  = "CORRAL_STUDIO_MAX_PREVIEWS"
)

// DefaultMaxFrame is the largest frame a browser may send: a persona's
// JSON form at its limit with room for the request around it.
const DefaultMaxFrame = persona.MaxJSONSize + 16<<10

// DefaultSocketBuffer is Config.SocketBuffer's default.
const DefaultSocketBuffer = 64 << 10

// Config is the studio role's configuration.
type Config struct {
	// Origins are the Origin header values a websocket upgrade may carry
	// besides the studio's own host (scheme://host[:port]); "*" allows any.
	// An upgrade without an Origin header (not from a browser) is allowed.
	Origins []string
	// MaxFrame is the largest frame read from a connection, in bytes; a
	// larger one closes it with 1009 (message too big).
	MaxFrame int
	// Rate is how many requests per second one connection may make on
	// average, and Burst how many at once; more are answered rate_limited.
	Rate, Burst int
	// SendQueue is how many frames may wait to be written to one
	// connection; a browser that falls further behind is dropped, so it
	// never holds up a preview's engine sequence or anyone else.
	SendQueue int
	// WriteTimeout bounds writing one frame; a browser that takes longer
	// is dropped.
	WriteTimeout time.Duration
	// PingInterval is how often the studio pings; a connection that has
	// sent nothing (pongs included) for twice as long is closed.
	PingInterval time.Duration
	// MaxPreviews is how many previews one connection may run at once.
	MaxPreviews int

	// SocketBuffer is the kernel send buffer of each connection's socket,
	// in bytes; 0 means DefaultSocketBuffer. Kept small so a slow browser
	// shows in the send queue soon instead of after megabytes. Not a
	// setting: tests make it smaller still.
	SocketBuffer int

	// KeyPrefix starts the persona store's Redis keys; empty means the
	// store's default. Not a setting: tests on a shared Redis set it.
	KeyPrefix string
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	var c Config
	settings.Defaults(&c)
	return c
}

// Settings declares the role's settings.
func (c *Config) Settings() []settings.Setting {
	return []settings.Setting{
		{Env: EnvOrigins, Flag: "studio-origins",
			Help: "origins (scheme://host[:port]) besides the studio's own that may open /studio/ws, comma-separated; * allows any",
			Set:  settings.List(&c.Origins)},
		{Env: EnvMaxFrame, Flag: "studio-max-frame", Default: strconv.Itoa(DefaultMaxFrame),
			Help: "largest websocket frame a browser may send, in bytes; a larger one closes the connection (1009)",
			Set:  settings.Int(&c.MaxFrame)},
		{Env: EnvRate, Flag: "studio-rate", Default: "20",
			Help: "requests per second one studio connection may make on average",
			Set:  settings.Int(&c.Rate)},
		{Env: EnvBurst, Flag: "studio-burst", Default: "40",
			Help: "requests one studio connection may make at once",
			Set:  settings.Int(&c.Burst)},
		{Env: EnvSendQueue, Flag: "studio-send-queue", Default: "256",
			Help: "frames that may wait for a slow browser before its connection is dropped",
			Set:  settings.Int(&c.SendQueue)},
		{Env: EnvWriteTimeout, Flag: "studio-write-timeout", Default: "10s",
			Help: "longest a browser may take to accept one frame before its connection is dropped",
			Set:  settings.Duration(&c.WriteTimeout)},
		{Env: EnvPingInterval, Flag: "studio-ping-interval", Default: "20s",
			Help: "how often the studio pings each connection; one silent for twice as long is closed",
			Set:  settings.Duration(&c.PingInterval)},
		{Env: EnvMaxPreviews, Flag: "studio-max-previews", Default: "2",
			Help: "previews one studio connection may run at once",
			Set:  settings.Int(&c.MaxPreviews)},
	}
}

// Validate reports values that cannot work.
func (c Config) Validate() error {
	var errs []error
	bad := func(env, format string, a ...any) { errs = append(errs, settings.Bad(env, format, a...)) }
	for _, o := range c.Origins {
		if o != "*" && !validOrigin(o) {
			bad(EnvOrigins, "%q: want scheme://host[:port] or *", o)
		}
	}
	if c.MaxFrame < 4096 || c.MaxFrame > 16<<20 {
		bad(EnvMaxFrame, "%d: want 4096 to 16777216 bytes", c.MaxFrame)
	}
	if c.Rate < 1 || c.Rate > 10000 {
		bad(EnvRate, "%d: want 1 to 10000", c.Rate)
	}
	if c.Burst < 1 || c.Burst > 100000 {
		bad(EnvBurst, "%d: want 1 to 100000", c.Burst)
	}
	if c.SendQueue < 1 || c.SendQueue > 1<<16 {
		bad(EnvSendQueue, "%d: want 1 to 65536", c.SendQueue)
	}
	if c.WriteTimeout < 10*time.Millisecond || c.WriteTimeout > time.Minute {
		bad(EnvWriteTimeout, "%v: want 10ms to 1m", c.WriteTimeout)
	}
	if c.PingInterval < 10*time.Millisecond || c.PingInterval > 10*time.Minute {
		bad(EnvPingInterval, "%v: want 10ms to 10m", c.PingInterval)
	}
	if c.MaxPreviews < 1 || c.MaxPreviews > 64 {
		bad(EnvMaxPreviews, "%d: want 1 to 64", c.MaxPreviews)
	}
	return errors.Join(errs...)
}
