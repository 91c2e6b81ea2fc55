// Package role is the shape every Corral role has, so one binary can run
// them all (`corral serve`) or one (`corral NAME`) through the same code.
//
// A role is built from its own configuration and the shared Deps, adds its
// HTTP routes, runs until its context ends and reports readiness checks:
//
//	definition → Prepare (defaults) → settings parsed into the config →
//	Validate → New(deps) → Routes(mux) → Run(ctx) in a goroutine → Checks()
//
// A role package exports a Definition made with Define, and the binary's
// list of roles (services/corral) holds it; nothing else imports a role.
package role

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/corral-ai/corral/services/internal/backends"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/settings"
)

// Role is one built role.
type Role interface {
	// Routes adds the role's HTTP handlers to mux (method and path
	// patterns, such as "GET /models"). It is called once, before Run.
	Routes(mux *http.ServeMux)
	// Run does the role's work until ctx ends, then finishes or hands
	// back in-flight work, releases everything the role holds (including
	// what New acquired) and returns nil. An error returned earlier means
	// the role failed, and the process shuts down. Run is called exactly
	// once for every role New returned.
	Run(ctx context.Context) error
	// Checks are the role's readiness checks by name, served on /readyz;
	// nil from a check means ready. Names are unique within a process.
	Checks() map[string]Check
}

// Check is a readiness check: nil when ready, otherwise why not.
type Check = func(ctx context.Context) error

// Deps are what a role is built with besides its own configuration. Backends
// a role did not declare in its Needs are nil.
type Deps struct {
	// Logger is the process logger, scoped to the role ("role" attribute).
	Logger *slog.Logger
	// Meter is the meter provider; name meters after the package path.
	Meter metric.MeterProvider
	// Tracer is the tracer provider; name tracers after the package path.
	Tracer trace.TracerProvider
	// DataDir is the process's data folder; a role keeps its files in a
	// folder named for the role inside it.
	DataDir string
	// NATS is the shared NATS connection.
	NATS *nats.Conn
	// JetStream is the JetStream context on NATS.
	JetStream jetstream.JetStream
	// Streams names Corral's streams and subjects (CHAT_IN, CHAT_OUT,
	// CHAT_DLQ), which exist when the role starts.
	Streams natsbus.StreamsConfig
	// Redis is the shared Redis client.
	Redis redis.UniversalClient
}

// Needs says which backends a role uses.
type Needs = backends.Needs

// Verifier is implemented by a role configuration with checks too deep for
// Validate (opening a model file, say): what New would refuse, found without
// starting anything. `--check-config` runs it.
type Verifier interface {
	Verify(ctx context.Context) error
}

// Definition tells the binary how to configure and build one role.
type Definition struct {
	// Name is the role's name: its subcommand (`corral NAME`) and the
	// "role" attribute of its logs. Lowercase letters only.
	Name string
	// Summary is one line for `corral help`.
	Summary string
	// Needs lists the backends the role uses; `corral NAME` starts only
	// these (`corral serve` starts them all).
	Needs Needs
	// Prepare returns a fresh configuration holding the role's defaults.
	Prepare func() Prepared
}

// Prepared is one role's configuration, ready to have its settings parsed
// into it, and how to build the role from it afterwards.
type Prepared struct {
	// Config is the role's configuration: its settings, bound to it, and
	// its validation. The binary adds the settings to its catalogue.
	Config settings.Component
	// Verify is the configuration's deep check (see Verifier); nil when it
	// has none.
	Verify func(ctx context.Context) error
	// New builds the role from the configuration as parsed. It must not
	// start goroutines (Run does), and releases what it acquired when it
	// fails.
	New func(deps Deps) (Role, error)
}

// Define makes a role's Definition from its typed parts: defaults returns
// its default Config, newRole builds it. *C must declare the settings
// (settings.Component); it may also implement Verifier.
func Define[C any, PC interface {
	*C
	settings.Component
}, R Role](name, summary string, needs Needs, defaults func() C, newRole func(C, Deps) (R, error)) Definition {
	return Definition{Name: name, Summary: summary, Needs: needs, Prepare: func() Prepared {
		cfg := new(C)
		*cfg = defaults()
		p := Prepared{
			Config: PC(cfg),
			New: func(deps Deps) (Role, error) {
				r, err := newRole(*cfg, deps)
				if err != nil {
					return nil, err
				}
				return r, nil
			},
		}
		if v, ok := any(PC(cfg)).(Verifier); ok {
			p.Verify = v.Verify
		}
		return p
	}}
}
