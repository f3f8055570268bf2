package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/testcluster"
	"github.com/leptonmesh/lepton/internal/testtree"
)

// BenchmarkLeaderKillMidJob runs one failover drill per iteration on a
// four-agent loopback mesh (two source agents sharing the source volume,
// two target agents sharing the target volume, LAN profile): a fresh job
// copies a 256 MiB tree (LEPTON_BENCH_DRILL_SIZE), the Raft leader is
// killed (kill -9) once a tenth of the bytes are written, and the drill
// measures the time to a new leader that committed, the time until bytes
// flow again, and the bytes sent again as a share of the job. Each copy
// must equal the source. Reports p50 and p95 of the times and the worst
// resent share. Goal (issue 4): new leader p50 ≤ 2 s, resent ≤ 1 %.
func BenchmarkLeaderKillMidJob(b *testing.B) {
	size := sizeFromEnv(b, "LEPTON_BENCH_DRILL_SIZE", 256<<20)
	root := shmDir(b, size)
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
	for _, d := range []string{src, dst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	if err := testtree.Mixed(src, size, 4); err != nil {
		b.Fatal(err)
	}
	c := testcluster.New(b)
	quiet := map[string]any{"log_level": "info"}
	shared := func(p string) []map[string]any { return []map[string]any{{"name": "data", "path": p, "shared": true}} }
	c.Add(testcluster.Spec{Name: "src-1", Side: "source", BootstrapExpect: 3, Override: quiet, Volumes: shared(src)})
	c.Add(testcluster.Spec{Name: "src-2", Side: "source", BootstrapExpect: 3, Override: quiet, Volumes: shared(src)})
	c.Add(testcluster.Spec{Name: "tgt-1", Side: "target", BootstrapExpect: 3, Override: quiet, Volumes: shared(dst)})
	c.Add(testcluster.Spec{Name: "tgt-2", Side: "target", Override: quiet, Volumes: shared(dst)})
	c.WaitForLeader(60 * time.Second)

	var toLeader, toResume []time.Duration
	worst := 0.0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		clearTarget(b, dst)
		leader := c.WaitForLeader(60 * time.Second)
		var obs *testcluster.Agent
		for _, a := range c.Agents() {
			if a.Spec.Name != leader && a.Running() {
				obs = a
			}
		}
		spec := jobspec.Defaults()
		spec.Name, spec.Source.Volume, spec.Target.Volume = fmt.Sprintf("drill-%d", i), "data", "data"
		var sub api.JobSubmitted
		if err := obs.Client().Do(context.Background(), "POST", "/v1/jobs", spec, &sub); err != nil {
			b.Fatal(err)
		}
		before := waitBytes(b, obs, sub.ID, func(j api.Job) bool { return j.BytesTotal > 0 && j.BytesDone >= j.BytesTotal/10 })
		peers, err := c.Agent(leader).Client().RaftPeers(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		killed := time.Now()
		c.Agent(leader).Kill()
		newLeader := time.Duration(0)
		resumed := time.Duration(0)
		for (newLeader == 0 || resumed == 0) && time.Since(killed) < 60*time.Second {
			if newLeader == 0 {
				if p, err := obs.Client().RaftPeers(context.Background()); err == nil && p.Leader != "" && p.Leader != leader && p.CommitIndex > peers.CommitIndex {
					newLeader = time.Since(killed)
				}
			}
			if resumed == 0 {
				if j, err := obs.Client().Job(context.Background(), sub.ID); err == nil && j.BytesDone > before.BytesDone {
					resumed = time.Since(killed)
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		b.StopTimer()
		if newLeader == 0 || resumed == 0 {
			b.Fatalf("drill %d: no new leader (%v) or no progress (%v) within 60 s of killing %s", i, newLeader, resumed, leader)
		}
		c.Agent(leader).Start()
		j := waitBytes(b, obs, sub.ID, func(j api.Job) bool { return j.State == api.JobDone || j.State == api.JobFailed })
		if j.State != api.JobDone {
			b.Fatalf("drill %d: job ended %s: %s", i, j.State, j.Reason)
		}
		if diffs := testtree.Compare(src, dst, testtree.Options{Exclude: []string{".lepton"}}); len(diffs) > 0 {
			b.Fatalf("drill %d: trees differ:\n%s", i, strings.Join(diffs, "\n"))
		}
		share := float64(j.BytesResent) / float64(j.BytesTotal)
		worst = max(worst, share)
		toLeader, toResume = append(toLeader, newLeader), append(toResume, resumed)
		b.Logf("drill %d: killed %s at %d%%; new leader after %v, bytes flowing again after %v, %.2f%% sent again",
			i, leader, 100*before.BytesDone/before.BytesTotal, newLeader.Round(time.Millisecond), resumed.Round(time.Millisecond), 100*share)
	}
	p := func(d []time.Duration, q float64) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[int(q*float64(len(s)-1)+0.5)].Milliseconds())
	}
	b.ReportMetric(p(toLeader, 0.5), "leader-p50-ms")
	b.ReportMetric(p(toLeader, 0.95), "leader-p95-ms")
	b.ReportMetric(p(toResume, 0.5), "resume-p50-ms")
	b.ReportMetric(p(toResume, 0.95), "resume-p95-ms")
	b.ReportMetric(100*worst, "resent-max-%")
	b.ReportMetric(0, "ns/op")
	fmt.Fprintf(os.Stderr, "%d drills: new leader p50 %.0f ms p95 %.0f ms; bytes flowing again p50 %.0f ms p95 %.0f ms; at most %.2f%% sent again\n",
		len(toLeader), p(toLeader, 0.5), p(toLeader, 0.95), p(toResume, 0.5), p(toResume, 0.95), 100*worst)
}

// waitBytes polls a job every 10 ms until cond holds (bounded).
func waitBytes(b *testing.B, a *testcluster.Agent, id string, cond func(api.Job) bool) api.Job {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if j, err := a.Client().Job(context.Background(), id); err == nil && cond(j) {
			return j
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatalf("job %s: condition not met within 5 minutes", id)
	return api.Job{}
}
