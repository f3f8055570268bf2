package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// snapshotMagic starts every snapshot so a wrong file is refused clearly.
const snapshotMagic = "LEPTON-PLAN-1\n"

// snapshotWindow is the zstd window snapshots are written with (the
// default of SpeedDefault) and the largest a restore accepts. The decoder
// allocates the window a frame announces before it decodes a byte, so
// without this bound a 23-byte snapshot announcing 512 MiB allocated 512
// MiB (FuzzRestore).
const snapshotWindow = 8 << 20

// Snapshot is a copy of the plan's state taken by FSM.Snapshot.
type Snapshot struct{ state State }

// Persist writes the magic line, then the state as zstd-compressed JSON.
func (s *Snapshot) Persist(w io.Writer) error { return writeSnapshot(w, s.state) }

func writeSnapshot(w io.Writer, st State) error {
	if _, err := io.WriteString(w, snapshotMagic); err != nil {
		return fmt.Errorf("write snapshot header: %w", err)
	}
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(snapshotWindow))
	if err != nil {
		return fmt.Errorf("snapshot encoder: %w", err)
	}
	if err := json.NewEncoder(zw).Encode(st); err != nil {
		zw.Close()
		return fmt.Errorf("encode snapshot: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finish snapshot: %w", err)
	}
	return nil
}

func readSnapshot(r io.Reader) (State, error) {
	head := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(r, head); err != nil || string(head) != snapshotMagic {
		return State{}, errors.New("restore snapshot: not a Lepton plan snapshot (bad header)")
	}
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30),
		zstd.WithDecoderMaxWindow(snapshotWindow))
	if err != nil {
		return State{}, fmt.Errorf("restore snapshot: %w", err)
	}
	defer zr.Close()
	st := newState()
	if err := json.NewDecoder(zr).Decode(&st); err != nil {
		return State{}, fmt.Errorf("restore snapshot: decode: %w", err)
	}
	if st.Nodes == nil {
		st.Nodes = map[string]Node{}
	}
	if st.Jobs == nil {
		st.Jobs = map[string]*JobRecord{}
	}
	for id, r := range st.Jobs {
		if r == nil { // Restore and every reader would dereference it
			return State{}, fmt.Errorf("restore snapshot: job %q is null", id)
		}
	}
	return st, nil
}
