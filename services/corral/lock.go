package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/corral-ai/corral/services/internal/backends"
)

// inUseError means another corral process holds the data folder's lock.
type inUseError struct{ dir, path string }

func (e inUseError) Error() string {
	return fmt.Sprintf("data folder %s is in use by another corral process (lock %s); give each process its own --data", e.dir, e.path)
}

// lockDataDir takes an exclusive lock on a file in the data folder, so a
// second `corral serve` on the same folder stops at once instead of sharing
// the embedded JetStream store and overwriting the Redis snapshot. The lock
// goes away with the process, even when it is killed. When the folder is
// taken the error is an inUseError.
//
// The lock holder owns the folder's published Redis address
// (backends.RedisAddrFile): taking the lock removes one a killed process
// left behind.
func lockDataDir(dir string) (unlock func() error, err error) {
	path := filepath.Join(dir, ".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data folder lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, inUseError{dir: dir, path: path}
		}
		return nil, fmt.Errorf("data folder lock %s: %w", path, err)
	}
	if err := backends.RemoveRedisAddr(dir); err != nil {
		f.Close()
		return nil, err
	}
	return f.Close, nil
}
