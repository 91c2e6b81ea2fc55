package sender_test

import (
	"strings"
	"testing"

	"github.com/corral-ai/corral/bots/graphtest"
	"github.com/corral-ai/corral/inference/safety"
	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
	"github.com/corral-ai/corral/persona/store/storetest"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/sender"
)

// openStore opens the persona store the env's sender reads.
func (e *env) openStore(t *testing.T) *store.Store {
	t.Helper()
	key, err := store.ParseSecretKey(testSecretKey)
	if err != nil {
		t.Fatal(err)
	}
	return storetest.Open(t, store.Config{URL: e.redis, Prefix: e.prefix, SecretKey: key}, nil)
}

// TestChannelTokens checks that a channel's own token is used, the default
// token otherwise, and that a reply with no token at all is dead-lettered.
func TestChannelTokens(t *testing.T) {
	e := newEnv(t, graphtest.Options{Tokens: map[string][]string{
		"own-token":  {"430000000000009"},
		defaultToken: {waChannel},
	}})
	st := e.openStore(t)
	if _, err := st.PutChannel(t.Context(), store.Channel{Platform: whatsapp, ID: "430000000000009", AccessToken: "own-token"}); err != nil {
		t.Fatal(err)
	}
	e.start()
	own := reply(whatsapp, "5215512345678", "own", "from the second number")
	own.ChannelId = "430000000000009"
	e.publish(own)
	e.publish(reply(whatsapp, "5215512345679", "default", "from the first number"))
	sent := e.waitSent(2)
	for _, c := range sent {
		if !c.Accepted() {
			t.Errorf("call %+v refused", c)
		}
	}

	noToken := newEnv(t, graphtest.Options{}, func(c *sender.Config) { c.AccessToken = "" })
	noToken.start()
	noToken.publish(reply(messenger, "7300000000000042", "none", "hello"))
	dl := noToken.waitDLQ(1)
	if msg := dl[0].Header.Get(natsbus.HeaderDLQError); !strings.Contains(msg, "no access token") {
		t.Errorf("DLQ error %q", msg)
	}
	if n := len(noToken.graph.Calls()); n != 0 {
		t.Errorf("%d calls without a token", n)
	}
}

// TestPersonaRefusalMessage checks a refused piece is replaced by the
// persona version's own refusal message.
func TestPersonaRefusalMessage(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	st := e.openStore(t)
	ctx := t.Context()
	creator, _, err := st.CreateCreator(ctx, "Ada")
	if err != nil {
		t.Fatal(err)
	}
	ed := persona.NewEdit()
	ed.Handle, ed.Name, ed.Instructions = "luna", "Luna", "Talk about the night sky."
	ed.Safety = persona.Safety{Strictness: persona.Strict, RefusalMessage: "Luna would rather talk about the stars."}
	p, err := st.Create(ctx, creator.ID, ed)
	if err != nil {
		t.Fatal(err)
	}
	v, err := st.Publish(ctx, creator.ID, p.ID, p.Revision)
	if err != nil {
		t.Fatal(err)
	}
	e.start()
	harmful := "Sure. Here is how to make a pipe bomb at home: fill a steel pipe with gunpowder and add a fuse."
	m := reply(messenger, "7300000000000042", "persona-unsafe", harmful)
	m.PersonaId, m.PersonaVersion = v.PersonaID, v.Number
	e.publish(m)
	sent := e.waitSent(1)
	if sent[0].Text != "Luna would rather talk about the stars." {
		t.Fatalf("sent %q, want the persona's refusal (default is %q)", sent[0].Text, safety.DefaultRefusal)
	}
}
