// Command demo is `make demo`: it starts a five-agent Lepton mesh on
// 127.0.0.1 with the same harness the end-to-end tests use
// (internal/testcluster: real leptond processes, real certificates), shows
// `leptonctl status` and `leptonctl raft peers`, kills the Raft leader with
// kill -9, shows the survivors electing a new one, restarts the old leader,
// and stops everything.
//
// Every wait is bounded; when a step fails the demo prints why and the tail
// of each agent's log, and exits 1. Ctrl-C stops every agent. Set
// LEPTON_DEMO_KEEP=1 to keep the agents' directories (configs, certificates,
// Raft data and logs) afterwards. Set LEPTON_BIN_DIR to use binaries built by
// `make build` (the Makefile does) instead of building them.
package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/testcluster"
)

// wait bounds every wait of the demo.
const wait = 60 * time.Second

// roster is the mesh: three servers bootstrap it (two on the source side,
// one on the target side), a fourth server joins later, and a fifth agent
// is not a server: it follows the Raft log but never votes.
var roster = []struct {
	spec testcluster.Spec
	role string
}{
	{testcluster.Spec{Name: "src-1", Side: "source", BootstrapExpect: 3, Labels: map[string]string{"cloud": "aliyun"}}, "server, bootstraps the cluster"},
	{testcluster.Spec{Name: "src-2", Side: "source", BootstrapExpect: 3, Labels: map[string]string{"cloud": "aliyun"}}, "server, bootstraps the cluster"},
	{testcluster.Spec{Name: "tgt-1", Side: "target", BootstrapExpect: 3, Labels: map[string]string{"cloud": "tencent"}}, "server, bootstraps the cluster"},
	{testcluster.Spec{Name: "tgt-2", Side: "target", Labels: map[string]string{"cloud": "tencent"}}, "server, joins the running cluster"},
	{testcluster.Spec{Name: "tgt-3", Side: "target", NotServer: true, Labels: map[string]string{"cloud": "tencent"}}, "not a server: follows the Raft log, never votes"},
}

// demo is one run of the demo.
type demo struct {
	s    *session
	ctx  context.Context // ends on Ctrl-C
	c    *testcluster.Cluster
	live atomic.Pointer[testcluster.Cluster] // c, for the Ctrl-C goroutine
	step int
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
	fmt.Fprintln(d.s.stdout, "Lepton demo: five leptond agents on 127.0.0.1, each its own process, as on five VMs.")
	fmt.Fprintln(d.s.stdout, "It takes well under a minute; Ctrl-C stops everything.")
	leader := d.start()
	d.show(leader)
	newLeader := d.killLeader(leader)
	d.restart(leader, newLeader)
	d.stopEverything()
}

// start makes the cluster's secrets, starts the agents and waits until they
// agree on a leader and every agent sees all five alive and in Raft.
func (d *demo) start() string {
	d.heading("Generating a CA, node certificates and a gossip key")
	if os.Getenv("LEPTON_BIN_DIR") == "" {
		d.say("Building leptond and leptonctl first ...")
	}
	if _, err := testcluster.Build(); err != nil {
		d.s.Fatalf("build the binaries: %v", err)
	}
	d.c = testcluster.New(d.s)
	d.live.Store(d.c)
	d.say("CA:         %s (signs one certificate per agent; QUIC accepts nothing else)", d.c.CADir)
	d.say("Gossip key: AES-256, the same on every agent (leptonctl keygen makes one)")
	d.say("API token:  %s", d.c.Token)
	d.say("")
	d.say("Starting the agents, each with its certificate, config and data dir under %s:", d.c.Dir)
	began := time.Now()
	for _, r := range roster {
		d.halt()
		d.c.Add(r.spec)
		d.say("  %-6s %-7s %-14s %s", r.spec.Name, r.spec.Side, labels(r.spec.Labels), r.role)
	}
	d.say("")
	d.say("Waiting for gossip to connect them and the three bootstrap servers to elect a Raft leader ...")
	leader := d.c.WaitForLeader(wait, "src-1", "src-2", "tgt-1")
	d.halt()
	d.say("%s leads, %s after start.", leader, seconds(time.Since(began)))
	d.c.WaitFor(wait, "every agent to see all five alive and in Raft", func() string {
		d.halt()
		for _, a := range d.c.Running() {
			ms, err := d.c.MemberStatus(a)
			if err != nil {
				return fmt.Sprintf("%s: %v", a.Spec.Name, err)
			}
			for _, r := range roster {
				if m, ok := ms[r.spec.Name]; !ok || m.Status != api.StatusAlive || m.Raft == api.RaftNone {
					return fmt.Sprintf("%s sees %s", a.Spec.Name, testcluster.Describe(ms))
				}
			}
		}
		return ""
	})
	d.say("Every agent sees all five alive, and the leader has added each to the Raft configuration (%s after start).", seconds(time.Since(began)))
	return leader
}

// show prints the cluster as an operator sees it.
func (d *demo) show(leader string) {
	d.heading("leptonctl status: the leader, the term and every member, as any agent sees them")
	d.say("RAFT is voter or nonvoter; * marks the leader. At most raft_voters servers vote, an odd")
	d.say("number spread across sides and labels; the other agents follow the log as non-voters.")
	d.ctl(d.c.Agent("tgt-3"), "status")

	d.heading("leptonctl raft peers: the Raft configuration the leader keeps")
	d.ctl(d.c.Agent(leader), "raft", "peers")
}

