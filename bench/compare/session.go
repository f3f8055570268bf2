package main

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// fatal is what scope.Fatal panics with: the scenario that called it is
// recorded as failed, its scope is closed, and the run goes on with the
// next scenario.
type fatal struct{ msg string }

// session is the benchmark's stand-in for *testing.T, so that it can drive
// internal/testcluster (through testcluster.T) outside a test, as the demo
// does. It owns cleanups at two levels: the whole run (the sysctl restore,
// the sample trees) and one scenario at a time (a scope: its agents, its
// sshd, its namespaces), so that a scenario's agents are gone before the
// next scenario measures the machine.
type session struct {
	log io.Writer // progress and failures (stderr)

	mu       sync.Mutex
	cleanups []func()
	scopes   []*scope // open ones
	exiting  bool
}

func newSession(log io.Writer) *session { return &session{log: log} }

// Cleanup registers f to run when the session exits, before those
// registered earlier.
func (s *session) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

// Logf prints a line to the log.
func (s *session) Logf(format string, args ...any) { fmt.Fprintf(s.log, format+"\n", args...) }

// open starts a scope for one scenario.
func (s *session) open(name string) *scope {
	sc := &scope{s: s, name: name}
	s.mu.Lock()
	s.scopes = append(s.scopes, sc)
	s.mu.Unlock()
	return sc
}

// exit closes every open scope, runs the session's cleanups newest first
// and ends the process. A second caller (Ctrl-C while exiting) waits for
// the first.
func (s *session) exit(code int) {
	s.mu.Lock()
	if s.exiting {
		s.mu.Unlock()
		select {}
	}
	s.exiting = true
	scopes := s.scopes
	s.mu.Unlock()
	for i := len(scopes) - 1; i >= 0; i-- {
		scopes[i].close()
	}
	s.mu.Lock()
	cleanups := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	os.Exit(code)
}

// scope implements testcluster.T for one scenario. Fatal and Fatalf panic
// with a fatal value, which runScenario recovers; they must be called on
// the scenario's own goroutine.
type scope struct {
	s    *session
	name string

	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

// Helper is a no-op: there is no test output to attribute lines to.
func (sc *scope) Helper() {}

// Logf prints to the log, prefixed with the scenario.
func (sc *scope) Logf(format string, args ...any) {
	fmt.Fprintf(sc.s.log, "  ["+sc.name+"] "+format+"\n", args...)
}

// Fatal fails the scenario.
func (sc *scope) Fatal(args ...any) { sc.fail(fmt.Sprint(args...)) }

// Fatalf fails the scenario.
func (sc *scope) Fatalf(format string, args ...any) { sc.fail(fmt.Sprintf(format, args...)) }

func (sc *scope) fail(msg string) {
	sc.mu.Lock()
	sc.failed = true
	sc.mu.Unlock()
	panic(fatal{msg})
}

// Failed reports whether the scenario failed (agents then print their log
// tails when killed).
func (sc *scope) Failed() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.failed
}

// TempDir makes a directory under the system temp dir, removed when the
// scope closes.
func (sc *scope) TempDir() string {
	dir, err := os.MkdirTemp("", "lepton-compare-")
	if err != nil {
		sc.Fatalf("make a temp dir: %v", err)
	}
	sc.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			sc.Logf("remove %s: %v", dir, err)
		}
	})
	return dir
}

// Cleanup registers f to run when the scope closes, before those
// registered earlier.
func (sc *scope) Cleanup(f func()) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.cleanups = append(sc.cleanups, f)
}

// close runs the scope's cleanups once, newest first, and forgets the
// scope. A cleanup that panics is reported and the others still run.
func (sc *scope) close() {
	sc.mu.Lock()
	cleanups := sc.cleanups
	sc.cleanups = nil
	sc.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		func() {
			defer func() {
				if r := recover(); r != nil {
					fmt.Fprintf(sc.s.log, "  [%s] cleanup: %v\n", sc.name, r)
				}
			}()
			cleanups[i]()
		}()
	}
	sc.s.mu.Lock()
	defer sc.s.mu.Unlock()
	for i, o := range sc.s.scopes {
		if o == sc {
			sc.s.scopes = append(sc.s.scopes[:i], sc.s.scopes[i+1:]...)
			break
		}
	}
}
