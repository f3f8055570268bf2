package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/testcluster"
	"github.com/leptonmesh/lepton/internal/testtree"
)

// sharedMesh starts src-1, src-2 (sharing the source volume) and tgt-1,
// tgt-2 (sharing the target volume) over a mixed tree of size bytes.
func sharedMesh(t *testing.T, size int64) (*testcluster.Cluster, string, string) {
	t.Helper()
	return sharedMeshWith(t, size, nil)
}

// sharedMeshWith is sharedMesh with extra config keys on every agent.
func sharedMeshWith(t *testing.T, size int64, override map[string]any) (*testcluster.Cluster, string, string) {
	t.Helper()
	c := testcluster.New(t)
	src, dst := filepath.Join(c.Dir, "src"), filepath.Join(c.Dir, "dst")
	mkdirs(t, src, dst)
	if err := testtree.Mixed(src, size, 17); err != nil {
		t.Fatal(err)
	}
	shared := func(p string) []map[string]any { return []map[string]any{{"name": "data", "path": p, "shared": true}} }
	c.Add(testcluster.Spec{Name: "src-1", Side: "source", BootstrapExpect: 3, Volumes: shared(src), Override: override})
	c.Add(testcluster.Spec{Name: "src-2", Side: "source", BootstrapExpect: 3, Volumes: shared(src), Override: override})
	c.Add(testcluster.Spec{Name: "tgt-1", Side: "target", BootstrapExpect: 3, Volumes: shared(dst), Override: override})
	c.Add(testcluster.Spec{Name: "tgt-2", Side: "target", Volumes: shared(dst), Override: override})
	c.WaitForLeader(30 * time.Second)
	c.WaitFor(30*time.Second, "tgt-2 in raft", func() string {
		ms, err := c.MemberStatus(c.Agent("src-1"))
		if err != nil {
			return err.Error()
		}
		if ms["tgt-2"].Raft == api.RaftNone {
			return testcluster.Describe(ms)
		}
		return ""
	})
	return c, src, dst
}

// finishedIntact waits for a job to end and fails the test unless it is
// done with every unit verified and dst equals src, metadata included.
func finishedIntact(t *testing.T, c *testcluster.Cluster, a *testcluster.Agent, id, src, dst string) api.Job {
	t.Helper()
	j := waitJob(t, c, a, id, 120*time.Second)
	if j.State != api.JobDone || j.UnitsVerified != j.UnitsDone {
		t.Fatalf("job %s ended %s (%d/%d units verified): %s", id, j.State, j.UnitsVerified, j.UnitsDone, j.Reason)
	}
	if diffs := testtree.Compare(src, dst, testtree.Options{Exclude: []string{".lepton"}}); len(diffs) > 0 {
		t.Errorf("trees differ:\n%s", strings.Join(diffs, "\n"))
	}
	return j
}

// underWay waits until a job has written some but not all of its bytes.
func underWay(t *testing.T, c *testcluster.Cluster, a *testcluster.Agent, id string) api.Job {
	t.Helper()
	var at api.Job
	c.WaitFor(60*time.Second, "the transfer to be under way", func() string {
		var err error
		if at, err = a.Client().Job(context.Background(), id); err != nil {
			return err.Error()
		}
		if at.BytesDone == 0 {
			return fmt.Sprintf("%s, %d bytes", at.State, at.BytesDone)
		}
		return ""
	})
	if at.BytesDone >= at.BytesTotal {
		t.Fatalf("the job had moved everything (%d bytes) before the fault; make the tree bigger", at.BytesDone)
	}
	return at
}

// TestLeaderCrashMidJob kills the Raft leader with the transfer under
// way: a new leader resumes from the committed plan and the job finishes
// verified, byte-identical.
func TestLeaderCrashMidJob(t *testing.T) {
	c, src, dst := sharedMesh(t, 96<<20)
	leader := c.WaitForLeader(10 * time.Second)
	var other *testcluster.Agent
	for _, a := range c.Agents() {
		if a.Spec.Name != leader {
			other = a
		}
	}
	sp := spec("leader-crash", "data", "data")
	sp.ChunkSize = 1 << 20
	id := submit(t, other, sp)
	at := underWay(t, c, other, id)
	c.Agent(leader).Kill()
	t.Logf("killed the leader %s with %d of %d bytes written", leader, at.BytesDone, at.BytesTotal)
	finishedIntact(t, c, other, id, src, dst)
}

