package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// creatorCommands are the subcommands of `corral creator`.
var creatorCommands = map[string]command{
	"add":    {"create a creator account and print its API token, once (creator add NAME)", runCreatorAdd},
	"list":   {"list creator accounts, revoked ones too", runCreatorList},
	"revoke": {"revoke a creator account: its API tokens stop working at once (creator revoke ID)", runCreatorRevoke},
	"token":  {"issue another API token for a creator whose token was lost (creator token ID)", runCreatorToken},
}

// runCreator dispatches `corral creator <subcommand> ...`.
func runCreator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "creator", creatorCommands, args, stdout, stderr)
}

// tokenNotice is printed to stderr with every new token, which goes to
// stdout alone so that scripts can capture it.
const tokenNotice = "Its API token follows. It is shown only this once and cannot be shown again: store it now " +
	"(the studio signs in with it). If it is lost, `corral creator token %s` issues a new one."

// runCreatorAdd implements `corral creator add NAME`.
func runCreatorAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newStoreCommand("creator add", stderr, "corral creator add [flags] NAME",
		"Creates a creator account named NAME (quote a name with spaces) and prints its API token on stdout. "+
			"The token is shown only this once: Corral keeps nothing but its hash.", false)
	if err := c.parse(args, "NAME"); err != nil {
		return err
	}
	return c.withStore(ctx, true, func(st stores) error {
		cr, token, err := st.plain.CreateCreator(ctx, c.Arg(0))
		if err != nil {
			return storeError(err)
		}
		fmt.Fprintf(stderr, "created creator %s (%s).\n"+tokenNotice+"\n", cr.ID, cr.Name, cr.ID)
		fmt.Fprintln(stdout, token)
		return nil
	})
}

// runCreatorToken implements `corral creator token ID`.
func runCreatorToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newStoreCommand("creator token", stderr, "corral creator token [flags] ID",
		"Issues another API token for the active creator ID and prints it on stdout, once. "+
			"The creator's earlier tokens keep working until the account is revoked.", false)
	if err := c.parse(args, "ID"); err != nil {
		return err
	}
	return c.withStore(ctx, false, func(st stores) error {
		cr, err := st.plain.Creator(ctx, c.Arg(0))
		if err != nil {
			return storeError(err)
		}
		if cr.Revoked() {
			return fmt.Errorf("creator %s (%s) was revoked on %s: a revoked account gets no tokens; add a new creator instead",
				cr.ID, cr.Name, when(cr.RevokedAt))
		}
		token, err := st.plain.NewToken(ctx, cr.ID)
		if err != nil {
			return storeError(err)
		}
		fmt.Fprintf(stderr, "issued a new token for creator %s (%s).\n"+tokenNotice+"\n", cr.ID, cr.Name, cr.ID)
		fmt.Fprintln(stdout, token)
		return nil
	})
}

// runCreatorList implements `corral creator list`.
func runCreatorList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newStoreCommand("creator list", stderr, "corral creator list [flags]",
		"Lists creator accounts, oldest first: id, name, when created, and whether revoked. Tokens are never shown.", false)
	if err := c.parse(args); err != nil {
		return err
	}
	err := c.withStore(ctx, false, func(st stores) error {
		cs, err := st.plain.Creators(ctx)
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			fmt.Fprintln(stderr, "no creators yet; add one with `corral creator add NAME`")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCREATED\tSTATE")
		for _, cr := range cs {
			state := "active"
			if cr.Revoked() {
				state = "revoked " + when(cr.RevokedAt)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cr.ID, cr.Name, when(cr.CreatedAt), state)
		}
		return tw.Flush()
	})
	if errors.Is(err, errNoDataDir) {
		fmt.Fprintf(stderr, "no creators: %v\n", err)
		return nil
	}
	return err
}

// runCreatorRevoke implements `corral creator revoke ID`.
func runCreatorRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newStoreCommand("creator revoke", stderr, "corral creator revoke [flags] ID",
		"Revokes the creator account ID: every API token it has stops working at once and it gets no new ones. "+
			"Its personas stay as they are (published ones keep answering where they are bound), but nobody can change them.", false)
	if err := c.parse(args, "ID"); err != nil {
		return err
	}
	return c.withStore(ctx, false, func(st stores) error {
		cr, err := st.plain.Creator(ctx, c.Arg(0))
		if err != nil {
			return storeError(err)
		}
		if cr.Revoked() {
			fmt.Fprintf(stdout, "creator %s (%s) was already revoked on %s\n", cr.ID, cr.Name, when(cr.RevokedAt))
			return nil
		}
		if err := st.plain.RevokeCreator(ctx, cr.ID); err != nil {
			return storeError(err)
		}
		fmt.Fprintf(stdout, "revoked creator %s (%s): its API tokens no longer work; its personas keep answering but cannot be changed\n", cr.ID, cr.Name)
		return nil
	})
}

// when prints a time for people, in UTC to the second.
func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }
