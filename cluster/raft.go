package cluster

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/leptonmesh/lepton/internal/logging"
	"github.com/leptonmesh/lepton/internal/plan"
)

// raftNode bundles raft with the stores it must close.
type raftNode struct {
	raft      *raft.Raft
	wal       *raftwal.WAL
	transport *raft.NetworkTransport
	hadState  bool // state existed on disk when the agent started
}

// raftTimings returns raft timeouts for a gossip profile. LAN timings aim at
// a new leader within about two seconds of a crash; WAN timings tolerate
// tens of milliseconds of round trip and the odd lost packet.
func raftTimings(c *raft.Config, profile string) {
	switch profile {
	case "wan":
		c.HeartbeatTimeout = 3 * time.Second
		c.ElectionTimeout = 3 * time.Second
		c.LeaderLeaseTimeout = 1500 * time.Millisecond
	default:
		c.HeartbeatTimeout = 800 * time.Millisecond
		c.ElectionTimeout = 800 * time.Millisecond
		c.LeaderLeaseTimeout = 400 * time.Millisecond
	}
	c.CommitTimeout = 20 * time.Millisecond
}

func newRaft(cfg *Config, fsm *plan.FSM, notify chan bool, resolve func(string) (string, error)) (*raftNode, error) {
	dir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(filepath.Join(dir, "wal"), 0o700); err != nil {
		return nil, fmt.Errorf("create raft directory: %w", err)
	}
	hlog := logging.HCLog(cfg.Logger, "raft")
	wal, err := raftwal.Open(filepath.Join(dir, "wal"), raftwal.WithLogger(logging.HCLog(cfg.Logger, "raft-wal")))
	if err != nil {
		return nil, fmt.Errorf("open raft log %s: %w", filepath.Join(dir, "wal"), err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hlog)
	if err != nil {
		wal.Close()
		return nil, fmt.Errorf("open raft snapshots in %s: %w", dir, err)
	}
	hadState, err := raft.HasExistingState(wal, wal, snaps)
	if err != nil {
		wal.Close()
		return nil, fmt.Errorf("read raft state in %s: %w", dir, err)
	}
	advertise, err := net.ResolveUDPAddr("udp", cfg.QUICAddr)
	if err != nil {
		wal.Close()
		return nil, fmt.Errorf("quic address %q: %w", cfg.QUICAddr, err)
	}
	// The I/O timeout bounds how long a leader waits on a dead peer (and
	// how long its shutdown can take); raft scales it up for snapshots.
	ioTimeout := 4 * time.Second
	if cfg.GossipProfile == "wan" {
		ioTimeout = 10 * time.Second
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  cfg.Network.RaftLayer(advertise, resolve),
		MaxPool: 3,
		Timeout: ioTimeout,
		Logger:  hlog,
	})
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeName)
	rc.Logger = hlog
	rc.NotifyCh = notify
	raftTimings(rc, cfg.GossipProfile)
	r, err := raft.NewRaft(rc, fsm, wal, wal, snaps, trans)
	if err != nil {
		trans.Close()
		wal.Close()
		return nil, fmt.Errorf("start raft: %w", err)
	}
	return &raftNode{raft: r, wal: wal, transport: trans, hadState: hadState}, nil
}

func (n *raftNode) shutdown() error {
	err := n.raft.Shutdown().Error()
	n.transport.Close()
	if cerr := n.wal.Close(); err == nil {
		err = cerr
	}
	return err
}

// configuration returns the current Raft configuration's servers.
func (n *raftNode) configuration() ([]raft.Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("read raft configuration: %w", err)
	}
	return f.Configuration().Servers, nil
}
