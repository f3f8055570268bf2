package transport

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// logFSM records applied commands.
type logFSM struct {
	mu   sync.Mutex
	cmds []string
}

func (f *logFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, string(l.Data))
	return nil
}

func (f *logFSM) applied() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.cmds)
}

func (f *logFSM) Snapshot() (raft.FSMSnapshot, error) { return nopSnapshot{}, nil }
func (f *logFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

type nopSnapshot struct{}

func (nopSnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (nopSnapshot) Release()                             {}

func TestRaftElectsALeaderAndReplicatesOverQUIC(t *testing.T) {
	ca := newTestCA(t)
	names := []string{"n1", "n2", "n3"}
	nodes := make([]*node, len(names))
	for i, name := range names {
		nodes[i] = startNode(t, ca.identity(name), Config{})
	}
	// The gossip directory: Raft address -> node name.
	directory := map[string]string{}
	for _, n := range nodes {
		directory[n.addr] = n.name
	}
	resolve := func(addr string) (string, error) {
		if name, ok := directory[addr]; ok {
			return name, nil
		}
		return "", fmt.Errorf("%s is not in the directory", addr)
	}

	var servers []raft.Server
	for _, n := range nodes {
		servers = append(servers, raft.Server{ID: raft.ServerID(n.name), Address: raft.ServerAddress(n.addr)})
	}
	rafts := make([]*raft.Raft, len(nodes))
	fsms := make([]*logFSM, len(nodes))
	layers := make([]raft.StreamLayer, len(nodes))
	for i, n := range nodes {
		layer := n.RaftLayer(n.Addr(), resolve)
		layers[i] = layer
		trans := raft.NewNetworkTransport(layer, 3, 5*time.Second, io.Discard)
		conf := raft.DefaultConfig()
		conf.LocalID = raft.ServerID(n.name)
		conf.HeartbeatTimeout = 500 * time.Millisecond
		conf.ElectionTimeout = 500 * time.Millisecond
		conf.LeaderLeaseTimeout = 250 * time.Millisecond
		conf.Logger = hclog.NewNullLogger()
		store := raft.NewInmemStore()
		fsms[i] = &logFSM{}
		r, err := raft.NewRaft(conf, fsms[i], store, store, raft.NewInmemSnapshotStore(), trans)
		if err != nil {
			t.Fatalf("new raft %s: %v", n.name, err)
		}
		rafts[i] = r
		t.Cleanup(func() {
			if err := r.Shutdown().Error(); err != nil {
				t.Errorf("shutdown raft %s: %v", n.name, err)
			}
			_ = trans.Close()
		})
	}
	if err := rafts[0].BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}

	var leader *raft.Raft
	waitFor(t, "one leader", func() bool {
		count := 0
		for _, r := range rafts {
			if r.State() == raft.Leader {
				leader = r
				count++
			}
		}
		return count == 1
	})
	if err := leader.Apply([]byte("move chunk 42"), 5*time.Second).Error(); err != nil {
		t.Fatalf("apply: %v", err)
	}
	for i, f := range fsms {
		waitFor(t, names[i]+" to apply the command", func() bool {
			return slices.Equal(f.applied(), []string{"move chunk 42"})
		})
	}

	// Raft refuses to dial an address the directory does not know.
	if _, err := layers[0].Dial("127.0.0.1:1", time.Second); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("dialing an unknown raft address: %v, want ErrUnknownPeer", err)
	}
}

// A peer that stops answering must not hold an agent's Raft shutdown for
// the I/O timeout: Abort fails the streams open to it, and later dials.
func TestAbortFailsOpenRaftStreamsAndLaterDials(t *testing.T) {
	ca := newTestCA(t)
	directory := map[string]string{}
	resolve := func(addr string) (string, error) { return directory[addr], nil }
	var mute raft.StreamLayer
	n2 := startNode(t, ca.identity("n2"), Config{}, func(e *Endpoint) { mute = e.RaftLayer(e.Addr(), resolve) })
	var layer raft.StreamLayer
	n1 := startNode(t, ca.identity("n1"), Config{}, func(e *Endpoint) { layer = e.RaftLayer(e.Addr(), resolve) })
	directory[n2.addr], directory[n1.addr] = "n2", "n1"

	conn, err := layer.Dial(raft.ServerAddress(n2.addr), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	held, err := mute.Accept() // n2 takes the stream and never answers
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	read := make(chan error, 1)
	go func() {
		_, err := conn.Read(make([]byte, 1)) // no deadline: only Abort ends it
		read <- err
	}()
	layer.(interface{ Abort() }).Abort()
	select {
	case err := <-read:
		if err == nil {
			t.Error("a read on an aborted stream succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Abort left a read on an open Raft stream waiting")
	}
	if _, err := layer.Dial(raft.ServerAddress(n2.addr), 5*time.Second); err == nil {
		t.Error("a dial after Abort succeeded")
	}
}
