package inference

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/corral-ai/corral/inference/bytesize"
	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/kvcache"
	"github.com/corral-ai/corral/services/internal/settings"
)

// Names of the settings Config declares.
const (
	EnvModel     = "CORRAL_MODEL"
	EnvThreads   = "CORRAL_THREADS"
	EnvQueueSize = "CORRAL_QUEUE_SIZE"
	// EnvQueueTokens bounds the prompt tokens of the waiting requests.
	EnvQueueTokens = "CORRAL_QUEUE_TOKENS"
	EnvMaxBatch    = "CORRAL_MAX_BATCH"
	EnvMaxTokens   = "CORRAL_MAX_TOKENS"
	EnvKVMemory    = "CORRAL_KV_MEMORY"
	EnvKVType      = "CORRAL_KV_TYPE"
	EnvAPIKey      = "CORRAL_API_KEY"
)

// Limits of the settings.
const (
	// MaxQueueSize bounds CORRAL_QUEUE_SIZE.
	MaxQueueSize = 1 << 16
	// MaxQueueTokens bounds CORRAL_QUEUE_TOKENS.
	MaxQueueTokens = 1 << 30
	// MaxMaxBatch bounds CORRAL_MAX_BATCH.
	MaxMaxBatch = 4096
	// MaxMaxTokens bounds CORRAL_MAX_TOKENS: no model has a longer context.
	MaxMaxTokens = 1 << 20
)

// Config is the role's configuration.
type Config struct {
	// Path is the GGUF file to serve. Empty means the demo model, written
	// to the models folder of the data folder on first start.
	Path string
	// Threads is how many threads run the matrix products; 0 means every
	// CPU the process may use, and more is capped to that (engine.Threads).
	Threads int
	// QueueSize is how many requests may wait for the engine; more are
	// refused at once as overloaded (HTTP 429, ERROR_CODE_OVERLOADED).
	QueueSize int
	// QueueTokens is how many prompt tokens the waiting requests may hold
	// together; past it a request is refused the same way (one alone in
	// the queue is always taken, whatever its length).
	QueueTokens int
	// MaxBatch is how many sequences the engine generates together; more
	// wait in the queue.
	MaxBatch int
	// MaxTokens is the longest reply a request may ask for, and the limit
	// of one that asks for none.
	MaxTokens int
	// KVMemory is the byte budget of the paged KV cache; 0 lets the
	// engine choose (engine.DefaultKVMemory). Run logs what it took.
	KVMemory int64
	// KVType is the KV cache's element type (f16 or f32).
	KVType kvcache.Type
	// APIKey, when set, is the bearer token the OpenAI-compatible API
	// requires (Authorization: Bearer KEY).
	APIKey string
}

// DefaultConfig returns the defaults: the demo model on every CPU.
func DefaultConfig() Config {
	var c Config
	settings.Defaults(&c)
	return c
}

// Settings declares the role's settings.
func (c *Config) Settings() []settings.Setting {
	return []settings.Setting{
		{Env: EnvModel, Flag: "model", Help: "GGUF file to serve; empty uses the demo model written to the data folder",
			Set: settings.String(&c.Path)},
		{Env: EnvThreads, Flag: "threads", Help: "threads running the matrix products; empty or 0 means every CPU available, more is capped to that",
			Set: intOrZero(&c.Threads)},
		{Env: EnvQueueSize, Flag: "queue-size", Default: strconv.Itoa(engine.DefaultQueueSize), Help: "requests that may wait for the engine; more are refused at once as overloaded (HTTP 429)",
			Set: settings.Int(&c.QueueSize)},
		{Env: EnvQueueTokens, Flag: "queue-tokens", Default: strconv.Itoa(engine.DefaultQueueTokens), Help: "prompt tokens the waiting requests may hold together; more are refused at once as overloaded (HTTP 429)",
			Set: settings.Int(&c.QueueTokens)},
		{Env: EnvMaxBatch, Flag: "max-batch", Default: strconv.Itoa(engine.DefaultMaxRunning), Help: "sequences generated together in one batch; more requests wait in the queue",
			Set: settings.Int(&c.MaxBatch)},
		{Env: EnvMaxTokens, Flag: "max-tokens", Default: "2048", Help: "longest reply a request may ask for, and the length of one that names none",
			Set: settings.Int(&c.MaxTokens)},
		{Env: EnvKVMemory, Flag: "kv-memory", Help: "KV cache budget such as 2GiB; empty lets the engine take a share of the memory available",
			Set: byteSize(&c.KVMemory)},
		{Env: EnvKVType, Flag: "kv-type", Default: "f16", Help: "KV cache element type: f16 or f32 (f32 reproduces the reference outputs bit for bit)",
			Set: kvType(&c.KVType)},
		{Env: EnvAPIKey, Flag: "api-key", Secret: true, Help: "bearer token the OpenAI-compatible API requires; empty leaves it open",
			Set: settings.String(&c.APIKey)},
	}
}

