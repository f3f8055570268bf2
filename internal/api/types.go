// Package api defines the JSON shapes of Lepton's HTTP control API and a
// client for it. The server lives in agent/; leptonctl and tests use Client.
// Field names here are a public contract: add fields, never rename them.
package api

import "github.com/leptonmesh/lepton/internal/version"

// Member status values, as `leptonctl members` shows them.
const (
	StatusAlive   = "alive"
	StatusSuspect = "suspect"
	StatusFailed  = "failed"
	StatusLeft    = "left"
)

// Raft roles of a member.
const (
	RaftVoter    = "voter"
	RaftNonvoter = "nonvoter"
	RaftNone     = "none"
)

// Member is one agent of the cluster as the answering agent sees it.
type Member struct {
	Name     string            `json:"name"`
	Side     string            `json:"side"`
	Addr     string            `json:"addr"` // gossip address, ip:port
	Status   string            `json:"status"`
	Raft     string            `json:"raft"`
	Leader   bool              `json:"leader"`
	Server   bool              `json:"server"`
	Labels   map[string]string `json:"labels,omitempty"`
	QUICAddr string            `json:"quic_addr,omitempty"`
	APIAddr  string            `json:"api_addr,omitempty"`
	Version  string            `json:"version,omitempty"`
}

// Status is the answer to GET /v1/status.
type Status struct {
	Node      string   `json:"node"`    // the agent that answered
	Leader    string   `json:"leader"`  // node name of the Raft leader, "" when none is known
	Term      uint64   `json:"term"`    // current Raft term as the answering agent knows it
	Members   []Member `json:"members"` // sorted by name
	ClusterID string   `json:"cluster_id,omitempty"`
	Jobs      []Job    `json:"jobs"` // oldest first
}

// RaftServer is one entry of the Raft configuration.
type RaftServer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"` // voter | nonvoter
	Leader   bool   `json:"leader"`
}

// RaftPeers is the answer to GET /v1/raft/peers.
type RaftPeers struct {
	Leader       string       `json:"leader"`
	Term         uint64       `json:"term"`
	CommitIndex  uint64       `json:"commit_index"`
	AppliedIndex uint64       `json:"applied_index"`
	Servers      []RaftServer `json:"servers"`
}

// ForceLeaveResult is the answer to POST /v1/members/{name}/force-leave.
type ForceLeaveResult struct {
	Name    string `json:"name"`
	Removed bool   `json:"removed_from_raft"`
}

// Health is the answer to GET /v1/health. Ready is true once the agent has
// joined the cluster and knows a Raft leader, so a systemd unit or a load
// balancer can wait for it.
type Health struct {
	Node   string `json:"node"`
	Leader string `json:"leader"`
	Ready  bool   `json:"ready"`
}

// Version is the answer to GET /v1/version.
type Version = version.Info

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
}
