package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"

	"github.com/corral-ai/corral/persona"
)

// Id prefixes of the ids the store makes.
const (
	personaIDPrefix = "p_"
	creatorIDPrefix = "c_"
	tokenIDPrefix   = "t_"
)

// record is a persona as stored under persona:<id>.
type record struct {
	ID         string             `json:"id"`
	OwnerID    string             `json:"owner_id"`
	Handle     string             `json:"handle"`
	Visibility persona.Visibility `json:"visibility"`
	Draft      persona.Spec       `json:"draft"`
	Revision   uint64             `json:"revision"`
	Published  uint32             `json:"published"`
	CreatedAt  time.Time          `json:"created_at"`
	UpdatedAt  time.Time          `json:"updated_at"`
	// DeletedAt is set on a deleted persona kept until the conversations
	// that used it expire.
	DeletedAt time.Time `json:"deleted_at,omitzero"`
}

func (r record) persona() persona.Persona {
	return persona.Persona{
		ID: r.ID, OwnerID: r.OwnerID, Handle: r.Handle, Visibility: r.Visibility, Draft: r.Draft,
		Revision: r.Revision, Published: r.Published, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

func recordOf(p persona.Persona) record {
	return record{
		ID: p.ID, OwnerID: p.OwnerID, Handle: p.Handle, Visibility: p.Visibility, Draft: p.Draft,
		Revision: p.Revision, Published: p.Published, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}

// versionRecord is a published version as stored under persona:<id>:v:<n>.
type versionRecord struct {
	PersonaID   string       `json:"persona_id"`
	OwnerID     string       `json:"owner_id"`
	Number      uint32       `json:"number"`
	Spec        persona.Spec `json:"spec"`
	PublishedAt time.Time    `json:"published_at"`
	From        uint32       `json:"from,omitempty"`
}

func (v versionRecord) version() persona.Version {
	return persona.Version{PersonaID: v.PersonaID, OwnerID: v.OwnerID, Number: v.Number, Spec: v.Spec, PublishedAt: v.PublishedAt, From: v.From}
}

func versionRecordOf(v persona.Version) versionRecord {
	return versionRecord{PersonaID: v.PersonaID, OwnerID: v.OwnerID, Number: v.Number, Spec: v.Spec, PublishedAt: v.PublishedAt, From: v.From}
}

// validID reports whether id has the shape of an id the store made with
// prefix: the prefix and 26 characters of [a-z2-7]. Ids from outside are
// checked before they become part of a key.
func validID(prefix, id string) bool {
	rest, ok := cutPrefix(id, prefix)
	if !ok || len(rest) != 26 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || s[:len(prefix)] != prefix {
		return "", false
	}
	return s[len(prefix):], true
}

func notFound(what, id string) error { return fmt.Errorf("%s %q: %w", what, id, ErrNotFound) }

// loadRecord reads a persona that is not deleted.
func loadRecord(ctx context.Context, c redis.Cmdable, k keys, id string) (record, error) {
	if !validID(personaIDPrefix, id) {
		return record{}, notFound("persona", id)
	}
	var r record
	if err := getJSON(ctx, c, k.persona(id), &r); err != nil {
		if errors.Is(err, ErrNotFound) {
			return record{}, notFound("persona", id)
		}
		return record{}, err
	}
	if !r.DeletedAt.IsZero() {
		return record{}, notFound("persona", id)
	}
	return r, nil
}

// loadOwned reads a persona and checks that actor owns it and is not
// revoked and, unless baseRev is 0, that it is still at revision baseRev.
func loadOwned(ctx context.Context, c redis.Cmdable, k keys, actor, id string, baseRev uint64) (record, error) {
	r, err := loadRecord(ctx, c, k, id)
	if err != nil {
		return record{}, err
	}
	if r.OwnerID != actor {
		return record{}, fmt.Errorf("persona %q: %w", id, ErrForbidden)
	}
	if _, err := activeCreatorIn(ctx, c, k, actor); err != nil {
		return record{}, err
	}
	if baseRev != 0 && r.Revision != baseRev {
		return record{}, fmt.Errorf("persona %q: based on revision %d, it is at %d: %w", id, baseRev, r.Revision, ErrConflict)
	}
	return r, nil
}

// Create makes a new persona owned by actor, an existing creator, from e,
// and reserves its handle. The persona starts unpublished at revision 1.
func (s *Store) Create(ctx context.Context, actor string, e persona.Edit) (p persona.Persona, err error) {
	ctx, sp := span(ctx, "Create", attribute.String("creator.id", actor))
	defer func() { end(sp, err) }()
	if err := e.Validate(); err != nil {
		return persona.Persona{}, err
	}
	now := s.now()
	p = persona.Persona{ID: newID(personaIDPrefix), OwnerID: actor, CreatedAt: now}.Apply(e, now)
	hk := persona.HandleKey(e.Handle)
	err = s.txn(ctx, func(tx *redis.Tx) error {
		if _, err := activeCreatorIn(ctx, tx, s.k, actor); err != nil {
			return err
		}
		if err := handleFree(ctx, tx, s.k, hk, p.ID); err != nil {
			return err
		}
		n, err := tx.ZCard(ctx, s.k.creatorPersonas(actor)).Result()
		if err != nil {
			return fmt.Errorf("count personas: %w", err)
		}
		if n >= int64(s.cfg.MaxPersonasPerCreator) {
			return fmt.Errorf("creator %q owns %d personas, the most allowed: %w", actor, n, ErrLimit)
		}
		data, err := encode(recordOf(p))
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, s.k.persona(p.ID), data, 0)
			pipe.Set(ctx, s.k.handle(hk), p.ID, 0)
			pipe.ZAdd(ctx, s.k.creatorPersonas(actor), redis.Z{Score: float64(now.UnixMilli()), Member: p.ID})
			return nil
		})
		return err
	}, s.k.handle(hk), s.k.creatorPersonas(actor), s.k.creator(actor))
	if err != nil {
		return persona.Persona{}, fmt.Errorf("create persona @%s: %w", e.Handle, err)
	}
	s.notify(ctx, Change{PersonaID: p.ID, Kind: Updated, Handles: []string{hk}, At: now})
	return p, nil
}

