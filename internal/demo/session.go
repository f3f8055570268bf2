package main

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// session is the demo's stand-in for *testing.T, so that it can drive
// internal/testcluster (through testcluster.T) outside a test: TempDir makes a
// directory under the system temp dir, Cleanup functions run newest first
// when the demo ends, and Fatal prints why, cleans up and exits 1.
//
// Cleanup functions must not call Fatal: they run while the session exits.
type session struct {
	stdout io.Writer // the demo's narration
	stderr io.Writer // failures and agents' log tails
	keep   bool      // keep the temp dir (LEPTON_DEMO_KEEP=1)

	mu       sync.Mutex
	cleanups []func()
	failed   bool
	reason   string // the first failure, repeated after the log tails
	exiting  bool
	dirs     []string // kept when the demo fails
}

func newSession(stdout, stderr io.Writer, keep bool) *session {
	return &session{stdout: stdout, stderr: stderr, keep: keep}
}

// Helper is a no-op: there is no test output to attribute lines in.
func (s *session) Helper() {}

// Logf prints to stderr; testcluster uses it for agents' log tails.
func (s *session) Logf(format string, args ...any) {
	fmt.Fprintf(s.stderr, format+"\n", args...)
}

// Fatal fails the demo: it prints args, cleans up and exits 1.
func (s *session) Fatal(args ...any) { s.fail(fmt.Sprint(args...)) }

// Fatalf fails the demo: it prints the message, cleans up and exits 1.
func (s *session) Fatalf(format string, args ...any) { s.fail(fmt.Sprintf(format, args...)) }

// Failed reports whether Fatal or Fatalf was called.
func (s *session) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// TempDir makes a new directory under the system temp dir that is removed
// at the end, unless the demo failed or LEPTON_DEMO_KEEP=1 asked to keep it:
// the agents' configs, data and logs are what explains a failure.
func (s *session) TempDir() string {
	return s.mkdirTemp("", "lepton-demo-", true)
}

// DataDir makes a new directory under parent (the system temp dir when "")
// for the sample trees. It is removed at the end even when the demo failed,
// since it may hold a gigabyte of memory in /dev/shm; only
// LEPTON_DEMO_KEEP=1 keeps it.
func (s *session) DataDir(parent string) string {
	return s.mkdirTemp(parent, "lepton-demo-data-", false)
}

func (s *session) mkdirTemp(parent, pattern string, keepOnFailure bool) string {
	dir, err := os.MkdirTemp(parent, pattern)
	if err != nil {
		s.Fatalf("make a temp dir: %v", err)
	}
	if keepOnFailure {
		s.mu.Lock()
		s.dirs = append(s.dirs, dir)
		s.mu.Unlock()
	}
	s.Cleanup(func() {
		if s.keep || (keepOnFailure && s.Failed()) {
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(s.stderr, "remove %s: %v\n", dir, err)
		}
	})
	return dir
}

// Cleanup registers f to run when the demo ends, before those registered
// earlier.
func (s *session) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

func (s *session) fail(msg string) {
	s.mu.Lock()
	if !s.failed {
		s.failed, s.reason = true, msg
	}
	s.mu.Unlock()
	fmt.Fprintf(s.stderr, "\nThe demo failed: %s\n", msg)
	s.exit(1)
}

// exit runs the cleanups once, newest first, and ends the process with
// code. A second caller (a Ctrl-C during a failure, say) waits for the
// first to finish the cleanups and exit.
func (s *session) exit(code int) {
	s.mu.Lock()
	if s.exiting {
		s.mu.Unlock()
		select {} // the first caller exits the process
	}
	s.exiting = true
	cleanups := s.cleanups
	s.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	if s.Failed() && len(s.dirs) > 0 { // after the agents' log tails, say it again
		fmt.Fprintf(s.stderr, "\nThe demo failed: %s\n", s.reason)
		for _, d := range s.dirs {
			fmt.Fprintf(s.stderr, "Every agent's config, certificates, data and leptond.log are kept in %s\n", d)
		}
	}
	os.Exit(code)
}