// killLeader kills the leader with SIGKILL and waits for the survivors to
// agree on a new one and to see the old one as failed.
func (d *demo) killLeader(leader string) string {
	d.heading(fmt.Sprintf("Killing the leader (kill -9 %s)", leader))
	old := d.c.Agent(leader)
	before, err := d.c.Status(d.c.Agent("tgt-3"))
	if err != nil {
		d.s.Fatalf("status from tgt-3: %v", err)
	}
	var candidates []string
	for _, r := range roster {
		if r.spec.Name != leader {
			candidates = append(candidates, r.spec.Name)
		}
	}
	killed := time.Now()
	d.halt()
	old.Kill()
	d.say("%s is gone without a word. The other voters stop hearing its heartbeats and hold an election ...", leader)
	newLeader := d.c.WaitForLeader(wait, candidates...)
	d.halt()
	took := time.Since(killed)
	after, err := d.c.Status(d.c.Agent(newLeader))
	if err != nil {
		d.s.Fatalf("status from %s: %v", newLeader, err)
	}
	d.say("New leader: %s. All four survivors agreed on it %s after the kill (term %d -> %d).", newLeader, seconds(took), before.Term, after.Term)
	d.c.WaitFor(wait, "every survivor to see "+leader+" failed", func() string {
		d.halt()
		for _, a := range d.c.Running() {
			ms, err := d.c.MemberStatus(a)
			if err != nil {
				return fmt.Sprintf("%s: %v", a.Spec.Name, err)
			}
			if ms[leader].Status != api.StatusFailed {
				return fmt.Sprintf("%s sees %s", a.Spec.Name, testcluster.Describe(ms))
			}
		}
		return ""
	})
	d.say("Gossip's failure detector marked %s failed %s after the kill.", leader, seconds(time.Since(killed)))
	d.ctl(d.c.Agent("tgt-3"), "status")
	return newLeader
}

// restart starts the killed agent again on its old data dir and waits until
// it is alive and follows the new leader.
func (d *demo) restart(old, leader string) {
	d.heading(fmt.Sprintf("Restarting the old leader (%s)", old))
	a := d.c.Agent(old)
	began := time.Now()
	d.halt()
	a.Start()
	d.say("%s starts with the Raft log and state it kept on disk and rejoins through gossip ...", old)
	d.c.WaitFor(wait, old+" to rejoin and follow "+leader, func() string {
		d.halt()
		ms, err := d.c.MemberStatus(d.c.Agent(leader))
		if err != nil {
			return fmt.Sprintf("%s: %v", leader, err)
		}
		if m := ms[old]; m.Status != api.StatusAlive || m.Raft == api.RaftNone {
			return fmt.Sprintf("%s sees %s", leader, testcluster.Describe(ms))
		}
		st, err := d.c.Status(a)
		if err != nil {
			return fmt.Sprintf("%s: %v", old, err)
		}
		if st.Leader != leader {
			return fmt.Sprintf("%s follows %q", old, st.Leader)
		}
		return ""
	})
	d.say("%s is alive again and follows %s (%s after the restart). The leader did not change:", old, leader, seconds(time.Since(began)))
	d.say("a rejoining agent does not disturb a healthy leader.")
	d.ctl(a, "status")
}

// stopEverything stops every agent with SIGTERM, a graceful leave, and
// says where their files are.
func (d *demo) stopEverything() {
	d.heading("Stopping everything (SIGTERM: each agent leaves the cluster gracefully)")
	d.halt()
	for _, r := range d.stopAll(wait) {
		d.say("%s", r)
	}
	if d.s.keep {
		d.say("Logs kept (LEPTON_DEMO_KEEP=1): %s/<agent>/leptond.log; remove %s when done.", d.c.Dir, d.c.Dir)
	} else {
		d.say("Logs were in %s/<agent>/leptond.log; the directory is removed now", d.c.Dir)
		d.say("(run LEPTON_DEMO_KEEP=1 make demo to keep it).")
	}
}

// stopAll sends SIGTERM to every running agent at once and waits up to
// bound for them to leave; the cluster's cleanup kills a straggler with
// kill -9. It returns a line per agent: its exit code and how long it took.
func (d *demo) stopAll(bound time.Duration) []string {
	c := d.live.Load()
	if c == nil {
		return nil
	}
	running := c.Running()
	lines := make([]string, len(running))
	var mu sync.Mutex
	var wg sync.WaitGroup
	began := time.Now()
	for i, a := range running {
		mu.Lock()
		lines[i] = fmt.Sprintf("%-6s still leaving after %s: killed (kill -9)", a.Spec.Name, seconds(bound))
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Stop()
			line := fmt.Sprintf("%-6s stopped in %s", a.Spec.Name, seconds(time.Since(began)))
			if code, err := a.Wait(time.Second); err == nil {
				line += fmt.Sprintf(", exit code %d", code)
			}
			mu.Lock()
			lines[i] = line
			mu.Unlock()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(bound):
	}
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(lines)
}

// labels renders labels as k=v pairs sorted by key.
func labels(l map[string]string) string {
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		pairs = append(pairs, k+"="+l[k])
	}
	return strings.Join(pairs, ",")
}
