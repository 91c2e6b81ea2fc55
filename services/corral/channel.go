package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/secretkey"
)

// channelCommands are the subcommands of `corral channel`.
var channelCommands = map[string]command{
	"add":    {"add a WhatsApp number or Messenger page with its access token (sealed with CORRAL_SECRET_KEY)", runChannelAdd},
	"list":   {"list channels and the persona answering on each; tokens are never shown", runChannelList},
	"bind":   {"choose the persona that answers on a channel (--persona ID|@handle, or --default)", runChannelBind},
	"remove": {"remove a channel and its access token", runChannelRemove},
	"keygen": {"print a new random CORRAL_SECRET_KEY", runChannelKeygen},
}

// runChannel dispatches `corral channel <subcommand> ...`.
func runChannel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "channel", channelCommands, args, stdout, stderr)
}

// channelFlags are the flags that name a channel.
type channelFlags struct {
	platform, id *string
}

func addChannelFlags(c *storeCommand) channelFlags {
	return channelFlags{
		platform: c.String("platform", "", "whatsapp or messenger (required)"),
		id: c.String("id", "", "the WhatsApp phone number ID or the Facebook Page ID, as webhooks carry it "+
			"(digits; not the phone number itself) (required)"),
	}
}

// channel checks the flags and returns the channel they name.
func (f channelFlags) channel() (corralv1.Platform, string, error) {
	p, err := parsePlatform(*f.platform)
	if err != nil {
		return 0, "", err
	}
	if err := checkChannelID(*f.id); err != nil {
		return 0, "", err
	}
	return p, *f.id, nil
}

// parsePlatform reads --platform.
func parsePlatform(s string) (corralv1.Platform, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "whatsapp":
		return corralv1.Platform_PLATFORM_WHATSAPP, nil
	case "messenger":
		return corralv1.Platform_PLATFORM_MESSENGER, nil
	case "":
		return 0, usageError{"--platform is required: whatsapp or messenger"}
	}
	return 0, usageError{fmt.Sprintf("--platform %q: want whatsapp or messenger", s)}
}

// maxChannelID bounds --id; Meta's ids are 15 to 17 digits today.
const maxChannelID = 32

// checkChannelID checks --id: Meta's phone number and Page ids are digits.
func checkChannelID(id string) error {
	switch {
	case id == "":
		return usageError{"--id is required: the WhatsApp phone number ID or the Facebook Page ID"}
	case len(id) > maxChannelID || strings.Trim(id, "0123456789") != "":
		return usageError{fmt.Sprintf("--id %q: want up to %d digits, the phone number ID (WhatsApp Manager, API setup) "+
			"or the Page ID, not the phone number or the page's name", id, maxChannelID)}
	}
	return nil
}

// channelName names a channel in messages.
func channelName(p corralv1.Platform, id string) string {
	return corralv1.PlatformToken(p) + " channel " + id
}

// maxAccessToken bounds an access token; Meta's are a few hundred
// characters.
const maxAccessToken = 4096

// readAccessToken reads an access token: one line of printable ASCII
// without spaces, surrounding white space ignored. Errors never show the
// input.
func readAccessToken(r io.Reader) (store.Secret, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxAccessToken+2))
	if err != nil {
		return "", fmt.Errorf("read access token: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	switch {
	case tok == "":
		return "", errors.New("access token is empty")
	case len(tok) > maxAccessToken:
		return "", fmt.Errorf("access token is longer than %d characters: is this the right file?", maxAccessToken)
	case strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r >= 0x7f }):
		return "", errors.New("access token holds spaces, line breaks or characters other than printable ASCII: want the token alone")
	}
	return store.Secret(tok), nil
}

