package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/testcluster"
	"github.com/leptonmesh/lepton/internal/testtree"
)

// TestChaos runs a migration while killing (kill -9) and restarting random
// agents, the leader included, one at a time, every second or two, for a
// bounded time. It prints its seed (LEPTON_CHAOS_SEED replays a run) and
// asserts at the end: the job is done, the trees are identical, every
// report entry agrees with the totals, and no temp file or goroutine leaks.
func TestChaos(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LEPTON_CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("LEPTON_CHAOS_SEED: %v", err)
		}
	}
	t.Logf("chaos seed %d (replay with LEPTON_CHAOS_SEED=%d)", seed, seed)
	fmt.Fprintf(os.Stderr, "chaos seed %d\n", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))

	c, src, dst := sharedMesh(t, 384<<20)
	goroutines := map[string]float64{}
	for _, a := range c.Agents() {
		goroutines[a.Spec.Name] = metric(t, c, a, "go_goroutines")
	}
	sp := spec("chaos", "data", "data")
	sp.ChunkSize = 1 << 20
	sp.CompressionLevel = "better" // slower, so the chaos lands mid-job
	obs := c.Agent("tgt-2")
	id := submit(t, obs, sp)
	underWay(t, c, obs, id)

	// One agent down at a time keeps a quorum of the three voters and a
	// live agent on each side of each shared volume.
	deadline := time.Now().Add(20 * time.Second)
	kills := 0
	for time.Now().Before(deadline) {
		j, err := liveJob(c, id)
		if err == nil && j.State != api.JobRunning && j.State != api.JobScanning && j.State != api.JobVerifying {
			break
		}
		agents := c.Agents()
		victim := agents[rng.IntN(len(agents))]
		victim.Kill()
		kills++
		t.Logf("chaos: killed %s (%d)", victim.Spec.Name, kills)
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		victim.Start()
		victim.WaitUp(30 * time.Second)
		c.WaitForLeader(30 * time.Second)
		time.Sleep(time.Duration(300+rng.IntN(700)) * time.Millisecond)
	}
	j := waitJob(t, c, obs, id, 180*time.Second)
	t.Logf("chaos: %d kills; job %s, %d units, %d retries, %d bytes sent again (%.1f%%)",
		kills, j.State, j.UnitsDone, j.Retries, j.BytesResent, 100*float64(j.BytesResent)/float64(j.BytesTotal))
	if j.State != api.JobDone || j.UnitsVerified != j.UnitsDone {
		t.Fatalf("job ended %s (%d/%d units verified): %s", j.State, j.UnitsVerified, j.UnitsDone, j.Reason)
	}
	if diffs := testtree.Compare(src, dst, testtree.Options{Exclude: []string{".lepton"}}); len(diffs) > 0 {
		t.Errorf("trees differ:\n%s", strings.Join(diffs, "\n"))
	}
	rep, err := obs.Client().JobReport(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, f := range rep.Files {
		switch f.Outcome {
		case api.OutcomeDone:
			done++
		default:
			t.Errorf("report: %s is %s (%s)", f.Path, f.Outcome, f.Reason)
		}
	}
	if int64(done) != j.FilesDone || int64(len(rep.Files)) != j.FilesTotal {
		t.Errorf("report has %d entries, %d done; the job says %d and %d", len(rep.Files), done, j.FilesTotal, j.FilesDone)
	}
	// Nothing left behind: no temp area, and no goroutines piling up.
	c.WaitFor(20*time.Second, "the temp area to be removed", func() string {
		if _, err := os.Stat(filepath.Join(dst, ".lepton")); err == nil {
			var left []string
			filepath.Walk(filepath.Join(dst, ".lepton"), func(p string, _ os.FileInfo, _ error) error {
				left = append(left, strings.TrimPrefix(p, dst))
				return nil
			})
			return "left behind: " + strings.Join(left, " ")
		}
		return ""
	})
	time.Sleep(2 * time.Second)
	for _, a := range c.Agents() {
		if !a.Running() {
			t.Errorf("%s is no longer running; log:\n%s", a.Spec.Name, a.LogTail(40))
			continue
		}
		if now := metric(t, c, a, "go_goroutines"); now > goroutines[a.Spec.Name]*1.5+50 {
			t.Errorf("%s: %v goroutines after the job, %v before", a.Spec.Name, now, goroutines[a.Spec.Name])
		}
	}
}

// liveJob asks any running agent for a job's status.
func liveJob(c *testcluster.Cluster, id string) (api.Job, error) {
	var last error
	for _, a := range c.Running() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		j, err := a.Client().Job(ctx, id)
		cancel()
		if err == nil {
			return j, nil
		}
		last = err
	}
	return api.Job{}, last
}
