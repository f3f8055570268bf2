package cluster

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/leptonmesh/lepton/internal/api"
)

// raftPeer is what the decision on one inbound Raft stream looks at.
type raftPeer struct {
	Self         string        // this agent's node name, its Raft ServerID
	Peer         string        // the stream's verified certificate name
	Servers      []raft.Server // this agent's latest Raft configuration
	GossipServer bool          // gossip shows Peer alive with the server flag
	Leaderless   time.Duration // how long this agent has known no leader; 0 while it knows one
}

// allowRaftPeer decides whether Peer may open a Raft stream to this agent.
// Only a leader (AppendEntries, InstallSnapshot, TimeoutNow) or a candidate
// (RequestVote, pre-vote) opens one, and both are voters, so a peer is
// accepted when it is a voter of this agent's latest configuration. An agent
// not yet in its own configuration (a fresh agent, empty or not named, that
// the leader is adding) cannot know the leader, so it accepts any server
// gossip shows. And an agent in its configuration that has known no leader
// for longer than grace accepts servers too: its configuration may be stale
// (it missed, while down or cut off, the promotion of today's leader), and
// refusing that leader would leave it behind for good. Everything else is
// refused: non-voters, unknown names, and this agent's own name (Raft never
// talks to itself).
func allowRaftPeer(p raftPeer, grace time.Duration) error {
	if p.Peer == p.Self {
		return fmt.Errorf("%q is this agent's own name", p.Peer)
	}
	selfIn := false
	var peer *raft.Server
	for i, s := range p.Servers {
		switch string(s.ID) {
		case p.Self:
			selfIn = true
		case p.Peer:
			peer = &p.Servers[i]
		}
	}
	if peer != nil && peer.Suffrage == raft.Voter {
		return nil
	}
	if !selfIn {
		if p.GossipServer {
			return nil
		}
		return fmt.Errorf("%q is not a server per gossip, and only a server may add this agent to raft", p.Peer)
	}
	if p.GossipServer && p.Leaderless > grace {
		return nil
	}
	if peer != nil {
		return fmt.Errorf("%q is a non-voter in this agent's raft configuration; only voters open raft streams", p.Peer)
	}
	return fmt.Errorf("%q is not in this agent's raft configuration", p.Peer)
}

// raftAuth applies allowRaftPeer to the inbound Raft streams of one agent
// and counts the refusals. The transport logs them.
type raftAuth struct {
	self     string
	grace    time.Duration          // leaderless this long: the configuration may be stale
	isServer func(name string) bool // gossip: a live member with the server flag
	running  atomic.Pointer[raftRunning]
	refused  atomic.Uint64
}

// raftRunning is the Raft node the decision reads, once it runs.
type raftRunning struct {
	r       *raft.Raft
	started time.Time
}

// start gives the decision its Raft node; streams before it are refused.
func (a *raftAuth) start(r *raft.Raft) {
	a.running.Store(&raftRunning{r: r, started: time.Now()})
}

// allow is the transport's hook for each inbound Raft stream. It does not
// block: GetConfiguration reads the latest configuration from an atomic in
// hashicorp/raft v1.8, without a trip through Raft's main loop.
func (a *raftAuth) allow(peer string) error {
	err := a.decide(peer)
	if err != nil {
		a.refused.Add(1)
	}
	return err
}

// decide applies allowRaftPeer to the running Raft node's state.
func (a *raftAuth) decide(peer string) error {
	run := a.running.Load()
	if run == nil {
		return errors.New("raft is not running yet")
	}
	f := run.r.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("read raft configuration: %w", err)
	}
	return allowRaftPeer(raftPeer{
		Self:         a.self,
		Peer:         peer,
		Servers:      f.Configuration().Servers,
		GossipServer: a.isServer(peer),
		Leaderless:   leaderless(run),
	}, a.grace)
}

// leaderless is how long this agent has known no leader: 0 while it knows
// one (a leader knows itself), otherwise the time since a leader last
// reached it (Raft's LastContact) or since Raft started, whichever is later.
func leaderless(run *raftRunning) time.Duration {
	if _, id := run.r.LeaderWithID(); id != "" {
		return 0
	}
	last := run.r.LastContact()
	if last.Before(run.started) {
		last = run.started
	}
	return time.Since(last)
}

// isLiveServer reports whether gossip shows name alive with the server flag.
// Gossip metadata is what the agent says of itself: see DESIGN.md for what
// that leaves open.
func (g *gossip) isLiveServer(name string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	m, ok := g.members[name]
	return ok && m.Status == api.StatusAlive && m.Meta.Server
}

// RaftRefusals is how many inbound Raft streams this agent refused because
// their peer may not send Raft RPCs to it (see allowRaftPeer).
func (c *Cluster) RaftRefusals() uint64 { return c.raft.auth.refused.Load() }
