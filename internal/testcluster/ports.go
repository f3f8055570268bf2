package testcluster

import (
	"fmt"
	"net"
	"sync"
)

var (
	portsMu   sync.Mutex
	portsUsed = map[int]bool{}
)

// freePort returns a port free for both TCP and UDP on 127.0.0.1 that this
// process has not handed out before (gossip needs both on one port).
func freePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		if portsUsed[port] {
			continue
		}
		portsUsed[port] = true
		return port, nil
	}
	return 0, fmt.Errorf("no free port found")
}
