package e2e

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/testcluster"
)

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
