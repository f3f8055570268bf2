package transport

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// Stream is one QUIC stream to or from a verified peer. It is a net.Conn:
// Close ends both directions; CloseWrite ends only ours (the peer reads EOF).
type Stream struct {
	qs    *quic.Stream
	conn  *quic.Conn
	peer  string
	kind  Kind
	open  *atomic.Int64 // the endpoint's open-stream gauge
	close sync.Once
}

var _ net.Conn = (*Stream)(nil)

func (e *Endpoint) newStream(conn *quic.Conn, qs *quic.Stream, peer string, kind Kind) *Stream {
	e.streams.Add(1)
	return &Stream{qs: qs, conn: conn, peer: peer, kind: kind, open: &e.streams}
}

// Peer is the verified node name of the other side.
func (s *Stream) Peer() string { return s.peer }

// Kind is what the stream carries.
func (s *Stream) Kind() Kind { return s.kind }

// Read reads data sent by the peer.
func (s *Stream) Read(b []byte) (int, error) { return s.qs.Read(b) }

// Write sends data to the peer.
func (s *Stream) Write(b []byte) (int, error) { return s.qs.Write(b) }

// CloseWrite finishes our direction after the data already written; the
// peer reads EOF. Reading stays possible.
func (s *Stream) CloseWrite() error { return s.qs.Close() }

// Close finishes our direction (data already written is still delivered)
// and stops reading: further data from the peer is refused. Idempotent.
func (s *Stream) Close() error {
	s.close.Do(func() {
		_ = s.qs.Close()
		s.qs.CancelRead(streamCodeClosed)
		s.open.Add(-1)
	})
	return nil
}

// abort resets both directions at once: Read and Write fail immediately on
// both sides. Used when a caller's context ends.
func (s *Stream) abort() {
	s.qs.CancelWrite(streamCodeClosed)
	s.qs.CancelRead(streamCodeClosed)
}

// LocalAddr is our UDP address.
func (s *Stream) LocalAddr() net.Addr { return s.conn.LocalAddr() }

// RemoteAddr is the peer's UDP address (its QUIC port).
func (s *Stream) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }

// SetDeadline sets the read and write deadlines.
func (s *Stream) SetDeadline(t time.Time) error { return s.qs.SetDeadline(t) }

// SetReadDeadline sets the deadline for Read.
func (s *Stream) SetReadDeadline(t time.Time) error { return s.qs.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline for Write.
func (s *Stream) SetWriteDeadline(t time.Time) error { return s.qs.SetWriteDeadline(t) }
