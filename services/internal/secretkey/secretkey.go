// Package secretkey declares CORRAL_SECRET_KEY, the key that seals the
// channels' access tokens in the persona store, as one shared setting:
// every component that seals or opens those tokens (the channel commands,
// the chat and sender roles) declares it with Setting and gets the same
// value, and `corral serve` offers it once.
package secretkey

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/corral-ai/corral/persona/store"
	"github.com/corral-ai/corral/services/internal/settings"
)

// Env is the variable that holds the key.
const Env = "CORRAL_SECRET_KEY"

// Help says what the key is and how to make one, for --help and errors.
const Help = "key that seals channel access tokens in Redis: 64 hex digits or base64 of 32 bytes, " +
	"made by `corral channel keygen` or `openssl rand -hex 32`; every process that handles channels needs the same key"

// Setting returns the shared setting, parsed into *dst with
// store.ParseSecretKey; unset leaves *dst nil. It is read from the
// environment only: a flag would leave the key in shell history and in
// process listings.
func Setting(dst *[]byte) settings.Setting {
	return settings.Setting{Env: Env, Help: Help, Secret: true, Shared: true, Set: func(v string) error {
		if v == "" {
			*dst = nil
			return nil
		}
		k, err := store.ParseSecretKey(v)
		if err != nil {
			return errors.New("not 64 hex digits or base64 of 32 bytes; make one with `corral channel keygen` or `openssl rand -hex 32`")
		}
		*dst = k
		return nil
	}}
}

// Generate returns a new random key as 64 hex digits.
func Generate() string {
	k := make([]byte, store.SecretKeySize)
	_, _ = rand.Read(k) // crypto/rand.Read never fails
	return hex.EncodeToString(k)
}

// Explain adds what to do to the store's errors about the key: none is
// set, or a sealed token does not open with the one that is. Other errors
// are returned as they are.
func Explain(err error) error {
	switch {
	case errors.Is(err, store.ErrNoSecretKey):
		return fmt.Errorf("%w: set %s (make one with `corral channel keygen` or `openssl rand -hex 32`, keep it safe, "+
			"and give every corral process that handles channels the same key)", err, Env)
	case errors.Is(err, store.ErrSealed):
		return fmt.Errorf("%w with %s: it was sealed with another key or is damaged; set the key it was sealed with, "+
			"or add the channel again with --replace and its access token", err, Env)
	}
	return err
}
