package cluster

import (
	"context"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// bootstrapView answers a peer's bootstrap check: whether this agent already
// has Raft state, and which servers it would bootstrap with.
func (c *Cluster) bootstrapView() (hasState bool, set []string) {
	servers, err := c.raft.configuration()
	hasState = c.raft.hadState || (err == nil && len(servers) > 0)
	for _, m := range c.bootstrapSet() {
		set = append(set, m.Name)
	}
	return hasState, set
}

// bootstrapSet is the first bootstrap_expect live servers by name that
// expect the same count. Every server computes it from its own gossip view;
// they bootstrap only once all of them agree.
func (c *Cluster) bootstrapSet() []member {
	var set []member
	for _, m := range c.gossip.aliveMembers() {
		if m.Meta.Server && m.Meta.Expect == c.cfg.BootstrapExpect {
			set = append(set, m)
		}
	}
	if len(set) < c.cfg.BootstrapExpect {
		return nil
	}
	return set[:c.cfg.BootstrapExpect]
}

// bootstrapLoop follows Consul's rule: bootstrap only when bootstrap_expect
// servers see each other, never when this agent or any peer has Raft state,
// and only with the set every peer agrees on. Servers outside the set join
// later as non-voters.
func (c *Cluster) bootstrapLoop(ctx context.Context) {
	if c.raft.hadState {
		c.log.Info("raft state found on disk; not bootstrapping", "data_dir", c.cfg.DataDir)
		return
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	lastWait := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if servers, err := c.raft.configuration(); err == nil && len(servers) > 0 {
			return // bootstrapped by us earlier or added by a leader
		}
		set := c.bootstrapSet()
		if set == nil {
			if time.Since(lastWait) > 10*time.Second {
				lastWait = time.Now()
				c.log.Info("waiting for servers to bootstrap", "bootstrap_expect", c.cfg.BootstrapExpect,
					"seen", len(c.gossip.aliveMembers()))
			}
			continue
		}
		names := make([]string, len(set))
		for i, m := range set {
			names[i] = m.Name
		}
		if !slices.Contains(names, c.cfg.NodeName) {
			c.log.Info("not in the bootstrap set; waiting to be added by the leader", "set", names)
			return
		}
		if !c.peersAgree(ctx, set, names) {
			continue
		}
		conf := raft.Configuration{}
		for _, m := range set {
			conf.Servers = append(conf.Servers, raft.Server{
				ID: raft.ServerID(m.Name), Address: raft.ServerAddress(m.Meta.QUICAddr), Suffrage: raft.Voter,
			})
		}
		if err := c.raft.raft.BootstrapCluster(conf).Error(); err != nil {
			c.log.Warn("bootstrap", "err", err)
			return
		}
		c.log.Info("bootstrapped the cluster", "servers", names)
		return
	}
}

// peersAgree asks every other server in the set whether it has Raft state
// (then nobody bootstraps) and which set it sees (all must match).
func (c *Cluster) peersAgree(ctx context.Context, set []member, names []string) bool {
	for _, m := range set {
		if m.Name == c.cfg.NodeName {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		var reply bootstrapCheck
		err := c.cfg.Network.Call(cctx, m.Meta.QUICAddr, m.Name, rpcBootstrapCheck, struct{}{}, &reply)
		cancel()
		if err != nil {
			c.log.Debug("bootstrap check", "peer", m.Name, "err", err)
			return false
		}
		if reply.HasState {
			c.log.Info("a peer already has raft state; joining it instead of bootstrapping", "peer", m.Name)
			return false
		}
		if !slices.Equal(reply.Set, names) {
			c.log.Debug("bootstrap sets differ; waiting for gossip to converge", "peer", m.Name, "theirs", reply.Set, "ours", names)
			return false
		}
	}
	return true
}
