package transport

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/quic-go/quic-go"

	"github.com/leptonmesh/lepton/internal/pki"
)

// serverTLS requires a client certificate that chains to the cluster CA;
// Go's own verification does the work. Who the peer may be is decided after
// the handshake by Config.Authorize.
func serverTLS(id *pki.Identity) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{ALPN},
		Certificates: []tls.Certificate{id.Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    id.CAs,
	}
}

// clientTLS trusts only the cluster CA and checks that the server's
// certificate is for peerName, the node we expect at the address.
func clientTLS(id *pki.Identity, peerName string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{ALPN},
		Certificates: []tls.Certificate{id.Certificate},
		RootCAs:      id.CAs,
		ServerName:   peerName,
	}
}

// statelessResetKey derives the QUIC stateless reset key from the node's
// private key, so the key survives a restart: a restarted agent can then
// reset its peers' stale connections at once instead of leaving them to the
// idle timeout. Returns nil (resets disabled) if the key cannot be encoded.
func statelessResetKey(id *pki.Identity) *quic.StatelessResetKey {
	der, err := x509.MarshalPKCS8PrivateKey(id.Certificate.PrivateKey)
	if err != nil {
		return nil
	}
	h := sha256.New()
	h.Write([]byte("lepton quic stateless reset key\x00"))
	h.Write(der)
	var key quic.StatelessResetKey
	copy(key[:], h.Sum(nil))
	return &key
}

// peerName returns the verified node name of a connection's peer.
func peerName(conn *quic.Conn) (string, error) {
	certs := conn.ConnectionState().TLS.PeerCertificates
	if len(certs) == 0 {
		return "", errors.New("peer presented no certificate")
	}
	return pki.PeerName(certs[0]), nil
}

// isHandshakeFailure reports whether a connection ended because its TLS
// handshake failed or never finished.
func isHandshakeFailure(err error) bool {
	if te, ok := errors.AsType[*quic.TransportError](err); ok && te.ErrorCode.IsCryptoError() {
		return true
	}
	_, ok := errors.AsType[*quic.HandshakeTimeoutError](err)
	return ok
}

// explain turns quic-go errors that mean "the peer refused us" or "wrong
// node" into the package's sentinel errors, keeping the original text.
func explain(err error) error {
	if err == nil {
		return nil
	}
	if hn, ok := errors.AsType[x509.HostnameError](err); ok && hn.Certificate != nil {
		return fmt.Errorf("%w: certificate is for %q, expected %q (%w)", ErrPeerNameMismatch, pki.PeerName(hn.Certificate), hn.Host, err)
	}
	if ae, ok := errors.AsType[*quic.ApplicationError](err); ok && ae.Remote && ae.ErrorCode == codeRefused {
		return fmt.Errorf("%w: %s", ErrRefused, ae.ErrorMessage)
	}
	if te, ok := errors.AsType[*quic.TransportError](err); ok && te.Remote && te.ErrorCode.IsCryptoError() {
		return fmt.Errorf("%w: peer rejected the TLS handshake (is our certificate from the cluster CA?): %w", ErrRefused, err)
	}
	return err
}
