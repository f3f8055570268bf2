package cluster

import (
	"sort"
	"strconv"

	"github.com/hashicorp/raft"
	"github.com/leptonmesh/lepton/internal/api"
)

// Members lists every agent this one knows of: live gossip members, and
// failed or departed ones the registry still holds, sorted by name.
func (c *Cluster) Members() []api.Member {
	view := c.gossip.view()
	roles := map[string]string{}
	if servers, err := c.raft.configuration(); err == nil {
		for _, s := range servers {
			roles[string(s.ID)] = api.RaftNonvoter
			if s.Suffrage == raft.Voter {
				roles[string(s.ID)] = api.RaftVoter
			}
		}
	}
	leader, _, _ := c.Leader()
	byName := map[string]api.Member{}
	for _, n := range c.fsm.Nodes() {
		status := api.StatusFailed
		if n.Left {
			status = api.StatusLeft
		}
		byName[n.Name] = api.Member{Name: n.Name, Side: n.Side, Addr: n.GossipAddr, Status: status,
			Server: n.Server, Labels: n.Labels, QUICAddr: n.QUICAddr, APIAddr: n.APIAddr, Version: n.Version}
	}
	for name, m := range view {
		rec, known := byName[name]
		status := m.Status
		if status == api.StatusFailed && known && rec.Status == api.StatusLeft {
			status = api.StatusLeft // forced out by the leader
		}
		byName[name] = api.Member{Name: name, Side: m.Meta.Side, Addr: m.Addr, Status: status,
			Server: m.Meta.Server, Labels: m.Meta.Labels, QUICAddr: m.Meta.QUICAddr, APIAddr: m.Meta.APIAddr, Version: m.Meta.Version}
	}
	out := make([]api.Member, 0, len(byName))
	for name, m := range byName {
		m.Raft = api.RaftNone
		if r, ok := roles[name]; ok {
			m.Raft = r
		}
		m.Leader = name == leader
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Status is the cluster summary `leptonctl status` shows.
func (c *Cluster) Status() api.Status {
	leader, _, _ := c.Leader()
	return api.Status{Node: c.cfg.NodeName, Leader: leader, Term: c.raft.raft.CurrentTerm(),
		Members: c.Members(), ClusterID: c.fsm.ClusterID()}
}

// RaftPeers describes the Raft configuration as this agent knows it.
func (c *Cluster) RaftPeers() (api.RaftPeers, error) {
	servers, err := c.raft.configuration()
	if err != nil {
		return api.RaftPeers{}, err
	}
	leader, _, _ := c.Leader()
	r := c.raft.raft
	out := api.RaftPeers{Leader: leader, Term: r.CurrentTerm(), CommitIndex: r.CommitIndex(), AppliedIndex: r.AppliedIndex()}
	for _, s := range servers {
		suffrage := api.RaftNonvoter
		if s.Suffrage == raft.Voter {
			suffrage = api.RaftVoter
		}
		out.Servers = append(out.Servers, api.RaftServer{ID: string(s.ID), Address: string(s.Address),
			Suffrage: suffrage, Leader: string(s.ID) == leader})
	}
	sort.Slice(out.Servers, func(i, j int) bool { return out.Servers[i].ID < out.Servers[j].ID })
	return out, nil
}

// Stats are the figures /metrics exports.
type Stats struct {
	RaftState    string // Follower, Candidate, Leader, Shutdown
	Term         uint64
	CommitIndex  uint64
	AppliedIndex uint64
	LastIndex    uint64
	Members      map[string]int // by status
	NumPeers     int
}

// Stats reads the current figures.
func (c *Cluster) Stats() Stats {
	r := c.raft.raft
	s := Stats{RaftState: r.State().String(), Term: r.CurrentTerm(), CommitIndex: r.CommitIndex(),
		AppliedIndex: r.AppliedIndex(), LastIndex: r.LastIndex(), Members: map[string]int{}}
	for _, st := range []string{api.StatusAlive, api.StatusSuspect, api.StatusFailed, api.StatusLeft} {
		s.Members[st] = 0
	}
	for _, m := range c.Members() {
		s.Members[m.Status]++
	}
	s.NumPeers, _ = strconv.Atoi(r.Stats()["num_peers"])
	return s
}
