package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// commandKind is a command a user can type.
type commandKind int

const (
	cmdHelp        commandKind = iota + 1 // /help
	cmdReset                              // /reset: forget the history
	cmdListPersona                        // /persona: list public personas
	cmdPickPersona                        // /persona @handle: switch
	cmdUnknown                            // any other /word
)

// command is a parsed command.
type command struct {
	kind   commandKind
	handle string // for cmdPickPersona, without the "@"
	name   string // the command as typed, for cmdUnknown
}

// maxCommandLen bounds what can be a command; longer texts starting with
// "/" are ordinary messages (a path, a fraction, a smiley).
const maxCommandLen = 80

// parseCommand reads a command from a message's text. Only a text that
// starts with "/" and a word of letters (then digits or '_') is one; case
// is ignored.
func parseCommand(text string) (command, bool) {
	text = strings.TrimSpace(text)
	if len(text) < 2 || len(text) > maxCommandLen || text[0] != '/' {
		return command{}, false
	}
	fields := strings.Fields(text[1:])
	if len(fields) == 0 || !strings.HasPrefix(text[1:], fields[0]) {
		return command{}, false
	}
	name := strings.ToLower(fields[0])
	if !commandWord(name) {
		return command{}, false
	}
	args := fields[1:]
	switch {
	case name == "help" || name == "start":
		return command{kind: cmdHelp}, true
	case name == "reset" && len(args) == 0:
		return command{kind: cmdReset}, true
	case name == "persona" && len(args) == 0:
		return command{kind: cmdListPersona}, true
	case name == "persona" && len(args) == 1:
		return command{kind: cmdPickPersona, handle: strings.TrimPrefix(args[0], "@")}, true
	}
	return command{kind: cmdUnknown, name: "/" + name}, true
}

// commandWord reports whether w can name a command: a letter, then
// letters, digits or '_' ("/usr/bin" and "/5" are not commands).
func commandWord(w string) bool {
	for i, r := range w {
		if !(r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '_')) {
			return false
		}
	}
	return w != ""
}

// Texts the chat role answers with by itself.
const (
	helpText = "Commands:\n" +
		"/help – this list\n" +
		"/reset – forget our conversation so far\n" +
		"/persona – who you can talk to\n" +
		"/persona @handle – talk to someone else"
	resetText      = "Done: I have forgotten our conversation so far."
	textOnlyNote   = "Sorry, I can only read text messages. Please write to me instead."
	rateNoticeText = "You are sending messages faster than I can answer. Please wait a minute, then write again."
	aiNotice       = "(You are chatting with an AI assistant.)"
	noReplyText    = "Sorry, I have no answer to that right now."
	directoryPage  = 10
)

// runCommand carries out cmd in conv and returns the answer.
func (r *Role) runCommand(ctx context.Context, conv corralv1.Conversation, cmd command, current persona.Version) (string, error) {
	switch cmd.kind {
	case cmdHelp:
		return helpText, nil
	case cmdReset:
		if err := r.store.ResetHistory(ctx, conv); err != nil {
			return "", err
		}
		return resetText, nil
	case cmdListPersona:
		return r.listPersonas(ctx, current)
	case cmdPickPersona:
		return r.pickPersona(ctx, conv, cmd.handle)
	}
	return fmt.Sprintf("I don't know the command %s. %s", cmd.name, "Type /help to see the commands."), nil
}

func (r *Role) listPersonas(ctx context.Context, current persona.Version) (string, error) {
	ls, err := r.store.Directory(ctx, "", directoryPage)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "You are talking to %s.", current.Spec.Name)
	if len(ls) == 0 {
		b.WriteString(" There is nobody else to talk to yet.")
		return b.String(), nil
	}
	b.WriteString(" You can also talk to:")
	for _, l := range ls {
		fmt.Fprintf(&b, "\n@%s – %s", l.Handle, l.Version.Spec.Name)
		if d := strings.TrimSpace(l.Version.Spec.Description); d != "" {
			b.WriteString(": " + d)
		}
	}
	b.WriteString("\nType /persona @handle to switch.")
	return b.String(), nil
}

func (r *Role) pickPersona(ctx context.Context, conv corralv1.Conversation, handle string) (string, error) {
	v, err := r.personas.ByHandle(ctx, handle)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrNotPublished):
		return fmt.Sprintf("I don't know anyone called @%s. Type /persona to see who you can talk to.", handle), nil
	case err != nil:
		return "", err
	}
	if err := r.store.SetChoice(ctx, conv, v.PersonaID); err != nil {
		return "", err
	}
	out := fmt.Sprintf("You are now talking to %s.", v.Spec.Name)
	if g := strings.TrimSpace(v.Spec.Greeting); g != "" {
		out += "\n\n" + g
	}
	return out, nil
}
