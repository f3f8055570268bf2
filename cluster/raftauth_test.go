package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/transport"
)

func TestAllowRaftPeer(t *testing.T) {
	const grace = 8 * time.Second
	voter := func(id string) raft.Server { return raft.Server{ID: raft.ServerID(id), Suffrage: raft.Voter} }
	nonvoter := func(id string) raft.Server { return raft.Server{ID: raft.ServerID(id), Suffrage: raft.Nonvoter} }
	cluster := []raft.Server{voter("s1"), voter("s2"), voter("me"), nonvoter("a1"), nonvoter("s4")}
	cases := []struct {
		name       string
		peer       string
		servers    []raft.Server
		server     bool // gossip shows the peer as a live server
		leaderless time.Duration
		allowed    bool
	}{
		{"voter in config", "s1", cluster, true, 0, true},
		{"voter in config, gossip no longer says server", "s2", cluster, false, 0, true},
		{"voter, this agent a non-voter", "s1", []raft.Server{voter("s1"), nonvoter("me")}, false, 0, true},
		{"non-voter in config", "a1", cluster, false, 0, false},
		{"non-voter server in config, a leader known", "s4", cluster, true, 0, false},
		{"unknown", "x", cluster, false, 0, false},
		{"unknown that gossips server", "x", cluster, true, 0, false},
		{"unknown server, leaderless during a failover", "x", cluster, true, 2 * time.Second, false},
		{"own name", "me", cluster, true, 0, false},
		{"self not yet in config (empty): a gossip server", "s1", nil, true, 0, true},
		{"self not yet in config (empty): a non-server", "a1", nil, false, 0, false},
		{"self not named in config: a gossip server", "s9", []raft.Server{voter("s1")}, true, 0, true},
		{"self not named in config: a non-server", "a1", []raft.Server{voter("s1"), nonvoter("a1")}, false, 0, false},
		{"self not named in config: a voter", "s1", []raft.Server{voter("s1")}, false, 0, true},
		// A stale configuration: today's leader was promoted while this
		// agent was away, and no leader has reached it for long.
		{"stale config, leaderless past grace: a gossip server", "s9", cluster, true, grace + time.Second, true},
		{"stale config, leaderless past grace: promoted non-voter", "s4", cluster, true, grace + time.Second, true},
		{"stale config, leaderless past grace: a non-server", "a1", cluster, false, grace + time.Second, false},
	}
	for _, tc := range cases {
		err := allowRaftPeer(raftPeer{Self: "me", Peer: tc.peer, Servers: tc.servers, GossipServer: tc.server, Leaderless: tc.leaderless}, grace)
		if got := err == nil; got != tc.allowed {
			t.Errorf("%s: allowRaftPeer(%q) = %v, want allowed %v", tc.name, tc.peer, err, tc.allowed)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.peer)) {
			t.Errorf("%s: reason %q does not name the peer", tc.name, err)
		}
	}
}

// raftAuth reads the live configuration and counts what it refuses.
func TestRaftAuthReadsTheConfigurationAndCounts(t *testing.T) {
	servers := map[string]bool{"s1": true}
	a := &raftAuth{self: "me", grace: time.Hour, isServer: func(n string) bool { return servers[n] }}
	if err := a.allow("s1"); err == nil {
		t.Error("a stream before raft runs was allowed")
	}

	conf := raft.DefaultConfig()
	conf.LocalID = "me"
	conf.Logger = hclog.NewNullLogger()
	store := raft.NewInmemStore()
	_, trans := raft.NewInmemTransport("me")
	r, err := raft.NewRaft(conf, &raft.MockFSM{}, store, store, raft.NewInmemSnapshotStore(), trans)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown()
	a.start(r)
	// Fresh: not in its own (empty) configuration.
	if err := a.allow("s1"); err != nil {
		t.Errorf("fresh agent refused a gossip server: %v", err)
	}
	if err := a.allow("a1"); err == nil {
		t.Error("fresh agent allowed a non-server")
	}
	if err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{
		{ID: "me", Address: "me", Suffrage: raft.Voter},
		{ID: "s2", Address: "s2", Suffrage: raft.Voter},
		{ID: "s1", Address: "s1", Suffrage: raft.Nonvoter},
	}}).Error(); err != nil {
		t.Fatal(err)
	}
	if err := a.allow("s2"); err != nil {
		t.Errorf("voter refused: %v", err)
	}
	if err := a.allow("s1"); err == nil {
		t.Error("non-voter allowed once this agent is in the configuration")
	}
	if got := a.refused.Load(); got != 3 {
		t.Errorf("refused %d streams, want 3", got)
	}
}

