package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
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
		layer := n.RaftLayer(n.Addr(), resolve, nil)
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
	n2 := startNode(t, ca.identity("n2"), Config{}, func(e *Endpoint) { mute = e.RaftLayer(e.Addr(), resolve, nil) })
	var layer raft.StreamLayer
	n1 := startNode(t, ca.identity("n1"), Config{}, func(e *Endpoint) { layer = e.RaftLayer(e.Addr(), resolve, nil) })
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

// A Raft stream from a peer the allow hook refuses is reset before Raft sees
// it, logged and never returned by Accept; one from an allowed peer is.
func TestRaftLayerRefusesStreamsTheHookRefuses(t *testing.T) {
	ca := newTestCA(t)
	directory := map[string]string{}
	resolve := func(addr string) (string, error) { return directory[addr], nil }
	var mu sync.Mutex
	var asked []string
	allow := func(peer string) error {
		mu.Lock()
		asked = append(asked, peer)
		mu.Unlock()
		if peer != "voter" {
			return errors.New("not a voter")
		}
		return nil
	}
	var target raft.StreamLayer
	n0 := startNode(t, ca.identity("n0"), Config{}, func(e *Endpoint) { target = e.RaftLayer(e.Addr(), resolve, allow) })
	rogue := startNode(t, ca.identity("rogue"), Config{})
	var layer raft.StreamLayer
	voter := startNode(t, ca.identity("voter"), Config{}, func(e *Endpoint) { layer = e.RaftLayer(e.Addr(), resolve, nil) })
	directory[n0.addr], directory[voter.addr], directory[rogue.addr] = "n0", "voter", "rogue"

	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()

	// The rogue speaks the transport directly, as any holder of a cluster
	// certificate can: the stream is reset, so its read fails at once.
	s, err := rogue.OpenStream(testContext(t), n0.addr, "n0", KindRaft)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write([]byte("append entries")); err != nil {
		t.Logf("write on the refused stream: %v", err) // may already see the reset
	}
	_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		t.Errorf("read on a refused raft stream: %v, want a reset", err)
	}
	waitFor(t, "the refusal logged", func() bool {
		l := n0.logs.String()
		return strings.Contains(l, "raft stream refused") && strings.Contains(l, "peer=rogue") && strings.Contains(l, "not a voter")
	})

	// The voter's stream reaches Accept.
	c, err := layer.Dial(raft.ServerAddress(n0.addr), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-accepted:
		defer got.Close()
		if p := got.(*Stream).Peer(); p != "voter" {
			t.Fatalf("Accept returned a stream from %q, want only voter's", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the allowed stream never reached Accept")
	}
	select {
	case got := <-accepted:
		t.Errorf("Accept returned a second stream, from %q", got.(*Stream).Peer())
	case <-time.After(100 * time.Millisecond):
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(asked, []string{"rogue", "voter"}) {
		t.Errorf("allow was asked about %v, want [rogue voter]", asked)
	}
}

// isTimeout reports whether err is a deadline, not a reset.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
