package testcluster

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// ephemeralRange reads the kernel's range for outgoing ports (default
// 32768–60999 when it cannot be read).
func ephemeralRange() (int, int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			lo, err1 := strconv.Atoi(f[0])
			hi, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && lo > 11000 {
				return lo, hi
			}
		}
	}
	return 32768, 60999
}

var (
	portsMu   sync.Mutex
	portsUsed = map[int]bool{}
)

// freePort returns a port free for both TCP and UDP on 127.0.0.1 that this
// process has not handed out before (gossip needs both on one port). It is
// chosen below the kernel's ephemeral range: a port from that range, free
// while its agent is down for a restart, can be taken by any outgoing
// connection meanwhile, and the restart would fail with "port in use".
func freePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	lo, _ := ephemeralRange()
	for range 1000 {
		port := 10000 + rand.IntN(max(lo-10000, 1000))
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
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
