package linkemu

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

var nsSeq atomic.Int64

// testLink makes two fresh network namespaces (removed when the test
// ends), opens a link between them with p, and puts 10.203.0.1/24 on A's
// end and 10.203.0.2/24 on B's. It skips unless the process is root and
// has iproute2 and /dev/net/tun.
func testLink(tb testing.TB, p Profile) (l *Link, nsA, nsB string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skipf("the emulated link needs root for network namespaces and TUN devices (euid %d)", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skipf("the emulated link needs the ip command (iproute2): %v", err)
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		tb.Skipf("the emulated link needs /dev/net/tun: %v", err)
	}
	sweepStaleTestNets()
	stem := fmt.Sprintf("lemu%d-%d", os.Getpid(), nsSeq.Add(1))
	nsA, nsB = stem+"a", stem+"b"
	for _, ns := range []string{nsA, nsB} {
		if out, err := ipCmd("netns", "add", ns); err != nil {
			tb.Skipf("cannot make network namespaces here: %v: %s", err, out)
		}
		tb.Cleanup(func() {
			if out, err := ipCmd("netns", "delete", ns); err != nil {
				tb.Logf("delete network namespace %s: %v: %s", ns, err, out)
			}
		})
		if out, err := ipCmd("-n", ns, "link", "set", "lo", "up"); err != nil {
			tb.Fatalf("lo up in %s: %v: %s", ns, err, out)
		}
	}
	l, err := Open(nsA, "emu0", nsB, "emu0", p)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Errorf("close link: %v", err)
		}
	})
	for ns, ip := range map[string]string{nsA: "10.203.0.1/24", nsB: "10.203.0.2/24"} {
		if out, err := ipCmd("-n", ns, "addr", "add", ip, "dev", "emu0"); err != nil {
			tb.Fatalf("address %s in %s: %v: %s", ip, ns, err, out)
		}
	}
	return l, nsA, nsB
}

var staleTestNet = regexp.MustCompile(`^lemu(\d+)-\d+[ab]$`)

// sweepStaleTestNets deletes namespaces of this pattern left by test
// processes that are gone (killed by a timeout, they ran no cleanup).
func sweepStaleTestNets() {
	out, err := ipCmd("netns", "list")
	if err != nil {
		return
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		m := staleTestNet.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		if pid, err := strconv.Atoi(m[1]); err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH {
			_, _ = ipCmd("netns", "delete", f[0])
		}
	}
}

// listenUDP opens a UDP socket bound to addr inside namespace ns.
func listenUDP(tb testing.TB, ns, addr string) *net.UDPConn {
	tb.Helper()
	var c *net.UDPConn
	err := InNetns(ns, func() (err error) {
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// listenTCP opens a TCP listener on addr inside namespace ns.
func listenTCP(tb testing.TB, ns, addr string) *net.TCPListener {
	tb.Helper()
	var ln *net.TCPListener
	err := InNetns(ns, func() (err error) {
		ln, err = net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	return ln
}

// dialTCP connects from inside namespace ns; sndbuf > 0 sets SO_SNDBUF
// before connecting, so the window scale covers it.
func dialTCP(tb testing.TB, ns, addr string, sndbuf int) *net.TCPConn {
	tb.Helper()
	var c *net.TCPConn
	err := InNetns(ns, func() error {
		d := net.Dialer{}
		if sndbuf > 0 {
			d.Control = func(_, _ string, rc syscall.RawConn) error {
				var serr error
				err := rc.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, sndbuf)
				})
				if err != nil {
					return err
				}
				return serr
			}
		}
		conn, err := d.Dial("tcp4", addr)
		if err != nil {
			return err
		}
		c = conn.(*net.TCPConn)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}
