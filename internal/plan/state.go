// Package plan is Lepton's replicated state machine: everything the Raft
// leader decides and every agent must agree on. Today that is the cluster's
// identity and its registry of agents (side, labels, addresses, volumes);
// the migration issue adds jobs, manifests and chunk progress.
//
// The FSM is a thin shim (fsm.go); commands are one type byte plus a JSON
// payload (command.go); snapshots are zstd-compressed JSON (snapshot.go).
package plan

import (
	"maps"
	"slices"
)

// Volume is a directory an agent offers for migration.
type Volume struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Shared bool   `json:"shared"`
}

// Node is the registry record of one agent, as the leader last saw it.
type Node struct {
	Name       string            `json:"name"`
	Side       string            `json:"side"`
	Labels     map[string]string `json:"labels,omitempty"`
	Server     bool              `json:"server"`
	GossipAddr string            `json:"gossip_addr"`
	QUICAddr   string            `json:"quic_addr"`
	APIAddr    string            `json:"api_addr"`
	Version    string            `json:"version"`
	Volumes    []Volume          `json:"volumes,omitempty"`
	// InfoHash is the xxhash of the agent's self-description; gossip
	// metadata carries the same hash so the leader knows when to refresh.
	InfoHash uint64 `json:"info_hash"`
	// Left is set when the agent left gracefully or was forced out.
	Left bool `json:"left,omitempty"`
}

// Clone returns a deep copy, so readers never share maps with the FSM.
func (n Node) Clone() Node {
	n.Labels = maps.Clone(n.Labels)
	n.Volumes = slices.Clone(n.Volumes)
	return n
}

// State is the whole replicated state.
type State struct {
	ClusterID string                `json:"cluster_id"`
	Nodes     map[string]Node       `json:"nodes"`
	Jobs      map[string]*JobRecord `json:"jobs"`
}

func newState() State { return State{Nodes: map[string]Node{}, Jobs: map[string]*JobRecord{}} }
