// Package embedded runs Corral's backends inside the process for one-command
// runs: a real nats-server with JetStream on a data folder, and a
// Redis-protocol server whose contents survive a restart. Production
// deployments point NATS_URL and REDIS_URL at real servers instead.
package embedded

import "errors"

// ErrListen means an embedded server could not listen on its address (in
// use, or not this machine's).
var ErrListen = errors.New("cannot listen")