// handleFree checks that the handle key is free or held by id.
func handleFree(ctx context.Context, tx *redis.Tx, k keys, hk, id string) error {
	holder, err := tx.Get(ctx, k.handle(hk)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil
	case err != nil:
		return fmt.Errorf("read handle: %w", err)
	case holder != id:
		return fmt.Errorf("@%s: %w", hk, ErrHandleTaken)
	}
	return nil
}

// Update replaces the handle, visibility and draft of persona id with e.
// actor must own it, and baseRev must be its current revision: an edit
// based on an older revision fails with ErrConflict and changes nothing.
// Published versions are not touched; a change of handle or visibility
// takes effect at once.
func (s *Store) Update(ctx context.Context, actor, id string, baseRev uint64, e persona.Edit) (p persona.Persona, err error) {
	ctx, sp := span(ctx, "Update", attribute.String("persona.id", id))
	defer func() { end(sp, err) }()
	if err := e.Validate(); err != nil {
		return persona.Persona{}, err
	}
	if baseRev == 0 {
		return persona.Persona{}, fmt.Errorf("update persona %q: base revision 0: %w", id, ErrConflict)
	}
	var oldKey string
	newKey := persona.HandleKey(e.Handle)
	err = s.txn(ctx, func(tx *redis.Tx) error {
		r, err := loadOwned(ctx, tx, s.k, actor, id, baseRev)
		if err != nil {
			return err
		}
		oldKey = persona.HandleKey(r.Handle)
		if oldKey != newKey {
			if err := handleFree(ctx, tx, s.k, newKey, id); err != nil {
				return err
			}
		}
		p = r.persona().Apply(e, s.now())
		data, err := encode(recordOf(p))
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, s.k.persona(id), data, 0)
			if oldKey != newKey {
				pipe.Del(ctx, s.k.handle(oldKey))
				pipe.Set(ctx, s.k.handle(newKey), id, 0)
			}
			s.queueDirectory(ctx, pipe, oldKey, newKey, p)
			return nil
		})
		return err
	}, s.k.persona(id), s.k.handle(newKey))
	if err != nil {
		return persona.Persona{}, fmt.Errorf("update persona %q: %w", id, err)
	}
	s.notify(ctx, Change{PersonaID: id, Kind: Updated, Published: p.Published, Handles: uniq(oldKey, newKey), At: p.UpdatedAt})
	return p, nil
}

