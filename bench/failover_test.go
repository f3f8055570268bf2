// Package bench holds Lepton's benchmarks that need a real cluster of
// leptond processes. Run them with `make bench-failover` and `make bench-migrate`; figures and how to
// read them are in bench/README.md.
package bench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/testcluster"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testcluster.Cleanup()
	os.Exit(code)
}

// BenchmarkLeaderFailover measures, per trial, the time from kill -9 of the
// Raft leader to a new leader that has committed an entry of its own term,
// on a five-agent loopback mesh with the LAN profile. Each trial restarts
// the killed agent and waits for it to rejoin before the next. Reports p50
// and p95 in milliseconds; the goal is p50 ≤ 2 s.
func BenchmarkLeaderFailover(b *testing.B) {
	c := testcluster.New(b)
	c.Add(testcluster.Spec{Name: "src-1", Side: "source", BootstrapExpect: 3})
	c.Add(testcluster.Spec{Name: "src-2", Side: "source", BootstrapExpect: 3})
	c.Add(testcluster.Spec{Name: "tgt-1", Side: "target", BootstrapExpect: 3})
	c.Add(testcluster.Spec{Name: "tgt-2", Side: "target"})
	c.Add(testcluster.Spec{Name: "tgt-3", Side: "target", NotServer: true})
	c.WaitForLeader(60 * time.Second)

	var samples []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		leader := c.WaitForLeader(60 * time.Second)
		old := c.Agent(leader)
		before, err := old.Client().RaftPeers(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		old.Kill()
		took := waitNewLeaderCommit(b, c, leader, before.Term, before.CommitIndex)
		b.StopTimer()
		samples = append(samples, took)
		b.Logf("trial %d: killed %s, new leader committed after %v", i+1, leader, took.Round(time.Millisecond))
		old.Start()
		c.WaitFor(60*time.Second, leader+" to rejoin", func() string {
			st, err := c.Status(old)
			if err != nil {
				return err.Error()
			}
			if st.Leader == "" {
				return leader + " follows no leader yet"
			}
			return ""
		})
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(samples)
	p := func(q float64) float64 {
		idx := int(q*float64(len(samples)-1) + 0.5)
		return float64(samples[idx].Milliseconds())
	}
	b.ReportMetric(p(0.5), "p50-ms")
	b.ReportMetric(p(0.95), "p95-ms")
	b.ReportMetric(float64(samples[len(samples)-1].Milliseconds()), "max-ms")
	b.ReportMetric(0, "ns/op")
	fmt.Fprintf(os.Stderr, "leader failover over %d trials: p50 %.0f ms, p95 %.0f ms, max %d ms\n",
		len(samples), p(0.5), p(0.95), samples[len(samples)-1].Milliseconds())
}

// waitNewLeaderCommit polls the survivors every 10 ms until one of them is
// a leader other than old, in a later term, whose commit index has passed
// the old leader's: it has committed an entry of its own term.
func waitNewLeaderCommit(b *testing.B, c *testcluster.Cluster, old string, oldTerm, oldCommit uint64) time.Duration {
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, a := range c.Running() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			peers, err := a.Client().RaftPeers(ctx)
			cancel()
			if err != nil || peers.Leader == "" || peers.Leader != a.Spec.Name || peers.Leader == old || peers.Term <= oldTerm {
				continue
			}
			// A new leader appends a no-op in its term; once that is
			// committed the commit index passes the old leader's.
			if peers.CommitIndex > oldCommit {
				return time.Since(start)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatalf("no new leader committed within 60 s of killing %s", old)
	return 0
}
