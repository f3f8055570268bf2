package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/testcluster"
)

// TestDrillKillLeaderDuringAJob runs `leptonctl drill kill-leader` against
// real agents while a job runs, restarts the crashed agent once gossip
// has noticed (as systemd would), and checks the drill's report and the job.
func TestDrillKillLeaderDuringAJob(t *testing.T) {
	c, src, dst := sharedMeshWith(t, 160<<20, map[string]any{"drills": true})
	leader := c.WaitForLeader(10 * time.Second)
	obs := c.Agent("tgt-2")
	if leader == "tgt-2" {
		obs = c.Agent("tgt-1")
	}
	sp := spec("drilled", "data", "data")
	sp.ChunkSize = 1 << 20
	sp.CompressionLevel = "better"
	id := submit(t, obs, sp)
	underWay(t, c, obs, id)

	type result struct {
		out, errOut string
		code        int
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, code := obs.Ctl("drill", "kill-leader", "--job", id, "--json", "--timeout", "60s")
		done <- result{out, errOut, code}
	}()
	c.WaitFor(30*time.Second, leader+" to crash and be noticed", func() string {
		if c.Agent(leader).Running() {
			return leader + " still running"
		}
		ms, err := c.MemberStatus(obs)
		if err != nil {
			return err.Error()
		}
		if ms[leader].Status != api.StatusFailed {
			return testcluster.Describe(ms)
		}
		return ""
	})
	c.Agent(leader).Start()
	var r result
	select {
	case r = <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("the drill did not end")
	}
	if r.code != 0 {
		t.Fatalf("drill exit %d: %s\n%s", r.code, r.errOut, r.out)
	}
	var rep struct {
		Drill       string   `json:"drill"`
		Target      string   `json:"target"`
		OldLeader   string   `json:"old_leader"`
		NewLeader   string   `json:"new_leader"`
		DetectMS    *float64 `json:"detect_ms"`
		NewLeaderMS *float64 `json:"new_leader_ms"`
		ResumedMS   *float64 `json:"resumed_ms"`
		OnTrack     bool     `json:"on_track"`
		Completed   bool     `json:"completed"`
		ResentShare float64  `json:"resent_share"`
	}
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatalf("drill --json: %v\n%s", err, r.out)
	}
	if rep.Drill != "kill-leader" || rep.Target != leader || rep.OldLeader != leader || rep.NewLeader == "" || rep.NewLeader == leader ||
		rep.DetectMS == nil || rep.NewLeaderMS == nil || rep.ResumedMS == nil || !rep.OnTrack || !rep.Completed {
		t.Errorf("drill report: %s", r.out)
	}
	finishedIntact(t, c, obs, id, src, dst)
}

func TestDrillEndpoints(t *testing.T) {
	c := testcluster.New(t)
	drills := map[string]any{"drills": true}
	c.Add(testcluster.Spec{Name: "src-1", Side: "source", BootstrapExpect: 3, Override: drills})
	c.Add(testcluster.Spec{Name: "src-2", Side: "source", BootstrapExpect: 3, Override: drills})
	c.Add(testcluster.Spec{Name: "tgt-1", Side: "target", BootstrapExpect: 3})
	leader := c.WaitForLeader(30 * time.Second)
	ctx := context.Background()
	client := c.Agent("tgt-1").Client()

	// An agent whose config does not allow drills refuses to crash.
	var res api.DrillCrashResult
	err := client.Do(ctx, "POST", "/v1/drill/crash", api.DrillCrash{Node: "tgt-1"}, &res)
	var apiErr *api.APIError
	if err == nil || !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden || !strings.Contains(apiErr.Message, "drills: true") {
		t.Fatalf("crash drill on an agent without drills: %v", err)
	}
	if !c.Agent("tgt-1").Running() {
		t.Fatal("tgt-1 crashed although its config forbids drills")
	}

	// A graceful leadership transfer names old and new leader.
	var tr api.LeaderTransfer
	if err := client.Do(ctx, "POST", "/v1/drill/transfer-leader", nil, &tr); err != nil {
		t.Fatalf("transfer-leader: %v", err)
	}
	if tr.From != leader || tr.To == "" || tr.To == leader {
		t.Errorf("transfer: %+v (leader was %s)", tr, leader)
	}
	leader = c.WaitForLeader(20 * time.Second)

	// Crash a drills-enabled agent through another one: it dies at once,
	// without a graceful leave (others see it failed, not left).
	victim := "src-1"
	if leader == "src-1" {
		victim = "src-2"
	}
	if err := client.Do(ctx, "POST", "/v1/drill/crash", api.DrillCrash{Node: victim}, &res); err != nil || !res.Crashing {
		t.Fatalf("crash drill: %+v %v", res, err)
	}
	if _, err := c.Agent(victim).Wait(10 * time.Second); err != nil {
		t.Fatalf("the drilled agent did not die: %v", err)
	}
	c.WaitFor(20*time.Second, victim+" failed (not left)", func() string {
		ms, err := c.MemberStatus(c.Agent("tgt-1"))
		if err != nil {
			return err.Error()
		}
		if ms[victim].Status != api.StatusFailed {
			return testcluster.Describe(ms)
		}
		return ""
	})
	// Restarted (as systemd would), it rejoins.
	c.Agent(victim).Start()
	c.WaitForLeader(30 * time.Second)
}
