package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/leptonmesh/lepton/internal/testcluster"
)

// heading starts a numbered step of the demo.
func (d *demo) heading(title string) {
	d.halt()
	d.step++
	fmt.Fprintf(d.s.stdout, "\n==> %d. %s\n", d.step, title)
}

// say prints one line of narration.
func (d *demo) say(format string, args ...any) {
	d.halt()
	if format == "" {
		fmt.Fprintln(d.s.stdout)
		return
	}
	fmt.Fprintf(d.s.stdout, "    "+format+"\n", args...)
}

// ctl runs the real leptonctl binary against agent a, prints the command
// and its output as a terminal would show them, and returns the output; a
// non-zero exit fails the demo.
func (d *demo) ctl(a *testcluster.Agent, args ...string) string {
	fmt.Fprintf(d.s.stdout, "\n    $ leptonctl %s        # asking %s at %s\n", strings.Join(args, " "), a.Spec.Name, a.APIAddr())
	out := d.ctlQuiet(a, args...)
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		fmt.Fprintf(d.s.stdout, "    %s\n", line)
	}
	return out
}

// ctlQuiet runs leptonctl against agent a and returns its output without
// printing it; a non-zero exit fails the demo.
func (d *demo) ctlQuiet(a *testcluster.Agent, args ...string) string {
	out, errOut, code := a.Ctl(args...)
	d.halt()
	if code != 0 {
		d.s.Fatalf("leptonctl %s (asking %s): exit %d: %s", strings.Join(args, " "), a.Spec.Name, code, strings.TrimSpace(errOut))
	}
	return out
}

// seconds renders a duration the way the narration quotes it.
func seconds(dur time.Duration) string {
	return fmt.Sprintf("%.1f s", dur.Seconds())
}

// mib renders a byte count in binary units, as leptonctl does.
func mib(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// indenter writes each line it is given to w with a prefix, as soon as the
// line is complete, so a child's output reads as part of the narration.
type indenter struct {
	w      io.Writer
	prefix string

	mu      sync.Mutex
	partial []byte
}

func newIndenter(w io.Writer, prefix string) *indenter {
	return &indenter{w: w, prefix: prefix}
}

// Write passes on every complete line of p and keeps the rest (bounded:
// a line longer than 64 KiB is passed on in pieces).
func (i *indenter) Write(p []byte) (int, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.partial = append(i.partial, p...)
	for {
		nl := bytes.IndexByte(i.partial, '\n')
		if nl < 0 && len(i.partial) < 64<<10 {
			return len(p), nil
		}
		end := nl + 1
		if nl < 0 {
			end = len(i.partial)
		}
		if _, err := fmt.Fprintf(i.w, "%s%s", i.prefix, i.partial[:end]); err != nil {
			return len(p), err
		}
		i.partial = i.partial[end:]
	}
}

// Flush passes on what is left of an unfinished last line.
func (i *indenter) Flush() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(i.partial) > 0 {
		fmt.Fprintf(i.w, "%s%s\n", i.prefix, i.partial)
		i.partial = nil
	}
}
