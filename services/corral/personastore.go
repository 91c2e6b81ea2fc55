package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/corral-ai/corral/persona/store"
	"github.com/corral-ai/corral/services/internal/backends"
	"github.com/corral-ai/corral/services/internal/lifecycle"
	"github.com/corral-ai/corral/services/internal/secretkey"
	"github.com/corral-ai/corral/services/internal/settings"
)

// How the commands that work on the persona store (creator, channel) reach
// Redis:
//
//   - REDIS_URL (or --redis) set: that server.
//   - Otherwise the data lives in the embedded Redis of `serve`, kept in the
//     data folder. If another corral process holds the folder's lock, it
//     publishes its server's address in the folder
//     (backends.RedisAddrFile) and the command talks to that server. If
//     nobody holds the lock, the command takes it and runs the embedded
//     server on the folder itself for its duration, snapshot included.

// storeKeyPrefix starts every Redis key the commands use: the store's
// default, as the roles use it. Tests on a shared Redis change it.
var storeKeyPrefix = store.DefaultPrefix

// addrWait is how long a command waits for the process holding the data
// folder's lock to publish its Redis address (it may be starting up).
var addrWait = 10 * time.Second

// errNoDataDir means the data folder does not exist: nothing is stored yet.
var errNoDataDir = errors.New("no data folder")

// storeConfig is the configuration of a persona-store command: where the
// store is and, for channel commands, the key that seals access tokens.
type storeConfig struct {
	DataDir   string
	SecretKey []byte
	Backends  backends.Config
	withKey   bool
}

func (c *storeConfig) Settings() []settings.Setting {
	out := []settings.Setting{dataDirSetting(&c.DataDir)}
	if c.withKey {
		out = append(out, secretkey.Setting(&c.SecretKey))
	}
	return out
}

func (c storeConfig) Validate() error {
	if c.DataDir == "" {
		return settings.Bad(envDataDir, "must not be empty")
	}
	return nil
}

// storeCommand is a subcommand that works on the persona store: its flags
// and the settings that say where the store is.
type storeCommand struct {
	*cmdFlags
	cfg    *storeConfig
	cat    *settings.Catalogue
	stderr io.Writer
}

// whereHelp ends the help of every persona-store command.
const whereHelp = "The data is in Redis: REDIS_URL (--redis) when set; otherwise the embedded Redis of `corral serve` " +
	"in the data folder (--data, CORRAL_DATA_DIR). While serve runs on that folder the command talks to serve's server, " +
	"at the address serve publishes in the folder; when none runs, the command opens the folder itself."

// newStoreCommand returns the flag set of a persona-store subcommand with
// the settings of where the store is (and the secret key when withKey).
// Define the command's own flags on it, then call parse.
func newStoreCommand(name string, stderr io.Writer, synopsis, about string, withKey bool) *storeCommand {
	cfg := &storeConfig{Backends: backends.DefaultConfig(), withKey: withKey}
	if about != "" {
		about += "\n"
	}
	c := &storeCommand{
		cmdFlags: newFlags(name, stderr, synopsis, about+whereHelp),
		cfg:      cfg,
		cat:      settings.New(cfg, cfg.Backends.For(backends.Needs{Redis: true})),
		stderr:   stderr,
	}
	c.cat.Bind(c.FlagSet, os.Getenv)
	return c
}

// parse parses the command line (see cmdFlags.parse) and the settings.
func (c *storeCommand) parse(args []string, want ...string) error {
	if err := c.cmdFlags.parse(args, want...); err != nil {
		return err
	}
	if err := c.cat.Apply(c.FlagSet); err != nil {
		return usageError{"configuration: " + err.Error()}
	}
	c.cfg.Backends.DataDir = c.cfg.DataDir
	return nil
}

// requireKey is a usage error when no secret key is configured.
func (c *storeCommand) requireKey(why string) error {
	if c.cfg.SecretKey != nil {
		return nil
	}
	return usageError{fmt.Sprintf("%s needs %s, the key that seals channel access tokens, and it is not set: "+
		"make one with `corral channel keygen` (or `openssl rand -hex 32`), keep it safe, and set it for this command "+
		"and for every corral process that handles channels", why, secretkey.Env)}
}

