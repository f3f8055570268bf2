package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/pki"
	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/transport"
)

// testMesh runs several real agents (memberlist, raft, QUIC) in one process.
type testMesh struct {
	t     *testing.T
	ca    string
	key   []byte
	nodes map[string]*Cluster
	seeds []string
}

func newTestMesh(t *testing.T) *testMesh {
	ca := filepath.Join(t.TempDir(), "ca")
	if _, _, err := pki.CreateCA(ca, pki.CAOptions{}); err != nil {
		t.Fatal(err)
	}
	k, _ := pki.NewGossipKey()
	key, _ := pki.DecodeGossipKey(k)
	m := &testMesh{t: t, ca: ca, key: key, nodes: map[string]*Cluster{}}
	t.Cleanup(func() {
		for _, n := range m.nodes {
			n.Shutdown()
		}
	})
	return m
}

func freeGossipPort(t *testing.T) int {
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func (m *testMesh) start(name string, server bool, expect int, tune func(*Config)) *Cluster {
	m.t.Helper()
	dir := m.t.TempDir()
	cert, key, err := pki.CreateCert(m.ca, dir, pki.CertOptions{Name: name})
	if err != nil {
		m.t.Fatal(err)
	}
	id, err := pki.LoadIdentity(filepath.Join(m.ca, pki.CACertFile), cert, key)
	if err != nil {
		m.t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var self atomic.Pointer[Cluster]
	ep, err := transport.Listen(transport.Config{BindAddr: "127.0.0.1:0", Identity: id, Logger: log,
		Authorize: func(peer string, remote net.Addr) error {
			if c := self.Load(); c != nil {
				return c.Authorize(peer, remote)
			}
			return errors.New("starting")
		}})
	if err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(func() { ep.Close() })
	go ep.Serve(context.Background())
	port := freeGossipPort(m.t)
	cfg := Config{
		NodeName: name, Side: "source", Server: server, BootstrapExpect: expect, RaftVoters: 5,
		DataDir: dir, GossipBind: "127.0.0.1", GossipPort: port, AdvertiseAddr: "127.0.0.1",
		QUICAddr: ep.Addr().String(), APIAddr: "127.0.0.1:1", GossipKey: m.key, GossipProfile: "lan",
		Join: append([]string(nil), m.seeds...), PromoteAfter: 200 * time.Millisecond,
		Labels: map[string]string{"node": name}, Volumes: []plan.Volume{{Name: "v-" + name, Path: "/srv/" + name}},
		Network: rpcAdapter{ep}, Logger: log,
	}
	if tune != nil {
		tune(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		m.t.Fatal(err)
	}
	self.Store(c)
	c.Start()
	m.nodes[name] = c
	m.seeds = append(m.seeds, fmt.Sprintf("127.0.0.1:%d", port))
	return c
}

type rpcAdapter struct{ *transport.Endpoint }

func (a rpcAdapter) HandleRPC(method string, fn func(ctx context.Context, peer string, req json.RawMessage) (any, error)) {
	a.Endpoint.HandleRPC(method, fn)
}

// eventually polls cond every 50 ms for up to 20 s.
func eventually(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func roles(c *Cluster) map[string]string {
	out := map[string]string{}
	for _, m := range c.Members() {
		out[m.Name] = m.Status + "/" + m.Raft
	}
	return out
}

func TestInProcessMeshPromotesForcesOutAndReaps(t *testing.T) {
	m := newTestMesh(t)
	short := func(c *Config) { c.ReconnectTimeout = 4 * time.Second }
	for _, n := range []string{"a", "b", "c"} {
		m.start(n, true, 3, short)
	}
	m.start("d", true, 0, short)
	m.start("e", true, 0, short)
	m.start("f", false, 0, short)

	// Bootstrap three, promote d and e together (5 voters, odd), and keep
	// the non-server f a non-voter.
	want := map[string]string{"a": "alive/voter", "b": "alive/voter", "c": "alive/voter",
		"d": "alive/voter", "e": "alive/voter", "f": "alive/nonvoter"}
	for name, c := range m.nodes {
		eventually(t, name+" sees five voters and a non-voter", func() string {
			got := roles(c)
			for k, v := range want {
				if got[k] != v {
					return fmt.Sprint(got)
				}
			}
			return ""
		})
	}
	// Every agent's registry record is its own (labels and volumes), on
	// every replica: the leader must not mix records up.
	for name, c := range m.nodes {
		if c.self.Labels["node"] != name || c.self.Volumes[0].Name != "v-"+name {
			t.Errorf("%s's own description changed: %v %v", name, c.self.Labels, c.self.Volumes)
		}
		for _, n := range c.FSM().Nodes() {
			if n.Labels["node"] != n.Name || len(n.Volumes) != 1 || n.Volumes[0].Name != "v-"+n.Name {
				t.Errorf("%s's replica holds a wrong record for %s: labels %v volumes %v", name, n.Name, n.Labels, n.Volumes)
			}
		}
	}
	if id := m.nodes["f"].FSM().ClusterID(); id == "" {
		t.Error("cluster id was not replicated to the non-voter")
	}
	if n, ok := m.nodes["a"].FSM().Node("f"); !ok || n.Side != "source" || n.QUICAddr == "" {
		t.Errorf("registry record of f: %+v %v", n, ok)
	}

	// A live member cannot be forced out.
	follower := m.nodes["f"]
	if _, err := follower.ForceLeave(context.Background(), "", "e"); StatusOf(err) != 409 {
		t.Errorf("force-leave of a live member: %v (status %d)", err, StatusOf(err))
	}
	if _, err := follower.ForceLeave(context.Background(), "", "nobody"); StatusOf(err) != 404 {
		t.Errorf("force-leave of an unknown member: %v (status %d)", err, StatusOf(err))
	}

	// e crashes: it is shown failed and stays a voter until forced out.
	leaderName, _, _ := follower.Leader()
	victim := "e"
	if leaderName == victim {
		victim = "d"
	}
	m.nodes[victim].Shutdown()
	delete(m.nodes, victim)
	for name, c := range m.nodes {
		eventually(t, name+" shows "+victim+" failed", func() string {
			if got := roles(c)[victim]; got != "failed/voter" {
				return got
			}
			return ""
		})
	}
	res, err := follower.ForceLeave(context.Background(), "", victim) // forwarded to the leader over QUIC
	if err != nil || !res.Removed {
		t.Fatalf("force-leave %s: %+v, %v", victim, res, err)
	}
	eventually(t, victim+" shown left with no raft role", func() string {
		if got := roles(follower)[victim]; got != api.StatusLeft+"/"+api.RaftNone {
			return got
		}
		return ""
	})

	// The non-voter f crashes and is reaped after reconnect_timeout.
	m.nodes["f"].Shutdown()
	delete(m.nodes, "f")
	observer := m.nodes["a"]
	eventually(t, "f reaped", func() string {
		if got, ok := roles(observer)["f"]; ok {
			return got
		}
		return ""
	})
}
