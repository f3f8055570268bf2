package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// Identity is what an agent proves and trusts on QUIC: its own certificate
// and key, and the cluster CA that every peer certificate must chain to.
type Identity struct {
	Name        string          // PeerName of Leaf
	Certificate tls.Certificate // leaf (and chain) with its private key
	Leaf        *x509.Certificate
	CAs         *x509.CertPool
}

// FileError says which of the three TLS files is wrong. Field is "ca_file",
// "cert_file" or "key_file", matching the keys under `tls:` in the agent config.
type FileError struct {
	Field string
	Path  string
	Err   error
}

func (e *FileError) Error() string { return fmt.Sprintf("%s %s: %v", e.Field, e.Path, e.Err) }
func (e *FileError) Unwrap() error { return e.Err }

// ErrNotSignedByCA means a certificate does not chain to the cluster CA.
var ErrNotSignedByCA = errors.New("certificate is not signed by the cluster CA")

// LoadIdentity reads the CA, certificate and key, and checks that they belong
// together: the key matches the certificate and the certificate chains to the
// CA for both client and server use.
func LoadIdentity(caFile, certFile, keyFile string) (*Identity, error) {
	caCerts, err := readCertificates(caFile)
	if err != nil {
		return nil, &FileError{Field: "ca_file", Path: caFile, Err: err}
	}
	pool := x509.NewCertPool()
	for _, c := range caCerts {
		pool.AddCert(c)
	}
	if _, err := readCertificates(certFile); err != nil {
		return nil, &FileError{Field: "cert_file", Path: certFile, Err: err}
	}
	if _, err := os.ReadFile(keyFile); err != nil {
		return nil, &FileError{Field: "key_file", Path: keyFile, Err: err}
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, &FileError{Field: "key_file", Path: keyFile, Err: fmt.Errorf("does not match %s: %w", certFile, err)}
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, &FileError{Field: "cert_file", Path: certFile, Err: err}
		}
	}
	if err := Verify(leaf, pool); err != nil {
		return nil, &FileError{Field: "cert_file", Path: certFile, Err: err}
	}
	return &Identity{Name: PeerName(leaf), Certificate: pair, Leaf: leaf, CAs: pool}, nil
}

// Verify checks that cert chains to a CA in pool and may be used by an agent
// (client and server authentication). It wraps ErrNotSignedByCA when the chain fails.
func Verify(cert *x509.Certificate, pool *x509.CertPool) error {
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:     pool,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	})
	if err == nil {
		return nil
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return fmt.Errorf("%w (issued by %q)", ErrNotSignedByCA, cert.Issuer.CommonName)
	}
	return fmt.Errorf("certificate for %q is not valid: %w", PeerName(cert), err)
}

func readCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return certs, nil
}
