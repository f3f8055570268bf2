package testcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/pki"
)

// Cluster is a set of leptond processes sharing a CA, a gossip key and an
// API token, all under one temp directory.
type Cluster struct {
	t     T
	Dir   string
	CADir string
	Key   string // gossip key
	Token string // API token
	Bin   Binaries

	mu     sync.Mutex
	agents map[string]*Agent
	seeds  []string // gossip addresses agents join
}

// T is the part of testing.TB the harness uses, so that `make demo` can
// drive the same harness outside a test.
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	TempDir() string
	Cleanup(func())
	Failed() bool
}

// New makes the cluster's CA, gossip key and token, and builds the binaries.
// Every agent is killed when the test ends.
func New(t T) *Cluster {
	t.Helper()
	bin, err := Build()
	if err != nil {
		t.Fatalf("build binaries: %v", err)
	}
	dir := t.TempDir()
	c := &Cluster{t: t, Dir: dir, CADir: filepath.Join(dir, "ca"), Token: "test-token-" + filepath.Base(dir), Bin: bin, agents: map[string]*Agent{}}
	if _, _, err := pki.CreateCA(c.CADir, pki.CAOptions{}); err != nil {
		t.Fatalf("create CA: %v", err)
	}
	if c.Key, err = pki.NewGossipKey(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.KillAll)
	return c
}

// Spec describes one agent. Zero values give a source-side server.
type Spec struct {
	Name            string
	Side            string // default source
	NotServer       bool
	BootstrapExpect int
	Labels          map[string]string
	Volumes         []map[string]any
	// Override sets or replaces config keys after the defaults (nil deletes a key).
	Override map[string]any
	// NoJoin starts the agent without a join list.
	NoJoin bool
	// Netns runs the agent inside a namespace of a Net (see Cluster.NewNet),
	// on an address of its own there; nil runs it on 127.0.0.1.
	Netns *Netns
	// Rogue runs the leptond built with the test-only tag rogue
	// (BuildRogue), misbehaving as this value says (LEPTON_ROGUE).
	Rogue string
}

// Add writes the agent's certificate and config and starts it.
func (c *Cluster) Add(spec Spec) *Agent {
	c.t.Helper()
	a := c.Prepare(spec)
	a.Start()
	return a
}

