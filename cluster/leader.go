package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/plan"
)

// reconcileInterval is how often the leader reconciles even without events.
const reconcileInterval = 2 * time.Second

// monitorLeadership runs leaderLoop while this agent is the leader
// (Consul's monitorLeadership → leaderLoop pattern).
func (c *Cluster) monitorLeadership(ctx context.Context) {
	var stopLeader context.CancelFunc
	done := make(chan struct{})
	close(done)
	for {
		select {
		case <-ctx.Done():
			if stopLeader != nil {
				stopLeader()
				<-done
			}
			return
		case isLeader := <-c.leaderCh:
			switch {
			case isLeader && stopLeader == nil:
				var lctx context.Context
				lctx, stopLeader = context.WithCancel(ctx)
				done = make(chan struct{})
				go func() {
					defer close(done)
					c.leaderLoop(lctx)
				}()
				c.log.Info("became the cluster leader", "term", c.raft.raft.CurrentTerm())
			case !isLeader && stopLeader != nil:
				stopLeader()
				<-done
				stopLeader = nil
				c.log.Info("no longer the cluster leader")
			}
		}
	}
}

// leaderLoop establishes leadership (a barrier so the FSM is current),
// starts the leader's own work (Config.LeaderWork), then reconciles
// membership on every gossip event and on a timer, until ctx ends.
func (c *Cluster) leaderLoop(ctx context.Context) {
	lead := &leaderState{failedSince: map[string]time.Time{}, addedAt: map[string]time.Time{}}
	for ctx.Err() == nil {
		if err := c.raft.raft.Barrier(time.Minute).Error(); err != nil {
			c.log.Warn("leader barrier", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		break
	}
	if c.fsm.ClusterID() == "" {
		if err := c.apply(plan.CmdSetClusterID, plan.SetClusterID{ID: newClusterID()}); err != nil {
			c.log.Warn("name the cluster", "err", err)
		}
	}
	if work := c.cfg.LeaderWork; work != nil {
		done := make(chan struct{})
		go func() {
			defer close(done)
			work(ctx)
		}()
		defer func() { <-done }() // ctx is cancelled first: leadership is being revoked
	}
	tick := time.NewTicker(reconcileInterval)
	defer tick.Stop()
	for {
		if err := c.reconcile(ctx, lead); err != nil && ctx.Err() == nil {
			c.log.Warn("reconcile membership", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-c.reconcileCh:
		case <-tick.C:
		}
	}
}

// leaderState is what a leader remembers between reconciles; a new leader
// starts afresh (so a failed member's reap clock restarts with it).
type leaderState struct {
	failedSince map[string]time.Time
	addedAt     map[string]time.Time // when a non-voter was added or seen
}

func newClusterID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Apply commits one command to the plan; only the leader may (others get
// ErrNoLeader). It returns the command's own error, if any.
func (c *Cluster) Apply(t plan.CommandType, v any) error {
	return c.apply(t, v)
}

func (c *Cluster) apply(t plan.CommandType, v any) error {
	data, err := plan.Encode(t, v)
	if err != nil {
		return err
	}
	f := c.raft.raft.Apply(data, 10*time.Second)
	if err := f.Error(); err != nil {
		if err == raft.ErrNotLeader || err == raft.ErrLeadershipLost {
			return ErrNoLeader
		}
		return fmt.Errorf("commit command %d: %w", t, err)
	}
	if err, ok := f.Response().(error); ok {
		return err
	}
	return nil
}

// reconcile brings the registry and the Raft configuration in line with gossip.
func (c *Cluster) reconcile(ctx context.Context, lead *leaderState) error {
	servers, err := c.raft.configuration()
	if err != nil {
		return err
	}
	inRaft := map[string]raft.Server{}
	for _, s := range servers {
		inRaft[string(s.ID)] = s
	}
	view := c.gossip.view()
	now := time.Now()
	for name, m := range view {
		switch m.Status {
		case api.StatusAlive, api.StatusSuspect:
			delete(lead.failedSince, name)
			c.refreshRecord(ctx, m)
			// Every agent follows the log as at least a non-voter, so each
			// has the plan locally; only servers are ever promoted. Only agents that proved their identity over mutual TLS (the
			// node-info RPC succeeded) are registered, and only those vote.
			if rec, ok := c.fsm.Node(name); !ok || rec.Left {
				continue
			}
			s, ok := inRaft[name]
			switch {
			case !ok:
				if err := c.raft.raft.AddNonvoter(raft.ServerID(name), raft.ServerAddress(m.Meta.QUICAddr), 0, 10*time.Second).Error(); err != nil {
					return fmt.Errorf("add %s as non-voter: %w", name, err)
				}
				lead.addedAt[name] = now
				c.log.Info("added agent to raft as non-voter", "node", name, "addr", m.Meta.QUICAddr)
			case string(s.Address) != m.Meta.QUICAddr:
				add := c.raft.raft.AddNonvoter
				if s.Suffrage == raft.Voter {
					add = c.raft.raft.AddVoter
				}
				if err := add(s.ID, raft.ServerAddress(m.Meta.QUICAddr), 0, 10*time.Second).Error(); err != nil {
					return fmt.Errorf("update address of %s: %w", name, err)
				}
				c.log.Info("server address changed", "node", name, "old", s.Address, "new", m.Meta.QUICAddr)
			}
		case api.StatusLeft:
			if err := c.removeLeaving(ctx, name); err != nil {
				return err
			}
		case api.StatusFailed:
			if _, ok := lead.failedSince[name]; !ok {
				lead.failedSince[name] = now
			}
		}
	}
	// Registry records gossip no longer knows are failed too.
	for _, n := range c.fsm.Nodes() {
		if _, ok := view[n.Name]; !ok {
			if _, ok := lead.failedSince[n.Name]; !ok {
				lead.failedSince[n.Name] = now
			}
		}
	}
	for name, since := range lead.failedSince {
		if now.Sub(since) < c.cfg.ReconnectTimeout {
			continue
		}
		if err := c.reap(name, inRaft); err != nil {
			return err
		}
		delete(lead.failedSince, name)
	}
	return c.promote(servers, view, lead)
}

// refreshRecord fetches an alive agent's self-description when the registry
// lacks it or gossip says it changed.
func (c *Cluster) refreshRecord(ctx context.Context, m member) {
	rec, ok := c.fsm.Node(m.Name)
	if ok && !rec.Left && rec.InfoHash == m.Meta.InfoHash {
		return
	}
	info := c.self.Clone()
	if m.Name != c.cfg.NodeName {
		info = plan.Node{} // decode into a fresh record: never into c.self's maps and slices
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := c.cfg.Network.Call(cctx, m.Meta.QUICAddr, m.Name, rpcNodeInfo, struct{}{}, &info)
		cancel()
		if err != nil {
			c.log.Debug("fetch node info", "node", m.Name, "err", err)
			return
		}
	}
	if info.Name != m.Name {
		c.log.Warn("node info names another node; ignored", "node", m.Name, "claims", info.Name)
		return
	}
	info.Left = false
	if err := c.apply(plan.CmdUpsertNode, info); err != nil {
		c.log.Warn("register node", "node", m.Name, "err", err)
	}
}

// reap forgets a member that stayed failed for reconnect_timeout.
func (c *Cluster) reap(name string, inRaft map[string]raft.Server) error {
	if _, ok := inRaft[name]; ok {
		if err := c.raft.raft.RemoveServer(raft.ServerID(name), 0, 10*time.Second).Error(); err != nil {
			return fmt.Errorf("remove reaped %s from raft: %w", name, err)
		}
	}
	if _, ok := c.fsm.Node(name); ok {
		if err := c.apply(plan.CmdRemoveNode, plan.NodeName{Name: name}); err != nil {
			return err
		}
	}
	c.log.Info("reaped failed member", "node", name, "reconnect_timeout", c.cfg.ReconnectTimeout)
	return nil
}

// removeLeaving takes a departing member out of Raft and marks it left.
func (c *Cluster) removeLeaving(ctx context.Context, name string) error {
	servers, err := c.raft.configuration()
	if err != nil {
		return err
	}
	for _, s := range servers {
		if string(s.ID) == name {
			if err := c.raft.raft.RemoveServer(s.ID, 0, 10*time.Second).Error(); err != nil {
				return fmt.Errorf("remove %s from raft: %w", name, err)
			}
			c.log.Info("removed departing server from raft", "node", name)
		}
	}
	if rec, ok := c.fsm.Node(name); ok && !rec.Left {
		return c.apply(plan.CmdMarkLeft, plan.NodeName{Name: name})
	}
	return nil
}

// forceLeaveLocal is force-leave on the leader.
func (c *Cluster) forceLeaveLocal(ctx context.Context, name string) (api.ForceLeaveResult, error) {
	res := api.ForceLeaveResult{Name: name}
	m, inGossip := c.gossip.view()[name]
	if inGossip && (m.Status == api.StatusAlive || m.Status == api.StatusSuspect) {
		return res, fmt.Errorf("%s: %w", name, ErrMemberAlive)
	}
	servers, err := c.raft.configuration()
	if err != nil {
		return res, err
	}
	_, inRegistry := c.fsm.Node(name)
	for _, s := range servers {
		if string(s.ID) == name {
			res.Removed = true
		}
	}
	if !inGossip && !inRegistry && !res.Removed {
		return res, fmt.Errorf("%s: %w", name, ErrUnknownMember)
	}
	if err := c.removeLeaving(ctx, name); err != nil {
		return res, err
	}
	if !inRegistry && inGossip {
		// Keep a record so every agent shows it as left, not failed.
		rec := plan.Node{Name: name, Side: m.Meta.Side, Labels: m.Meta.Labels, Server: m.Meta.Server,
			GossipAddr: m.Addr, QUICAddr: m.Meta.QUICAddr, APIAddr: m.Meta.APIAddr, Version: m.Meta.Version, Left: true}
		if err := c.apply(plan.CmdUpsertNode, rec); err != nil {
			return res, err
		}
	}
	c.log.Info("forced member out", "node", name, "removed_from_raft", res.Removed)
	return res, nil
}

// promote turns healthy non-voters into voters, keeping the count odd and
// at most raft_voters, spread across sides and labels.
func (c *Cluster) promote(servers []raft.Server, view map[string]member, lead *leaderState) error {
	var voters, eligible []seat
	now := time.Now()
	for _, s := range servers {
		name := string(s.ID)
		m, ok := view[name]
		st := seat{Name: name, Side: m.Meta.Side, Labels: m.Meta.Labels}
		if s.Suffrage == raft.Voter {
			voters = append(voters, st)
			continue
		}
		if !ok || m.Status != api.StatusAlive || !m.Meta.Server {
			delete(lead.addedAt, name)
			continue
		}
		if _, seen := lead.addedAt[name]; !seen {
			lead.addedAt[name] = now
		}
		if now.Sub(lead.addedAt[name]) >= c.cfg.PromoteAfter {
			eligible = append(eligible, st)
		}
	}
	for _, name := range promotions(voters, eligible, c.cfg.RaftVoters) {
		addr := view[name].Meta.QUICAddr
		if err := c.raft.raft.AddVoter(raft.ServerID(name), raft.ServerAddress(addr), 0, 10*time.Second).Error(); err != nil {
			return fmt.Errorf("promote %s to voter: %w", name, err)
		}
		delete(lead.addedAt, name)
		c.log.Info("promoted server to voter", "node", name)
	}
	return nil
}
