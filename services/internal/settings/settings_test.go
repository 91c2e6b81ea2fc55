package settings

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// testConfig is a component with one setting of each kind.
type testConfig struct {
	Addr    string
	Count   int
	Wait    time.Duration
	Secrets []string
	Hidden  string
}

func (c *testConfig) Settings() []Setting {
	return []Setting{
		{Env: "T_ADDR", Flag: "addr", Default: "x:1", Help: "address", Set: String(&c.Addr)},
		{Env: "T_COUNT", Flag: "count", Default: "1", Help: "count", Set: Int(&c.Count)},
		{Env: "T_WAIT", Flag: "wait", Default: "1s", Help: "wait", Set: Duration(&c.Wait)},
		{Env: "T_SECRETS", Flag: "secrets", Help: "secrets", Secret: true, Set: List(&c.Secrets)},
		{Env: "T_HIDDEN", Help: "env only", Set: String(&c.Hidden)},
	}
}

func (c testConfig) Validate() error {
	var errs []error
	if !strings.Contains(c.Addr, ":") {
		errs = append(errs, Bad("T_ADDR", "%q is not host:port", c.Addr))
	}
	if c.Count < 1 {
		errs = append(errs, Bad("T_COUNT", "%d: want at least 1", c.Count))
	}
	if c.Hidden == "bad" {
		errs = append(errs, Bad("T_HIDDEN", "bad"))
	}
	return errors.Join(errs...)
}

func parse(t *testing.T, env map[string]string, args ...string) (*testConfig, *Catalogue, error) {
	t.Helper()
	var c testConfig
	cat := New(&c)
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cat.Bind(fs, func(k string) string { return env[k] })
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &c, cat, cat.Apply(fs)
}

func TestLayers(t *testing.T) {
	c, cat, err := parse(t, map[string]string{"T_COUNT": "3", "T_ADDR": "env:1", "T_SECRETS": " a, b ,,"}, "--addr", "flag:2")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "flag:2" || c.Count != 3 || c.Wait != time.Second || strings.Join(c.Secrets, "|") != "a|b" {
		t.Errorf("config = %+v", c)
	}
	d := cat.Describe()
	got := map[string]any{}
	for i := 0; i < len(d); i += 2 {
		got[d[i].(string)] = d[i+1]
	}
	if got["T_SECRETS"] != "(set)" || got["T_ADDR"] != "flag:2" || got["T_HIDDEN"] != "" {
		t.Errorf("Describe = %v", d)
	}
}

func TestErrorsNameTheSource(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
		not  []string
	}{
		{"flag", nil, []string{"--addr", "nope"}, []string{`--addr: "nope" is not host:port`}, []string{"T_ADDR"}},
		{"env", map[string]string{"T_ADDR": "nope"}, nil, []string{`T_ADDR: "nope" is not host:port`}, []string{"--addr"}},
		{"env only setting", map[string]string{"T_HIDDEN": "bad"}, nil, []string{"T_HIDDEN: bad"}, nil},
		{"parse error of a number", nil, []string{"--count", "x"}, []string{`--count "x": not a whole number`}, []string{"strconv", "want at least"}},
		{"parse error of a duration", map[string]string{"T_WAIT": "soon"}, nil, []string{`T_WAIT "soon": not a duration`}, []string{"time:"}},
		{"several", map[string]string{"T_COUNT": "0"}, []string{"--addr", "y", "--wait", "x"}, []string{"--addr:", "T_COUNT: 0", "--wait"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parse(t, tt.env, tt.args...)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q should not say %q", err, w)
				}
			}
		})
	}
}

func TestDefaultIsNamedWithFlag(t *testing.T) {
	var c testConfig
	cat := New(&c)
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cat.Bind(fs, func(string) string { return "" })
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := cat.Apply(fs); err != nil {
		t.Fatal(err)
	}
	if got := cat.Name("T_ADDR"); got != "T_ADDR (--addr)" {
		t.Errorf("Name of a default = %q", got)
	}
	err := cat.Explain(errors.Join(Bad("T_ADDR", "taken"), errors.New("other")))
	if err == nil || !strings.Contains(err.Error(), "T_ADDR (--addr): taken") || !strings.Contains(err.Error(), "other") {
		t.Errorf("Explain = %v", err)
	}
	var p Problem
	if !errors.As(err, &p) || p.Env != "T_ADDR" {
		t.Errorf("Explain loses the Problem: %v", err)
	}
}

func TestSecretNotEchoed(t *testing.T) {
	var c struct{ testConfig }
	cat := New(secretInt{&c.Count})
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cat.Bind(fs, func(string) string { return "hunter2" })
	_ = fs.Parse(nil)
	err := cat.Apply(fs)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v must not show the secret", err)
	}
}

