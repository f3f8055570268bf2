package main

import (
	"fmt"
	"strings"
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

// ctl runs the real leptonctl binary against agent a and prints its output
// as a terminal would show it; a non-zero exit fails the demo.
func (d *demo) ctl(a *testcluster.Agent, args ...string) {
	fmt.Fprintf(d.s.stdout, "\n    $ leptonctl %s        # asking %s at %s\n", strings.Join(args, " "), a.Spec.Name, a.APIAddr())
	out, errOut, code := a.Ctl(args...)
	d.halt()
	if code != 0 {
		d.s.Fatalf("leptonctl %s (asking %s): exit %d: %s", strings.Join(args, " "), a.Spec.Name, code, strings.TrimSpace(errOut))
	}
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		fmt.Fprintf(d.s.stdout, "    %s\n", line)
	}
}

// seconds renders a duration the way the narration quotes it.
func seconds(dur time.Duration) string {
	return fmt.Sprintf("%.1f s", dur.Seconds())
}
