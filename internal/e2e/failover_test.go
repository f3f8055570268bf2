package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/testcluster"
	"github.com/leptonmesh/lepton/internal/testtree"
)

// TestReceiverCrashOnASharedVolume kills one of two receivers of a shared
// target volume mid-transfer: the survivor takes over its units, its
// files and its verification, and the tree arrives whole.
func TestReceiverCrashOnASharedVolume(t *testing.T) {
	c := testcluster.New(t)
	src, dst := filepath.Join(c.Dir, "src"), filepath.Join(c.Dir, "dst")
	mkdirs(t, src, dst)
	if err := testtree.Mixed(src, 96<<20, 17); err != nil {
		t.Fatal(err)
	}
	shared := func(p string) []map[string]any { return []map[string]any{{"name": "data", "path": p, "shared": true}} }
	c.Add(testcluster.Spec{Name: "src-1", Side: "source", BootstrapExpect: 3, Volumes: shared(src)})
	c.Add(testcluster.Spec{Name: "src-2", Side: "source", BootstrapExpect: 3, Volumes: shared(src)})
	c.Add(testcluster.Spec{Name: "tgt-1", Side: "target", BootstrapExpect: 3, Volumes: shared(dst)})
	victim := c.Add(testcluster.Spec{Name: "tgt-2", Side: "target", Volumes: shared(dst)})
	c.WaitForLeader(30 * time.Second)
	s := c.Agent("src-1")
	c.WaitFor(30*time.Second, "tgt-2 in raft", func() string {
		ms, err := c.MemberStatus(s)
		if err != nil {
			return err.Error()
		}
		if ms["tgt-2"].Raft == api.RaftNone {
			return testcluster.Describe(ms)
		}
		return ""
	})
	sp := spec("crash", "data", "data")
	sp.ChunkSize = 1 << 20
	id := submit(t, s, sp)
	var at api.Job
	c.WaitFor(60*time.Second, "the transfer to be under way", func() string {
		var err error
		if at, err = s.Client().Job(context.Background(), id); err != nil {
			return err.Error()
		}
		if at.BytesDone == 0 {
			return fmt.Sprintf("%s, %d bytes", at.State, at.BytesDone)
		}
		return ""
	})
	victim.Kill()
	if at.BytesDone >= at.BytesTotal {
		t.Fatalf("the job had moved everything (%d bytes) before the receiver was killed; make the tree bigger", at.BytesDone)
	}
	t.Logf("killed tgt-2 with %d of %d bytes written", at.BytesDone, at.BytesTotal)
	j := waitJob(t, c, s, id, 120*time.Second)
	if j.State != api.JobDone {
		t.Fatalf("job ended %s: %s", j.State, j.Reason)
	}
	if diffs := testtree.Compare(src, dst, testtree.Options{Exclude: []string{".lepton"}}); len(diffs) > 0 {
		t.Errorf("trees differ:\n%s", strings.Join(diffs, "\n"))
	}
	if j.UnitsVerified != j.UnitsDone {
		t.Errorf("verified %d of %d units", j.UnitsVerified, j.UnitsDone)
	}
}
