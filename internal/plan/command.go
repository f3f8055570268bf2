package plan

import (
	"encoding/json"
	"errors"
	"fmt"
)

// CommandType is the first byte of every Raft log entry Lepton writes.
// Values are part of the on-disk format: never renumber, only append.
type CommandType uint8

const (
	// CmdSetClusterID names the cluster once, on its first leader.
	CmdSetClusterID CommandType = 1
	// CmdUpsertNode adds or refreshes an agent's registry record.
	CmdUpsertNode CommandType = 2
	// CmdMarkLeft marks an agent as gone (graceful leave or force-leave).
	CmdMarkLeft CommandType = 3
	// CmdRemoveNode deletes an agent's record (reaped).
	CmdRemoveNode CommandType = 4
)

// SetClusterID is the payload of CmdSetClusterID.
type SetClusterID struct {
	ID string `json:"id"`
}

// NodeName is the payload of CmdMarkLeft and CmdRemoveNode.
type NodeName struct {
	Name string `json:"name"`
}

// Encode builds a log entry: the type byte, then v as JSON.
func Encode(t CommandType, v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode command %d: %w", t, err)
	}
	return append([]byte{byte(t)}, body...), nil
}

// ErrEmptyCommand is returned for a log entry with no type byte.
var ErrEmptyCommand = errors.New("empty command")

// decode splits an entry into its type and payload.
func decode(data []byte) (CommandType, []byte, error) {
	if len(data) == 0 {
		return 0, nil, ErrEmptyCommand
	}
	return CommandType(data[0]), data[1:], nil
}
