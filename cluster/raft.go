package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/leptonmesh/lepton/internal/logging"
	"github.com/leptonmesh/lepton/internal/plan"
	"go.etcd.io/bbolt"
)

// raftNode bundles raft with the stores it must close.
type raftNode struct {
	raft      *raft.Raft
	store     *raftboltdb.BoltStore
	transport *raft.NetworkTransport
	layer     raft.StreamLayer // the transport's streams, which shutdown aborts
	auth      *raftAuth        // which peers may open Raft streams to us
	hadState  bool             // state existed on disk when the agent started
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

// newRaft opens the Raft stores and starts Raft over the transport's
// stream layer. resolve names the node at a QUIC address (for dials);
// isServer says whether gossip shows a node alive with the server flag (for
// the inbound streams raftAuth lets in).
func newRaft(cfg *Config, state *plan.FSM, notify chan bool, resolve func(string) (string, error), isServer func(string) bool) (*raftNode, error) {
	dir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create raft directory: %w", err)
	}
	hlog := logging.HCLog(cfg.Logger, "raft")
	store, err := openLogStore(dir)
	if err != nil {
		return nil, err
	}
	// The cache serves the entries a leader sends followers right after
	// appending them, without reading them back from bbolt.
	logs, err := raft.NewLogCache(logCacheEntries, store)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("raft log cache: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hlog)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("open raft snapshots in %s: %w", dir, err)
	}
	hadState, err := raft.HasExistingState(logs, store, snaps)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("read raft state in %s: %w", dir, err)
	}
	advertise, err := net.ResolveUDPAddr("udp", cfg.QUICAddr)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("quic address %q: %w", cfg.QUICAddr, err)
	}
	// The I/O timeout bounds how long a leader waits on a dead peer; raft
	// scales it up for snapshots. Shutdown does not wait for it: it aborts
	// the transport's streams first (a leader stopping with the rest of the
	// mesh took 4–5 s, waiting on peers already gone; now under 1 s).
	ioTimeout := 4 * time.Second
	if cfg.GossipProfile == "wan" {
		ioTimeout = 10 * time.Second
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeName) // the node name: what the peers' certificates name
	rc.Logger = hlog
	rc.NotifyCh = notify
	raftTimings(rc, cfg.GossipProfile)
	// Inbound streams: only voters of our configuration (see raftauth.go).
	// Ten election timeouts without a leader (8 s LAN, 30 s WAN) is far
	// beyond a failover, so only an agent left behind by a stale
	// configuration ever falls back to trusting gossip's servers.
	auth := &raftAuth{self: cfg.NodeName, grace: 10 * rc.ElectionTimeout, isServer: isServer}
	layer := cfg.Network.RaftLayer(advertise, resolve, auth.allow)
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: 3,
		Timeout: ioTimeout,
		Logger:  hlog,
	})
	r, err := raft.NewRaft(rc, fsm{state}, logs, store, snaps, trans)
	if err != nil {
		trans.Close()
		store.Close()
		return nil, fmt.Errorf("start raft: %w", err)
	}
	auth.start(r)
	return &raftNode{raft: r, store: store, transport: trans, layer: layer, auth: auth, hadState: hadState}, nil
}

func (n *raftNode) shutdown() error {
	if a, ok := n.layer.(interface{ Abort() }); ok {
		a.Abort() // a stream to a peer already gone would hold Shutdown for the I/O timeout
	}
	err := n.raft.Shutdown().Error()
	n.transport.Close()
	if cerr := n.store.Close(); err == nil {
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

// logCacheEntries is how many recent Raft entries are kept in memory.
const logCacheEntries = 512

// openLogStore opens the Raft log and stable store, dir/raft.db: bbolt,
// through hashicorp/raft-boltdb, which Consul and Nomad have run for
// years. Earlier builds kept it in raft-wal, whose v0.4.0 seals a segment
// without its index block when it truncates the log's tail (a follower
// dropping entries a new leader did not keep), so an agent killed after
// that could never start again ("sealed segment has no index block";
// hashicorp/raft-wal#31). The chaos test's kill -9 rounds hit it. A data
// dir still holding that log is refused with what to do, not ignored.
func openLogStore(dir string) (*raftboltdb.BoltStore, error) {
	path := filepath.Join(dir, "raft.db")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if _, werr := os.Stat(filepath.Join(dir, "wal")); werr == nil {
			return nil, fmt.Errorf("%s holds a Raft log in the raft-wal format of an earlier Lepton build; this build keeps it in %s: "+
				"remove %s (the agent rejoins and the leader sends it the plan; on the last server of a cluster, the plan is lost) or run the earlier build",
				filepath.Join(dir, "wal"), path, dir)
		}
	}
	store, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &bbolt.Options{Timeout: time.Second}})
	if err != nil {
		return nil, fmt.Errorf("open raft log %s (is another leptond using this data_dir?): %w", path, err)
	}
	return store, nil
}
