package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
)

// Creator is an account that builds personas.
type Creator struct {
	// ID is the creator's stable id; personas name it as their owner.
	ID string
	// Name is how the operator knows the creator.
	Name string
	// CreatedAt is when the account was made.
	CreatedAt time.Time
	// RevokedAt is when the account was revoked; zero while it is active.
	RevokedAt time.Time
}

// Revoked reports whether the account was revoked.
func (c Creator) Revoked() bool { return !c.RevokedAt.IsZero() }

type creatorRecord struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

type tokenRecord struct {
	CreatorID string    `json:"creator_id"`
	Hash      string    `json:"hash"` // hex SHA-256 of the secret part
	CreatedAt time.Time `json:"created_at"`
}

// API tokens look like "crl_<26 id characters>_<64 hex digits>": the id
// finds the token's record, and the secret's SHA-256 is compared with the
// stored hash in constant time. The secret has 256 random bits, so a fast
// hash is enough; only the hash is stored.
const (
	// TokenPrefix starts every API token, so tokens are easy to spot in
	// leaked text and in secret scanners.
	TokenPrefix   = "crl_"
	tokenIDLen    = 26
	tokenSecret   = 32 // bytes
	tokenLen      = len(TokenPrefix) + tokenIDLen + 1 + 2*tokenSecret
	creatorMaxLen = 60
)

// CreateCreator makes a creator account and its first API token. The token
// is returned only here; the store keeps its hash alone.
func (s *Store) CreateCreator(ctx context.Context, name string) (c Creator, token string, err error) {
	ctx, sp := span(ctx, "CreateCreator")
	defer func() { end(sp, err) }()
	if err := checkName(name); err != nil {
		return Creator{}, "", err
	}
	c = Creator{ID: newID(creatorIDPrefix), Name: strings.TrimSpace(name), CreatedAt: s.now()}
	data, err := encode(creatorRecord{ID: c.ID, Name: c.Name, CreatedAt: c.CreatedAt})
	if err != nil {
		return Creator{}, "", err
	}
	_, err = s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Set(ctx, s.k.creator(c.ID), data, 0)
		pipe.ZAdd(ctx, s.k.creators(), redis.Z{Score: float64(c.CreatedAt.UnixMilli()), Member: c.ID})
		return nil
	})
	if err != nil {
		return Creator{}, "", fmt.Errorf("create creator: %w", err)
	}
	token, err = s.issueToken(ctx, c.ID)
	if err != nil {
		return Creator{}, "", err
	}
	return c, token, nil
}

func checkName(name string) error {
	t := strings.TrimSpace(name)
	switch n := utf8.RuneCountInString(t); {
	case !utf8.ValidString(name):
		return fmt.Errorf("creator name is not valid UTF-8: %w", ErrInvalidArgument)
	case n == 0:
		return fmt.Errorf("creator name is required: %w", ErrInvalidArgument)
	case n > creatorMaxLen:
		return fmt.Errorf("creator name has %d characters, at most %d: %w", n, creatorMaxLen, ErrInvalidArgument)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return fmt.Errorf("creator name must be one line without control characters: %w", ErrInvalidArgument)
	}
	return nil
}

// NewToken issues another API token for an active creator, for rotation;
// earlier tokens stay valid until the creator is revoked.
func (s *Store) NewToken(ctx context.Context, creatorID string) (token string, err error) {
	ctx, sp := span(ctx, "NewToken", attribute.String("creator.id", creatorID))
	defer func() { end(sp, err) }()
	if _, err := s.activeCreator(ctx, creatorID); err != nil {
		return "", err
	}
	return s.issueToken(ctx, creatorID)
}

func (s *Store) issueToken(ctx context.Context, creatorID string) (string, error) {
	id := strings.ToLower(rand.Text())
	secret := make([]byte, tokenSecret)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	secretHex := hex.EncodeToString(secret)
	data, err := encode(tokenRecord{CreatorID: creatorID, Hash: hashSecret(secretHex), CreatedAt: s.now()})
	if err != nil {
		return "", err
	}
	// Revoking watches the creator, so a token issued concurrently with a
	// revocation either lands before it (and is removed) or fails here.
	err = s.txn(ctx, func(tx *redis.Tx) error {
		if _, err := activeCreatorIn(ctx, tx, s.k, creatorID); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, s.k.token(tokenIDPrefix+id), data, 0)
			pipe.SAdd(ctx, s.k.creatorTokens(creatorID), tokenIDPrefix+id)
			return nil
		})
		return err
	}, s.k.creator(creatorID))
	if err != nil {
		return "", fmt.Errorf("issue token for %q: %w", creatorID, err)
	}
	return TokenPrefix + id + "_" + secretHex, nil
}

