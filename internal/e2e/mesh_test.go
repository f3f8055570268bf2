package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/testcluster"
)

// startMesh starts three bootstrap servers (two source, one target), a
// fourth server and a non-server agent, and waits for one leader.
func startMesh(t *testing.T) (*testcluster.Cluster, string) {
	t.Helper()
	c := testcluster.New(t)
	c.Add(testcluster.Spec{Name: "src-1", Side: "source", BootstrapExpect: 3, Labels: map[string]string{"cloud": "aliyun"}})
	c.Add(testcluster.Spec{Name: "src-2", Side: "source", BootstrapExpect: 3, Labels: map[string]string{"cloud": "aliyun"}})
	c.Add(testcluster.Spec{Name: "tgt-1", Side: "target", BootstrapExpect: 3, Labels: map[string]string{"cloud": "tencent"}})
	c.Add(testcluster.Spec{Name: "tgt-2", Side: "target"})
	c.Add(testcluster.Spec{Name: "tgt-3", Side: "target", NotServer: true})
	leader := c.WaitForLeader(30*time.Second, "src-1", "src-2", "tgt-1")
	return c, leader
}

func TestMeshFormsFailsOverAndRejoins(t *testing.T) {
	c, leader := startMesh(t)

	// Every agent sees all five alive, the three bootstrap servers vote,
	// the fourth server waits as a non-voter (a fourth voter would make an
	// even count), and the non-server follows the log as a non-voter.
	wantRoles := map[string]string{"src-1": api.RaftVoter, "src-2": api.RaftVoter, "tgt-1": api.RaftVoter,
		"tgt-2": api.RaftNonvoter, "tgt-3": api.RaftNonvoter}
	for _, a := range c.Agents() {
		c.WaitFor(20*time.Second, a.Spec.Name+" sees the whole mesh", func() string {
			ms, err := c.MemberStatus(a)
			if err != nil {
				return err.Error()
			}
			for name, role := range wantRoles {
				if m, ok := ms[name]; !ok || m.Status != api.StatusAlive || m.Raft != role {
					return testcluster.Describe(ms)
				}
			}
			return ""
		})
	}

	// leptonctl status --json carries the documented fields.
	out, errOut, code := c.Agent("tgt-3").Ctl("status", "--json")
	if code != 0 {
		t.Fatalf("leptonctl status --json: exit %d: %s", code, errOut)
	}
	var st struct {
		Leader  string `json:"leader"`
		Term    uint64 `json:"term"`
		Members []struct {
			Name, Side, Addr, Status, Raft string
		} `json:"members"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	if st.Leader != leader || st.Term == 0 || len(st.Members) != 5 {
		t.Fatalf("status --json: leader %q term %d members %d, want leader %s, a term, 5 members", st.Leader, st.Term, len(st.Members), leader)
	}
	for _, m := range st.Members {
		if m.Addr == "" || (m.Side != "source" && m.Side != "target") {
			t.Errorf("member %+v lacks address or side", m)
		}
	}
	human, _, _ := c.Agent("src-1").Ctl("status")
	if !strings.Contains(human, "Leader: "+leader) || !strings.Contains(human, "tgt-3") {
		t.Errorf("leptonctl status output:\n%s", human)
	}

	// Force-leave refuses a live member.
	if _, errOut, code := c.Agent("src-1").Ctl("force-leave", "tgt-3"); code != 1 || !strings.Contains(errOut, "alive") {
		t.Errorf("force-leave of a live member: exit %d, %q", code, errOut)
	}

	// kill -9 the leader: a new leader among the survivors, and every
	// survivor keeps answering status meanwhile.
	old := c.Agent(leader)
	termBefore := st.Term
	old.Kill()
	newLeader := c.WaitForLeader(30*time.Second, without([]string{"src-1", "src-2", "tgt-1", "tgt-2"}, leader)...)
	for _, a := range c.Running() {
		c.WaitFor(20*time.Second, a.Spec.Name+" sees the old leader failed", func() string {
			ms, err := c.MemberStatus(a)
			if err != nil {
				return err.Error()
			}
			if ms[leader].Status != api.StatusFailed {
				return testcluster.Describe(ms)
			}
			return ""
		})
	}
	st2, err := c.Status(c.Agent(newLeader))
	if err != nil || st2.Term <= termBefore {
		t.Fatalf("after failover: term %d (before %d), err %v", st2.Term, termBefore, err)
	}

	// The killed agent restarts with its Raft state and rejoins: it
	// follows the leader the others follow (on a loaded machine that may
	// no longer be newLeader) and the applied index catches up.
	old.Start()
	c.WaitFor(30*time.Second, leader+" rejoins", func() string {
		current := c.WaitForLeader(20 * time.Second)
		ms, err := c.MemberStatus(c.Agent(current))
		if err != nil {
			return err.Error()
		}
		if ms[leader].Status != api.StatusAlive || ms[leader].Raft != api.RaftVoter {
			return testcluster.Describe(ms)
		}
		st, err := c.Status(old)
		if err != nil {
			return err.Error()
		}
		if st.Leader != current {
			return fmt.Sprintf("%s follows %q, the others %q", leader, st.Leader, current)
		}
		newLeader = current
		return ""
	})
	if !strings.Contains(old.Log(), "raft state found on disk") {
		t.Errorf("restarted agent did not reuse its raft state; log:\n%s", old.LogTail(30))
	}
	peers, _, code := old.Ctl("raft", "peers", "--json")
	var rp api.RaftPeers
	if code != 0 || json.Unmarshal([]byte(peers), &rp) != nil || rp.Leader != newLeader || rp.AppliedIndex == 0 {
		t.Errorf("raft peers on the restarted agent: exit %d: %s", code, peers)
	}

	// A graceful stop (SIGTERM) is a leave: others show it as left.
	c.Agent("tgt-3").Stop()
	c.WaitFor(20*time.Second, "tgt-3 shown as left", func() string {
		ms, err := c.MemberStatus(c.Agent(newLeader))
		if err != nil {
			return err.Error()
		}
		if ms["tgt-3"].Status != api.StatusLeft {
			return testcluster.Describe(ms)
		}
		return ""
	})
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}
