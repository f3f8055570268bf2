package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/testcluster"
	"github.com/leptonmesh/lepton/internal/testtree"
)

// partitionedMesh starts src-1, src-2 (sharing the source volume) in the
// source cloud's network namespace and tgt-1, tgt-2 (sharing the target
// volume) in the target cloud's, over a mixed tree of size bytes. The
// voters are src-1, src-2 and tgt-1, so the source cloud holds the Raft
// majority. It skips the test where network namespaces cannot be made.
func partitionedMesh(t *testing.T, size int64) (*testcluster.Cluster, *testcluster.Net, string, string) {
	t.Helper()
	c := testcluster.New(t)
	clouds, err := c.NewNet()
	if errors.Is(err, testcluster.ErrNoNetns) {
		t.Skipf("a partition between clouds needs network namespaces (root and iproute2): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	src, dst := filepath.Join(c.Dir, "src"), filepath.Join(c.Dir, "dst")
	mkdirs(t, src, dst)
	if err := testtree.Mixed(src, size, 23); err != nil {
		t.Fatal(err)
	}
	shared := func(p string) []map[string]any { return []map[string]any{{"name": "data", "path": p, "shared": true}} }
	c.Add(testcluster.Spec{Name: "src-1", Side: "source", BootstrapExpect: 3, Volumes: shared(src), Netns: clouds.Source})
	c.Add(testcluster.Spec{Name: "src-2", Side: "source", BootstrapExpect: 3, Volumes: shared(src), Netns: clouds.Source})
	c.Add(testcluster.Spec{Name: "tgt-1", Side: "target", BootstrapExpect: 3, Volumes: shared(dst), Netns: clouds.Target})
	c.Add(testcluster.Spec{Name: "tgt-2", Side: "target", Volumes: shared(dst), Netns: clouds.Target})
	c.WaitForLeader(30*time.Second, "src-1", "src-2", "tgt-1")
	c.WaitFor(30*time.Second, "voters src-1, src-2, tgt-1 and tgt-2 in raft", func() string {
		ms, err := c.MemberStatus(c.Agent("tgt-2"))
		if err != nil {
			return err.Error()
		}
		for name, want := range map[string]string{"src-1": api.RaftVoter, "src-2": api.RaftVoter, "tgt-1": api.RaftVoter, "tgt-2": api.RaftNonvoter} {
			if ms[name].Raft != want {
				return testcluster.Describe(ms)
			}
		}
		return ""
	})
	return c, clouds, src, dst
}

// TestPartitionBetweenClouds cuts the network between the source cloud and
// the target cloud mid-transfer: transfers stop, the source cloud (which
// holds the Raft majority) keeps a leader and the job, the target cloud
// has no leader. Once the link is back the job finishes, verified, and the
// target tree is byte-identical to the source.
func TestPartitionBetweenClouds(t *testing.T) {
	c, clouds, src, dst := partitionedMesh(t, 96<<20)
	src1, src2 := c.Agent("src-1"), c.Agent("src-2")
	tgt1, tgt2 := c.Agent("tgt-1"), c.Agent("tgt-2")
	sp := spec("partition", "data", "data")
	sp.ChunkSize = 1 << 20
	id := submit(t, src1, sp)
	at := underWay(t, c, src1, id)
	if err := clouds.Partition(); err != nil {
		t.Fatal(err)
	}
	t.Logf("cut the link between the clouds with %d of %d bytes written", at.BytesDone, at.BytesTotal)

	// The target cloud holds one vote of three: it has no leader.
	c.WaitFor(20*time.Second, "the target cloud to have no leader", func() string {
		for _, a := range []*testcluster.Agent{tgt1, tgt2} {
			st, err := c.Status(a)
			if err != nil {
				return fmt.Sprintf("%s: %v", a.Spec.Name, err)
			}
			if st.Leader != "" {
				return fmt.Sprintf("%s still follows %s", a.Spec.Name, st.Leader)
			}
		}
		return ""
	})
	// The source cloud keeps a leader of its own and sees the target cloud gone.
	c.WaitFor(20*time.Second, "the source cloud to keep a leader and see the target cloud failed", func() string {
		for _, a := range []*testcluster.Agent{src1, src2} {
			st, err := c.Status(a)
			if err != nil {
				return fmt.Sprintf("%s: %v", a.Spec.Name, err)
			}
			if st.Leader != "src-1" && st.Leader != "src-2" {
				return fmt.Sprintf("%s follows %q", a.Spec.Name, st.Leader)
			}
			for _, m := range st.Members {
				if m.Side == "target" && m.Status != api.StatusFailed {
					return fmt.Sprintf("%s sees %s %s", a.Spec.Name, m.Name, m.Status)
				}
			}
		}
		return ""
	})

	// Transfers stop: the job's bytes stay put for a few seconds.
	stalled := jobStalls(t, c, src1, id, 3*time.Second)
	if stalled.BytesDone >= stalled.BytesTotal {
		t.Fatalf("every byte (%d) had moved before the cut; make the tree bigger", stalled.BytesDone)
	}
	for _, a := range []*testcluster.Agent{src1, src2} {
		j, err := a.Client().Job(context.Background(), id)
		if err != nil {
			t.Fatalf("job %s from %s during the partition: %v", id, a.Spec.Name, err)
		}
		switch j.State {
		case api.JobDone, api.JobFailed, api.JobCancelled:
			t.Fatalf("job %s ended %s during the partition (seen from %s): %s", id, j.State, a.Spec.Name, j.Reason)
		}
		if j.BytesDone != stalled.BytesDone {
			t.Errorf("%s sees %d bytes done during the partition, %s saw %d", a.Spec.Name, j.BytesDone, src1.Spec.Name, stalled.BytesDone)
		}
	}
	if stalled.Reason == "" {
		t.Errorf("job %s waits during the partition (%s) with no reason given", id, stalled.State)
	}
	t.Logf("during the partition the job is %s with %d of %d bytes done: %s", stalled.State, stalled.BytesDone, stalled.BytesTotal, stalled.Reason)

	if err := clouds.Heal(); err != nil {
		t.Fatal(err)
	}
	// The leader is a source agent: tgt-1's log fell behind the plan.
	c.WaitForLeader(30*time.Second, "src-1", "src-2")
	// Observed from the target cloud, which holds the files.
	finishedIntact(t, c, tgt2, id, src, dst)
}

// jobStalls waits (bounded) until a job's bytes done have not moved for
// quiet, and returns the job as it stood.
func jobStalls(t *testing.T, c *testcluster.Cluster, a *testcluster.Agent, id string, quiet time.Duration) api.Job {
	t.Helper()
	var last api.Job
	var since time.Time
	c.WaitFor(30*time.Second, "transfers to stop", func() string {
		j, err := a.Client().Job(context.Background(), id)
		if err != nil {
			return err.Error()
		}
		if since.IsZero() || j.BytesDone != last.BytesDone {
			last, since = j, time.Now()
		}
		if time.Since(since) < quiet {
			return fmt.Sprintf("%s, %d of %d bytes done", j.State, j.BytesDone, j.BytesTotal)
		}
		last = j
		return ""
	})
	return last
}
