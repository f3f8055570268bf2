// Package transport is an agent's one QUIC port. A single UDP socket listens
// and dials; every connection is TLS 1.3 with mutual authentication against
// the cluster CA, and every stream starts with one byte naming its kind:
// Raft (a hashicorp/raft StreamLayer), RPC (one JSON request and response)
// or Data (chunk streams, spread over a pool of connections per peer).
// See DESIGN.md for the reasons.
package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/leptonmesh/lepton/internal/pki"
)

// Kind names what a stream carries. The opener writes it as the stream's
// first byte; the acceptor dispatches on it.
type Kind byte

// Stream kinds.
const (
	KindRaft Kind = 1 // hashicorp/raft NetworkTransport traffic
	KindRPC  Kind = 2 // one request/response, see Call and HandleRPC
	KindData Kind = 3 // chunk streams; spread over the data connection pool
)

// String names the kind for logs: "raft", "rpc", "data" or "kind(N)".
func (k Kind) String() string {
	switch k {
	case KindRaft:
		return "raft"
	case KindRPC:
		return "rpc"
	case KindData:
		return "data"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// ALPN is the TLS application protocol both sides must agree on.
const ALPN = "lepton/1"

// Defaults for the zero values in Config.
const (
	DefaultDataConnsPerPeer   = 1
	DefaultKeepAlive          = 10 * time.Second
	DefaultIdleTimeout        = 30 * time.Second
	DefaultMaxIncomingStreams = 1024
	// MaxDataConnsPerPeer bounds the data connection pool.
	MaxDataConnsPerPeer = 64
)

// Config describes an Endpoint. Identity is required; zero values elsewhere
// take the defaults above (and quic-go's own flow-control defaults).
type Config struct {
	BindAddr string        // "ip:port" of the UDP socket; port 0 picks one
	Identity *pki.Identity // our certificate and the cluster CA

	// Authorize decides whether an inbound peer, already proven to hold a
	// certificate from the cluster CA for peerName, may talk to us from
	// remote (its own QUIC port, since peers dial from their listening
	// socket). The usual rule: peerName is a gossip member whose advertised
	// address is remote. nil accepts any CA-signed peer.
	Authorize func(peerName string, remote net.Addr) error

	Logger *slog.Logger // nil: slog.Default()

	// DataConnsPerPeer is the size of the connection pool per peer for
	// KindData streams (round robin). Raft and RPC use the pool's first
	// connection. Default 1, at most MaxDataConnsPerPeer.
	DataConnsPerPeer int

	KeepAlive   time.Duration // QUIC keep-alive period; default 10s
	IdleTimeout time.Duration // QUIC max idle timeout; default 30s

	// MaxIncomingStreams bounds the streams a peer may have open at once on
	// one connection (and so the goroutines we run for it). Default 1024.
	MaxIncomingStreams int64

	// Receive flow-control windows; 0 keeps quic-go's defaults (6 MiB per
	// stream, 15 MiB per connection). Raise them for long fat links.
	MaxStreamWindow uint64
	MaxConnWindow   uint64
}

func (c Config) withDefaults() (Config, error) {
	if c.Identity == nil {
		return c, errors.New("transport config: Identity is required")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.DataConnsPerPeer <= 0 {
		c.DataConnsPerPeer = DefaultDataConnsPerPeer
	}
	if c.DataConnsPerPeer > MaxDataConnsPerPeer {
		return c, fmt.Errorf("transport config: DataConnsPerPeer %d is above the limit of %d", c.DataConnsPerPeer, MaxDataConnsPerPeer)
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxIncomingStreams <= 0 {
		c.MaxIncomingStreams = DefaultMaxIncomingStreams
	}
	return c, nil
}

// Stats is a snapshot of an Endpoint's counters.
type Stats struct {
	Conns            int    // live connections, dialed and accepted
	Streams          int64  // streams open now (opened or accepted, not yet closed)
	Refused          uint64 // inbound peers that Authorize refused
	HandshakesFailed uint64 // TLS handshakes that failed, inbound and outbound
}

// Sentinel errors callers can branch on with errors.Is.
var (
	// ErrClosed means the Endpoint (or the Raft layer) is closed.
	ErrClosed = errors.New("transport closed")
	// ErrPeerNameMismatch means the peer at an address holds a valid
	// certificate, but for another node name than the one we expected.
	ErrPeerNameMismatch = errors.New("peer certificate names another node")
	// ErrRefused means the peer refused us: it did not authorize our name or
	// address, or rejected our certificate.
	ErrRefused = errors.New("refused by peer")
	// ErrUnknownPeer means no node name is known for a Raft address.
	ErrUnknownPeer = errors.New("no known node at this address")
	// ErrFrameTooLarge means an RPC frame exceeds MaxFrameSize.
	ErrFrameTooLarge = errors.New("rpc frame too large")
)
