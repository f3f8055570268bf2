package config

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// CheckPorts binds each port the agent will listen on and releases it at
// once: gossip (TCP and UDP) and QUIC (UDP) on bind_addr, the API (TCP) on
// api_bind. Run it before starting anything, so a port held by another
// program is reported by key instead of surfacing from deep inside
// memberlist or quic-go.
func (c *Config) CheckPorts() error {
	p := &problems{file: c.File}
	gossip := net.JoinHostPort(c.BindAddr, fmt.Sprint(c.Ports.Gossip))
	quic := net.JoinHostPort(c.BindAddr, fmt.Sprint(c.Ports.QUIC))
	checks := []struct {
		key, addrKey, network, addr string
		port                        int
	}{
		{"ports.gossip", "bind_addr", "tcp", gossip, c.Ports.Gossip},
		{"ports.gossip", "bind_addr", "udp", gossip, c.Ports.Gossip},
		{"ports.quic", "bind_addr", "udp", quic, c.Ports.QUIC},
		{"ports.api", "api_bind", "tcp", c.APIAddr(), c.Ports.API},
	}
	failed := map[string]bool{}
	for _, ch := range checks {
		if failed[ch.key] || failed[ch.addrKey] {
			continue
		}
		err := tryBind(ch.network, ch.addr)
		if err == nil {
			continue
		}
		failed[ch.key] = true
		switch {
		case errors.Is(err, syscall.EADDRINUSE):
			p.addErr(ch.key, err, "address already in use (bind %s %s): another leptond or program holds it; stop it (`ss -tulpn | grep :%d` shows which) or choose another port", ch.network, ch.addr, ch.port)
		case errors.Is(err, syscall.EACCES):
			p.addErr(ch.key, err, "permission denied (bind %s %s): ports below 1024 need root or CAP_NET_BIND_SERVICE; choose a port above 1023", ch.network, ch.addr)
		case errors.Is(err, syscall.EADDRNOTAVAIL):
			failed[ch.addrKey] = true
			p.addErr(ch.addrKey, err, "cannot bind %s %s: the address is not one of this host's; fix %s", ch.network, ch.addr, ch.addrKey)
		default:
			p.addErr(ch.key, err, "cannot bind %s %s: %v", ch.network, ch.addr, err)
		}
	}
	return p.err()
}

// tryBind binds addr and releases it.
func tryBind(network, addr string) error {
	if network == "udp" {
		pc, err := net.ListenPacket(network, addr)
		if err != nil {
			return err
		}
		return pc.Close()
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	return l.Close()
}
