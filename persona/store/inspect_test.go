package store_test

import (
	"errors"
	"testing"

	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
)

// TestInspect checks the operator's reads: any owner, any visibility,
// published or not, by id and by handle; deleted and unknown ones are not
// found.
func TestInspect(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	alice, _ := newCreator(t, e.s, "Alice")
	private := mustCreate(t, e.s, alice.ID, "Hidden", persona.Private)
	public := mustCreate(t, e.s, alice.ID, "Shown", persona.Public)
	public, _ = mustPublish(t, e.s, public)
	gone := mustCreate(t, e.s, alice.ID, "Gone", persona.Public)
	if err := e.s.Delete(ctx, alice.ID, gone.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		id     string
		handle string
		want   string // persona id, or "" for ErrNotFound
	}{
		{"private unpublished by id", private.ID, "", private.ID},
		{"private unpublished by handle", "", "@hidden", private.ID},
		{"handle in another case without @", "", "HIDDEN", private.ID},
		{"published by handle", "", "@Shown", public.ID},
		{"deleted by id", gone.ID, "", ""},
		{"deleted by handle", "", "@gone", ""},
		{"unknown id", "p_aaaaaaaaaaaaaaaaaaaaaaaaaa", "", ""},
		{"malformed id", "p_x:y", "", ""},
		{"unknown handle", "", "@nobody", ""},
		{"malformed handle", "", "@a b", ""},
		{"default persona's handle", "", "@" + persona.DefaultHandle, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p persona.Persona
			var err error
			if tt.handle != "" {
				p, err = e.s.InspectHandle(ctx, tt.handle)
			} else {
				p, err = e.s.Inspect(ctx, tt.id)
			}
			if tt.want == "" {
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("got %q, %v; want ErrNotFound", p.ID, err)
				}
				return
			}
			if err != nil || p.ID != tt.want || p.OwnerID != alice.ID {
				t.Errorf("got %q (owner %q), %v; want %q", p.ID, p.OwnerID, err, tt.want)
			}
		})
	}
}