// queueDirectory keeps the public directory in step with p, whose handle
// key was oldKey before the change.
func (s *Store) queueDirectory(ctx context.Context, pipe redis.Pipeliner, oldKey, newKey string, p persona.Persona) {
	if oldKey != newKey || !p.Listed() {
		pipe.ZRem(ctx, s.k.directory(), oldKey)
	}
	if p.Listed() {
		pipe.ZAdd(ctx, s.k.directory(), redis.Z{Score: 0, Member: newKey})
	}
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// Publish freezes the draft of persona id into its next version, which
// chats use from then on. actor must own it and baseRev must be its
// current revision, so what is published is what the creator saw. The
// draft is validated again. The returned version is what a caller warms
// the inference engine's prefix cache with (persona.Prefix(v.Spec)).
func (s *Store) Publish(ctx context.Context, actor, id string, baseRev uint64) (v persona.Version, err error) {
	ctx, sp := span(ctx, "Publish", attribute.String("persona.id", id))
	defer func() { end(sp, err) }()
	return s.publish(ctx, actor, id, baseRev, func(ctx context.Context, tx *redis.Tx, p persona.Persona) (persona.Persona, persona.Version, error) {
		if err := p.Edit().Validate(); err != nil {
			return p, persona.Version{}, err
		}
		p, v := p.Publish(s.now())
		return p, v, nil
	})
}

// Rollback republishes version `to` of persona id as its next version, so
// chats use it again; versions stay immutable and numbered in order, and
// the draft is left alone. actor must own the persona and baseRev must be
// its current revision.
func (s *Store) Rollback(ctx context.Context, actor, id string, baseRev uint64, to uint32) (v persona.Version, err error) {
	ctx, sp := span(ctx, "Rollback", attribute.String("persona.id", id), attribute.Int("persona.version", int(to)))
	defer func() { end(sp, err) }()
	return s.publish(ctx, actor, id, baseRev, func(ctx context.Context, tx *redis.Tx, p persona.Persona) (persona.Persona, persona.Version, error) {
		if to == 0 || to > p.Published {
			return p, persona.Version{}, fmt.Errorf("version %d of %d: %w", to, p.Published, ErrNotFound)
		}
		var old versionRecord
		if err := getJSON(ctx, tx, s.k.version(id, to), &old); err != nil {
			return p, persona.Version{}, fmt.Errorf("version %d: %w", to, err)
		}
		p, v := p.Rollback(old.version(), s.now())
		return p, v, nil
	})
}

// publish runs a change that adds a version: next computes the new state
// from the current one inside the transaction.
func (s *Store) publish(ctx context.Context, actor, id string, baseRev uint64,
	next func(context.Context, *redis.Tx, persona.Persona) (persona.Persona, persona.Version, error)) (persona.Version, error) {
	if baseRev == 0 {
		return persona.Version{}, fmt.Errorf("publish persona %q: base revision 0: %w", id, ErrConflict)
	}
	var p persona.Persona
	var v persona.Version
	err := s.txn(ctx, func(tx *redis.Tx) error {
		r, err := loadOwned(ctx, tx, s.k, actor, id, baseRev)
		if err != nil {
			return err
		}
		if p, v, err = next(ctx, tx, r.persona()); err != nil {
			return err
		}
		rec, err := encode(recordOf(p))
		if err != nil {
			return err
		}
		ver, err := encode(versionRecordOf(v))
		if err != nil {
			return err
		}
		hk := persona.HandleKey(p.Handle)
		var created *redis.BoolCmd
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, s.k.persona(id), rec, 0)
			// Versions are written once; NX keeps them immutable even if
			// the record and its versions ever disagreed.
			created = pipe.SetNX(ctx, s.k.version(id, v.Number), ver, 0)
			s.queueDirectory(ctx, pipe, hk, hk, p)
			return nil
		})
		if err == nil && !created.Val() {
			s.log.Error("published version already existed; kept the old one", "persona", id, "version", v.Number)
		}
		return err
	}, s.k.persona(id))
	if err != nil {
		return persona.Version{}, fmt.Errorf("publish persona %q: %w", id, err)
	}
	s.notify(ctx, Change{PersonaID: id, Kind: Published, Published: v.Number, Handles: []string{persona.HandleKey(p.Handle)}, At: v.PublishedAt})
	return v, nil
}

