package store_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
	"github.com/corral-ai/corral/persona/store/storetest"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

const (
	whatsapp  = corralv1.Platform_PLATFORM_WHATSAPP
	messenger = corralv1.Platform_PLATFORM_MESSENGER
	// accessToken looks like a Graph API token; it must never be stored or
	// printed in the clear.
	accessToken = "EAAGm0PX4ZCpsBAKZCmZAwE3xZBtoken123"
)

func TestChannelTokensSealed(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	alice, _ := newCreator(t, e.s, "Alice")
	ch, err := e.s.PutChannel(ctx, store.Channel{Platform: whatsapp, ID: "106540352242922", Name: "Support line", OwnerID: alice.ID, AccessToken: accessToken})
	if err != nil {
		t.Fatal(err)
	}
	if ch.AccessToken.Reveal() != accessToken || ch.CreatedAt.IsZero() {
		t.Errorf("PutChannel() = %+v", ch)
	}
	if dump := e.dump(t); strings.Contains(dump, accessToken) || !strings.Contains(dump, "106540352242922") {
		t.Fatalf("the access token is stored in the clear, or the channel is missing:\n%s", dump)
	}
	got, err := e.s.Channel(ctx, whatsapp, "106540352242922")
	if err != nil || got.AccessToken.Reveal() != accessToken || got.Name != "Support line" || got.OwnerID != alice.ID {
		t.Fatalf("Channel() = %+v, %v", got, err)
	}

	// Another key cannot open it; a store without a key lists channels but
	// cannot read or add tokens.
	other := storetest.Open(t, store.Config{URL: e.cfg.URL, Prefix: e.cfg.Prefix, SecretKey: bytes.Repeat([]byte{7}, 32)}, nil)
	if _, err := other.Channel(ctx, whatsapp, "106540352242922"); !errors.Is(err, store.ErrSealed) {
		t.Errorf("Channel() with another key: %v, want ErrSealed", err)
	}
	keyless := storetest.Open(t, store.Config{URL: e.cfg.URL, Prefix: e.cfg.Prefix}, nil)
	if cs, err := keyless.Channels(ctx); err != nil || len(cs) != 1 || cs[0].AccessToken != "" {
		t.Errorf("Channels() without a key = %+v, %v", cs, err)
	}
	if _, err := keyless.PutChannel(ctx, store.Channel{Platform: messenger, ID: "1", AccessToken: "x"}); !errors.Is(err, store.ErrNoSecretKey) {
		t.Errorf("PutChannel() without a key: %v", err)
	}

	// A sealed token moved to another channel's record does not open there.
	if _, err := e.s.PutChannel(ctx, store.Channel{Platform: messenger, ID: "page1", AccessToken: "other-token"}); err != nil {
		t.Fatal(err)
	}
	waKey := e.cfg.Prefix + "channel:whatsapp.106540352242922"
	msKey := e.cfg.Prefix + "channel:messenger.page1"
	var wa, ms map[string]any
	_ = json.Unmarshal([]byte(e.raw.Get(ctx, waKey).Val()), &wa)
	_ = json.Unmarshal([]byte(e.raw.Get(ctx, msKey).Val()), &ms)
	ms["sealed_token"] = wa["sealed_token"]
	moved, _ := json.Marshal(ms)
	e.raw.Set(ctx, msKey, moved, 0)
	if _, err := e.s.Channel(ctx, messenger, "page1"); !errors.Is(err, store.ErrSealed) {
		t.Errorf("a token sealed for another channel opened: %v", err)
	}

	// Rotation keeps the binding.
	p := mustCreate(t, e.s, alice.ID, "Luna", persona.Private)
	if err := e.s.Bind(ctx, alice.ID, whatsapp, "106540352242922", p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.PutChannel(ctx, store.Channel{Platform: whatsapp, ID: "106540352242922", OwnerID: alice.ID, AccessToken: "rotated"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.s.Channel(ctx, whatsapp, "106540352242922"); got.PersonaID != p.ID || got.AccessToken.Reveal() != "rotated" {
		t.Errorf("after rotation: %+v", got)
	}

	if err := e.s.RemoveChannel(ctx, whatsapp, "106540352242922"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Channel(ctx, whatsapp, "106540352242922"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Channel() after remove: %v", err)
	}
	if err := e.s.RemoveChannel(ctx, whatsapp, "106540352242922"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second remove: %v", err)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	ch := store.Channel{Platform: whatsapp, ID: "1", AccessToken: accessToken}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("channel", "token", ch.AccessToken, "channel", ch)
	log.Info("text", slog.Any("token", ch.AccessToken))
	slog.New(slog.NewTextHandler(&logs, nil)).Info("channel", "token", ch.AccessToken, "channel", ch)
	js, _ := json.Marshal(ch)
	out := strings.Join([]string{
		fmt.Sprint(ch.AccessToken), fmt.Sprintf("%v %s %q %x %#v %+v", ch.AccessToken, ch.AccessToken, ch.AccessToken, ch.AccessToken, ch.AccessToken, ch),
		fmt.Sprintf("%#v", ch), logs.String(), string(js),
	}, "\n")
	if strings.Contains(out, accessToken) || strings.Contains(out, fmt.Sprintf("%x", accessToken)) {
		t.Errorf("the access token leaked:\n%s", out)
	}
	if !strings.Contains(out, "[redacted]") {
		t.Errorf("no mask in:\n%s", out)
	}
}

func TestChannelArguments(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for name, c := range map[string]store.Channel{
		"unknown platform": {Platform: corralv1.Platform_PLATFORM_UNSPECIFIED, ID: "1", AccessToken: "t"},
		"empty id":         {Platform: whatsapp, ID: "", AccessToken: "t"},
		"id with a space":  {Platform: whatsapp, ID: "1 2", AccessToken: "t"},
		"id too long":      {Platform: whatsapp, ID: strings.Repeat("1", 101), AccessToken: "t"},
		"no token":         {Platform: whatsapp, ID: "1"},
		"unknown owner":    {Platform: whatsapp, ID: "1", AccessToken: "t", OwnerID: "c_nobody"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.s.PutChannel(ctx, c)
			if !errors.Is(err, store.ErrInvalidArgument) && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("PutChannel(%+v) = %v, want ErrInvalidArgument", c, err)
			}
		})
	}
}

func TestBindAndResolve(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	alice, _ := newCreator(t, e.s, "Alice")
	bob, _ := newCreator(t, e.s, "Bob")
	if _, err := e.s.PutChannel(ctx, store.Channel{Platform: whatsapp, ID: "100", OwnerID: alice.ID, AccessToken: accessToken}); err != nil {
		t.Fatal(err)
	}
	conv := corralv1.Conversation{Platform: whatsapp, ChannelID: "100", UserID: "4915100000"}
	resolve := func(wantSource store.Source, wantID string) {
		t.Helper()
		r, err := e.s.Resolve(ctx, conv)
		if err != nil {
			t.Fatal(err)
		}
		if r.Source != wantSource || r.Version.PersonaID != wantID {
			t.Errorf("Resolve() = %s %s, want %s %s", r.Source, r.Version.PersonaID, wantSource, wantID)
		}
	}
	// A fresh install: no binding, the default persona answers, also on an
	// unknown channel.
	resolve(store.FromDefault, persona.DefaultID)
	if r, err := e.s.Resolve(ctx, corralv1.Conversation{Platform: messenger, ChannelID: "unknown", UserID: "u"}); err != nil || r.Source != store.FromDefault {
		t.Errorf("unknown channel: %+v, %v", r, err)
	}

	luna := mustCreate(t, e.s, alice.ID, "Luna", persona.Private)
	if err := e.s.Bind(ctx, alice.ID, whatsapp, "100", luna.ID); err != nil {
		t.Fatal(err)
	}
	resolve(store.FromDefault, persona.DefaultID) // bound but not published yet
	luna, _ = mustPublish(t, e.s, luna)
	resolve(store.FromChannel, luna.ID) // private personas answer where bound

	sol := mustCreate(t, e.s, bob.ID, "Sol", persona.Public)
	sol, _ = mustPublish(t, e.s, sol)
	v, err := e.s.ByHandle(ctx, "@sol")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetChoice(ctx, conv, v.PersonaID); err != nil {
		t.Fatal(err)
	}
	if id, _ := e.s.Choice(ctx, conv); id != sol.ID {
		t.Errorf("Choice() = %q", id)
	}
	resolve(store.FromChoice, sol.ID)
	// Going private withdraws the pick; the channel's persona answers.
	ed := sol.Edit()
	ed.Visibility = persona.Private
	if sol, err = e.s.Update(ctx, bob.ID, sol.ID, sol.Revision, ed); err != nil {
		t.Fatal(err)
	}
	resolve(store.FromChannel, luna.ID)
	// Picking the default persona by its handle works too.
	d, err := e.s.ByHandle(ctx, persona.DefaultHandle)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetChoice(ctx, conv, d.PersonaID); err != nil {
		t.Fatal(err)
	}
	resolve(store.FromChoice, persona.DefaultID)
	if err := e.s.ClearChoice(ctx, conv); err != nil {
		t.Fatal(err)
	}
	resolve(store.FromChannel, luna.ID)
	// A deleted bound persona leaves the default persona answering.
	if err := e.s.Delete(ctx, alice.ID, luna.ID); err != nil {
		t.Fatal(err)
	}
	resolve(store.FromDefault, persona.DefaultID)

	tests := []struct {
		name      string
		actor     string
		channel   string
		personaID string
		want      error
	}{
		{"creator on a channel not theirs", bob.ID, "100", sol.ID, store.ErrForbidden},
		{"creator binds another's persona", alice.ID, "100", sol.ID, store.ErrForbidden},
		{"unknown channel", store.Operator, "999", "", store.ErrNotFound},
		{"deleted persona", store.Operator, "100", luna.ID, store.ErrNotFound},
		{"operator binds anyone's persona", store.Operator, "100", sol.ID, nil},
		{"unbind", alice.ID, "100", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.s.Bind(ctx, tt.actor, whatsapp, tt.channel, tt.personaID); !errors.Is(err, tt.want) {
				t.Errorf("Bind() = %v, want %v", err, tt.want)
			}
		})
	}
	resolve(store.FromDefault, persona.DefaultID)
	if err := e.s.SetChoice(ctx, conv, "p_bad:key"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetChoice(malformed id) = %v", err)
	}
}
