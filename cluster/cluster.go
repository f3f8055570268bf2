// Package cluster owns one agent's membership (memberlist gossip), its Raft
// node (hashicorp/raft over QUIC streams), bootstrapping with
// bootstrap_expect, and, on the leader, reconciling gossip membership into
// the Raft configuration and the plan's agent registry. See DESIGN.md.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/internal/version"
)

// Cluster is one agent's membership in the mesh.
type Cluster struct {
	cfg    Config
	log    *slog.Logger
	fsm    *plan.FSM
	gossip *gossip
	raft   *raftNode
	self   plan.Node // this agent's own registry record

	reconcileCh chan struct{}
	leaderCh    chan bool
	joined      chan struct{}
	joinOnce    sync.Once

	stop     context.CancelFunc
	wg       sync.WaitGroup
	shutOnce sync.Once

	leaderCalls leaderCalls   // writes the leader performs (leadercall.go)
	refusals    refusalCounts // peer calls refused by authorisation
}

// New starts gossip (without joining) and Raft. Call Start to join,
// bootstrap and run the leadership loop.
func New(cfg Config) (*Cluster, error) {
	cfg.setDefaults()
	if cfg.Network == nil {
		return nil, errors.New("cluster: no network")
	}
	c := &Cluster{
		cfg:         cfg,
		log:         cfg.Logger,
		fsm:         plan.NewFSM(),
		reconcileCh: make(chan struct{}, 1),
		leaderCh:    make(chan bool, 8),
		joined:      make(chan struct{}),
	}
	gossipAddr := net.JoinHostPort(cfg.AdvertiseAddr, fmt.Sprint(cfg.GossipPort))
	c.self = plan.Node{
		Name: cfg.NodeName, Side: cfg.Side, Labels: cfg.Labels, Server: cfg.Server,
		GossipAddr: gossipAddr, QUICAddr: cfg.QUICAddr, APIAddr: cfg.APIAddr,
		Version: version.Version, Volumes: cfg.Volumes,
	}
	c.self.InfoHash = infoHash(c.self)
	meta := nodeMeta{
		Side: cfg.Side, Labels: cfg.Labels, QUICAddr: cfg.QUICAddr, APIAddr: cfg.APIAddr,
		Version: version.Version, Server: cfg.Server, Expect: cfg.BootstrapExpect, InfoHash: c.self.InfoHash,
	}
	g, err := newGossip(&cfg, meta, c.reconcileCh, func(m member) {
		// Forget cached QUIC connections to a dead peer at once rather than
		// waiting for QUIC's idle timeout; a restarted agent is redialed.
		if m.Meta.QUICAddr != "" {
			cfg.Network.DropPeer(m.Meta.QUICAddr)
		}
		c.log.Info("member gone", "node", m.Name, "status", m.Status)
	})
	if err != nil {
		return nil, err
	}
	c.gossip = g
	c.registerRPCs()
	r, err := newRaft(&cfg, c.fsm, c.leaderCh, c.resolveQUIC, g.isLiveServer)
	if err != nil {
		_ = g.ml.Shutdown()
		return nil, err
	}
	c.raft = r
	return c, nil
}

// Start joins the cluster (retrying in the background), bootstraps when
// configured to, and runs the leadership loop until Shutdown.
func (c *Cluster) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	c.run(func() { c.joinLoop(ctx) })
	c.run(func() { c.monitorLeadership(ctx) })
	if c.cfg.Server && c.cfg.BootstrapExpect > 0 {
		c.run(func() { c.bootstrapLoop(ctx) })
	}
	c.run(func() { c.maintainLoop(ctx) })
}

func (c *Cluster) run(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

func (c *Cluster) joinLoop(ctx context.Context) {
	if len(c.cfg.Join) > 0 {
		err := c.gossip.join(ctx, c.cfg.Join, func(msg string, args ...any) { c.log.Warn(msg, args...) })
		if err != nil {
			return
		}
		c.log.Info("joined the cluster", "via", c.cfg.Join, "members", c.gossip.ml.NumMembers())
	}
	c.joinOnce.Do(func() { close(c.joined) })
}

// maintainLoop tries to reconnect failed members and drops long-gone ones
// from the local gossip view.
func (c *Cluster) maintainLoop(ctx context.Context) {
	every := 5 * time.Second
	if c.cfg.GossipProfile == "wan" {
		every = 15 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.gossip.reconnect()
			c.gossip.forget(c.cfg.ReconnectTimeout)
		}
	}
}

