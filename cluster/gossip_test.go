package cluster

import (
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/leptonmesh/lepton/internal/api"
)

func TestViewShowsSuspectAndLeft(t *testing.T) {
	mc := memberlist.DefaultLANConfig()
	mc.Name = "self"
	g := &gossip{mlConf: mc, members: map[string]*member{}, events: make(chan struct{}, 1)}
	meta := func(leaving bool) []byte {
		b, _ := nodeMeta{Side: "source", QUICAddr: "127.0.0.1:1", Leaving: leaving}.encode()
		return b
	}
	for _, n := range []string{"self", "quiet", "chatty", "leaver", "crashed"} {
		g.record(&memberlist.Node{Name: n, Addr: []byte{127, 0, 0, 1}, Port: 7946, Meta: meta(false)}, api.StatusAlive)
	}
	// quiet has not acked a probe for longer than memberlist's probe cycle.
	g.members["quiet"].lastAck = time.Now().Add(-time.Minute)
	g.members["self"].lastAck = time.Now().Add(-time.Minute) // we never probe ourselves
	// leaver announced its departure before dying; crashed did not.
	g.record(&memberlist.Node{Name: "leaver", Addr: []byte{127, 0, 0, 1}, Port: 7946, Meta: meta(true)}, api.StatusAlive)
	g.record(&memberlist.Node{Name: "leaver", Addr: []byte{127, 0, 0, 1}, Port: 7946, Meta: meta(true)}, api.StatusFailed)
	g.record(&memberlist.Node{Name: "crashed", Addr: []byte{127, 0, 0, 1}, Port: 7946, Meta: meta(false)}, api.StatusFailed)

	want := map[string]string{"self": api.StatusAlive, "quiet": api.StatusSuspect, "chatty": api.StatusAlive,
		"leaver": api.StatusLeft, "crashed": api.StatusFailed}
	view := g.view()
	for name, status := range want {
		if view[name].Status != status {
			t.Errorf("%s: %s, want %s", name, view[name].Status, status)
		}
	}
	if got := g.aliveMembers(); len(got) != 3 || got[0].Name != "chatty" {
		t.Errorf("aliveMembers = %v", got)
	}
}