// TestReceiverCrashOnASharedVolume kills one of two receivers of a shared
// target volume mid-transfer: the survivor takes over its units, its
// files and its verification, and the tree arrives whole.
func TestReceiverCrashOnASharedVolume(t *testing.T) {
	c, src, dst := sharedMesh(t, 96<<20)
	s := c.Agent("src-1")
	sp := spec("crash", "data", "data")
	sp.ChunkSize = 1 << 20
	id := submit(t, s, sp)
	at := underWay(t, c, s, id)
	c.Agent("tgt-2").Kill()
	t.Logf("killed tgt-2 with %d of %d bytes written", at.BytesDone, at.BytesTotal)
	finishedIntact(t, c, s, id, src, dst)
}

// TestSenderCrashOnASharedVolume kills one of two senders of a shared
// source volume mid-transfer: once gossip declares it failed the survivor
// takes its units and the job finishes. Restarted, the agent rejoins and
// gets work again in the next job.
func TestSenderCrashOnASharedVolume(t *testing.T) {
	c, src, dst := sharedMesh(t, 96<<20)
	leader := c.WaitForLeader(10 * time.Second)
	victim := "src-2"
	if leader == victim {
		victim = "src-1"
	}
	obs := c.Agent("tgt-2")
	sp := spec("sender-crash", "data", "data")
	sp.ChunkSize = 1 << 20
	id := submit(t, obs, sp)
	at := underWay(t, c, obs, id)
	c.Agent(victim).Kill()
	t.Logf("killed %s with %d of %d bytes written", victim, at.BytesDone, at.BytesTotal)
	j := finishedIntact(t, c, obs, id, src, dst)
	if share := float64(j.BytesResent) / float64(j.BytesTotal); share > 0.25 {
		t.Errorf("%.0f%% of the job was sent again", share*100)
	}

	// Back again, the agent rejoins and sends its share of a new job.
	c.Agent(victim).Start()
	c.WaitFor(30*time.Second, victim+" alive again", func() string {
		ms, err := c.MemberStatus(obs)
		if err != nil {
			return err.Error()
		}
		if ms[victim].Status != api.StatusAlive {
			return testcluster.Describe(ms)
		}
		return ""
	})
	again := spec("sender-back", "data", "data")
	again.ChunkSize = 1 << 20
	again.Target.Path = "second-copy"
	j = waitJob(t, c, obs, submit(t, obs, again), 120*time.Second)
	sent := false
	for _, p := range j.Pairs {
		sent = sent || p.Sender == victim
	}
	if j.State != api.JobDone || !sent {
		t.Errorf("second job: %s, pairs %+v; want done with %s sending", j.State, j.Pairs, victim)
	}
}

// TestLeaderCrashWhileScanningAndWhileVerifying kills the leader in the
// two other phases of a job: right after submit (the manifest is being
// committed) and during verification. Each job ends done and verified.
func TestLeaderCrashWhileScanningAndWhileVerifying(t *testing.T) {
	c, src, dst := sharedMesh(t, 384<<20)
	for i := range 3000 {
		p := filepath.Join(src, "many", fmt.Sprintf("%02d", i%30), fmt.Sprintf("f%04d.txt", i))
		mkdirs(t, filepath.Dir(p))
		if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, phase := range []string{api.JobScanning, api.JobVerifying} {
		leader := c.WaitForLeader(30 * time.Second)
		var obs *testcluster.Agent
		for _, a := range c.Agents() {
			if a.Spec.Name != leader {
				obs = a
			}
		}
		sp := spec("crash-"+phase, "data", "data")
		sp.ChunkSize = 1 << 20
		sp.Target.Path = phase
		id := submit(t, obs, sp)
		deadline := time.Now().Add(60 * time.Second)
		for {
			j, err := obs.Client().Job(context.Background(), id)
			if err == nil && j.State == phase {
				break
			}
			if err == nil && (j.State == api.JobDone || time.Now().After(deadline)) {
				t.Fatalf("never saw the job %s (now %s)", phase, j.State)
			}
			time.Sleep(2 * time.Millisecond)
		}
		c.Agent(leader).Kill()
		t.Logf("killed the leader %s while the job was %s", leader, phase)
		finishedIntact(t, c, obs, id, src, filepath.Join(dst, phase))
		c.Agent(leader).Start()
	}
}
