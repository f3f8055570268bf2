package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cluster makes a CA in dir/ca and certificates for names in dir/certs.
func cluster(t *testing.T, dir string, names ...string) (caPath string) {
	t.Helper()
	caDir := filepath.Join(dir, "ca")
	caPath, _, err := CreateCA(caDir, CAOptions{})
	if err != nil {
		t.Fatalf("CreateCA: %v", err)
	}
	for _, n := range names {
		if _, _, err := CreateCert(caDir, filepath.Join(dir, "certs"), CertOptions{Name: n, IPs: []net.IP{net.ParseIP("127.0.0.1")}}); err != nil {
			t.Fatalf("CreateCert %s: %v", n, err)
		}
	}
	return caPath
}

func certPaths(dir, name string) (cert, key string) {
	return filepath.Join(dir, "certs", name+".pem"), filepath.Join(dir, "certs", name+"-key.pem")
}

func TestRoundTripAndMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := cluster(t, dir, "src-1", "tgt_1.hz-b")

	load := func(name string) *Identity {
		cert, key := certPaths(dir, name)
		id, err := LoadIdentity(ca, cert, key)
		if err != nil {
			t.Fatalf("LoadIdentity %s: %v", name, err)
		}
		if id.Name != name || PeerName(id.Leaf) != name {
			t.Fatalf("identity name %q, PeerName %q, want %q", id.Name, PeerName(id.Leaf), name)
		}
		return id
	}
	src, tgt := load("src-1"), load("tgt_1.hz-b")

	for _, p := range []string{filepath.Join(dir, "ca", CAKeyFile), filepath.Join(dir, "certs", "src-1-key.pem")} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, st.Mode().Perm())
		}
	}

	// A real TLS 1.3 handshake in both directions: each side proves its
	// name and accepts the other's certificate only through the cluster CA.
	serverConf := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{tgt.Certificate},
		ClientCAs:    tgt.CAs,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	clientConf := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{src.Certificate},
		RootCAs:      src.CAs,
		ServerName:   "tgt_1.hz-b",
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	server, client := tls.Server(a, serverConf), tls.Client(b, clientConf)
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if got := PeerName(server.ConnectionState().PeerCertificates[0]); got != "src-1" {
		t.Errorf("server sees peer %q, want src-1", got)
	}
	if got := PeerName(client.ConnectionState().PeerCertificates[0]); got != "tgt_1.hz-b" {
		t.Errorf("client sees peer %q, want tgt_1.hz-b", got)
	}
}

func TestCreateRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	ca := cluster(t, dir, "src-1")
	caBefore, _ := os.ReadFile(ca)
	certPath, _ := certPaths(dir, "src-1")
	certBefore, _ := os.ReadFile(certPath)

	if _, _, err := CreateCA(filepath.Join(dir, "ca"), CAOptions{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second CreateCA: %v, want an 'already exists' error", err)
	}
	if _, _, err := CreateCert(filepath.Join(dir, "ca"), filepath.Join(dir, "certs"), CertOptions{Name: "src-1"}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second CreateCert: %v, want an 'already exists' error", err)
	}
	if after, _ := os.ReadFile(ca); !bytes.Equal(after, caBefore) {
		t.Error("the CA certificate changed")
	}
	if after, _ := os.ReadFile(certPath); !bytes.Equal(after, certBefore) {
		t.Error("the node certificate changed")
	}

	// Only the key left behind (say, the certificate was deleted): still refused.
	if err := os.Remove(ca); err != nil {
		t.Fatal(err)
	}
	if _, _, err := CreateCA(filepath.Join(dir, "ca"), CAOptions{}); err == nil {
		t.Error("CreateCA replaced an existing CA key")
	}
}

func TestCreateCertRefusesBadNames(t *testing.T) {
	dir := t.TempDir()
	cluster(t, dir)
	out := filepath.Join(dir, "certs")
	for _, name := range []string{"", "../evil", "a/b", ".hidden", "-flag", "has space", strings.Repeat("a", 64)} {
		if _, _, err := CreateCert(filepath.Join(dir, "ca"), out, CertOptions{Name: name}); err == nil {
			t.Errorf("CreateCert accepted name %q", name)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files written outside the CA directory: %v", entries)
	}
}

func TestCertFromAnotherCA(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	ca := cluster(t, dir)
	cluster(t, other, "src-1") // same CA name "Lepton CA", different key
	cert, key := certPaths(other, "src-1")

	_, err := LoadIdentity(ca, cert, key)
	if !errors.Is(err, ErrNotSignedByCA) {
		t.Fatalf("err = %v, want ErrNotSignedByCA", err)
	}
	var fe *FileError
	if !errors.As(err, &fe) || fe.Field != "cert_file" || fe.Path != cert {
		t.Fatalf("err = %#v, want a FileError on cert_file %s", err, cert)
	}
}

func TestKeyOfAnotherCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := cluster(t, dir, "src-1", "src-2")
	cert, _ := certPaths(dir, "src-1")
	_, key := certPaths(dir, "src-2")

	_, err := LoadIdentity(ca, cert, key)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Field != "key_file" || fe.Path != key {
		t.Fatalf("err = %v, want a FileError on key_file %s", err, key)
	}
}

