// Package atomicfile writes a file whole or not at all: through a
// temporary file in the same folder, renamed into place once complete, so
// a failed or interrupted write never leaves a partial file behind, and
// errors name the file being written, never the temporary one.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Write writes path with write, replacing what is there. The file gets
// mode 0644.
func Write(path string, write func(w io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("create %s: %w", path, pe.Err)
		}
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = renamePath(err, tmp.Name(), path)
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// renamePath rewrites err's message to say name instead of path, keeping
// the error chain for errors.Is and errors.As.
func renamePath(err error, path, name string) error {
	msg := err.Error()
	if !strings.Contains(msg, path) {
		return err
	}
	return renamed{msg: strings.ReplaceAll(msg, path, name), err: err}
}

type renamed struct {
	msg string
	err error
}

func (r renamed) Error() string { return r.msg }
func (r renamed) Unwrap() error { return r.err }
