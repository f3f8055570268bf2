package cluster

import (
	"io"

	"github.com/hashicorp/raft"
	"github.com/leptonmesh/lepton/internal/plan"
)

// fsm is the thin shim between hashicorp/raft and the plan (rqlite's
// store/fsm.go): Raft hands it committed log entries and snapshots, and the
// plan, which knows nothing of Raft, applies and writes them.
type fsm struct{ plan *plan.FSM }

// Apply applies a command entry; Raft's own entries (configuration,
// barriers, no-ops) never reach the plan.
func (f fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	if err := f.plan.Apply(l.Data); err != nil {
		return err
	}
	return nil
}

// Snapshot captures the plan; Raft persists it off the apply path.
func (f fsm) Snapshot() (raft.FSMSnapshot, error) { return snapshot{f.plan.Snapshot()}, nil }

// Restore replaces the plan with a snapshot's.
func (f fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	return f.plan.Restore(rc)
}

// snapshot writes a captured plan into Raft's snapshot store.
type snapshot struct{ s *plan.Snapshot }

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.s.Persist(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s snapshot) Release() {}
