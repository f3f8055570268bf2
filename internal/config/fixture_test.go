package config

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leptonmesh/lepton/internal/pki"
)

// testKey is a valid 32-byte gossip key.
var testKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// doc is a config file as ordered top-level key/value lines, so a test case
// can change one key of a valid file.
type doc [][2]string

var validDoc = doc{
	{"node_name", "src-1"},
	{"side", "source"},
	{"labels", "{cloud: aliyun, zone: hz-b}"},
	{"bind_addr", "127.0.0.1"},
	{"api_token_file", "token"},
	{"join", `["10.0.0.6:7946", "10.0.0.7", "[fd00::6]", "src-2.example.internal:8000"]`},
	{"bootstrap_expect", "3"},
	{"encrypt", testKey},
	{"tls", "{ca_file: tls/ca.pem, cert_file: tls/src-1.pem, key_file: tls/src-1-key.pem}"},
	{"volumes", "\n  - {name: data, path: /srv/data}\n  - {name: logs, path: /srv/logs, shared: true}"},
}

// set returns a copy of d with key set to value, appended when d lacks it.
func (d doc) set(key, value string) doc {
	out := append(doc(nil), d...)
	for i := range out {
		if out[i][0] == key {
			out[i][1] = value
			return out
		}
	}
	return append(out, [2]string{key, value})
}

// del returns a copy of d without key.
func (d doc) del(key string) doc {
	var out doc
	for _, kv := range d {
		if kv[0] != key {
			out = append(out, kv)
		}
	}
	return out
}

func (d doc) String() string {
	var b strings.Builder
	for _, kv := range d {
		b.WriteString(kv[0] + ": " + kv[1] + "\n")
	}
	return b.String()
}

// fixture is a config directory holding a cluster CA with certificates for
// src-1 and src-2, a second CA with its own src-1, and an API token file.
type fixture struct {
	dir string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	tlsDir := filepath.Join(dir, "tls")
	other := filepath.Join(dir, "other")
	for _, step := range []func() error{
		func() error { _, _, err := pki.CreateCA(tlsDir, pki.CAOptions{}); return err },
		func() error { _, _, err := pki.CreateCert(tlsDir, tlsDir, pki.CertOptions{Name: "src-1"}); return err },
		func() error { _, _, err := pki.CreateCert(tlsDir, tlsDir, pki.CertOptions{Name: "src-2"}); return err },
		func() error { _, _, err := pki.CreateCA(other, pki.CAOptions{}); return err },
		func() error { _, _, err := pki.CreateCert(other, other, pki.CertOptions{Name: "src-1"}); return err },
		func() error { return os.WriteFile(filepath.Join(dir, "token"), []byte("  s3cret-token\n"), 0o600) },
		func() error { return os.WriteFile(filepath.Join(dir, "empty-token"), []byte(" \n"), 0o600) },
		func() error { return os.Mkdir(filepath.Join(dir, "tls", "dir.pem"), 0o755) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{dir: dir}
}

// write puts text into the fixture's leptond.yaml and returns its path.
func (f *fixture) write(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(f.dir, "leptond.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// stubMachine makes the hostname and private IP lookups answer as given.
func stubMachine(t testing.TB, host, ip string) {
	t.Helper()
	oldHost, oldIP := hostname, privateIP
	hostname = func() (string, error) { return host, nil }
	privateIP = func() (string, error) { return ip, nil }
	t.Cleanup(func() { hostname, privateIP = oldHost, oldIP })
}

// configErrors returns every *Error inside err, in order.
func configErrors(err error) []*Error {
	var ce *Error
	if errors.As(err, &ce) && ce == err {
		return []*Error{ce}
	}
	var out []*Error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, configErrors(e)...)
		}
		return out
	}
	if errors.As(err, &ce) {
		return []*Error{ce}
	}
	return nil
}
