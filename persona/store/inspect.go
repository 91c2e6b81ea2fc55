package store

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"

	"github.com/corral-ai/corral/persona"
)

// Inspect returns persona id with its draft, whoever owns it and whatever
// its visibility or state: the operator's read, for tools such as `corral
// channel`, which may bind any persona. Creators read through Get, which
// checks ownership. A deleted persona is ErrNotFound.
func (s *Store) Inspect(ctx context.Context, id string) (p persona.Persona, err error) {
	ctx, sp := span(ctx, "Inspect", attribute.String("persona.id", id))
	defer func() { end(sp, err) }()
	r, err := loadRecord(ctx, s.rdb, s.k, id)
	if err != nil {
		return persona.Persona{}, fmt.Errorf("inspect persona: %w", err)
	}
	return r.persona(), nil
}

// InspectHandle is Inspect by handle (ignoring case and a leading "@"):
// unlike ByHandle it finds private and unpublished personas too. The
// built-in default persona's handle is ErrNotFound: it is not stored.
func (s *Store) InspectHandle(ctx context.Context, handle string) (p persona.Persona, err error) {
	ctx, sp := span(ctx, "InspectHandle", attribute.String("persona.handle", handle))
	defer func() { end(sp, err) }()
	hk := persona.HandleKey(handle)
	if hk == persona.DefaultHandle {
		return persona.Persona{}, notFound("persona handle", handle)
	}
	id, err := s.handleID(ctx, hk)
	if err != nil {
		return persona.Persona{}, err
	}
	r, err := loadRecord(ctx, s.rdb, s.k, id)
	if err != nil {
		return persona.Persona{}, fmt.Errorf("inspect persona @%s: %w", hk, err)
	}
	return r.persona(), nil
}