// Delete removes persona id: its handle is freed at once, it leaves the
// directory and its owner's list, and it can no longer be edited, picked
// or resolved. Its published versions stay readable with Version for as
// long as a conversation that used them is within its reference TTL (see
// Use), then expire; without such conversations everything is removed at
// once. Only the owner may delete.
func (s *Store) Delete(ctx context.Context, actor, id string) (err error) {
	ctx, sp := span(ctx, "Delete", attribute.String("persona.id", id))
	defer func() { end(sp, err) }()
	var hk string
	var published uint32
	err = s.txn(ctx, func(tx *redis.Tx) error {
		r, err := loadOwned(ctx, tx, s.k, actor, id, 0)
		if err != nil {
			return err
		}
		hk, published = persona.HandleKey(r.Handle), r.Published
		now := s.now()
		// The newest reference decides how long versions stay readable.
		last, err := tx.ZRangeWithScores(ctx, s.k.refs(id), -1, -1).Result()
		if err != nil {
			return fmt.Errorf("read references: %w", err)
		}
		var keepUntil time.Time
		if len(last) == 1 && int64(last[0].Score) > now.UnixMilli() {
			keepUntil = time.UnixMilli(int64(last[0].Score))
		}
		r.DeletedAt = now
		data, err := encode(r)
		if err != nil {
			return err
		}
		kept := []string{s.k.persona(id), s.k.usage(id), s.k.refs(id)}
		for n := uint32(1); n <= r.Published; n++ {
			kept = append(kept, s.k.version(id, n))
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Del(ctx, s.k.handle(hk))
			pipe.ZRem(ctx, s.k.directory(), hk)
			pipe.ZRem(ctx, s.k.creatorPersonas(r.OwnerID), id)
			if keepUntil.IsZero() {
				pipe.Del(ctx, kept...)
				return nil
			}
			pipe.Set(ctx, s.k.persona(id), data, 0)
			for _, key := range kept {
				pipe.PExpireAt(ctx, key, keepUntil)
			}
			return nil
		})
		return err
	}, s.k.persona(id), s.k.refs(id))
	if err != nil {
		return fmt.Errorf("delete persona %q: %w", id, err)
	}
	s.notify(ctx, Change{PersonaID: id, Kind: Deleted, Published: published, Handles: []string{hk}, At: s.now()})
	return nil
}

// Get returns persona id with its draft. Only its owner may read it.
func (s *Store) Get(ctx context.Context, actor, id string) (p persona.Persona, err error) {
	ctx, sp := span(ctx, "Get", attribute.String("persona.id", id))
	defer func() { end(sp, err) }()
	r, err := loadOwned(ctx, s.rdb, s.k, actor, id, 0)
	if err != nil {
		return persona.Persona{}, fmt.Errorf("get persona: %w", err)
	}
	return r.persona(), nil
}

