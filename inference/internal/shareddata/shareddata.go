// Package shareddata finds the project's shared test data, which lives beside
// the repository in ../shared/testdata and is never copied into it.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Root returns the absolute path of ../shared/testdata relative to the
// repository root (the nearest folder above the working directory that holds
// go.mod), or "" when it is absent.
func Root() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(filepath.Dir(dir), "shared", "testdata")
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				return p
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Path joins rel onto the shared test data folder and skips the test with a
// clear message when that folder or the file is absent.
func Path(tb testing.TB, rel ...string) string {
	tb.Helper()
	root := Root()
	if root == "" {
		tb.Skip("shared test data not found: expected ../shared/testdata beside the repository root")
	}
	p := filepath.Join(append([]string{root}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared test data file missing: %s", p)
	}
	return p
}