// tokenFrom reads the access token from --token-file: a file, or - for
// standard input (stdin, as `generate --prompt-file -` reads it; at a
// terminal, one line read without echo).
func tokenFrom(path string, stderr io.Writer) (store.Secret, error) {
	if path == "" {
		return "", usageError{"--token-file is required: a file holding the access token, or - to read it from standard input " +
			"(the token is never taken on the command line, where shell history and process listings would keep it)"}
	}
	if path == "-" {
		r := stdin
		if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			// Typed or pasted at a terminal: one line, not echoed.
			fmt.Fprint(stderr, "access token (not shown; then Enter): ")
			line, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(stderr)
			if err != nil {
				return "", fmt.Errorf("read access token: %w", err)
			}
			r = bytes.NewReader(line)
		}
		tok, err := readAccessToken(r)
		if err != nil {
			return "", usageError{fmt.Sprintf("--token-file -: %v", err)}
		}
		return tok, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", usageError{fmt.Sprintf("--token-file: %v", err)}
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return "", usageError{fmt.Sprintf("--token-file %s is a folder, want a file holding the access token", path)}
	}
	tok, err := readAccessToken(f)
	if err != nil {
		return "", usageError{fmt.Sprintf("--token-file %s: %v", path, err)}
	}
	return tok, nil
}

// personaRef is what --persona names.
type personaRef struct {
	id, handle string
	builtin    bool // the built-in default persona
}

// parsePersonaRef reads --persona: a persona id (p_...), @handle or a bare
// handle; the built-in default persona's id or handle means no binding.
func parsePersonaRef(s string) (personaRef, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return personaRef{}, usageError{"--persona is empty: give a persona id, @handle, or use --default"}
	case s == persona.DefaultID || persona.HandleKey(s) == persona.DefaultHandle:
		return personaRef{builtin: true}, nil
	case strings.HasPrefix(s, "p_"):
		return personaRef{id: s}, nil
	}
	h := strings.TrimPrefix(s, "@")
	if err := persona.ValidateHandle(h); err != nil {
		return personaRef{}, usageError{fmt.Sprintf("--persona %q is neither a persona id (p_...) nor a handle: %v", s, err)}
	}
	return personaRef{handle: h}, nil
}

// resolve finds the persona ref names; the built-in one is the zero
// Persona.
func (r personaRef) resolve(ctx context.Context, s *store.Store) (persona.Persona, error) {
	var p persona.Persona
	var err error
	switch {
	case r.builtin:
		return persona.Persona{}, nil
	case r.id != "":
		p, err = s.Inspect(ctx, r.id)
	default:
		p, err = s.InspectHandle(ctx, r.handle)
	}
	if errors.Is(err, store.ErrNotFound) {
		return persona.Persona{}, fmt.Errorf("no persona %s: see the studio or the creator's personas for its id or handle", r)
	}
	return p, err
}

func (r personaRef) String() string {
	switch {
	case r.builtin:
		return "@" + persona.DefaultHandle
	case r.id != "":
		return r.id
	}
	return "@" + r.handle
}

// describePersona says who answers when persona p (the zero Persona for
// the built-in one) is bound.
func describePersona(p persona.Persona) string {
	switch {
	case p.ID == "":
		return "the built-in default persona (@" + persona.DefaultHandle + ")"
	case p.Published == 0:
		return fmt.Sprintf("@%s (%s), not published yet: the built-in default persona answers until it is", p.Handle, p.ID)
	}
	return fmt.Sprintf("@%s (%s), version %d", p.Handle, p.ID, p.Published)
}

