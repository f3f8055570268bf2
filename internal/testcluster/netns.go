package testcluster

import (
	"context"
	"errors"
	"fmt"
	"github.com/leptonmesh/lepton/internal/linkemu"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNoNetns says this machine cannot give the harness network namespaces
// (not root, no iproute2, or no CAP_SYS_ADMIN/CAP_NET_ADMIN): tests that
// need them should skip.
var ErrNoNetns = errors.New("network namespaces are not available")

// netPrefix is the /24 on the veth link between the two clouds. It exists
// only inside the namespaces the harness creates, so two tests' links never
// meet and the host's own interfaces and routes are never touched.
const netPrefix = "10.201.0."

// Net is two network namespaces, the "source cloud" and the "target
// cloud", joined by one veth link carrying one /24: source agents get
// 10.201.0.11, .12, …, target agents 10.201.0.21, .22, …. Agents of one
// side talk over local routes that stay up in a partition; traffic between
// the sides crosses the link, which Partition cuts and Heal restores.
type Net struct {
	Source *Netns
	Target *Netns
}

// Netns is one network namespace made by the harness, with its end of the
// veth link between the clouds.
type Netns struct {
	Name string // as `ip netns` knows it
	Link string // its end of the veth pair (a TUN device on an emulated net)

	mu        sync.Mutex
	firstHost int // host number of the first agent address
	hosts     int // addresses handed out so far
	transport *http.Transport
}

var netSeq struct {
	sync.Mutex
	n int
}

// NewNet creates two namespaces joined by a veth link, brings up lo and the
// link in each, and removes them when the test ends, after killing every
// agent of the cluster. It returns an error wrapping ErrNoNetns when the
// machine cannot do it, so a test can skip with the reason.
func (c *Cluster) NewNet() (*Net, error) {
	c.t.Helper()
	n, err := c.newNamespaces()
	if err != nil {
		return nil, err
	}
	steps := [][]string{
		// Created straight inside the namespaces: the host never sees the pair.
		{"link", "add", n.Source.Link, "netns", n.Source.Name, "type", "veth", "peer", "name", n.Target.Link, "netns", n.Target.Name},
		{"-n", n.Source.Name, "link", "set", n.Source.Link, "up"},
		{"-n", n.Target.Name, "link", "set", n.Target.Link, "up"},
	}
	for _, args := range steps {
		if out, err := ipCmd(args...); err != nil {
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return n, nil
}

// newNamespaces creates the two namespaces of a Net with lo up in each,
// not yet linked, and removes them when the test ends, after killing every
// agent of the cluster. It returns an error wrapping ErrNoNetns when the
// machine cannot do it.
func (c *Cluster) newNamespaces() (*Net, error) {
	c.t.Helper()
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: the harness must run as root (euid %d)", ErrNoNetns, os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("%w: no ip command (iproute2): %v", ErrNoNetns, err)
	}
	sweepStaleNets()
	netSeq.Lock()
	netSeq.n++
	stem := fmt.Sprintf("lp%d-%d", os.Getpid(), netSeq.n)
	netSeq.Unlock()
	// Interface names have at most 15 bytes; a pid has at most 7 digits.
	n := &Net{
		Source: &Netns{Name: stem + "-src", Link: stem + "s", firstHost: 11},
		Target: &Netns{Name: stem + "-tgt", Link: stem + "t", firstHost: 21},
	}
	c.t.Cleanup(func() {
		for _, a := range c.Agents() {
			a.Kill()
		}
		for _, ns := range []*Netns{n.Source, n.Target} {
			ns.closeIdle()
			if out, err := ipCmd("netns", "delete", ns.Name); err != nil && !strings.Contains(out, "No such file") {
				c.t.Logf("delete network namespace %s: %v: %s", ns.Name, err, out)
			}
		}
	})
	steps := [][]string{
		{"netns", "add", n.Source.Name},
		{"netns", "add", n.Target.Name},
		{"-n", n.Source.Name, "link", "set", "lo", "up"},
		{"-n", n.Target.Name, "link", "set", "lo", "up"},
	}
	for i, args := range steps {
		if out, err := ipCmd(args...); err != nil {
			err = fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
			if i == 0 {
				return nil, fmt.Errorf("%w: %v", ErrNoNetns, err)
			}
			return nil, err
		}
	}
	return n, nil
}

// Partition cuts the link between the clouds: the target's end goes down,
// so the target side loses its route to the source (sends fail at once)
// and the source side sees no carrier (its packets vanish). Agents of one
// side still reach each other.
func (n *Net) Partition() error {
	if out, err := ipCmd("-n", n.Target.Name, "link", "set", n.Target.Link, "down"); err != nil {
		return fmt.Errorf("partition: %v: %s", err, out)
	}
	return nil
}

// Heal brings the link between the clouds back up and waits (bounded)
// until both ends report it up again.
func (n *Net) Heal() error {
	if out, err := ipCmd("-n", n.Target.Name, "link", "set", n.Target.Link, "up"); err != nil {
		return fmt.Errorf("heal: %v: %s", err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		src, _ := ipCmd("-n", n.Source.Name, "-o", "link", "show", n.Source.Link)
		tgt, _ := ipCmd("-n", n.Target.Name, "-o", "link", "show", n.Target.Link)
		if strings.Contains(src, "LOWER_UP") && strings.Contains(tgt, "LOWER_UP") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("heal: link not up after 5s:\n%s\n%s", src, tgt)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// AddAddress gives the namespace's end of the link one more address of
// the shared /24 (source .11 to .19, target .21 to .29) and returns it.
// On a veth end the /24 is on-link; on an emulated link's TUN device (see
// NewEmulatedNet) the same route sends the /24 through the emulator.
func (ns *Netns) AddAddress() (string, error) {
	ns.mu.Lock()
	host := ns.firstHost + ns.hosts
	if host >= ns.firstHost+9 {
		ns.mu.Unlock()
		return "", fmt.Errorf("network namespace %s: at most 9 agents", ns.Name)
	}
	ns.hosts++
	ns.mu.Unlock()
	ip := netPrefix + strconv.Itoa(host)
	if out, err := ipCmd("-n", ns.Name, "addr", "add", ip+"/24", "dev", ns.Link); err != nil {
		return "", fmt.Errorf("add address %s in %s: %v: %s", ip, ns.Name, err, out)
	}
	return ip, nil
}

// addAddress is AddAddress under the name the agent launcher calls.
func (ns *Netns) addAddress() (string, error) { return ns.AddAddress() }

// Command returns a command that runs name inside the namespace. `ip netns
// exec` execs the program in its own process, so the command's PID is the
// program's and signals reach it directly.
func (ns *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// HTTPClient returns an HTTP client whose connections are opened inside
// the namespace, so the test process, which stays in the host's namespace,
// can reach agents' APIs there. Its connections are pooled per namespace.
func (ns *Netns) HTTPClient() *http.Client {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.transport == nil {
		ns.transport = &http.Transport{
			DialContext:         ns.DialContext,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		}
	}
	return &http.Client{Transport: ns.transport}
}

func (ns *Netns) closeIdle() {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.transport != nil {
		ns.transport.CloseIdleConnections()
	}
}

// DialContext opens a connection from inside the namespace: a socket
// belongs to the namespace of the thread that created it, so a goroutine
// locked to its thread enters the namespace, dials and comes back. A thread
// that cannot come back is never reused (its goroutine exits locked).
func (ns *Netns) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var conn net.Conn
	err := linkemu.InNetns(ns.Name, func() (err error) {
		// A literal IP address dials on this goroutine, so the socket is made here.
		conn, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
		return err
	})
	if err != nil && conn != nil { // dialled, but the thread could not come back
		conn.Close()
		conn = nil
	}
	return conn, err
}

func ipCmd(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

var staleNet = regexp.MustCompile(`^lp(\d+)-\d+-(src|tgt)$`)

// sweepStaleNets deletes namespaces this harness left behind in test
// processes that are gone (a test binary killed by its timeout runs no
// cleanup). It touches only names of the harness's own pattern.
func sweepStaleNets() {
	out, err := ipCmd("netns", "list")
	if err != nil {
		return
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		m := staleNet.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		_, _ = ipCmd("netns", "delete", f[0])
	}
}
