package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
)

func TestCreatorsAndTokens(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	alice, tok := newCreator(t, e.s, "  Alice  ")
	if alice.Name != "Alice" || alice.Revoked() || !strings.HasPrefix(tok, store.TokenPrefix) {
		t.Fatalf("created %+v with token %q", alice, tok)
	}
	got, err := e.s.Authenticate(ctx, tok)
	if err != nil || got.ID != alice.ID {
		t.Fatalf("Authenticate() = %+v, %v", got, err)
	}
	second, err := e.s.NewToken(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if second == tok {
		t.Fatal("NewToken() repeated the first token")
	}
	bob, bobTok := newCreator(t, e.s, "Bob")

	// Only hashes are stored.
	dump := e.dump(t)
	for _, secret := range []string{tok, second, bobTok, tok[len(tok)-64:], second[len(second)-64:]} {
		if strings.Contains(dump, secret) {
			t.Fatalf("Redis holds a token or its secret:\n%s", dump)
		}
	}

	// A token with one changed character of its secret, of its id, a
	// truncated one, another prefix, and empty input all fail.
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	for name, bad := range map[string]string{
		"changed secret": flip(tok, len(tok)-1),
		"changed id":     flip(tok, len(store.TokenPrefix)+3),
		"truncated":      tok[:len(tok)-1],
		"other prefix":   "xyz_" + tok[4:],
		"empty":          "",
		"bearer prefix":  "Bearer " + tok,
		"not hex":        tok[:len(tok)-1] + "z",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := e.s.Authenticate(ctx, bad); !errors.Is(err, store.ErrUnauthenticated) {
				t.Errorf("Authenticate(%q) = %v, want ErrUnauthenticated", bad, err)
			}
		})
	}

	cs, err := e.s.Creators(ctx)
	if err != nil || len(cs) != 2 || !sameIDs([]string{cs[0].ID, cs[1].ID}, []string{alice.ID, bob.ID}) {
		t.Fatalf("Creators() = %+v, %v", cs, err)
	}

	p := mustCreate(t, e.s, alice.ID, "Luna", persona.Public)
	p, _ = mustPublish(t, e.s, p)
	if err := e.s.RevokeCreator(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []string{tok, second} {
		if _, err := e.s.Authenticate(ctx, tk); !errors.Is(err, store.ErrUnauthenticated) {
			t.Errorf("revoked creator's token: %v", err)
		}
	}
	if _, err := e.s.Authenticate(ctx, bobTok); err != nil {
		t.Errorf("another creator's token after a revoke: %v", err)
	}
	if _, err := e.s.NewToken(ctx, alice.ID); !errors.Is(err, store.ErrForbidden) {
		t.Errorf("NewToken() for a revoked creator: %v", err)
	}
	if _, err := e.s.Create(ctx, alice.ID, edit("another")); !errors.Is(err, store.ErrForbidden) {
		t.Errorf("Create() by a revoked creator: %v", err)
	}
	if _, err := e.s.Update(ctx, alice.ID, p.ID, p.Revision, p.Edit()); !errors.Is(err, store.ErrForbidden) {
		t.Errorf("Update() by a revoked creator: %v", err)
	}
	// Published personas of a revoked creator keep answering.
	if _, err := e.s.Live(ctx, p.ID); err != nil {
		t.Errorf("Live() of a revoked creator's persona: %v", err)
	}
	after, err := e.s.Creator(ctx, alice.ID)
	if err != nil || !after.Revoked() {
		t.Errorf("Creator() after revoke = %+v, %v", after, err)
	}
	if err := e.s.RevokeCreator(ctx, "c_unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeCreator(unknown) = %v", err)
	}
}

func TestCreatorNames(t *testing.T) {
	e := newEnv(t)
	for name, bad := range map[string]string{
		"empty":     "",
		"blank":     "   ",
		"too long":  strings.Repeat("n", 61),
		"two lines": "Al\nice",
		"bad UTF-8": "Al\xffice",
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := e.s.CreateCreator(t.Context(), bad); !errors.Is(err, store.ErrInvalidArgument) {
				t.Errorf("CreateCreator(%q) = %v, want ErrInvalidArgument", bad, err)
			}
		})
	}
}
