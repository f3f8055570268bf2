package config

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// freePort returns a port free for both TCP and UDP on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", l.Addr().String())
		l.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no port free for both TCP and UDP after 20 tries")
	return 0
}

func TestCheckPorts(t *testing.T) {
	c := &Config{
		File:     "/etc/lepton/leptond.yaml",
		BindAddr: "127.0.0.1",
		APIBind:  "127.0.0.1",
		Ports:    Ports{Gossip: freePort(t), QUIC: freePort(t), API: freePort(t)},
	}
	addr := func(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
	holdTCP := func(t *testing.T, port int) {
		l, err := net.Listen("tcp", addr(port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}
	holdUDP := func(t *testing.T, port int) {
		pc, err := net.ListenPacket("udp", addr(port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
	}

	cases := []struct {
		name string
		hold func(t *testing.T)
		key  string // "" when CheckPorts should pass
		msg  string
	}{
		{"all free", func(*testing.T) {}, "", ""},
		{"gossip TCP held", func(t *testing.T) { holdTCP(t, c.Ports.Gossip) }, "ports.gossip", "address already in use (bind tcp " + addr(c.Ports.Gossip) + "): another leptond or program holds it"},
		{"gossip UDP held", func(t *testing.T) { holdUDP(t, c.Ports.Gossip) }, "ports.gossip", "address already in use (bind udp " + addr(c.Ports.Gossip) + ")"},
		{"QUIC UDP held", func(t *testing.T) { holdUDP(t, c.Ports.QUIC) }, "ports.quic", "(bind udp " + addr(c.Ports.QUIC) + ")"},
		{"TCP on the QUIC port is no conflict", func(t *testing.T) { holdTCP(t, c.Ports.QUIC) }, "", ""},
		{"API held", func(t *testing.T) { holdTCP(t, c.Ports.API) }, "ports.api", "(bind tcp " + addr(c.Ports.API) + "): another leptond or program holds it; stop it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.hold(t)
			err := c.CheckPorts()
			if tc.key == "" {
				if err != nil {
					t.Fatalf("CheckPorts: %v", err)
				}
				return
			}
			wantOne(t, err, tc.key, tc.msg, "config /etc/lepton/leptond.yaml: "+tc.key+": ")
		})
	}
	// The ports were released: binding them again works.
	if err := c.CheckPorts(); err != nil {
		t.Fatalf("CheckPorts after release: %v", err)
	}
}

func TestCheckPortsForeignAddress(t *testing.T) {
	c := &Config{File: "f.yaml", BindAddr: "192.0.2.1", APIBind: "127.0.0.1", Ports: Ports{Gossip: freePort(t), QUIC: freePort(t), API: freePort(t)}}
	err := c.CheckPorts()
	e := wantOne(t, err, "bind_addr", "not one of this host's")
	if !strings.Contains(e.Problem, "192.0.2.1") {
		t.Errorf("problem %q does not name the address", e.Problem)
	}
}
