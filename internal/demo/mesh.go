package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/testcluster"
)

// Volume names in the agents' configs and the job file.
const (
	sourceVolume = "exports"
	targetVolume = "landing"
)

// console is the agent the demo's leptonctl talks to until the failover:
// any agent answers, and writes go on to the leader.
const console = "tgt-2"

// member is one agent of the mesh and why it is there.
type member struct {
	spec testcluster.Spec
	role string
}

// roster is the mesh: three servers bootstrap it (two on the source side,
// one on the target side) and a fourth server joins it. The two source
// agents mount the same source volume, the two target agents the same
// target volume (shared: true, as on NFS or a cloud file share), so both
// of each side move the job's chunks.
func (d *demo) roster() []member {
	src := []map[string]any{{"name": sourceVolume, "path": d.tree.source, "shared": true}}
	dst := []map[string]any{{"name": targetVolume, "path": d.tree.target, "shared": true}}
	aliyun, tencent := map[string]string{"cloud": "aliyun"}, map[string]string{"cloud": "tencent"}
	return []member{
		{testcluster.Spec{Name: "src-1", Side: "source", BootstrapExpect: 3, Labels: aliyun, Volumes: src}, "server, bootstraps the cluster"},
		{testcluster.Spec{Name: "src-2", Side: "source", BootstrapExpect: 3, Labels: aliyun, Volumes: src}, "server, bootstraps the cluster"},
		{testcluster.Spec{Name: "tgt-1", Side: "target", BootstrapExpect: 3, Labels: tencent, Volumes: dst}, "server, bootstraps the cluster"},
		{testcluster.Spec{Name: "tgt-2", Side: "target", Labels: tencent, Volumes: dst}, "server, joins the running cluster"},
	}
}

// startMesh makes the cluster's secrets, starts the agents and waits until
// they agree on a leader and every agent sees all four alive and in Raft
// (the leader registers an agent, volumes included, before adding it).
func (d *demo) startMesh() {
	d.heading("Starting four agents: two per side, each side sharing one volume")
	if _, err := testcluster.Build(); err != nil {
		d.s.Fatalf("build the binaries: %v", err)
	}
	d.c = testcluster.New(d.s)
	d.live.Store(d.c)
	d.say("A CA signs one certificate per agent (QUIC accepts nothing else); one gossip key; an API token.")
	d.say("Each agent's config, certificate, Raft data and log are under %s/<agent>.", d.c.Dir)
	d.say("")
	roster := d.roster()
	began := time.Now()
	for _, m := range roster {
		d.halt()
		d.c.Add(m.spec)
		vol := m.spec.Volumes[0]
		d.say("  %-5s  %-6s  volume %-7s = %-7s (shared)  %s", m.spec.Name, m.spec.Side, vol["name"], filepath.Base(vol["path"].(string)), m.role)
	}
	d.say("")
	d.say("Waiting for gossip to connect them and the three bootstrap servers to elect a Raft leader ...")
	leader := d.c.WaitForLeader(wait, "src-1", "src-2", "tgt-1")
	d.halt()
	d.say("%s leads, %s after start.", leader, seconds(time.Since(began)))
	d.c.WaitFor(wait, "every agent to see all four alive and in Raft", func() string {
		d.halt()
		for _, a := range d.c.Running() {
			ms, err := d.c.MemberStatus(a)
			if err != nil {
				return fmt.Sprintf("%s: %v", a.Spec.Name, err)
			}
			for _, m := range roster {
				if got, ok := ms[m.spec.Name]; !ok || got.Status != api.StatusAlive || got.Raft == api.RaftNone {
					return fmt.Sprintf("%s sees %s", a.Spec.Name, testcluster.Describe(ms))
				}
			}
		}
		return ""
	})
	d.say("Every agent sees all four alive, registered with their volumes and in Raft (%s after start).", seconds(time.Since(began)))
	d.ctl(d.c.Agent(console), "status")
}