func hashSecret(secretHex string) string {
	sum := sha256.Sum256([]byte(secretHex))
	return hex.EncodeToString(sum[:])
}

// Authenticate returns the active creator an API token belongs to, or an
// error matching ErrUnauthenticated.
func (s *Store) Authenticate(ctx context.Context, token string) (c Creator, err error) {
	ctx, sp := span(ctx, "Authenticate")
	defer func() { end(sp, err) }()
	id, secretHex, ok := parseToken(token)
	if !ok {
		return Creator{}, fmt.Errorf("malformed token: %w", ErrUnauthenticated)
	}
	var tr tokenRecord
	if err := getJSON(ctx, s.rdb, s.k.token(tokenIDPrefix+id), &tr); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Creator{}, fmt.Errorf("unknown token: %w", ErrUnauthenticated)
		}
		return Creator{}, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(secretHex)), []byte(tr.Hash)) != 1 {
		return Creator{}, fmt.Errorf("wrong token secret: %w", ErrUnauthenticated)
	}
	c, err = s.activeCreator(ctx, tr.CreatorID)
	if err != nil {
		return Creator{}, fmt.Errorf("token of creator %q: %w", tr.CreatorID, ErrUnauthenticated)
	}
	return c, nil
}

// parseToken splits a token into its id and secret parts.
func parseToken(token string) (id, secretHex string, ok bool) {
	rest, ok := strings.CutPrefix(token, TokenPrefix)
	if !ok || len(token) != tokenLen || rest[tokenIDLen] != '_' {
		return "", "", false
	}
	id, secretHex = rest[:tokenIDLen], rest[tokenIDLen+1:]
	if !validID(tokenIDPrefix, tokenIDPrefix+id) {
		return "", "", false
	}
	if _, err := hex.DecodeString(secretHex); err != nil {
		return "", "", false
	}
	return id, secretHex, true
}

// Creator returns the creator with the id, revoked or not.
func (s *Store) Creator(ctx context.Context, id string) (c Creator, err error) {
	ctx, sp := span(ctx, "Creator", attribute.String("creator.id", id))
	defer func() { end(sp, err) }()
	return creatorIn(ctx, s.rdb, s.k, id)
}

func creatorIn(ctx context.Context, cmd redis.Cmdable, k keys, id string) (Creator, error) {
	if !validID(creatorIDPrefix, id) {
		return Creator{}, notFound("creator", id)
	}
	var r creatorRecord
	if err := getJSON(ctx, cmd, k.creator(id), &r); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Creator{}, notFound("creator", id)
		}
		return Creator{}, err
	}
	return Creator(r), nil
}

func (s *Store) activeCreator(ctx context.Context, id string) (Creator, error) {
	return activeCreatorIn(ctx, s.rdb, s.k, id)
}

func activeCreatorIn(ctx context.Context, cmd redis.Cmdable, k keys, id string) (Creator, error) {
	c, err := creatorIn(ctx, cmd, k, id)
	if err != nil {
		return Creator{}, err
	}
	if c.Revoked() {
		return Creator{}, fmt.Errorf("creator %q was revoked: %w", id, ErrForbidden)
	}
	return c, nil
}

// Creators returns every creator account, oldest first (those made in the
// same millisecond in id order), revoked ones too.
func (s *Store) Creators(ctx context.Context) (cs []Creator, err error) {
	ctx, sp := span(ctx, "Creators")
	defer func() { end(sp, err) }()
	ids, err := s.rdb.ZRange(ctx, s.k.creators(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list creators: %w", err)
	}
	for _, id := range ids {
		c, err := s.Creator(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list creators: %w", err)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// RevokeCreator revokes a creator account: every token it has stops
// working at once and no new one can be issued. Its personas stay as they
// are (published ones keep answering) but nobody can change them.
func (s *Store) RevokeCreator(ctx context.Context, id string) (err error) {
	ctx, sp := span(ctx, "RevokeCreator", attribute.String("creator.id", id))
	defer func() { end(sp, err) }()
	err = s.txn(ctx, func(tx *redis.Tx) error {
		c, err := creatorIn(ctx, tx, s.k, id)
		if err != nil {
			return err
		}
		tokens, err := tx.SMembers(ctx, s.k.creatorTokens(id)).Result()
		if err != nil {
			return fmt.Errorf("read tokens: %w", err)
		}
		if !c.Revoked() {
			c.RevokedAt = s.now()
		}
		data, err := encode(creatorRecord(c))
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, s.k.creator(id), data, 0)
			for _, t := range tokens {
				pipe.Del(ctx, s.k.token(t))
			}
			pipe.Del(ctx, s.k.creatorTokens(id))
			return nil
		})
		return err
	}, s.k.creator(id), s.k.creatorTokens(id))
	if err != nil {
		return fmt.Errorf("revoke creator %q: %w", id, err)
	}
	return nil
}
