package main

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/testcluster"
)

// failover kills the Raft leader with SIGKILL, waits for the survivors to
// agree on a new one and to see the old one failed, and shows the status:
// the plan, the finished job included, lives on.
func (d *demo) failover() {
	leader := d.c.WaitForLeader(wait)
	d.heading(fmt.Sprintf("Failover: killing the leader (kill -9 %s)", leader))
	old := d.c.Agent(leader)
	var survivors []string
	for _, a := range d.c.Running() {
		if a.Spec.Name != leader {
			survivors = append(survivors, a.Spec.Name)
		}
	}
	before, err := d.c.Status(d.c.Agent(survivors[0]))
	if err != nil {
		d.s.Fatalf("status from %s: %v", survivors[0], err)
	}
	killed := time.Now()
	d.halt()
	old.Kill()
	d.say("%s is gone without a word. The other voters stop hearing its heartbeats and hold an election ...", leader)
	newLeader := d.c.WaitForLeader(wait, survivors...)
	d.halt()
	took := time.Since(killed)
	after, err := d.c.Status(d.c.Agent(newLeader))
	if err != nil {
		d.s.Fatalf("status from %s: %v", newLeader, err)
	}
	d.say("New leader: %s. The three survivors agreed on it %s after the kill (term %d -> %d).", newLeader, seconds(took), before.Term, after.Term)
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
	d.say("Gossip's failure detector marked %s failed %s after the kill. The plan is replicated on", leader, seconds(time.Since(killed)))
	d.say("every agent, so the new leader knows the job too; a job still running would go on from")
	d.say("its committed state.")
	asked := console
	if asked == leader {
		asked = newLeader
	}
	d.ctl(d.c.Agent(asked), "status")
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
		d.say("Kept (LEPTON_DEMO_KEEP=1): the agents' configs, Raft data and logs in %s/<agent>/,", d.c.Dir)
		d.say("the job file %s/job.yaml, and the trees in %s.", d.c.Dir, d.tree.root)
		d.say("Remove both directories when done.")
	} else {
		d.say("The agents' logs were in %s/<agent>/leptond.log and the trees in %s;", d.c.Dir, d.tree.root)
		d.say("both are removed now (LEPTON_DEMO_KEEP=1 make demo keeps them).")
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
