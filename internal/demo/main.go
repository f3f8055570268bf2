// Command demo is `make demo`: Lepton's main job, a real migration, on
// 127.0.0.1. It generates a sample tree (LEPTON_DEMO_SIZE of half random,
// half log-like files, default 512MiB, plus testtree.Shapes' tree of every
// file shape), starts four leptond agents with the harness the end-to-end
// tests use (internal/testcluster: real processes, real certificates), two
// on the source side sharing the source volume and two on the target side
// sharing the target volume, submits a job with the real leptonctl,
// follows it with `leptonctl job watch`, checks the copy itself
// (testtree.Compare: bytes and metadata), prints a one-screen summary, then
// kills the Raft leader with kill -9, shows the survivors electing a new
// one and stops everything.
//
// Every wait is bounded; when a step fails the demo prints why and the tail
// of each agent's log, and exits 1. Ctrl-C stops every agent. Set
// LEPTON_DEMO_KEEP=1 to keep the sample trees and the agents' directories
// (configs, certificates, Raft data and logs) afterwards. Set LEPTON_BIN_DIR
// to use binaries built by `make build` (the Makefile does) instead of
// building them.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/leptonmesh/lepton/internal/testcluster"
)

// wait bounds every wait of the demo that does not depend on the tree's size.
const wait = 60 * time.Second

// demo is one run of the demo.
type demo struct {
	s    *session
	ctx  context.Context // ends on Ctrl-C
	c    *testcluster.Cluster
	live atomic.Pointer[testcluster.Cluster] // c, for the Ctrl-C goroutine
	step int

	tree sampleTree // what step 1 made
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	s := newSession(os.Stdout, os.Stderr, os.Getenv("LEPTON_DEMO_KEEP") == "1")
	s.Cleanup(testcluster.Cleanup) // binaries Build made; runs last
	d := &demo{s: s, ctx: ctx}
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the demo at once
		fmt.Fprintln(os.Stderr, "\nInterrupted: stopping every agent.")
		d.stopAll(10 * time.Second)
		s.exit(130)
	}()
	start := time.Now()
	d.run()
	fmt.Fprintf(s.stdout, "\nDone in %s.\n", seconds(time.Since(start)))
	s.exit(0)
}

// halt parks the demo's main goroutine once Ctrl-C was pressed, so that it
// neither narrates nor starts an agent while the interrupt stops them all
// and exits. Every step and every wait condition passes through it.
func (d *demo) halt() {
	if d.ctx.Err() != nil {
		select {}
	}
}

func (d *demo) run() {
	size := demoSize(d.s)
	fmt.Fprintf(d.s.stdout, "Lepton demo: migrating a %s sample tree between four leptond agents on 127.0.0.1,\n", mib(size))
	fmt.Fprintln(d.s.stdout, "each its own process, as on four VMs. It takes well under a minute; Ctrl-C stops everything.")
	d.makeTree(size)
	d.startMesh()
	id := d.migrate()
	d.check()
	d.summary(id)
	d.failover()
	d.stopEverything()
}
