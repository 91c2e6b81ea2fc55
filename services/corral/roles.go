package main

import (
	"context"
	"io"

	"github.com/corral-ai/corral/services/chat"
	"github.com/corral-ai/corral/services/gateway"
	"github.com/corral-ai/corral/services/inference"
	"github.com/corral-ai/corral/services/internal/role"
	"github.com/corral-ai/corral/services/sender"
	"github.com/corral-ai/corral/services/studio"
)

// roles lists every role, in start order; `corral serve` runs them all and
// `corral NAME` one. A new role adds its Definition here.
var roles = []role.Definition{
	inference.Definition,
	gateway.Definition,
	chat.Definition,
	sender.Definition,
	studio.Definition,
}

// roleCommands is the subcommand of each role.
func roleCommands() map[string]command {
	out := make(map[string]command, len(roles))
	for _, d := range roles {
		out[d.Name] = command{summary: d.Summary, run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return runRoles(ctx, d.Name, []role.Definition{d}, d.Needs, args, stdout, stderr)
		}}
	}
	return out
}
