package e2e

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/pki"
	"github.com/leptonmesh/lepton/internal/testcluster"
	"github.com/leptonmesh/lepton/transport"
)

// startSingle starts a one-server cluster, enough to be refused by.
func startSingle(t *testing.T) (*testcluster.Cluster, *testcluster.Agent) {
	t.Helper()
	c := testcluster.New(t)
	a := c.Add(testcluster.Spec{Name: "src-1", BootstrapExpect: 1})
	c.WaitForLeader(30*time.Second, "src-1")
	return c, a
}

// metric reads one unlabelled metric from an agent's /metrics.
func metric(t *testing.T, c *testcluster.Cluster, a *testcluster.Agent, name string) float64 {
	t.Helper()
	v, ok := scrape(t, c, a, name)
	if !ok {
		t.Fatalf("metric %s missing from %s's /metrics", name, a.Spec.Name)
	}
	return v
}

// scrape reads one series from an agent's /metrics: name, with its labels
// as Prometheus prints them, e.g. `x{method="job.progress"}`.
func scrape(t *testing.T, c *testcluster.Cluster, a *testcluster.Agent, series string) (float64, bool) {
	t.Helper()
	req, _ := http.NewRequest("GET", a.APIAddr()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(string(body))
	if m == nil {
		return 0, false
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v, true
}

func TestWrongGossipKeyCannotJoin(t *testing.T) {
	c, src := startSingle(t)
	otherKey, _ := pki.NewGossipKey()
	bad := c.Add(testcluster.Spec{Name: "intruder", Override: map[string]any{"encrypt": otherKey}})
	c.WaitFor(20*time.Second, "the intruder to report its failed join", func() string {
		if !strings.Contains(bad.Log(), "join failed") {
			return "no join failure logged yet"
		}
		return ""
	})
	if !strings.Contains(src.Log(), "could decrypt") {
		t.Errorf("src-1 does not log why it dropped the intruder's messages:\n%s", src.LogTail(10))
	}
	if !strings.Contains(bad.Log(), "encrypt") {
		t.Errorf("the join failure does not point at the gossip key:\n%s", bad.LogTail(10))
	}
	ms, err := c.MemberStatus(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ms["intruder"]; ok || len(ms) != 1 {
		t.Errorf("an agent with another gossip key became a member: %s", testcluster.Describe(ms))
	}
}

func TestForeignCertificateIsRefused(t *testing.T) {
	c, src := startSingle(t)
	// An agent with the right gossip key but a CA of its own: its config is
	// consistent, so it starts, but no member accepts its QUIC handshakes.
	otherCA := filepath.Join(c.Dir, "other-ca")
	if _, _, err := pki.CreateCA(otherCA, pki.CAOptions{CommonName: "Other CA"}); err != nil {
		t.Fatal(err)
	}
	cert, key, err := pki.CreateCert(otherCA, otherCA, pki.CertOptions{Name: "tgt-9"})
	if err != nil {
		t.Fatal(err)
	}
	before := metric(t, c, src, "lepton_quic_handshake_failures_total")
	bad := c.Add(testcluster.Spec{Name: "tgt-9", Side: "target", Override: map[string]any{
		"tls": map[string]string{"ca_file": filepath.Join(otherCA, pki.CACertFile), "cert_file": cert, "key_file": key},
	}})
	c.WaitFor(30*time.Second, "src-1 to refuse tgt-9's certificate", func() string {
		if metric(t, c, src, "lepton_quic_handshake_failures_total") <= before {
			return "no failed handshake counted yet"
		}
		return ""
	})
	// It never gets a Raft role, and never learns the leader.
	time.Sleep(3 * time.Second)
	peers, err := src.Client().RaftPeers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range peers.Servers {
		if s.ID == "tgt-9" {
			t.Errorf("an agent from another CA entered the Raft configuration: %+v", peers.Servers)
		}
	}
	if st, err := c.Status(bad); err != nil || st.Leader != "" {
		t.Errorf("the foreign agent should know no leader: %+v, %v", st, err)
	}
}

// endpointAs is a QUIC endpoint in the test process holding a certificate
// of c's CA, closed when the test ends: it speaks the real transport.
func endpointAs(t *testing.T, c *testcluster.Cluster, cert, key string) *transport.Endpoint {
	t.Helper()
	id, err := pki.LoadIdentity(filepath.Join(c.CADir, pki.CACertFile), cert, key)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := transport.Listen(transport.Config{BindAddr: "127.0.0.1:0", Identity: id,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

func TestImpostorNameIsRefused(t *testing.T) {
	c, src := startSingle(t)
	// A certificate from the cluster CA, for a name no member has: the peer
	// is not who gossip says lives anywhere, so src-1 refuses it.
	dir := t.TempDir()
	cert, key, err := pki.CreateCert(c.CADir, dir, pki.CertOptions{Name: "impostor"})
	if err != nil {
		t.Fatal(err)
	}
	ep := endpointAs(t, c, cert, key)
	before := metric(t, c, src, "lepton_quic_refused_total")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	quicAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(src.QUICPort))
	var reply any
	if err := ep.Call(ctx, quicAddr, "src-1", "cluster.node-info", struct{}{}, &reply); err == nil {
		t.Fatalf("an impostor got an RPC answer: %v", reply)
	}
	// Dialing src-1 while expecting another name fails on our side too.
	if _, err := ep.OpenStream(ctx, quicAddr, "tgt-1", transport.KindRPC); err == nil {
		t.Error("a connection to src-1 was accepted as tgt-1")
	}
	if after := metric(t, c, src, "lepton_quic_refused_total"); after <= before {
		t.Errorf("refused counter did not move: %v → %v", before, after)
	}
	if !strings.Contains(src.Log(), "impostor") {
		t.Errorf("src-1's log does not name the refused peer:\n%s", src.LogTail(20))
	}
}

func TestBadConfigsExit2WithTheKeyNamed(t *testing.T) {
	c := testcluster.New(t)
	otherCA := filepath.Join(c.Dir, "other-ca")
	if _, _, err := pki.CreateCA(otherCA, pki.CAOptions{}); err != nil {
		t.Fatal(err)
	}
	foreignCert, foreignKey, _ := pki.CreateCert(otherCA, otherCA, pki.CertOptions{Name: "bad"})
	misnamedCert, misnamedKey, _ := pki.CreateCert(c.CADir, filepath.Join(c.Dir, "misnamed"), pki.CertOptions{Name: "someone-else"})
	held, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldPort := held.LocalAddr().(*net.UDPAddr).Port
	caFile := filepath.Join(c.CADir, pki.CACertFile)

	cases := []struct {
		name     string
		override map[string]any
		want     []string // substrings of the error
	}{
		{"unknown key", map[string]any{"bootstrap_expected": 3}, []string{"bootstrap_expected", "bootstrap_expect"}},
		{"missing tls file", map[string]any{"tls": map[string]string{"ca_file": "/nonexistent/ca.pem", "cert_file": foreignCert, "key_file": foreignKey}}, []string{"tls.ca_file", "/nonexistent/ca.pem"}},
		{"certificate from another CA", map[string]any{"tls": map[string]string{"ca_file": caFile, "cert_file": foreignCert, "key_file": foreignKey}}, []string{"tls.cert_file", "not signed by the cluster CA"}},
		{"certificate for another name", map[string]any{"tls": map[string]string{"ca_file": caFile, "cert_file": misnamedCert, "key_file": misnamedKey}}, []string{"tls.cert_file", "someone-else"}},
		{"bad side", map[string]any{"side": "middle"}, []string{"side", "middle"}},
		{"duplicate volume", map[string]any{"volumes": []map[string]any{{"name": "data", "path": "/srv/a"}, {"name": "data", "path": "/srv/b"}}}, []string{"volumes[1].name", "data"}},
		{"malformed join", map[string]any{"join": []string{"10.0.0.300:7946"}}, []string{"join[0]"}},
		{"port in use", map[string]any{"ports": map[string]int{"gossip": 17946, "quic": heldPort, "api": 17948}}, []string{"ports.quic", "in use"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := c.Prepare(testcluster.Spec{Name: "bad-" + strconv.Itoa(i), Override: tc.override})
			out, err := exec.Command(c.Bin.Leptond, "--config", a.ConfigPath).CombinedOutput()
			var ee *exec.ExitError
			if err == nil || !errorsAs(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("want exit 2, got %v\n%s", err, out)
			}
			msg := string(out)
			for _, w := range append(tc.want, a.ConfigPath) {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not mention %q:\n%s", w, msg)
				}
			}
		})
	}
}

func errorsAs(err error, target **exec.ExitError) bool {
	ee, ok := err.(*exec.ExitError)
	if ok {
		*target = ee
	}
	return ok
}
