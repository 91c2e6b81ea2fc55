package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestWriteFailure checks that a failed write leaves nothing behind, keeps
// what was there, and names the file, never the temporary one.
func TestWriteFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.gguf")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	var tmpName string
	err := Write(path, func(w io.Writer) error {
		tmpName = w.(*os.File).Name()
		if _, err := w.Write([]byte("half")); err != nil {
			return err
		}
		return &fs.PathError{Op: "write", Path: tmpName, Err: errors.New("no space left on device")}
	})
	if err == nil || strings.Contains(err.Error(), tmpName) || !strings.Contains(err.Error(), "write "+path) {
		t.Fatalf("err = %v, want it to name %s and not %s", err, path, tmpName)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Errorf("error chain lost: %v", err)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"out.gguf"}) {
		t.Errorf("folder holds %v after a failed write", got)
	}
	if data, _ := os.ReadFile(path); string(data) != "old" {
		t.Errorf("the old file changed: %q", data)
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.gguf")
	if err := Write(path, func(w io.Writer) error { _, err := w.Write([]byte("whole")); return err }); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "whole" || st.Mode().Perm() != 0o644 || !slices.Equal(names(t, dir), []string{"out.gguf"}) {
		t.Errorf("after a good write: %q, mode %v, folder %v", data, st.Mode(), names(t, dir))
	}
}

func TestWriteIntoMissingFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "x.gguf")
	err := Write(path, func(io.Writer) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "create "+path) || strings.Contains(err.Error(), "*") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Write into a missing folder = %v", err)
	}
}
