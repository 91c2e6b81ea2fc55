package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"

	"github.com/corral-ai/corral/persona"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Operator is the actor of operator commands (the corral CLI). It may bind
// any persona to any channel; creators may bind only their own personas to
// channels assigned to them. It is not a valid creator id.
const Operator = "operator"

// Channel is one of our identities on a platform: a WhatsApp Business phone
// number id or a Facebook Page id, with the access token the Send API
// needs and the persona that answers there.
type Channel struct {
	// Platform is WhatsApp or Messenger.
	Platform corralv1.Platform
	// ID is the phone number id or Page id, as in webhooks.
	ID string
	// Name is the operator's label for the channel.
	Name string
	// OwnerID is the creator who may bind personas to the channel; empty
	// means only the operator can.
	OwnerID string
	// AccessToken is the Send API token; stored encrypted. It is empty in
	// results of a store opened without a secret key.
	AccessToken Secret
	// PersonaID is the bound persona; empty means the built-in default
	// persona answers.
	PersonaID string
	// CreatedAt is when the channel was added.
	CreatedAt time.Time
	// UpdatedAt is when it last changed.
	UpdatedAt time.Time
}

// LogValue lists the channel for log/slog without its access token.
func (c Channel) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("platform", corralv1.PlatformToken(c.Platform)),
		slog.String("id", c.ID),
		slog.String("persona", c.PersonaID),
	)
}

