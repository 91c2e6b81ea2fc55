package telemetry

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// toTerminal opens a pseudo-terminal: the logger writes to its terminal
// side and the test reads the other.
func toTerminal(t *testing.T) (io.Writer, func() string) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptm.Close() })
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pseudo-terminal number: %v", err)
	}
	pts, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { pts.Close() })
	return pts, func() string {
		line, err := bufio.NewReader(ptm).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return line
	}
}
