package shareddata_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/shareddata"
)

// recorder is a testing.TB whose Skip and Fatal record the message and stop
// the call, as the real ones do, without ending the test that uses it.
type recorder struct {
	testing.TB
	skipped, failed, logged string
}

type stopped struct{}

func (r *recorder) Helper()                  {}
func (r *recorder) Skipf(f string, a ...any) { r.skipped = fmt.Sprintf(f, a...); panic(stopped{}) }
func (r *recorder) Fatal(a ...any)           { r.failed = fmt.Sprint(a...); panic(stopped{}) }
func (r *recorder) Fatalf(f string, a ...any) {
	r.failed = fmt.Sprintf(f, a...)
	panic(stopped{})
}
func (r *recorder) Logf(f string, a ...any) { r.logged = fmt.Sprintf(f, a...) }

// call runs f with a fresh recorder and returns it with f's results.
func call(t *testing.T, f func(tb testing.TB) (string, bool)) (r *recorder, path string, ok bool) {
	t.Helper()
	r = &recorder{TB: t}
	func() {
		defer func() {
			if v := recover(); v != nil {
				if _, isStop := v.(stopped); !isStop {
					panic(v)
				}
			}
		}()
		path, ok = f(r)
	}()
	return r, path, ok
}

func path(rel ...string) func(tb testing.TB) (string, bool) {
	return func(tb testing.TB) (string, bool) { p := shareddata.Path(tb, rel...); return p, p != "" }
}

func lookup(rel ...string) func(tb testing.TB) (string, bool) {
	return func(tb testing.TB) (string, bool) { return shareddata.Lookup(tb, rel...) }
}

func TestFinder(t *testing.T) {
	data := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, "stories260K"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(data, "stories260K", "golden.txt")
	if err := os.WriteFile(file, []byte("1 2 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	absent := filepath.Join(t.TempDir(), "no-shared-here")
	tests := []struct {
		name     string
		dir      string // CORRAL_SHARED_TESTDATA
		require  string // CORRAL_REQUIRE_SHARED
		find     func(tb testing.TB) (string, bool)
		want     string // the path found, or "" when none
		skipped  string // part of the skip message
		failed   string // part of the failure message
		loggedOK bool   // Lookup logged that it goes on
	}{
		{name: "present", dir: data, find: path("stories260K", "golden.txt"), want: file},
		{name: "present and required", dir: data, require: "1", find: path("stories260K", "golden.txt"), want: file},
		{name: "folder missing skips", dir: absent, find: path("stories260K", "golden.txt"), skipped: "no folder " + absent},
		{name: "folder missing skip names the variable", dir: absent, find: path("x"), skipped: "set CORRAL_REQUIRE_SHARED=1"},
		{name: "folder missing fails when required", dir: absent, require: "1", find: path("stories260K", "golden.txt"), failed: "no folder " + absent},
		{name: "required by true", dir: absent, require: "true", find: path("x"), failed: "CORRAL_REQUIRE_SHARED is set"},
		{name: "not required by 0", dir: absent, require: "0", find: path("x"), skipped: "no folder"},
		{name: "file missing skips", dir: data, find: path("stories260K", "other.bin"), skipped: "file missing: " + filepath.Join(data, "stories260K", "other.bin")},
		{name: "file missing fails when required", dir: data, require: "1", find: path("stories260K", "other.bin"), failed: "file missing"},
		{name: "bad variable fails", dir: absent, require: "maybe", find: path("x"), failed: `CORRAL_REQUIRE_SHARED="maybe" is not a boolean`},
		{name: "lookup present", dir: data, find: lookup("stories260K", "golden.txt"), want: file},
		{name: "lookup absent goes on", dir: absent, find: lookup("x"), loggedOK: true},
		{name: "lookup absent fails when required", dir: absent, require: "1", find: lookup("x"), failed: "no folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(shareddata.DirEnv, tt.dir)
			t.Setenv(shareddata.RequireEnv, tt.require)
			r, got, ok := call(t, tt.find)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("found %q (%v), want %q", got, ok, tt.want)
			}
			check := func(what, got, want string) {
				if want == "" && got != "" || !strings.Contains(got, want) {
					t.Errorf("%s %q, want it to contain %q", what, got, want)
				}
			}
			check("skipped", r.skipped, tt.skipped)
			check("failed", r.failed, tt.failed)
			if tt.loggedOK != strings.Contains(r.logged, "going on without it") {
				t.Errorf("logged %q", r.logged)
			}
		})
	}
}

func TestDir(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(filepath.Dir(wd)) // inference/shareddata -> repository root
	tests := []struct {
		name, env, want string
	}{
		{"default beside the repository", "", filepath.Join(filepath.Dir(root), "shared", "testdata")},
		{"absolute", "/data/corral-shared", "/data/corral-shared"},
		{"relative to the repository root", "testdata/shared", filepath.Join(root, "testdata", "shared")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(shareddata.DirEnv, tt.env)
			if got, err := shareddata.Dir(); err != nil || got != tt.want {
				t.Fatalf("Dir() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
