package main

import (
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"golang.org/x/sys/unix"
)

// isTerminal reports whether w is a terminal that can show progress bars:
// an *os.File (or anything with a file descriptor) on a tty that reports a
// size, with TERM not "dumb". Pipes, files, buffers, CI logs and terminals
// of unknown size (`script` without one) get plain lines instead.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	if os.Getenv("TERM") == "dumb" {
		return false
	}
	if !isatty.IsTerminal(f.Fd()) {
		return false
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	return err == nil && ws.Row > 0 && ws.Col > 0
}