type channelRecord struct {
	Platform    corralv1.Platform `json:"platform"`
	ID          string            `json:"id"`
	Name        string            `json:"name,omitempty"`
	OwnerID     string            `json:"owner_id,omitempty"`
	SealedToken string            `json:"sealed_token"`
	PersonaID   string            `json:"persona_id,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

const channelIDMaxLen = 100

func checkChannel(p corralv1.Platform, id string) error {
	switch p {
	case corralv1.Platform_PLATFORM_WHATSAPP, corralv1.Platform_PLATFORM_MESSENGER:
	default:
		return fmt.Errorf("channel platform %v: want whatsapp or messenger: %w", p, ErrInvalidArgument)
	}
	if id == "" || len(id) > channelIDMaxLen || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return fmt.Errorf("channel id %q: want 1 to %d printable ASCII characters: %w", id, channelIDMaxLen, ErrInvalidArgument)
	}
	return nil
}

// sealContext binds a sealed token to its channel.
func sealContext(p corralv1.Platform, id string) string { return "channel-token:" + channelRef(p, id) }

// PutChannel adds a channel, or replaces the name, owner and access token
// of an existing one (token rotation), keeping its binding. It needs the
// secret key. PersonaID in c is ignored: use Bind.
func (s *Store) PutChannel(ctx context.Context, c Channel) (out Channel, err error) {
	ctx, sp := span(ctx, "PutChannel", attribute.String("channel.id", c.ID))
	defer func() { end(sp, err) }()
	if err := checkChannel(c.Platform, c.ID); err != nil {
		return Channel{}, err
	}
	if s.sealer == nil {
		return Channel{}, ErrNoSecretKey
	}
	if c.AccessToken == "" {
		return Channel{}, fmt.Errorf("channel %s: access token is required: %w", channelRef(c.Platform, c.ID), ErrInvalidArgument)
	}
	if !utf8.ValidString(c.Name) || utf8.RuneCountInString(c.Name) > creatorMaxLen {
		return Channel{}, fmt.Errorf("channel name: at most %d characters of UTF-8: %w", creatorMaxLen, ErrInvalidArgument)
	}
	if c.OwnerID != "" {
		if _, err := s.activeCreator(ctx, c.OwnerID); err != nil {
			return Channel{}, fmt.Errorf("channel owner: %w", err)
		}
	}
	ref := channelRef(c.Platform, c.ID)
	err = s.txn(ctx, func(tx *redis.Tx) error {
		now := s.now()
		var r channelRecord
		switch err := getJSON(ctx, tx, s.k.channel(ref), &r); {
		case errors.Is(err, ErrNotFound):
			r = channelRecord{Platform: c.Platform, ID: c.ID, CreatedAt: now}
		case err != nil:
			return err
		}
		r.Name, r.OwnerID, r.UpdatedAt = c.Name, c.OwnerID, now
		r.SealedToken = s.sealer.seal(c.AccessToken, sealContext(c.Platform, c.ID))
		data, err := encode(r)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, s.k.channel(ref), data, 0)
			pipe.SAdd(ctx, s.k.channels(), ref)
			return nil
		})
		out = s.channelOf(r, c.AccessToken)
		return err
	}, s.k.channel(ref))
	if err != nil {
		return Channel{}, fmt.Errorf("put channel %s: %w", ref, err)
	}
	return out, nil
}

func (s *Store) channelOf(r channelRecord, token Secret) Channel {
	return Channel{Platform: r.Platform, ID: r.ID, Name: r.Name, OwnerID: r.OwnerID, AccessToken: token,
		PersonaID: r.PersonaID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// open decrypts a record's token; without a secret key it leaves it empty.
func (s *Store) open(r channelRecord) (Channel, error) {
	if s.sealer == nil {
		return s.channelOf(r, ""), nil
	}
	tok, err := s.sealer.open(r.SealedToken, sealContext(r.Platform, r.ID))
	if err != nil {
		return Channel{}, fmt.Errorf("channel %s: %w", channelRef(r.Platform, r.ID), err)
	}
	return s.channelOf(r, tok), nil
}

// Channel returns a channel with its access token decrypted.
func (s *Store) Channel(ctx context.Context, p corralv1.Platform, id string) (c Channel, err error) {
	ctx, sp := span(ctx, "Channel", attribute.String("channel.id", id))
	defer func() { end(sp, err) }()
	if err := checkChannel(p, id); err != nil {
		return Channel{}, err
	}
	r, err := s.channelRecord(ctx, s.rdb, p, id)
	if err != nil {
		return Channel{}, err
	}
	return s.open(r)
}

func (s *Store) channelRecord(ctx context.Context, cmd redis.Cmdable, p corralv1.Platform, id string) (channelRecord, error) {
	var r channelRecord
	if err := getJSON(ctx, cmd, s.k.channel(channelRef(p, id)), &r); err != nil {
		if errors.Is(err, ErrNotFound) {
			return channelRecord{}, notFound("channel", channelRef(p, id))
		}
		return channelRecord{}, err
	}
	return r, nil
}

// Channels returns every channel, ordered by platform and id.
func (s *Store) Channels(ctx context.Context) (cs []Channel, err error) {
	ctx, sp := span(ctx, "Channels")
	defer func() { end(sp, err) }()
	refs, err := s.rdb.SMembers(ctx, s.k.channels()).Result()
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	slices.Sort(refs)
	for _, ref := range refs {
		var r channelRecord
		if err := getJSON(ctx, s.rdb, s.k.channel(ref), &r); errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("list channels: %w", err)
		}
		c, err := s.open(r)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// RemoveChannel deletes a channel and its access token.
func (s *Store) RemoveChannel(ctx context.Context, p corralv1.Platform, id string) (err error) {
	ctx, sp := span(ctx, "RemoveChannel", attribute.String("channel.id", id))
	defer func() { end(sp, err) }()
	if err := checkChannel(p, id); err != nil {
		return err
	}
	ref := channelRef(p, id)
	n, err := s.rdb.Del(ctx, s.k.channel(ref)).Result()
	if err != nil {
		return fmt.Errorf("remove channel %s: %w", ref, err)
	}
	if err := s.rdb.SRem(ctx, s.k.channels(), ref).Err(); err != nil {
		return fmt.Errorf("remove channel %s: %w", ref, err)
	}
	if n == 0 {
		return notFound("channel", ref)
	}
	return nil
}

// Bind makes persona personaID answer on a channel; an empty personaID
// returns the channel to the built-in default persona. The operator may
// bind any persona; a creator only their own, on a channel assigned to
// them. Until the persona is published the default persona answers.
func (s *Store) Bind(ctx context.Context, actor string, p corralv1.Platform, channelID, personaID string) (err error) {
	ctx, sp := span(ctx, "Bind", attribute.String("channel.id", channelID), attribute.String("persona.id", personaID))
	defer func() { end(sp, err) }()
	if err := checkChannel(p, channelID); err != nil {
		return err
	}
	ref := channelRef(p, channelID)
	watch := []string{s.k.channel(ref)}
	if personaID != "" {
		watch = append(watch, s.k.persona(personaID))
	}
	err = s.txn(ctx, func(tx *redis.Tx) error {
		r, err := s.channelRecord(ctx, tx, p, channelID)
		if err != nil {
			return err
		}
		if actor != Operator {
			if r.OwnerID != actor {
				return fmt.Errorf("channel %s is not assigned to %q: %w", ref, actor, ErrForbidden)
			}
			if _, err := activeCreatorIn(ctx, tx, s.k, actor); err != nil {
				return err
			}
		}
		if personaID != "" {
			pr, err := loadRecord(ctx, tx, s.k, personaID)
			if err != nil {
				return err
			}
			if actor != Operator && pr.OwnerID != actor {
				return fmt.Errorf("persona %q: %w", personaID, ErrForbidden)
			}
		}
		r.PersonaID, r.UpdatedAt = personaID, s.now()
		data, err := encode(r)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, s.k.channel(ref), data, 0)
			return nil
		})
		return err
	}, watch...)
	if err != nil {
		return fmt.Errorf("bind channel %s: %w", ref, err)
	}
	return nil
}

// SetChoice records that the user of a conversation picked persona
// personaID (found with ByHandle); it then answers them on that channel
// instead of the channel's persona, until ClearChoice.
func (s *Store) SetChoice(ctx context.Context, conv corralv1.Conversation, personaID string) (err error) {
	ctx, sp := span(ctx, "SetChoice", attribute.String("persona.id", personaID))
	defer func() { end(sp, err) }()
	if !validID(personaIDPrefix, personaID) && personaID != persona.DefaultID {
		return notFound("persona", personaID)
	}
	if err := s.rdb.Set(ctx, s.k.choice(conv), personaID, s.cfg.ChoiceTTL).Err(); err != nil {
		return fmt.Errorf("set persona choice: %w", err)
	}
	return nil
}

// Choice returns the persona the user of a conversation picked, or "".
func (s *Store) Choice(ctx context.Context, conv corralv1.Conversation) (id string, err error) {
	ctx, sp := span(ctx, "Choice")
	defer func() { end(sp, err) }()
	id, err = s.rdb.Get(ctx, s.k.choice(conv)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read persona choice: %w", err)
	}
	return id, nil
}

// ClearChoice forgets the user's pick; the channel's persona answers again.
func (s *Store) ClearChoice(ctx context.Context, conv corralv1.Conversation) (err error) {
	ctx, sp := span(ctx, "ClearChoice")
	defer func() { end(sp, err) }()
	if err := s.rdb.Del(ctx, s.k.choice(conv)).Err(); err != nil {
		return fmt.Errorf("clear persona choice: %w", err)
	}
	return nil
}
