package role_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/corral-ai/corral/services/internal/role"
	"github.com/corral-ai/corral/services/internal/settings"
)

type echoConfig struct{ Word string }

func (c *echoConfig) Settings() []settings.Setting {
	return []settings.Setting{{Env: "ECHO_WORD", Flag: "word", Default: "hi", Set: settings.String(&c.Word)}}
}

func (c echoConfig) Validate() error { return nil }

type verifiedConfig struct{ echoConfig }

func (verifiedConfig) Verify(context.Context) error { return errors.New("verified") }

type echo struct{ word string }

func (e *echo) Routes(mux *http.ServeMux) {}
func (e *echo) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
func (e *echo) Checks() map[string]role.Check { return nil }

func newEcho(c echoConfig, _ role.Deps) (*echo, error) {
	if c.Word == "" {
		return nil, errors.New("no word")
	}
	return &echo{c.Word}, nil
}

func TestDefine(t *testing.T) {
	def := role.Define("echo", "says a word", role.Needs{Redis: true}, func() echoConfig { return echoConfig{Word: "hi"} }, newEcho)
	if def.Name != "echo" || !def.Needs.Redis || def.Needs.NATS {
		t.Fatalf("definition %+v", def)
	}
	a, b := def.Prepare(), def.Prepare()
	if a.Verify != nil {
		t.Error("Verify set for a config without one")
	}
	// Settings write into this Prepared's config only.
	if err := a.Config.Settings()[0].Set(""); err != nil {
		t.Fatal(err)
	}
	r, err := a.New(role.Deps{})
	if err == nil || r != nil {
		t.Fatalf("New with an empty word = %v, %v; want a nil Role and an error", r, err)
	}
	r, err = b.New(role.Deps{})
	if err != nil || r.(*echo).word != "hi" {
		t.Fatalf("New with defaults = %v, %v", r, err)
	}
}

func TestDefineWithVerify(t *testing.T) {
	def := role.Define("v", "verified", role.Needs{}, func() verifiedConfig { return verifiedConfig{} },
		func(c verifiedConfig, d role.Deps) (*echo, error) { return newEcho(c.echoConfig, d) })
	p := def.Prepare()
	if p.Verify == nil || p.Verify(t.Context()).Error() != "verified" {
		t.Fatal("Verify not found on the config")
	}
}
