package backends

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/corral-ai/corral/services/internal/atomicfile"
)

// RedisAddrFile is the file in the data folder dataDir that holds the
// address of the embedded Redis-protocol server while one runs on that
// folder: one line, host:port, that a client on this machine can dial.
//
// The contract: only the process holding the data folder's lock writes or
// removes it. That process removes a file left over from a crash when it
// takes the lock, writes the file once its embedded server listens, and
// removes it before the server stops. So while the lock is held the file,
// if present, names the live server; a process that runs with REDIS_URL,
// or without Redis, leaves no file.
func RedisAddrFile(dataDir string) string { return filepath.Join(dataDir, "redis", "addr") }

// ErrNoRedisAddr means the data folder has no published Redis address.
var ErrNoRedisAddr = errors.New("no embedded Redis address published")

// ReadRedisAddr reads the address in dataDir's RedisAddrFile. A missing or
// empty file is ErrNoRedisAddr.
func ReadRedisAddr(dataDir string) (string, error) {
	path := RedisAddrFile(dataDir)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", path, ErrNoRedisAddr)
	}
	if err != nil {
		return "", fmt.Errorf("read redis address: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReader(io.LimitReader(f, 512)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	addr := strings.TrimSpace(line)
	if addr == "" {
		return "", fmt.Errorf("%s is empty: %w", path, ErrNoRedisAddr)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("%s holds %q, not host:port", path, addr)
	}
	return addr, nil
}

// RemoveRedisAddr removes dataDir's RedisAddrFile if there is one; the
// holder of the data folder's lock calls it when it takes the lock, so a
// file left by a process that was killed is not taken for a live server.
func RemoveRedisAddr(dataDir string) error {
	if err := os.Remove(RedisAddrFile(dataDir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale redis address: %w", err)
	}
	return nil
}

// publishRedisAddr writes addr to dataDir's RedisAddrFile and returns how
// to remove it again.
func publishRedisAddr(dataDir, addr string) (remove func() error, err error) {
	path := RedisAddrFile(dataDir)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("publish redis address: %w", err)
	}
	err = atomicfile.Write(path, func(w io.Writer) error {
		_, err := io.WriteString(w, addr+"\n")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("publish redis address: %w", err)
	}
	return func() error { return RemoveRedisAddr(dataDir) }, nil
}

// dialable turns a listener's address into one a client can dial: an
// unspecified host (0.0.0.0, ::) becomes the loopback address.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil || !ip.IsUnspecified():
		return addr
	case ip.To4() != nil:
		return net.JoinHostPort("127.0.0.1", port)
	}
	return net.JoinHostPort("::1", port)
}
