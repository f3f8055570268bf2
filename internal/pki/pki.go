// Package pki creates and loads the cluster's certificate authority and the
// per-node certificates that QUIC uses for mutual TLS. A node certificate
// names exactly one node: its DNS SAN (and common name) is the node name that
// the node advertises in gossip, so a peer can check both agree.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Default validity periods, as Consul's `tls ca create` and `tls cert create` use.
const (
	DefaultCAValidity   = 5 * 365 * 24 * time.Hour
	DefaultCertValidity = 365 * 24 * time.Hour
)

// File names inside a CA directory.
const (
	CACertFile = "ca.pem"
	CAKeyFile  = "ca-key.pem"
)

// CAOptions tunes CreateCA; the zero value is fine.
type CAOptions struct {
	CommonName string        // default "Lepton CA"
	Validity   time.Duration // default DefaultCAValidity
}

// CertOptions describes a node certificate.
type CertOptions struct {
	Name     string        // node name; becomes the common name and first DNS SAN
	IPs      []net.IP      // extra IP SANs
	DNSNames []string      // extra DNS SANs, after Name
	Validity time.Duration // default DefaultCertValidity
}

// CreateCA writes dir/ca.pem and dir/ca-key.pem (the key with mode 0600).
// It refuses to overwrite an existing CA so a cluster's CA is never lost.
func CreateCA(dir string, opts CAOptions) (certPath, keyPath string, err error) {
	if opts.CommonName == "" {
		opts.CommonName = "Lepton CA"
	}
	if opts.Validity <= 0 {
		opts.Validity = DefaultCAValidity
	}
	certPath, keyPath = filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	if err := refuseExisting(certPath, keyPath); err != nil {
		return "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: opts.CommonName, Organization: []string{"Lepton"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(opts.Validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", fmt.Errorf("sign CA certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("create %s: %w", dir, err)
	}
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}

// CreateCert issues a node certificate signed by the CA in caDir and writes
// outDir/NAME.pem and outDir/NAME-key.pem. The certificate is valid for both
// server and client authentication, since every agent is both.
func CreateCert(caDir, outDir string, opts CertOptions) (certPath, keyPath string, err error) {
	if opts.Name == "" {
		return "", "", errors.New("certificate needs a node name")
	}
	if !nodeNameSyntax.MatchString(opts.Name) {
		// The name becomes a file name below outDir, so "../x" must not pass.
		return "", "", fmt.Errorf("node name %q: use letters, digits, \"_\", \".\" and \"-\", starting with a letter or digit, at most 63 characters", opts.Name)
	}
	if opts.Validity <= 0 {
		opts.Validity = DefaultCertValidity
	}
	caCert, caKey, err := loadCA(caDir)
	if err != nil {
		return "", "", err
	}
	certPath = filepath.Join(outDir, opts.Name+".pem")
	keyPath = filepath.Join(outDir, opts.Name+"-key.pem")
	if err := refuseExisting(certPath, keyPath); err != nil {
		return "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	notAfter := now.Add(opts.Validity)
	if notAfter.After(caCert.NotAfter) {
		notAfter = caCert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: opts.Name, Organization: []string{"Lepton"}},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     append([]string{opts.Name}, opts.DNSNames...),
		IPAddresses:  opts.IPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return "", "", fmt.Errorf("sign certificate for %s: %w", opts.Name, err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", "", fmt.Errorf("create %s: %w", outDir, err)
	}
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}

// nodeNameSyntax is the syntax of a node name, the same the agent config checks.
var nodeNameSyntax = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)

// PeerName is the node name a certificate speaks for: its first DNS SAN, or
// its common name when it has none.
func PeerName(cert *x509.Certificate) string {
	if len(cert.DNSNames) > 0 {
		return cert.DNSNames[0]
	}
	return cert.Subject.CommonName
}

func loadCA(caDir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := filepath.Join(caDir, CACertFile), filepath.Join(caDir, CAKeyFile)
	certs, err := readCertificates(certPath)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read CA key: %w", err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, nil, fmt.Errorf("%s: no PEM block", keyPath)
	}
	key, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: parse CA key: %w", keyPath, err)
	}
	return certs[0], key, nil
}

func refuseExisting(paths ...string) error {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s already exists; remove it first or choose another directory", p)
		}
	}
	return nil
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial: %w", err)
	}
	return serial, nil
}

func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	if err := writeNew(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if err := writeNew(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		os.Remove(keyPath) // a key without its certificate is useless and would block a retry
		return fmt.Errorf("write certificate: %w", err)
	}
	return nil
}

// writeNew creates path with data and syncs it. It never replaces an
// existing file (O_EXCL), even one created since refuseExisting looked, and
// removes what it wrote when it fails.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}