// backend is a reachable Redis for one command.
type backend struct {
	url     string
	release func() error
}

// connect finds the Redis the command works on. create says whether a
// missing data folder is made (for commands that add something) or is
// errNoDataDir. release undoes what connect started.
func (c *storeCommand) connect(ctx context.Context, create bool) (backend, error) {
	if c.cfg.Backends.RedisURL != "" {
		return backend{url: c.cfg.Backends.RedisURL, release: func() error { return nil }}, nil
	}
	dir := c.cfg.DataDir
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if !create {
			return backend{}, fmt.Errorf("%w at %s: nothing is stored there yet (give the --data, or CORRAL_DATA_DIR, that serve uses)", errNoDataDir, dir)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return backend{}, fmt.Errorf("data folder: %w", err)
		}
	} else if err != nil {
		return backend{}, fmt.Errorf("data folder: %w", err)
	}
	deadline := time.Now().Add(addrWait)
	for {
		unlock, err := lockDataDir(dir)
		if err == nil {
			return c.embed(ctx, unlock)
		}
		var inUse inUseError
		if !errors.As(err, &inUse) {
			return backend{}, err
		}
		addr, err := backends.ReadRedisAddr(dir)
		if err == nil {
			return backend{url: "redis://" + addr, release: func() error { return nil }}, nil
		}
		if !errors.Is(err, backends.ErrNoRedisAddr) {
			return backend{}, err
		}
		if time.Now().After(deadline) {
			return backend{}, fmt.Errorf("data folder %s is in use by another corral process that publishes no Redis address in %s: "+
				"it runs with REDIS_URL (give this command the same REDIS_URL), runs no Redis (such as `corral models`), or is still starting",
				dir, backends.RedisAddrFile(dir))
		}
		select {
		case <-ctx.Done():
			return backend{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// embed runs the embedded Redis on the data folder, whose lock the caller
// took, until release; it publishes its address as serve's does, so other
// commands started meanwhile find it.
func (c *storeCommand) embed(ctx context.Context, unlock func() error) (backend, error) {
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	g := lifecycle.NewGroup(ctx, log)
	g.OnStop("data folder lock", func(context.Context) error { return unlock() })
	release := func() error {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return g.Stop(stopCtx)
	}
	b, err := backends.Start(ctx, c.cfg.Backends, backends.Needs{Redis: true}, log, g)
	if err != nil {
		return backend{}, errors.Join(c.cat.Explain(err), release())
	}
	return backend{url: b.RedisURL, release: release}, nil
}

// stores are the persona store opened for one command: plain without the
// secret key (reads that never need a token: a channel read there has an
// empty AccessToken) and sealed with it, nil when no key is set.
type stores struct {
	plain, sealed *store.Store
}

// open opens the persona store at b, with the secret key when key is set.
func (c *storeCommand) open(ctx context.Context, b backend, key []byte) (*store.Store, error) {
	s, err := store.Open(ctx, store.Config{URL: b.url, Prefix: storeKeyPrefix, SecretKey: key}, nil, nil)
	if err != nil {
		if c.cfg.Backends.RedisURL != "" {
			return nil, c.cat.Explain(settings.Problem{Env: backends.EnvRedisURL, Err: err})
		}
		return nil, err
	}
	return s, nil
}

// withStore runs fn on the persona store, then closes it and releases what
// connect started.
func (c *storeCommand) withStore(ctx context.Context, create bool, fn func(st stores) error) (err error) {
	b, err := c.connect(ctx, create)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := b.release(); rerr != nil {
			err = errors.Join(err, fmt.Errorf("close the data folder: %w", rerr))
		}
	}()
	var st stores
	if st.plain, err = c.open(ctx, b, nil); err != nil {
		return err
	}
	defer st.plain.Close()
	if c.cfg.SecretKey != nil {
		if st.sealed, err = c.open(ctx, b, c.cfg.SecretKey); err != nil {
			return err
		}
		defer st.sealed.Close()
	}
	return fn(st)
}

// storeError turns the store's errors about bad arguments into usage
// errors and explains those about the secret key; the rest stay errors
// while running.
func storeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrInvalidArgument):
		return usageError{err.Error()}
	}
	return secretkey.Explain(err)
}