func TestLoadIdentityNamesTheBadFile(t *testing.T) {
	dir := t.TempDir()
	ca := cluster(t, dir, "src-1")
	cert, key := certPaths(dir, "src-1")
	missing := filepath.Join(dir, "missing.pem")
	caKey := filepath.Join(dir, "ca", CAKeyFile)
	cases := []struct {
		name          string
		ca, cert, key string
		field         string
	}{
		{"missing CA", missing, cert, key, "ca_file"},
		{"CA file is a key", caKey, cert, key, "ca_file"},
		{"missing cert", ca, missing, key, "cert_file"},
		{"cert file is a key", ca, key, key, "cert_file"},
		{"missing key", ca, cert, missing, "key_file"},
		{"key file is a cert", ca, cert, cert, "key_file"},
	}
	for _, tc := range cases {
		_, err := LoadIdentity(tc.ca, tc.cert, tc.key)
		var fe *FileError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: err = %v, want a FileError on %s", tc.name, err, tc.field)
		}
	}
}

func TestExpiredCertificateRefused(t *testing.T) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	ca, _, err := CreateCA(caDir, CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Valid for one nanosecond: expired by the time it is loaded.
	cert, key, err := CreateCert(caDir, dir, CertOptions{Name: "src-1", Validity: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadIdentity(ca, cert, key)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Field != "cert_file" || errors.Is(err, ErrNotSignedByCA) {
		t.Fatalf("err = %v, want a cert_file error that is not ErrNotSignedByCA", err)
	}
}

func TestCertNeverOutlivesCA(t *testing.T) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	ca, _, err := CreateCA(caDir, CAOptions{Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := CreateCert(caDir, dir, CertOptions{Name: "src-1"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := LoadIdentity(ca, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := readCertificates(ca)
	if err != nil {
		t.Fatal(err)
	}
	if id.Leaf.NotAfter.After(caCert[0].NotAfter) {
		t.Errorf("certificate expires %v, after its CA %v", id.Leaf.NotAfter, caCert[0].NotAfter)
	}
}

func TestPeerName(t *testing.T) {
	cases := []struct {
		cert *x509.Certificate
		want string
	}{
		{&x509.Certificate{Subject: pkix.Name{CommonName: "cn"}, DNSNames: []string{"src-1", "alias"}}, "src-1"},
		{&x509.Certificate{Subject: pkix.Name{CommonName: "cn"}}, "cn"},
	}
	for _, tc := range cases {
		if got := PeerName(tc.cert); got != tc.want {
			t.Errorf("PeerName = %q, want %q", got, tc.want)
		}
	}
}

func TestGossipKey(t *testing.T) {
	k1, err := NewGossipKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := NewGossipKey()
	if k1 == k2 {
		t.Error("two new keys are equal")
	}
	raw, err := DecodeGossipKey(k1)
	if err != nil || len(raw) != GossipKeySize || base64.StdEncoding.EncodeToString(raw) != k1 {
		t.Fatalf("DecodeGossipKey(NewGossipKey()) = %d bytes, %v", len(raw), err)
	}
	for _, n := range []int{16, 24, 32} {
		if _, err := DecodeGossipKey(base64.StdEncoding.EncodeToString(make([]byte, n))); err != nil {
			t.Errorf("%d-byte key refused: %v", n, err)
		}
	}
	for _, n := range []int{0, 8, 15, 31, 33, 64} {
		_, err := DecodeGossipKey(base64.StdEncoding.EncodeToString(make([]byte, n)))
		if err == nil || !strings.Contains(err.Error(), "leptonctl keygen") {
			t.Errorf("%d-byte key: err = %v, want a refusal naming leptonctl keygen", n, err)
		}
	}
	if _, err := DecodeGossipKey("not base64!"); err == nil || !strings.Contains(err.Error(), "leptonctl keygen") {
		t.Errorf("non-base64 key: err = %v", err)
	}
}
