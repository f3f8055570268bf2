package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"
)

// FSM applies committed commands to State. It is safe for concurrent
// readers; raft calls Apply, Snapshot and Restore from one goroutine.
type FSM struct {
	mu      sync.RWMutex
	state   State
	changed chan struct{} // closed and replaced after every applied command
}

// NewFSM returns an empty state machine.
func NewFSM() *FSM { return &FSM{state: newState(), changed: make(chan struct{})} }

// Changed returns a channel closed at the next change of the plan: workers
// wait on it instead of polling.
func (f *FSM) Changed() <-chan struct{} {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.changed
}

// notify wakes the waiters of Changed; called with f.mu held for writing.
func (f *FSM) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Apply applies one committed command (Encode's bytes: a type byte, then
// the payload) and returns the command's own error, if any; the cluster's
// Raft FSM calls it for every command entry of the log. An unknown command
// type panics, as in Consul: a replica that cannot understand the log must
// stop rather than diverge.
func (f *FSM) Apply(cmd []byte) error {
	t, body, err := decode(cmd)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.notify()
	switch t {
	case CmdSetClusterID:
		var c SetClusterID
		if err := json.Unmarshal(body, &c); err != nil {
			return fmt.Errorf("apply set-cluster-id: %w", err)
		}
		if f.state.ClusterID == "" {
			f.state.ClusterID = c.ID
		}
	case CmdUpsertNode:
		var n Node
		if err := json.Unmarshal(body, &n); err != nil {
			return fmt.Errorf("apply upsert-node: %w", err)
		}
		f.state.Nodes[n.Name] = n
	case CmdMarkLeft:
		var c NodeName
		if err := json.Unmarshal(body, &c); err != nil {
			return fmt.Errorf("apply mark-left: %w", err)
		}
		if n, ok := f.state.Nodes[c.Name]; ok {
			n.Left = true
			f.state.Nodes[c.Name] = n
		}
	case CmdRemoveNode:
		var c NodeName
		if err := json.Unmarshal(body, &c); err != nil {
			return fmt.Errorf("apply remove-node: %w", err)
		}
		delete(f.state.Nodes, c.Name)
	default:
		return f.applyJob(t, body)
	}
	return nil
}

// ClusterID returns the cluster's identity, "" until the first leader names it.
func (f *FSM) ClusterID() string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.state.ClusterID
}

// Node returns one registry record.
func (f *FSM) Node(name string) (Node, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, ok := f.state.Nodes[name]
	return n.Clone(), ok
}

// Nodes returns every registry record, sorted by name.
func (f *FSM) Nodes() []Node {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Node, 0, len(f.state.Nodes))
	for _, n := range f.state.Nodes {
		out = append(out, n.Clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Snapshot captures the state for a snapshot of the log; write it out with
// Persist, off the apply path.
func (f *FSM) Snapshot() *Snapshot {
	f.mu.RLock()
	defer f.mu.RUnlock()
	st := State{ClusterID: f.state.ClusterID, Nodes: make(map[string]Node, len(f.state.Nodes)),
		Jobs: make(map[string]*JobRecord, len(f.state.Jobs))}
	for k, n := range f.state.Nodes {
		st.Nodes[k] = n.Clone()
	}
	for k, r := range f.state.Jobs {
		st.Jobs[k] = r.clone()
	}
	return &Snapshot{state: st}
}

// Restore replaces the state with one a Snapshot wrote: it builds the new
// state, then swaps it in.
func (f *FSM) Restore(r io.Reader) error {
	st, err := readSnapshot(r)
	if err != nil {
		return err
	}
	for _, r := range st.Jobs { // a snapshot from before archives
		if r.Job.State.Ended() && r.Archive == nil {
			st.retire(r)
		}
	}
	f.mu.Lock()
	f.state = st
	f.notify()
	f.mu.Unlock()
	return nil
}