// List returns the personas actor owns, oldest first (those made in the
// same millisecond in id order).
func (s *Store) List(ctx context.Context, actor string) (ps []persona.Persona, err error) {
	ctx, sp := span(ctx, "List", attribute.String("creator.id", actor))
	defer func() { end(sp, err) }()
	ids, err := s.rdb.ZRange(ctx, s.k.creatorPersonas(actor), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list personas of %q: %w", actor, err)
	}
	recs, err := s.records(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("list personas of %q: %w", actor, err)
	}
	for _, r := range recs {
		if r.OwnerID == actor {
			ps = append(ps, r.persona())
		}
	}
	return ps, nil
}

// records reads the personas ids in one round trip, skipping missing and
// deleted ones.
func (s *Store) records(ctx context.Context, ids []string) ([]record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(ids))
	for _, id := range ids {
		if validID(personaIDPrefix, id) {
			keys = append(keys, s.k.persona(id))
		}
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	var out []record
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		var r record
		if err := decodeString(str, &r); err != nil {
			return nil, fmt.Errorf("decode %s: %w", keys[i], err)
		}
		if r.DeletedAt.IsZero() {
			out = append(out, r)
		}
	}
	return out, nil
}

// Live returns the newest published version of persona id: the one chats
// use. It is ErrNotPublished for a persona never published. For
// persona.DefaultID it returns persona.Default().
func (s *Store) Live(ctx context.Context, id string) (v persona.Version, err error) {
	ctx, sp := span(ctx, "Live", attribute.String("persona.id", id))
	defer func() { end(sp, err) }()
	_, v, err = s.live(ctx, id)
	return v, err
}

// live returns the record and newest version of persona id. The built-in
// default persona has a record made up on the spot: public, published.
func (s *Store) live(ctx context.Context, id string) (record, persona.Version, error) {
	if id == persona.DefaultID {
		d := persona.Default()
		return record{ID: d.PersonaID, Handle: persona.DefaultHandle, Visibility: persona.Public, Published: d.Number}, d, nil
	}
	r, err := loadRecord(ctx, s.rdb, s.k, id)
	if err != nil {
		return record{}, persona.Version{}, err
	}
	if r.Published == 0 {
		return record{}, persona.Version{}, fmt.Errorf("persona %q: %w", id, ErrNotPublished)
	}
	v, err := s.version(ctx, id, r.Published)
	return r, v, err
}

// ByHandle returns the newest published version of the persona with the
// handle (ignoring case and a leading "@"), if end users may pick it: it
// is unlisted or public. Private personas are ErrNotFound here. The
// built-in default persona's handle finds persona.Default().
func (s *Store) ByHandle(ctx context.Context, handle string) (v persona.Version, err error) {
	ctx, sp := span(ctx, "ByHandle", attribute.String("persona.handle", handle))
	defer func() { end(sp, err) }()
	id, err := s.handleID(ctx, persona.HandleKey(handle))
	if err != nil {
		return persona.Version{}, err
	}
	r, v, err := s.live(ctx, id)
	if err != nil {
		return persona.Version{}, err
	}
	if !r.persona().Pickable() {
		return persona.Version{}, notFound("persona handle", handle)
	}
	return v, nil
}

// handleID returns the id of the persona holding a handle key.
func (s *Store) handleID(ctx context.Context, hk string) (string, error) {
	if hk == persona.DefaultHandle {
		return persona.DefaultID, nil
	}
	if persona.ValidateHandle(hk) != nil {
		return "", notFound("persona handle", hk)
	}
	id, err := s.rdb.Get(ctx, s.k.handle(hk)).Result()
	if errors.Is(err, redis.Nil) {
		return "", notFound("persona handle", hk)
	}
	if err != nil {
		return "", fmt.Errorf("read handle %q: %w", hk, err)
	}
	return id, nil
}