type secretInt struct{ n *int }

func (s secretInt) Settings() []Setting {
	return []Setting{{Env: "T_PIN", Secret: true, Set: Int(s.n)}}
}
func (secretInt) Validate() error { return nil }

func TestDuplicatesPanic(t *testing.T) {
	for _, tt := range []struct {
		name string
		a, b Setting
	}{
		{"variable", Setting{Env: "A"}, Setting{Env: "A"}},
		{"flag", Setting{Env: "A", Flag: "a"}, Setting{Env: "B", Flag: "a"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			New(fixed{tt.a}, fixed{tt.b})
		})
	}
}

type fixed struct{ s Setting }

func (f fixed) Settings() []Setting { return []Setting{f.s} }
func (fixed) Validate() error       { return nil }

func TestDefaults(t *testing.T) {
	var c testConfig
	Defaults(&c)
	if c.Addr != "x:1" || c.Count != 1 || c.Wait != time.Second {
		t.Errorf("Defaults = %+v", c)
	}
}

func TestRedactURLs(t *testing.T) {
	got := RedactURLs("nats://a:b@n1:4222, nats://n2:4222,%zz")
	if strings.Contains(got, "a:b@") || !strings.Contains(got, "n2:4222") || !strings.Contains(got, "(unparsable URL)") {
		t.Errorf("RedactURLs = %q", got)
	}
}

// FuzzApply feeds arbitrary environment values through the parser: it must
// never panic, and every error must name a setting.
func FuzzApply(f *testing.F) {
	f.Add("x:1", "3", "1s", "a,b")
	f.Add("", "-1", "soon", "")
	f.Add("nope", "99999999999999999999", "1h2m", ",,")
	f.Fuzz(func(t *testing.T, addr, count, wait, secrets string) {
		env := map[string]string{"T_ADDR": addr, "T_COUNT": count, "T_WAIT": wait, "T_SECRETS": secrets}
		var c testConfig
		cat := New(&c)
		fs := flag.NewFlagSet("fuzz", flag.ContinueOnError)
		cat.Bind(fs, func(k string) string { return env[k] })
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		err := cat.Apply(fs)
		if err == nil {
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "T_") {
				t.Errorf("error line %q does not name its setting", line)
			}
		}
		if secrets != "" && len(secrets) > 3 && strings.Contains(err.Error(), secrets) && !strings.Contains(addr+count+wait, secrets) {
			t.Errorf("error shows the secret: %v", err)
		}
	})
}

// shared declares T_KEY as a shared setting, as every role that needs
// CORRAL_SECRET_KEY does.
type shared struct {
	key  string
	flag string
}

func (s *shared) Settings() []Setting {
	return []Setting{{Env: "T_KEY", Flag: s.flag, Secret: true, Shared: true, Help: "key", Set: func(v string) error {
		if v == "bad" {
			return errors.New("not a key")
		}
		s.key = v
		return nil
	}}}
}
func (*shared) Validate() error { return nil }

func TestSharedSetting(t *testing.T) {
	a, b := &shared{flag: "key"}, &shared{flag: "key"}
	cat := New(a, b)
	if n := len(cat.Settings()); n != 1 {
		t.Fatalf("shared setting listed %d times", n)
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"env", map[string]string{"T_KEY": "k1"}, nil, "k1"},
		{"flag", map[string]string{"T_KEY": "k1"}, []string{"--key", "k2"}, "k2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			cat.Bind(fs, func(k string) string { return tt.env[k] })
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := cat.Apply(fs); err != nil {
				t.Fatal(err)
			}
			if a.key != tt.want || b.key != tt.want {
				t.Errorf("components got %q and %q, want %q in both", a.key, b.key, tt.want)
			}
		})
	}
	t.Run("bad value reported once", func(t *testing.T) {
		cat := New(&shared{flag: "key"}, &shared{flag: "key"})
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		cat.Bind(fs, func(string) string { return "bad" })
		_ = fs.Parse(nil)
		err := cat.Apply(fs)
		if err == nil || strings.Count(err.Error(), "not a key") != 1 || strings.Contains(err.Error(), `"bad"`) {
			t.Errorf("Apply = %v, want one masked error", err)
		}
	})
	t.Run("declarations disagree", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("no panic for a shared setting with two flags")
			}
		}()
		New(&shared{flag: "key"}, &shared{flag: "other"})
	})
	t.Run("not shared by both", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("no panic for a shared setting declared plainly by another component")
			}
		}()
		New(&shared{flag: "key"}, fixed{Setting{Env: "T_KEY", Flag: "key", Secret: true}})
	})
}
