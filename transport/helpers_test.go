package transport

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/pki"
)

// testCA is a cluster CA in a temp dir that issues node identities.
type testCA struct {
	t   testing.TB
	dir string
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	dir := t.TempDir()
	if _, _, err := pki.CreateCA(dir, pki.CAOptions{}); err != nil {
		t.Fatalf("create CA: %v", err)
	}
	return &testCA{t: t, dir: dir}
}

// identity issues a certificate for name (with extra DNS SANs) and loads it.
func (ca *testCA) identity(name string, extraNames ...string) *pki.Identity {
	ca.t.Helper()
	out := ca.t.TempDir()
	cert, key, err := pki.CreateCert(ca.dir, out, pki.CertOptions{Name: name, DNSNames: extraNames})
	if err != nil {
		ca.t.Fatalf("create cert %s: %v", name, err)
	}
	id, err := pki.LoadIdentity(filepath.Join(ca.dir, pki.CACertFile), cert, key)
	if err != nil {
		ca.t.Fatalf("load identity %s: %v", name, err)
	}
	return id
}

// foreignIdentity is a certificate for name from another CA, trusting ours:
// what a node from another cluster (or an attacker with its own CA) holds.
func (ca *testCA) foreignIdentity(name string) *pki.Identity {
	ca.t.Helper()
	other := newTestCA(ca.t).identity(name)
	ours := ca.identity("unused-" + name)
	return &pki.Identity{Name: name, Certificate: other.Certificate, Leaf: other.Leaf, CAs: ours.CAs}
}

// logBuffer collects log output for assertions; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// node is a serving endpoint under test.
type node struct {
	*Endpoint
	logs *logBuffer
	name string
	addr string
}

// startNode listens on 127.0.0.1 (port 0 unless cfg.BindAddr is set),
// serves, and closes at the end of the test.
func startNode(t testing.TB, id *pki.Identity, cfg Config, setup ...func(*Endpoint)) *node {
	t.Helper()
	logs := &logBuffer{}
	cfg.Identity = id
	if cfg.BindAddr == "" {
		cfg.BindAddr = "127.0.0.1:0"
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ep, err := Listen(cfg)
	if err != nil {
		t.Fatalf("listen %s: %v", id.Name, err)
	}
	for _, f := range setup {
		f(ep)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ep.Serve(ctx) }()
	n := &node{Endpoint: ep, logs: logs, name: id.Name, addr: ep.Addr().String()}
	t.Cleanup(func() {
		cancel()
		if err := ep.Close(); err != nil {
			t.Errorf("close %s: %v", id.Name, err)
		}
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("serve %s: %v", id.Name, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("serve %s did not return after Close", id.Name)
		}
	})
	return n
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	const step = 10 * time.Millisecond
	for range int(10 * time.Second / step) {
		if cond() {
			return
		}
		time.Sleep(step)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}
