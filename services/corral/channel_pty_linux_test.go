package main

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// terminal opens a pseudo-terminal and returns its terminal side, which a
// command reads as its standard input, and the side the test types on.
func terminal(t *testing.T) (tty, keyboard *os.File) {
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
	return pts, ptm
}

// TestChannelAddTokenTypedAtATerminal types the token at a terminal
// (--token-file - with standard input a terminal): the command prompts,
// reads one line and stores it.
func TestChannelAddTokenTypedAtATerminal(t *testing.T) {
	s := storeEnv(t)
	tty, keyboard := terminal(t)
	old := stdin
	t.Cleanup(func() { stdin = old })
	stdin = tty
	if _, err := keyboard.WriteString("EAAtyped\n"); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runCLI(t, addArgs("701", "-")...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "access token (not shown") {
		t.Errorf("no prompt on stderr: %q", stderr)
	}
	if ch, err := s.Channel(t.Context(), whatsapp, "701"); err != nil || ch.AccessToken.Reveal() != "EAAtyped" {
		t.Errorf("typed token not stored: %v", err)
	}
}
