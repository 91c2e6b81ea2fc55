package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir takes an exclusive lock on a file in the data folder, so a
// second `corral serve` on the same folder stops at once instead of sharing
// the embedded JetStream store and overwriting the Redis snapshot. The lock
// goes away with the process, even when it is killed.
func lockDataDir(dir string) (unlock func() error, err error) {
	path := filepath.Join(dir, ".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data folder lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data folder %s is in use by another corral process (lock %s); give each process its own --data", dir, path)
		}
		return nil, fmt.Errorf("data folder lock %s: %w", path, err)
	}
	return f.Close, nil
}