// Joined is closed once gossip has joined the cluster (at once when the
// agent has no join addresses: it is the first).
func (c *Cluster) Joined() <-chan struct{} { return c.joined }

// Name is this agent's node name.
func (c *Cluster) Name() string { return c.cfg.NodeName }

// FSM gives read access to the replicated plan.
func (c *Cluster) FSM() *plan.FSM { return c.fsm }

// Raft exposes the Raft node for metrics and drills.
func (c *Cluster) Raft() *raft.Raft { return c.raft.raft }

// IsLeader reports whether this agent is the Raft leader.
func (c *Cluster) IsLeader() bool { return c.raft.raft.State() == raft.Leader }

// Leader returns the leader's node name and QUIC address, or ErrNoLeader.
func (c *Cluster) Leader() (name, addr string, err error) {
	a, id := c.raft.raft.LeaderWithID()
	if id == "" {
		return "", "", ErrNoLeader
	}
	return string(id), string(a), nil
}

// QUICAddr is the QUIC address gossip advertises for a member.
func (c *Cluster) QUICAddr(name string) (string, bool) { return c.gossip.quicAddr(name) }

// resolveQUIC maps a QUIC address to the node name gossip (or, for a member
// gossip has forgotten, the registry) says lives there. The transport
// expects that name in the peer's certificate.
func (c *Cluster) resolveQUIC(addr string) (string, error) {
	for _, m := range c.gossip.view() {
		if m.Meta.QUICAddr == addr && m.Status != "left" {
			return m.Name, nil
		}
	}
	for _, n := range c.fsm.Nodes() {
		if n.QUICAddr == addr {
			return n.Name, nil
		}
	}
	return "", fmt.Errorf("no member advertises QUIC address %s", addr)
}

// Authorize decides whether a QUIC peer presenting a certificate for name may
// talk to us: the name must belong to a live gossip member. A peer that is
// still joining gets a short grace period for gossip to catch up.
func (c *Cluster) Authorize(name string, remote net.Addr) error {
	deadline := time.Now().Add(3 * time.Second)
	for {
		m, ok := c.gossip.view()[name]
		if ok && (m.Status == "alive" || m.Status == "suspect") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("certificate name %q is not a live member of this cluster's gossip", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Shutdown stops everything without leaving: peers will see a failure.
func (c *Cluster) Shutdown() error {
	var err error
	c.shutOnce.Do(func() {
		if c.stop != nil {
			c.stop()
		}
		err = c.raft.shutdown()
		if gerr := c.gossip.ml.Shutdown(); err == nil {
			err = gerr
		}
		c.wg.Wait()
	})
	return err
}

// Leave departs gracefully: a leader hands leadership over first, the agent
// tells gossip it is leaving so peers record "left" rather than "failed",
// and waits (bounded) for the leader to take it out of the Raft configuration.
func (c *Cluster) Leave(ctx context.Context) error {
	if c.IsLeader() && c.otherVoters() > 0 {
		if err := c.raft.raft.LeadershipTransfer().Error(); err != nil {
			c.log.Warn("leadership transfer before leaving failed", "err", err)
		} else {
			c.log.Info("leadership transferred before leaving")
		}
	}
	wait := 2 * time.Second // bounds each step, so a whole mesh stopping at once stops fast
	if c.cfg.GossipProfile == "wan" {
		wait = 5 * time.Second
	}
	if c.inRaftConfig() {
		rctx, cancel := context.WithTimeout(ctx, wait)
		err := c.OnLeader(rctx, rpcLeave, "", nameArgs{Name: c.cfg.NodeName}, nil)
		cancel()
		if err != nil {
			c.log.Warn("leader did not take this agent out of raft; it will when gossip reports the leave", "err", err)
		}
	}
	if err := c.gossip.setMeta(func(m *nodeMeta) { m.Leaving = true }); err != nil {
		c.log.Warn("announce leaving", "err", err)
	}
	if err := c.gossip.ml.Leave(wait); err != nil {
		c.log.Warn("gossip leave", "err", err)
	}
	return c.Shutdown()
}

func (c *Cluster) otherVoters() int {
	servers, err := c.raft.configuration()
	if err != nil {
		return 0
	}
	n := 0
	for _, s := range servers {
		if s.Suffrage == raft.Voter && string(s.ID) != c.cfg.NodeName {
			n++
		}
	}
	return n
}

func (c *Cluster) inRaftConfig() bool {
	servers, err := c.raft.configuration()
	if err != nil {
		return false
	}
	for _, s := range servers {
		if string(s.ID) == c.cfg.NodeName {
			return true
		}
	}
	return false
}