// runChannelAdd implements `corral channel add`.
func runChannelAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newStoreCommand("channel add", stderr,
		"corral channel add --platform whatsapp|messenger --id PHONE_NUMBER_ID|PAGE_ID --token-file FILE|- [--name N] [--persona ID|@handle] [--owner CREATOR_ID] [--replace]",
		"Adds a channel with the access token the Send API needs there, sealed with "+secretkey.Env+" (AES-256-GCM) before it is stored. "+
			"The token is read from a file or from standard input (--token-file -), never from the command line. "+
			"Without --persona the built-in default persona answers on the channel.\n"+
			secretkey.Env+": "+secretkey.Help+".", true)
	cf := addChannelFlags(c)
	tokenFile := c.String("token-file", "", "file holding the access token, or - for standard input (required)")
	name := c.String("name", "", "a label for the channel, for people")
	ref := c.String("persona", "", "persona that answers on the channel: its id or @handle (default: the built-in default persona)")
	owner := c.String("owner", "", "creator id allowed to bind their own personas to the channel (from the studio)")
	c.hideArgs = true // a token typed on the command line is not echoed
	replace := c.Bool("replace", false, "replace the access token (and --name, --owner when given) of a channel that exists; its binding stays unless --persona is given")
	if err := c.parse(args); err != nil {
		return err
	}
	p, id, err := cf.channel()
	if err != nil {
		return err
	}
	var pref *personaRef
	if set(c.FlagSet, "persona") {
		r, err := parsePersonaRef(*ref)
		if err != nil {
			return err
		}
		pref = &r
	}
	if err := c.requireKey("channel add"); err != nil {
		return err
	}
	token, err := tokenFrom(*tokenFile, stderr)
	if err != nil {
		return err
	}
	return c.withStore(ctx, true, func(st stores) error {
		ch := store.Channel{Platform: p, ID: id, Name: *name, OwnerID: *owner, AccessToken: token}
		old, err := st.plain.Channel(ctx, p, id)
		switch {
		case err == nil && !*replace:
			return fmt.Errorf("%s exists (added %s); pass --replace to change its access token", channelName(p, id), when(old.CreatedAt))
		case err == nil:
			if !set(c.FlagSet, "name") {
				ch.Name = old.Name
			}
			if !set(c.FlagSet, "owner") {
				ch.OwnerID = old.OwnerID
			}
		case !errors.Is(err, store.ErrNotFound):
			return storeError(err)
		}
		exists := err == nil
		if ch.OwnerID != "" {
			if err := checkOwner(ctx, st.plain, ch.OwnerID); err != nil {
				return err
			}
		}
		var bound persona.Persona
		if pref != nil {
			if bound, err = pref.resolve(ctx, st.plain); err != nil {
				return err
			}
		}
		if _, err := st.sealed.PutChannel(ctx, ch); err != nil {
			return storeError(err)
		}
		if pref != nil {
			if err := st.plain.Bind(ctx, store.Operator, p, id, bound.ID); err != nil {
				return fmt.Errorf("%s was stored but not bound: %w", channelName(p, id), storeError(err))
			}
		}
		verb := "added"
		if exists {
			verb = "replaced the access token of"
		}
		fmt.Fprintf(stdout, "%s %s", verb, channelName(p, id))
		if ch.Name != "" {
			fmt.Fprintf(stdout, " (%s)", ch.Name)
		}
		switch {
		case pref != nil:
			fmt.Fprintf(stdout, "; answering there: %s\n", describePersona(bound))
		case !exists:
			fmt.Fprintf(stdout, "; the built-in default persona answers there until you bind one with `corral channel bind`\n")
		default:
			fmt.Fprintln(stdout, "; its binding is unchanged")
		}
		return nil
	})
}

// checkOwner checks that a channel's owner is an active creator.
func checkOwner(ctx context.Context, s *store.Store, id string) error {
	cr, err := s.Creator(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("--owner: no creator %q (see `corral creator list`)", id)
	}
	if err != nil {
		return err
	}
	if cr.Revoked() {
		return fmt.Errorf("--owner: creator %s (%s) was revoked on %s; a channel cannot be assigned to it", cr.ID, cr.Name, when(cr.RevokedAt))
	}
	return nil
}

