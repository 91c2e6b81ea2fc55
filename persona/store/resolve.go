package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/corral-ai/corral/persona"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Source says why a persona answers a conversation.
type Source string

// Sources of a Resolution.
const (
	// FromChoice: the user picked the persona by handle.
	FromChoice Source = "choice"
	// FromChannel: the persona is bound to the channel.
	FromChannel Source = "channel"
	// FromDefault: neither; the built-in default persona answers.
	FromDefault Source = "default"
)

// Resolution is the persona version that answers a conversation, and why.
type Resolution struct {
	Version persona.Version
	Source  Source
}

// liveFunc returns the newest version of a persona and whether end users
// may pick it by handle.
type liveFunc func(ctx context.Context, id string) (persona.Version, bool, error)

func (s *Store) liveEntry(ctx context.Context, id string) (persona.Version, bool, error) {
	r, v, err := s.live(ctx, id)
	return v, r.persona().Pickable(), err
}

// Resolve returns the persona version that answers a conversation: the
// user's pick if they made one and it may still be used, else the persona
// bound to the channel if it is published, else the built-in default
// persona. A pick that was deleted or made private since is passed over.
// Using a pick extends its lifetime (Config.ChoiceTTL).
func (s *Store) Resolve(ctx context.Context, conv corralv1.Conversation) (r Resolution, err error) {
	ctx, sp := span(ctx, "Resolve")
	defer func() { end(sp, err) }()
	return s.resolve(ctx, conv, s.liveEntry)
}

func (s *Store) resolve(ctx context.Context, conv corralv1.Conversation, live liveFunc) (Resolution, error) {
	var choice *redis.StringCmd
	var channel *redis.StringCmd
	_, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		choice = pipe.Get(ctx, s.k.choice(conv))
		pipe.Expire(ctx, s.k.choice(conv), s.cfg.ChoiceTTL)
		channel = pipe.Get(ctx, s.k.channel(channelRef(conv.Platform, conv.ChannelID)))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Resolution{}, fmt.Errorf("resolve persona: %w", err)
	}
	var bound string
	if data, err := channel.Bytes(); err == nil {
		var cr channelRecord
		if err := decodeString(string(data), &cr); err != nil {
			return Resolution{}, fmt.Errorf("resolve persona: decode channel: %w", err)
		}
		bound = cr.PersonaID
	}
	if picked := choice.Val(); picked != "" {
		v, pickable, err := live(ctx, picked)
		switch {
		case err == nil && (pickable || picked == bound):
			return Resolution{Version: v, Source: FromChoice}, nil
		case err != nil && !unavailable(err):
			return Resolution{}, fmt.Errorf("resolve persona: %w", err)
		}
	}
	if bound != "" {
		v, _, err := live(ctx, bound)
		switch {
		case err == nil:
			return Resolution{Version: v, Source: FromChannel}, nil
		case !unavailable(err):
			return Resolution{}, fmt.Errorf("resolve persona: %w", err)
		}
	}
	return Resolution{Version: persona.Default(), Source: FromDefault}, nil
}

// unavailable reports whether err means a persona cannot answer (gone or
// never published) rather than a failure to find out.
func unavailable(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotPublished)
}