// Prepare writes the agent's certificate and config without starting it.
func (c *Cluster) Prepare(spec Spec) *Agent {
	c.t.Helper()
	if spec.Side == "" {
		spec.Side = "source"
	}
	a := &Agent{c: c, Spec: spec, Dir: filepath.Join(c.Dir, spec.Name), IP: "127.0.0.1"}
	var err error
	if spec.Netns != nil {
		if a.IP, err = spec.Netns.addAddress(); err != nil {
			c.t.Fatal(err)
		}
	}
	for _, p := range []*int{&a.GossipPort, &a.QUICPort, &a.APIPort} {
		if *p, err = freePort(); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := os.MkdirAll(a.Dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	certDir := filepath.Join(a.Dir, "tls")
	if _, _, err := pki.CreateCert(c.CADir, certDir, pki.CertOptions{Name: spec.Name}); err != nil {
		c.t.Fatalf("certificate for %s: %v", spec.Name, err)
	}
	c.mu.Lock()
	if spec.BootstrapExpect > 0 || len(c.seeds) < 3 {
		c.seeds = append(c.seeds, a.GossipAddr())
	}
	c.agents[spec.Name] = a
	c.mu.Unlock()
	conf := map[string]any{
		"node_name":        spec.Name,
		"side":             spec.Side,
		"data_dir":         filepath.Join(a.Dir, "data"),
		"bind_addr":        a.IP,
		"advertise_addr":   a.IP,
		"ports":            map[string]int{"gossip": a.GossipPort, "quic": a.QUICPort, "api": a.APIPort},
		"api_bind":         a.IP,
		"api_token":        c.Token,
		"bootstrap_expect": spec.BootstrapExpect,
		"server":           !spec.NotServer,
		"gossip_profile":   "lan",
		"encrypt":          c.Key,
		"tls": map[string]string{
			"ca_file":   filepath.Join(c.CADir, pki.CACertFile),
			"cert_file": filepath.Join(certDir, spec.Name+".pem"),
			"key_file":  filepath.Join(certDir, spec.Name+"-key.pem"),
		},
		"log_level": "debug",
	}
	if spec.Labels != nil {
		conf["labels"] = spec.Labels
	}
	if spec.Volumes != nil {
		conf["volumes"] = spec.Volumes
	}
	for k, v := range spec.Override {
		if v == nil {
			delete(conf, k)
		} else {
			conf[k] = v
		}
	}
	a.ConfigPath = filepath.Join(a.Dir, "leptond.yaml")
	a.conf = conf
	if err := a.writeConfig(); err != nil {
		c.t.Fatal(err)
	}
	return a
}

// joinList is every seed but the agent itself: like an operator's join
// list naming all servers, it lets a restarted agent rejoin directly.
func (c *Cluster) joinList(self string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, s := range c.seeds {
		if s != self {
			out = append(out, s)
		}
	}
	return out
}

// Agent returns a started or prepared agent by name.
func (c *Cluster) Agent(name string) *Agent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agents[name]
}

// Agents returns every agent, sorted by name.
func (c *Cluster) Agents() []*Agent {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Agent, 0, len(c.agents))
	for _, a := range c.agents {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out
}

// KillAll kills every running agent (kill -9) and, when the test failed,
// prints the tail of each agent's log.
func (c *Cluster) KillAll() {
	for _, a := range c.Agents() {
		a.Kill()
		if c.t.Failed() {
			c.t.Logf("---- %s log (tail) ----\n%s", a.Spec.Name, a.LogTail(60))
		}
	}
}

// Running returns the agents whose process is running.
func (c *Cluster) Running() []*Agent {
	var out []*Agent
	for _, a := range c.Agents() {
		if a.Running() {
			out = append(out, a)
		}
	}
	return out
}

// WaitFor polls cond every 100 ms until it returns "" (done) or timeout
// passes; then the test fails with cond's last explanation.
func (c *Cluster) WaitFor(timeout time.Duration, what string, cond func() string) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		if last = cond(); last == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Status asks agent a for the cluster status.
func (c *Cluster) Status(a *Agent) (api.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return a.Client().Status(ctx)
}

// WaitForLeader waits until every running agent agrees on one leader that is
// among want (any when want is empty) and sees every agent in alive with
// the status given, and returns the leader's name.
func (c *Cluster) WaitForLeader(timeout time.Duration, want ...string) string {
	c.t.Helper()
	var leader string
	c.WaitFor(timeout, "one agreed leader", func() string {
		leader = ""
		for _, a := range c.Running() {
			st, err := c.Status(a)
			if err != nil {
				return fmt.Sprintf("%s: %v", a.Spec.Name, err)
			}
			if st.Leader == "" {
				return a.Spec.Name + " knows no leader"
			}
			if leader != "" && st.Leader != leader {
				return fmt.Sprintf("%s says %s leads, another says %s", a.Spec.Name, st.Leader, leader)
			}
			leader = st.Leader
		}
		if len(want) > 0 && !slices.Contains(want, leader) {
			return fmt.Sprintf("leader %s not among %v", leader, want)
		}
		return ""
	})
	return leader
}

// MemberStatus returns name → status as agent a sees it.
func (c *Cluster) MemberStatus(a *Agent) (map[string]api.Member, error) {
	st, err := c.Status(a)
	if err != nil {
		return nil, err
	}
	out := map[string]api.Member{}
	for _, m := range st.Members {
		out[m.Name] = m
	}
	return out, nil
}

// Describe renders members for failure messages.
func Describe(ms map[string]api.Member) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%s=%s/%s", m.Name, m.Status, m.Raft))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
