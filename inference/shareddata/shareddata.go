// Package shareddata finds the project's shared test data, which lives
// beside the repository in ../shared/testdata and is never copied into it.
// Every test that reads it goes through Path or Lookup, so one variable
// decides what a missing file means: a skip on a developer's machine, a
// failure in CI (RequireEnv).
//
// It sits under inference/ (not inference/internal/) so that tests of
// services can import it too; the import rules let services import
// inference, and nothing else needs it. Only tests import it.
package shareddata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Environment variables the finder reads on every call.
const (
	// RequireEnv, set to a true value ("1", "true"), turns every skip for
	// missing shared test data into a test failure. CI sets it, so a run
	// without ../shared cannot pass by skipping.
	RequireEnv = "CORRAL_REQUIRE_SHARED"
	// DirEnv overrides where the shared test data is looked for; a
	// relative path is taken from the repository root. Unset, it is
	// ../shared/testdata beside the repository root.
	DirEnv = "CORRAL_SHARED_TESTDATA"
)

// errNoRoot means no go.mod was found above the working directory.
var errNoRoot = errors.New("repository root (the folder with go.mod) not found above the working directory")

// Dir returns the absolute path where the shared test data is expected,
// whether or not it exists: $CORRAL_SHARED_TESTDATA, else
// ../shared/testdata beside the repository root.
func Dir() (string, error) {
	d := os.Getenv(DirEnv)
	if filepath.IsAbs(d) {
		return filepath.Clean(d), nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	if d != "" {
		return filepath.Join(root, d), nil
	}
	return filepath.Join(filepath.Dir(root), "shared", "testdata"), nil
}

// Required reports whether RequireEnv asks for missing data to fail the
// tests; a value that is not a boolean is an error, so a typo cannot
// quietly let them skip.
func Required() (bool, error) {
	v, ok := os.LookupEnv(RequireEnv)
	if !ok || v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q is not a boolean (use 1 or 0)", RequireEnv, v)
	}
	return b, nil
}

// Path returns the shared test data file (or folder) at rel. When it is
// absent the test is skipped with a message saying where it was looked
// for, or fails when RequireEnv is set.
func Path(tb testing.TB, rel ...string) string {
	tb.Helper()
	p, problem := find(rel)
	if problem == "" {
		return p
	}
	required, err := Required()
	switch {
	case err != nil:
		tb.Fatal(err)
	case required:
		tb.Fatalf("%s (%s is set, so this fails instead of skipping)", problem, RequireEnv)
	default:
		tb.Skipf("%s; set %s=1 to make this a failure", problem, RequireEnv)
	}
	return ""
}

// Lookup is Path for data a test can do without, such as extra fuzz seeds:
// ok is false when the data is absent, and the test goes on, unless
// RequireEnv is set, which fails it as Path does.
func Lookup(tb testing.TB, rel ...string) (path string, ok bool) {
	tb.Helper()
	p, problem := find(rel)
	if problem == "" {
		return p, true
	}
	required, err := Required()
	switch {
	case err != nil:
		tb.Fatal(err)
	case required:
		tb.Fatalf("%s (%s is set)", problem, RequireEnv)
	default:
		tb.Logf("%s; going on without it", problem)
	}
	return "", false
}

// find returns the path of rel, or a sentence saying why it is missing.
func find(rel []string) (path, problem string) {
	dir, err := Dir()
	if err != nil {
		return "", "shared test data not found: " + err.Error()
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Sprintf("shared test data not found: no folder %s (../shared/testdata beside the repository root, or $%s)", dir, DirEnv)
	}
	p := filepath.Join(append([]string{dir}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		return "", "shared test data file missing: " + p
	}
	return p, ""
}

// repoRoot is the nearest folder above the working directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errNoRoot
		}
		dir = parent
	}
}