// intOrZero parses a whole number; empty means 0.
func intOrZero(dst *int) func(string) error {
	parse := settings.Int(dst)
	return func(v string) error {
		if strings.TrimSpace(v) == "" {
			*dst = 0
			return nil
		}
		return parse(v)
	}
}

// byteSize parses a size with bytesize.Parse; empty means 0.
func byteSize(dst *int64) func(string) error {
	return func(v string) error {
		if strings.TrimSpace(v) == "" {
			*dst = 0
			return nil
		}
		n, err := bytesize.Parse(v)
		if err != nil {
			return errors.New("not a size such as 512MiB, 4GiB or 2GB")
		}
		*dst = n
		return nil
	}
}

func kvType(dst *kvcache.Type) func(string) error {
	return func(v string) error {
		t, err := kvcache.ParseType(v)
		if err != nil {
			return errors.New("want f16 or f32")
		}
		*dst = t
		return nil
	}
}

// Validate checks the values that parse but cannot work, and that a
// configured model file exists and is a file; Verify opens it.
func (c Config) Validate() error {
	var errs []error
	if c.Path != "" {
		if err := checkFile(c.Path); err != nil {
			errs = append(errs, settings.Problem{Env: EnvModel, Err: err})
		}
	}
	if c.Threads < 0 {
		errs = append(errs, settings.Bad(EnvThreads, "%d: must not be negative", c.Threads))
	}
	if c.QueueSize < 1 || c.QueueSize > MaxQueueSize {
		errs = append(errs, settings.Bad(EnvQueueSize, "%d: want 1 to %d", c.QueueSize, MaxQueueSize))
	}
	if c.QueueTokens < 1 || c.QueueTokens > MaxQueueTokens {
		errs = append(errs, settings.Bad(EnvQueueTokens, "%d: want 1 to %d", c.QueueTokens, MaxQueueTokens))
	}
	if c.MaxBatch < 1 || c.MaxBatch > MaxMaxBatch {
		errs = append(errs, settings.Bad(EnvMaxBatch, "%d: want 1 to %d", c.MaxBatch, MaxMaxBatch))
	}
	if c.MaxTokens < 1 || c.MaxTokens > MaxMaxTokens {
		errs = append(errs, settings.Bad(EnvMaxTokens, "%d: want 1 to %d", c.MaxTokens, MaxMaxTokens))
	}
	if c.KVMemory < 0 {
		errs = append(errs, settings.Bad(EnvKVMemory, "%d: must not be negative", c.KVMemory))
	}
	return errors.Join(errs...)
}

// Verify opens a configured model as New does and reports what New would
// refuse. The demo model is not written.
func (c Config) Verify(context.Context) error {
	if c.Path == "" {
		return nil
	}
	if _, err := Inspect(c.Path); err != nil {
		return settings.Problem{Env: EnvModel, Err: err}
	}
	return nil
}