// set reports whether the flag name was given on the command line.
func set(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// runChannelList implements `corral channel list`.
func runChannelList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newStoreCommand("channel list", stderr, "corral channel list [flags]",
		"Lists channels: platform, id, name, owner, the persona answering there, and the access token's state, never the token: "+
			"\"sealed\" (no "+secretkey.Env+" set here), \"sealed, key ok\" (it opens with the key set) or \"sealed, other key\" (it does not).", true)
	if err := c.parse(args); err != nil {
		return err
	}
	err := c.withStore(ctx, false, func(st stores) error {
		chs, err := st.plain.Channels(ctx)
		if err != nil {
			return err
		}
		if len(chs) == 0 {
			fmt.Fprintln(stderr, "no channels yet; add one with `corral channel add`")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PLATFORM\tID\tNAME\tOWNER\tPERSONA\tTOKEN")
		for _, ch := range chs {
			who, err := boundLabel(ctx, st.plain, ch.PersonaID)
			if err != nil {
				return err
			}
			tok, err := tokenState(ctx, st.sealed, ch)
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", corralv1.PlatformToken(ch.Platform), ch.ID, orDash(ch.Name), orDash(ch.OwnerID), who, tok)
		}
		return tw.Flush()
	})
	if errors.Is(err, errNoDataDir) {
		fmt.Fprintf(stderr, "no channels: %v\n", err)
		return nil
	}
	return err
}

// boundLabel says in a few words which persona answers on a channel bound
// to id.
func boundLabel(ctx context.Context, s *store.Store, id string) (string, error) {
	if id == "" {
		return "default (@" + persona.DefaultHandle + ")", nil
	}
	p, err := s.Inspect(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return id + " (deleted: default answers)", nil
	case err != nil:
		return "", err
	case p.Published == 0:
		return fmt.Sprintf("@%s %s (unpublished: default answers)", p.Handle, p.ID), nil
	}
	return fmt.Sprintf("@%s %s v%d", p.Handle, p.ID, p.Published), nil
}

// tokenState says whether a channel's sealed token opens with the key set
// (sealed is the store opened with it, nil when none is), without showing
// the token.
func tokenState(ctx context.Context, sealed *store.Store, ch store.Channel) (string, error) {
	if sealed == nil {
		return "sealed", nil
	}
	_, err := sealed.Channel(ctx, ch.Platform, ch.ID)
	switch {
	case err == nil:
		return "sealed, key ok", nil
	case errors.Is(err, store.ErrSealed):
		return "sealed, other key", nil
	case errors.Is(err, store.ErrNotFound):
		return "removed meanwhile", nil
	}
	return "", err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// runChannelBind implements `corral channel bind`.
func runChannelBind(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newStoreCommand("channel bind", stderr,
		"corral channel bind --platform whatsapp|messenger --id ID (--persona ID|@handle | --default)",
		"Chooses the persona that answers on a channel: any persona, published or not (until it is published the built-in "+
			"default persona answers), or --default for the built-in one. Users who picked a persona by its handle keep their pick.", false)
	cf := addChannelFlags(c)
	ref := c.String("persona", "", "the persona's id or @handle")
	def := c.Bool("default", false, "let the built-in default persona answer")
	if err := c.parse(args); err != nil {
		return err
	}
	p, id, err := cf.channel()
	if err != nil {
		return err
	}
	var r personaRef
	switch {
	case set(c.FlagSet, "persona") == *def:
		return usageError{"channel bind needs exactly one of --persona ID|@handle and --default"}
	case *def:
		r.builtin = true
	default:
		if r, err = parsePersonaRef(*ref); err != nil {
			return err
		}
	}
	return c.withStore(ctx, false, func(st stores) error {
		if _, err := st.plain.Channel(ctx, p, id); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no %s; add it with `corral channel add` first", channelName(p, id))
		} else if err != nil {
			return storeError(err)
		}
		bound, err := r.resolve(ctx, st.plain)
		if err != nil {
			return err
		}
		if err := st.plain.Bind(ctx, store.Operator, p, id, bound.ID); err != nil {
			return storeError(err)
		}
		fmt.Fprintf(stdout, "%s: answering there: %s\n", channelName(p, id), describePersona(bound))
		return nil
	})
}

// runChannelRemove implements `corral channel remove`.
func runChannelRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newStoreCommand("channel remove", stderr, "corral channel remove --platform whatsapp|messenger --id ID",
		"Removes a channel and its sealed access token. Messages that still arrive for it are answered by the built-in "+
			"default persona, but replies cannot be sent without a token.", false)
	cf := addChannelFlags(c)
	if err := c.parse(args); err != nil {
		return err
	}
	p, id, err := cf.channel()
	if err != nil {
		return err
	}
	return c.withStore(ctx, false, func(st stores) error {
		if err := st.plain.RemoveChannel(ctx, p, id); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no %s (see `corral channel list`)", channelName(p, id))
		} else if err != nil {
			return storeError(err)
		}
		fmt.Fprintf(stdout, "removed %s and its access token\n", channelName(p, id))
		return nil
	})
}

// runChannelKeygen implements `corral channel keygen`.
func runChannelKeygen(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("channel keygen", stderr, "corral channel keygen",
		"Prints a new random "+secretkey.Env+" (64 hex digits; `openssl rand -hex 32` makes one as good).")
	if err := fs.parse(args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, secretkey.Generate())
	fmt.Fprintf(stderr, "Set it as %s for `corral channel` and for every corral process that handles channels, and keep it secret. "+
		"Changing it later makes the stored access tokens unreadable: add each channel again with --replace.\n", secretkey.Env)
	return nil
}