// Version returns version n of persona id. Versions stay readable after
// the persona is deleted while conversations still reference them.
func (s *Store) Version(ctx context.Context, id string, n uint32) (v persona.Version, err error) {
	ctx, sp := span(ctx, "Version", attribute.String("persona.id", id), attribute.Int("persona.version", int(n)))
	defer func() { end(sp, err) }()
	return s.version(ctx, id, n)
}

func (s *Store) version(ctx context.Context, id string, n uint32) (persona.Version, error) {
	if d := persona.Default(); id == d.PersonaID && n == d.Number {
		return d, nil
	}
	if !validID(personaIDPrefix, id) || n == 0 {
		return persona.Version{}, fmt.Errorf("version %d of persona %q: %w", n, id, ErrNotFound)
	}
	var vr versionRecord
	if err := getJSON(ctx, s.rdb, s.k.version(id, n), &vr); err != nil {
		return persona.Version{}, fmt.Errorf("version %d of persona %q: %w", n, id, err)
	}
	return vr.version(), nil
}

// MaxVersionsListed bounds what Versions returns.
const MaxVersionsListed = 100

// Versions returns the published versions of persona id, newest first, at
// most MaxVersionsListed. Only its owner may list them.
func (s *Store) Versions(ctx context.Context, actor, id string) (vs []persona.Version, err error) {
	ctx, sp := span(ctx, "Versions", attribute.String("persona.id", id))
	defer func() { end(sp, err) }()
	r, err := loadOwned(ctx, s.rdb, s.k, actor, id, 0)
	if err != nil || r.Published == 0 {
		return nil, err
	}
	var keys []string
	for n := r.Published; n >= 1 && len(keys) < MaxVersionsListed; n-- {
		keys = append(keys, s.k.version(id, n))
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("list versions of %q: %w", id, err)
	}
	for i, val := range vals {
		str, ok := val.(string)
		if !ok {
			return nil, fmt.Errorf("list versions of %q: %s missing", id, keys[i])
		}
		var vr versionRecord
		if err := decodeString(str, &vr); err != nil {
			return nil, fmt.Errorf("decode %s: %w", keys[i], err)
		}
		vs = append(vs, vr.version())
	}
	return vs, nil
}

// Listing is one entry of the public directory.
type Listing struct {
	// Handle is the persona's handle, as its creator spelled it.
	Handle string
	// Version is its newest published version.
	Version persona.Version
}

// MaxDirectoryPage bounds one page of Directory.
const MaxDirectoryPage = 100

// Directory returns public, published personas in handle order (ignoring
// case), starting after the handle `after` ("" for the first page), at
// most limit of them (at most MaxDirectoryPage).
func (s *Store) Directory(ctx context.Context, after string, limit int) (ls []Listing, err error) {
	ctx, sp := span(ctx, "Directory")
	defer func() { end(sp, err) }()
	if limit <= 0 || limit > MaxDirectoryPage {
		limit = MaxDirectoryPage
	}
	lo := "-"
	if after != "" {
		lo = "(" + persona.HandleKey(after)
	}
	hks, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.k.directory(), Start: lo, Stop: "+", ByLex: true, Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("read directory: %w", err)
	}
	for _, hk := range hks {
		id, err := s.handleID(ctx, hk)
		if errors.Is(err, ErrNotFound) {
			continue // renamed or deleted since the page was read
		}
		if err != nil {
			return nil, err
		}
		r, v, err := s.live(ctx, id)
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotPublished) || err == nil && !r.persona().Listed() {
			continue
		}
		if err != nil {
			return nil, err
		}
		ls = append(ls, Listing{Handle: r.Handle, Version: v})
	}
	return ls, nil
}

func decodeString(s string, v any) error {
	return json.Unmarshal([]byte(s), v)
}

// usageField names a usage counter of version n.
func usageField(n uint32, what string) string {
	return "v" + strconv.FormatUint(uint64(n), 10) + "." + what
}
