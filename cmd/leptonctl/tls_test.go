package main

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leptonmesh/lepton/internal/pki"
)

func TestKeygen(t *testing.T) {
	stdout, _ := wantExit(t, []string{"keygen"}, 0)
	if strings.Count(stdout, "\n") != 1 || !strings.HasSuffix(stdout, "\n") {
		t.Fatalf("keygen printed more than the key: %q", stdout)
	}
	key, err := pki.DecodeGossipKey(strings.TrimSpace(stdout))
	if err != nil {
		t.Fatalf("keygen printed a key DecodeGossipKey rejects: %v", err)
	}
	if len(key) != pki.GossipKeySize {
		t.Errorf("key is %d bytes, want %d", len(key), pki.GossipKeySize)
	}
	again, _ := wantExit(t, []string{"keygen"}, 0)
	if again == stdout {
		t.Error("two keygen runs printed the same key")
	}
}

func TestTLSCreate(t *testing.T) {
	caDir := filepath.Join(t.TempDir(), "ca")
	certDir := filepath.Join(t.TempDir(), "certs")

	stdout, _ := wantExit(t, []string{"tls", "ca", "create", "--dir", caDir}, 0)
	caCert, caKey := filepath.Join(caDir, "ca.pem"), filepath.Join(caDir, "ca-key.pem")
	if stdout != "Wrote "+caCert+"\nWrote "+caKey+"\n" {
		t.Errorf("tls ca create printed:\n%s", stdout)
	}
	// The CA is never overwritten.
	wantExit(t, []string{"tls", "ca", "create", "--dir", caDir}, 1, "already exists")

	stdout, _ = wantExit(t, []string{"tls", "cert", "create", "--ca-dir", caDir, "--name", "src-1",
		"--dir", certDir, "--ip", "10.0.0.5", "--ip", "::1", "--dns", "src-1.lepton.internal", "--days", "30"}, 0)
	cert, key := filepath.Join(certDir, "src-1.pem"), filepath.Join(certDir, "src-1-key.pem")
	if stdout != "Wrote "+cert+"\nWrote "+key+"\n" {
		t.Errorf("tls cert create printed:\n%s", stdout)
	}
	id, err := pki.LoadIdentity(caCert, cert, key)
	if err != nil {
		t.Fatalf("LoadIdentity rejects what tls cert create wrote: %v", err)
	}
	if id.Name != "src-1" {
		t.Errorf("certificate name = %q, want src-1", id.Name)
	}
	if !slices.ContainsFunc(id.Leaf.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.ParseIP("10.0.0.5")) }) ||
		!slices.ContainsFunc(id.Leaf.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.IPv6loopback) }) {
		t.Errorf("IP SANs = %v, want 10.0.0.5 and ::1", id.Leaf.IPAddresses)
	}
	if !slices.Contains(id.Leaf.DNSNames, "src-1.lepton.internal") {
		t.Errorf("DNS SANs = %v, want src-1.lepton.internal", id.Leaf.DNSNames)
	}
	if days := id.Leaf.NotAfter.Sub(id.Leaf.NotBefore).Hours() / 24; days < 29 || days > 31 {
		t.Errorf("certificate valid for %.1f days, want 30", days)
	}
	if info, err := os.Stat(key); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}

	stdout, _ = wantExit(t, []string{"tls", "cert", "create", "--json", "--ca-dir", caDir, "--name", "tgt-1", "--dir", certDir}, 0)
	if got := decodeJSON[writtenFiles](t, stdout); got.Cert != filepath.Join(certDir, "tgt-1.pem") || got.Key != filepath.Join(certDir, "tgt-1-key.pem") {
		t.Errorf("tls cert create --json = %+v", got)
	}
}

func TestTLSCertBadInput(t *testing.T) {
	caDir := t.TempDir()
	wantExit(t, []string{"tls", "ca", "create", "--dir", caDir}, 0)
	out := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--name", "src-1", "--ip", "10.0.0.300"}, `invalid --ip "10.0.0.300"`},
		{[]string{"--name", "src-1", "--ip", "src-1.example"}, `invalid --ip "src-1.example"`},
		{[]string{}, "--name is required"},
		{[]string{"--name", "../evil"}, `invalid --name "../evil"`},
		{[]string{"--name", "src-1", "--days", "0"}, "invalid --days 0"},
		{[]string{"--name", "src-1", "--days", "many"}, `invalid argument "many" for "--days"`},
	} {
		args := append([]string{"tls", "cert", "create", "--ca-dir", caDir, "--dir", out}, tc.args...)
		wantExit(t, args, 2, tc.want)
	}
	entries, err := os.ReadDir(out)
	if err != nil || len(entries) != 0 {
		t.Errorf("bad input still wrote files: %v %v", entries, err)
	}
	// A missing CA is a failure, not bad usage.
	wantExit(t, []string{"tls", "cert", "create", "--ca-dir", t.TempDir(), "--name", "src-1", "--dir", out}, 1, "ca.pem")
}
