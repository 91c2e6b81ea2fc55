package store_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

func TestCreateGetList(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	alice, _ := newCreator(t, e.s, "Alice")
	bob, _ := newCreator(t, e.s, "Bob")

	p := mustCreate(t, e.s, alice.ID, "Luna", persona.Private)
	if p.Revision != 1 || p.Published != 0 || p.OwnerID != alice.ID || p.CreatedAt.IsZero() {
		t.Errorf("created %+v", p)
	}
	got, err := e.s.Get(ctx, alice.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Errorf("Get() =\n%+v\nwant\n%+v", got, p)
	}
	second := mustCreate(t, e.s, alice.ID, "Sol", persona.Public)
	mustCreate(t, e.s, bob.ID, "Bobs_bot", persona.Public)
	list, err := e.s.List(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !sameIDs([]string{list[0].ID, list[1].ID}, []string{p.ID, second.ID}) {
		t.Errorf("List(alice) = %v", list)
	}

	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"handle taken ignoring case", func() error { _, err := e.s.Create(ctx, bob.ID, edit("LUNA")); return err }, store.ErrHandleTaken},
		{"reserved handle", func() error { _, err := e.s.Create(ctx, bob.ID, edit("assistant")); return err }, persona.ErrInvalid},
		{"invalid edit", func() error { x := edit("valid"); x.Name = ""; _, err := e.s.Create(ctx, bob.ID, x); return err }, persona.ErrInvalid},
		{"unknown creator", func() error { _, err := e.s.Create(ctx, "c_nobody", edit("other")); return err }, store.ErrNotFound},
		{"another creator reads", func() error { _, err := e.s.Get(ctx, bob.ID, p.ID); return err }, store.ErrForbidden},
		{"malformed id", func() error { _, err := e.s.Get(ctx, alice.ID, "p_x:v:1"); return err }, store.ErrNotFound},
		{"unknown id", func() error { _, err := e.s.Get(ctx, alice.ID, "p_aaaaaaaaaaaaaaaaaaaaaaaaaa"); return err }, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCreateLimit(t *testing.T) {
	s := newEnvWith(t, store.Config{MaxPersonasPerCreator: 2}).s
	c, _ := newCreator(t, s, "Carol")
	mustCreate(t, s, c.ID, "one", persona.Private)
	mustCreate(t, s, c.ID, "two", persona.Private)
	if _, err := s.Create(t.Context(), c.ID, edit("three")); !errors.Is(err, store.ErrLimit) {
		t.Errorf("third persona: %v, want ErrLimit", err)
	}
}

func newEnvWith(t *testing.T, cfg store.Config) env {
	t.Helper()
	e := newEnv(t)
	cfg.URL, cfg.Prefix = e.cfg.URL, e.cfg.Prefix
	if cfg.SecretKey == nil {
		cfg.SecretKey = testKey
	}
	e.cfg = cfg
	e.s = e.another(t, nil)
	return e
}

func TestUpdate(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	alice, _ := newCreator(t, e.s, "Alice")
	bob, _ := newCreator(t, e.s, "Bob")
	p := mustCreate(t, e.s, alice.ID, "Luna", persona.Private)

	ed := p.Edit()
	ed.Name = "Luna II"
	ed.Handle = "Selene"
	up, err := e.s.Update(ctx, alice.ID, p.ID, p.Revision, ed)
	if err != nil {
		t.Fatal(err)
	}
	if up.Revision != 2 || up.Draft.Name != "Luna II" || up.Handle != "Selene" {
		t.Errorf("updated %+v", up)
	}
	// The old handle is free now, the new one is not.
	if _, err := e.s.Create(ctx, bob.ID, edit("luna")); err != nil {
		t.Errorf("old handle not freed: %v", err)
	}
	if _, err := e.s.Create(ctx, bob.ID, edit("selene")); !errors.Is(err, store.ErrHandleTaken) {
		t.Errorf("new handle: %v, want ErrHandleTaken", err)
	}

	stale := ed
	stale.Name = "Lost edit"
	tests := []struct {
		name  string
		actor string
		rev   uint64
		edit  persona.Edit
		want  error
	}{
		{"stale revision", alice.ID, p.Revision, stale, store.ErrConflict},
		{"zero revision", alice.ID, 0, stale, store.ErrConflict},
		{"not the owner", bob.ID, up.Revision, stale, store.ErrForbidden},
		{"handle of another persona", alice.ID, up.Revision, edit("luna"), store.ErrHandleTaken},
		{"invalid", alice.ID, up.Revision, persona.Edit{}, persona.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.s.Update(ctx, tt.actor, p.ID, tt.rev, tt.edit); !errors.Is(err, tt.want) {
				t.Errorf("Update() = %v, want %v", err, tt.want)
			}
		})
	}
	now, err := e.s.Get(ctx, alice.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(now, up) {
		t.Errorf("refused updates changed the persona:\n%+v\nwant\n%+v", now, up)
	}
}

// TestConcurrentEditsLoseNothing has writers on two connections (two
// processes, as Redis sees it) edit one persona as fast as they can, each
// from the revision it last read. Every edit either lands at a revision no
// other edit landed at, or is refused with ErrConflict; the final state is
// the edit with the highest revision, and revisions count the edits that
// landed.
func TestConcurrentEditsLoseNothing(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	alice, _ := newCreator(t, e.s, "Alice")
	p := mustCreate(t, e.s, alice.ID, "Luna", persona.Private)
	clients := []*store.Store{e.s, e.another(t, nil)}

	type landed struct {
		rev  uint64
		desc string
	}
	var mu sync.Mutex
	var wins []landed
	conflicts := 0
	var wg sync.WaitGroup
	for w := range 4 {
		s := clients[w%2]
		wg.Go(func() {
			for i := range 25 {
				cur, err := s.Get(ctx, alice.ID, p.ID)
				if err != nil {
					t.Error(err)
					return
				}
				ed := cur.Edit()
				ed.Description = fmt.Sprintf("writer %d edit %d", w, i)
				up, err := s.Update(ctx, alice.ID, p.ID, cur.Revision, ed)
				mu.Lock()
				switch {
				case err == nil:
					wins = append(wins, landed{up.Revision, ed.Description})
				case errors.Is(err, store.ErrConflict):
					conflicts++
				default:
					t.Errorf("Update: %v", err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	seen := map[uint64]string{}
	var top landed
	for _, w := range wins {
		if other, dup := seen[w.rev]; dup {
			t.Errorf("revision %d written by %q and %q: one was lost", w.rev, other, w.desc)
		}
		seen[w.rev] = w.desc
		if w.rev > top.rev {
			top = w
		}
	}
	final, err := e.s.Get(ctx, alice.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final.Revision != uint64(1+len(wins)) || final.Draft.Description != top.desc {
		t.Errorf("final revision %d %q, want %d %q", final.Revision, final.Draft.Description, 1+len(wins), top.desc)
	}
	if len(wins)+conflicts != 100 {
		t.Errorf("%d landed + %d conflicts, want 100 attempts", len(wins), conflicts)
	}
	t.Logf("%d edits landed, %d refused with a conflict", len(wins), conflicts)
}

func TestConcurrentHandleClaims(t *testing.T) {
	e := newEnv(t)
	clients := []*store.Store{e.s, e.another(t, nil)}
	var creators []string
	for i := range 6 {
		c, _ := newCreator(t, e.s, fmt.Sprint("creator ", i))
		creators = append(creators, c.ID)
	}
	var wg sync.WaitGroup
	results := make([]error, len(creators))
	for i, c := range creators {
		wg.Go(func() {
			_, results[i] = clients[i%2].Create(t.Context(), c, edit(fmt.Sprintf("Popular%c", "AaAaAa"[i])))
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrHandleTaken):
			t.Errorf("Create: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d creators got the handle, want exactly 1", ok)
	}
}

func TestPublishRollbackVersions(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	alice, _ := newCreator(t, e.s, "Alice")
	bob, _ := newCreator(t, e.s, "Bob")
	p := mustCreate(t, e.s, alice.ID, "Luna", persona.Unlisted)

	if _, err := e.s.Live(ctx, p.ID); !errors.Is(err, store.ErrNotPublished) {
		t.Errorf("Live() before publishing: %v, want ErrNotPublished", err)
	}
	p, v1 := mustPublish(t, e.s, p)
	if v1.Number != 1 || v1.Spec.Name != "Luna" || v1.OwnerID != alice.ID || p.Published != 1 {
		t.Fatalf("v1 = %+v, persona at %d", v1, p.Published)
	}
	ed := p.Edit()
	ed.Name = "Luna II"
	p, err := e.s.Update(ctx, alice.ID, p.ID, p.Revision, ed)
	if err != nil {
		t.Fatal(err)
	}
	if live, _ := e.s.Live(ctx, p.ID); live.Spec.Name != "Luna" {
		t.Errorf("a draft edit reached chats: live %q", live.Spec.Name)
	}
	p, v2 := mustPublish(t, e.s, p)
	if live, _ := e.s.Live(ctx, p.ID); !reflect.DeepEqual(live, v2) || v2.Spec.Name != "Luna II" {
		t.Errorf("Live() = %+v, want v2 %+v", live, v2)
	}
	// A published version never changes.
	if got, err := e.s.Version(ctx, p.ID, 1); err != nil || !reflect.DeepEqual(got, v1) {
		t.Errorf("Version(1) = %+v, %v; want %+v", got, err, v1)
	}

	v3, err := e.s.Rollback(ctx, alice.ID, p.ID, p.Revision, 1)
	if err != nil {
		t.Fatal(err)
	}
	if v3.Number != 3 || v3.From != 1 || !reflect.DeepEqual(v3.Spec, v1.Spec) {
		t.Errorf("rollback made %+v", v3)
	}
	if live, _ := e.s.Live(ctx, p.ID); live.Number != 3 {
		t.Errorf("after rollback Live() is version %d", live.Number)
	}
	after, _ := e.s.Get(ctx, alice.ID, p.ID)
	if after.Draft.Name != "Luna II" {
		t.Errorf("rollback changed the draft to %q", after.Draft.Name)
	}
	vs, err := e.s.Versions(ctx, alice.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 || vs[0].Number != 3 || vs[2].Number != 1 || !reflect.DeepEqual(vs[2], v1) {
		t.Errorf("Versions() = %+v", vs)
	}

	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"publish from a stale revision", func() error { _, err := e.s.Publish(ctx, alice.ID, p.ID, p.Revision); return err }, store.ErrConflict},
		{"publish by another creator", func() error { _, err := e.s.Publish(ctx, bob.ID, p.ID, after.Revision); return err }, store.ErrForbidden},
		{"rollback to a missing version", func() error { _, err := e.s.Rollback(ctx, alice.ID, p.ID, after.Revision, 9); return err }, store.ErrNotFound},
		{"rollback to version 0", func() error { _, err := e.s.Rollback(ctx, alice.ID, p.ID, after.Revision, 0); return err }, store.ErrNotFound},
		{"rollback by another creator", func() error { _, err := e.s.Rollback(ctx, bob.ID, p.ID, after.Revision, 1); return err }, store.ErrForbidden},
		{"versions of another creator", func() error { _, err := e.s.Versions(ctx, bob.ID, p.ID); return err }, store.ErrForbidden},
		{"missing version", func() error { _, err := e.s.Version(ctx, p.ID, 4); return err }, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
	// The refused attempts changed nothing.
	if v, _ := e.s.Version(ctx, p.ID, 1); !reflect.DeepEqual(v, v1) {
		t.Errorf("version 1 changed: %+v", v)
	}
}

func TestByHandleAndDirectory(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	alice, _ := newCreator(t, e.s, "Alice")
	pub := mustCreate(t, e.s, alice.ID, "Zeta", persona.Public)
	pub, _ = mustPublish(t, e.s, pub)
	unl := mustCreate(t, e.s, alice.ID, "Mira", persona.Unlisted)
	unl, _ = mustPublish(t, e.s, unl)
	priv := mustCreate(t, e.s, alice.ID, "Hidden", persona.Private)
	mustPublish(t, e.s, priv)
	mustCreate(t, e.s, alice.ID, "Draft_only", persona.Public)
	alpha := mustCreate(t, e.s, alice.ID, "alpha", persona.Public)
	mustPublish(t, e.s, alpha)

	for _, tc := range []struct {
		handle string
		want   string // persona id, or "" for not found
	}{
		{"zeta", pub.ID}, {"@ZETA", pub.ID}, {"Mira", unl.ID}, {"hidden", ""}, {"draft_only", ""},
		{"nobody", ""}, {"bad handle!", ""}, {"assistant", persona.DefaultID},
	} {
		t.Run(tc.handle, func(t *testing.T) {
			v, err := e.s.ByHandle(ctx, tc.handle)
			switch {
			case tc.want == "" && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrNotPublished):
				t.Errorf("ByHandle(%q) = %v, %v; want not found", tc.handle, v.PersonaID, err)
			case tc.want != "" && (err != nil || v.PersonaID != tc.want):
				t.Errorf("ByHandle(%q) = %v, %v; want %s", tc.handle, v.PersonaID, err, tc.want)
			}
		})
	}

	handles := func(after string, limit int) []string {
		t.Helper()
		ls, err := e.s.Directory(ctx, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		var hs []string
		for _, l := range ls {
			hs = append(hs, l.Handle)
			if l.Version.Number != 1 {
				t.Errorf("%s listed with version %d", l.Handle, l.Version.Number)
			}
		}
		return hs
	}
	if got := handles("", 0); !reflect.DeepEqual(got, []string{"alpha", "Zeta"}) {
		t.Errorf("Directory() = %v, want [alpha Zeta]", got)
	}
	if got := handles("", 1); !reflect.DeepEqual(got, []string{"alpha"}) {
		t.Errorf("first page = %v", got)
	}
	if got := handles("ALPHA", 1); !reflect.DeepEqual(got, []string{"Zeta"}) {
		t.Errorf("second page = %v", got)
	}
	// Going private leaves the directory at once; renaming moves the entry.
	ed := pub.Edit()
	ed.Visibility = persona.Private
	pub, err := e.s.Update(ctx, alice.ID, pub.ID, pub.Revision, ed)
	if err != nil {
		t.Fatal(err)
	}
	ed = alpha.Edit()
	ed.Handle = "Omega"
	cur, _ := e.s.Get(ctx, alice.ID, alpha.ID)
	if _, err := e.s.Update(ctx, alice.ID, alpha.ID, cur.Revision, ed); err != nil {
		t.Fatal(err)
	}
	if got := handles("", 0); !reflect.DeepEqual(got, []string{"Omega"}) {
		t.Errorf("Directory() after changes = %v, want [Omega]", got)
	}
	if _, err := e.s.ByHandle(ctx, "zeta"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("private persona found by handle: %v", err)
	}
}

func TestDeleteKeepsReferencedVersions(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	alice, _ := newCreator(t, e.s, "Alice")
	bob, _ := newCreator(t, e.s, "Bob")
	p := mustCreate(t, e.s, alice.ID, "Luna", persona.Public)
	p, v1 := mustPublish(t, e.s, p)
	conv := corralv1.Conversation{Platform: corralv1.Platform_PLATFORM_WHATSAPP, ChannelID: "1555", UserID: "4915123"}
	if err := e.s.Use(ctx, conv, p.ID, 1, store.PromptUse{}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Delete(ctx, bob.ID, p.ID); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("delete by another creator: %v", err)
	}
	if err := e.s.Delete(ctx, alice.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	// Gone for everything but reading the referenced version.
	if _, err := e.s.Get(ctx, alice.ID, p.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get() after delete: %v", err)
	}
	if _, err := e.s.Live(ctx, p.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Live() after delete: %v", err)
	}
	if _, err := e.s.ByHandle(ctx, "luna"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ByHandle() after delete: %v", err)
	}
	if ls, _ := e.s.Directory(ctx, "", 0); len(ls) != 0 {
		t.Errorf("directory after delete: %v", ls)
	}
	if ps, _ := e.s.List(ctx, alice.ID); len(ps) != 0 {
		t.Errorf("List() after delete: %v", ps)
	}
	if err := e.s.Use(ctx, conv, p.ID, 1, store.PromptUse{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Use() after delete: %v", err)
	}
	if err := e.s.Delete(ctx, alice.ID, p.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Delete(): %v", err)
	}
	got, err := e.s.Version(ctx, p.ID, 1)
	if err != nil || !reflect.DeepEqual(got, v1) {
		t.Fatalf("referenced version after delete: %+v, %v", got, err)
	}
	ttl := e.raw.PTTL(ctx, e.cfg.Prefix+"persona:"+p.ID+":v:1").Val()
	if ttl <= 0 || ttl > store.DefaultReferenceTTL {
		t.Errorf("referenced version expires in %v, want within the reference TTL", ttl)
	}
	// The handle is free for someone else.
	if _, err := e.s.Create(ctx, bob.ID, edit("Luna")); err != nil {
		t.Errorf("handle of a deleted persona: %v", err)
	}
}

func TestDeleteUnreferencedRemovesAll(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	alice, _ := newCreator(t, e.s, "Alice")
	p := mustCreate(t, e.s, alice.ID, "Luna", persona.Public)
	p, _ = mustPublish(t, e.s, p)
	if err := e.s.Delete(ctx, alice.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Version(ctx, p.ID, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unreferenced version after delete: %v", err)
	}
	n, err := e.raw.Keys(ctx, e.cfg.Prefix+"persona:*").Result()
	if err != nil || len(n) != 0 {
		t.Errorf("keys left after delete: %v %v", n, err)
	}
}

func TestDeletedVersionsExpireWithTheirReferences(t *testing.T) {
	e := newEnvWith(t, store.Config{ReferenceTTL: 1500 * time.Millisecond})
	ctx := t.Context()
	alice, _ := newCreator(t, e.s, "Alice")
	p := mustCreate(t, e.s, alice.ID, "Luna", persona.Public)
	p, _ = mustPublish(t, e.s, p)
	conv := corralv1.Conversation{Platform: corralv1.Platform_PLATFORM_MESSENGER, ChannelID: "page", UserID: "psid"}
	if err := e.s.Use(ctx, conv, p.ID, 1, store.PromptUse{}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Delete(ctx, alice.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Version(ctx, p.ID, 1); err != nil {
		t.Fatalf("version right after delete: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := e.s.Version(ctx, p.ID, 1)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("version still readable long after its last reference expired: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if keys := e.raw.Keys(ctx, e.cfg.Prefix+"persona:*").Val(); len(keys) != 0 {
		t.Errorf("keys left after expiry: %v", keys)
	}
}

func TestUsage(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	alice, _ := newCreator(t, e.s, "Alice")
	p := mustCreate(t, e.s, alice.ID, "Luna", persona.Public)
	p, _ = mustPublish(t, e.s, p)
	p, _ = mustPublish(t, e.s, p)
	a := corralv1.Conversation{Platform: corralv1.Platform_PLATFORM_WHATSAPP, ChannelID: "1", UserID: "a"}
	b := corralv1.Conversation{Platform: corralv1.Platform_PLATFORM_WHATSAPP, ChannelID: "1", UserID: "b"}
	for _, u := range []struct {
		conv   corralv1.Conversation
		n      uint32
		prompt store.PromptUse
	}{
		{a, 1, store.PromptUse{Tokens: 100}},
		{a, 1, store.PromptUse{Tokens: 120, Cached: 96}},
		{a, 1, store.PromptUse{}},                        // a reply without usage counts no tokens
		{b, 1, store.PromptUse{Tokens: 80, Cached: 200}}, // more cached than the prompt: capped
		{a, 2, store.PromptUse{Tokens: 50, Cached: 32}},
	} {
		if err := e.s.Use(ctx, u.conv, p.ID, u.n, u.prompt); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.s.Use(ctx, a, p.ID, 3, store.PromptUse{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Use() of an unpublished version: %v", err)
	}
	if err := e.s.Use(ctx, a, persona.DefaultID, 1, store.PromptUse{Tokens: 10}); err != nil {
		t.Errorf("Use() of the default persona: %v", err)
	}
	u, err := e.s.Usage(ctx, alice.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.VersionUsage{
		{Version: 2, Replies: 1, Conversations: 1, PromptTokens: 50, CachedPromptTokens: 32},
		{Version: 1, Replies: 4, Conversations: 2, PromptTokens: 300, CachedPromptTokens: 176},
	}
	if !reflect.DeepEqual(u.Versions, want) {
		t.Errorf("Usage() = %+v, want %+v", u.Versions, want)
	}
	if r := u.Versions[0].HitRatio(); r != 32.0/50 {
		t.Errorf("HitRatio() = %v, want %v", r, 32.0/50)
	}
	if dump := e.dump(t); strings.Contains(dump, "whatsapp.1.a") {
		t.Errorf("usage keys hold the user's id:\n%s", dump)
	}
}

// sameIDs compares two lists of ids as sets: what the store creates within
// one millisecond has no defined order.
func sameIDs(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