// In a real mesh, bootstrap, adding agents, promotion and a leadership
// transfer open no stream the rule refuses, while a non-voter's own Raft
// stream to a voter is refused.
func TestMeshRaftStreamsOnlyFromVoters(t *testing.T) {
	m := newTestMesh(t)
	for _, n := range []string{"a", "b", "c"} {
		m.start(n, true, 3, nil)
	}
	m.start("d", true, 0, nil) // a fourth voter would make an even count: d stays a non-voter
	m.start("f", false, 0, nil)
	want := map[string]string{"a": "alive/voter", "b": "alive/voter", "c": "alive/voter",
		"d": "alive/nonvoter", "f": "alive/nonvoter"}
	for name, c := range m.nodes {
		eventually(t, name+" sees three voters and two non-voters", func() string {
			got := roles(c)
			for k, v := range want {
				if got[k] != v {
					return fmt.Sprint(got)
				}
			}
			return ""
		})
	}
	leaderName, _, err := m.nodes["f"].Leader()
	if err != nil {
		t.Fatal(err)
	}
	leader := m.nodes[leaderName]
	if err := leader.Raft().LeadershipTransfer().Error(); err != nil {
		t.Fatalf("leadership transfer: %v", err)
	}
	eventually(t, "a new leader", func() string {
		if n, _, err := m.nodes["f"].Leader(); err != nil || n == leaderName {
			return fmt.Sprint(n, err)
		}
		return ""
	})
	// The new leader replicates to every agent.
	next := m.nodes[mustLeader(t, m.nodes["f"])]
	if err := next.Apply(plan.CmdSetClusterID, plan.SetClusterID{ID: "ignored"}); err != nil {
		t.Fatalf("apply after the transfer: %v", err)
	}
	idx := next.Raft().AppliedIndex()
	for name, c := range m.nodes {
		eventually(t, name+" applies the new leader's entry", func() string {
			if got := c.Raft().AppliedIndex(); got < idx {
				return fmt.Sprintf("applied %d < %d", got, idx)
			}
			return ""
		})
	}
	for name, c := range m.nodes {
		if n := c.RaftRefusals(); n != 0 {
			t.Errorf("%s refused %d raft streams in a healthy mesh", name, n)
		}
	}

	// The non-voter f, and the non-voter server d, speak Raft to a voter
	// themselves: refused.
	voter := m.nodes["a"]
	for i, from := range []string{"f", "d"} {
		ep := m.nodes[from].cfg.Network.(rpcAdapter).Endpoint
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := ep.OpenStream(ctx, voter.cfg.QUICAddr, "a", transport.KindRaft)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		_, _ = s.Write([]byte{0}) // rpcAppendEntries
		_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := s.Read(make([]byte, 1)); err == nil {
			t.Errorf("%s's raft stream to a voter was answered", from)
		}
		s.Close()
		eventually(t, "the refusal counted", func() string {
			if n := voter.RaftRefusals(); n != uint64(i+1) {
				return fmt.Sprint(n)
			}
			return ""
		})
	}
}

func mustLeader(t *testing.T, c *Cluster) string {
	t.Helper()
	name, _, err := c.Leader()
	if err != nil {
		t.Fatal(err)
	}
	return name
}
