package transport

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// raftLayer is a hashicorp/raft StreamLayer made of KindRaft streams.
type raftLayer struct {
	ep        *Endpoint
	advertise net.Addr
	resolve   func(addr string) (string, error)
	allow     func(peer string) error // nil: every authorised peer
	conns     chan *Stream
	done      chan struct{}
	closeOnce sync.Once
	// dials is the parent of every dial's context: Abort and Close cancel
	// it.
	dials      context.Context
	abortDials context.CancelFunc

	mu     sync.Mutex
	dialed map[*raftConn]struct{} // outbound streams not yet closed
}

// raftConn is an outbound Raft stream the layer keeps track of, so that
// Abort can close it.
type raftConn struct {
	*Stream
	l *raftLayer
}

// Close forgets the stream and closes it.
func (c *raftConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.dialed, c)
	c.l.mu.Unlock()
	return c.Stream.Close()
}

// RaftLayer returns a raft.StreamLayer for raft.NewNetworkTransport. Addr
// returns advertise (Raft's own server address). Dial asks resolve which
// node lives at a Raft address (the gossip directory) and refuses addresses
// it does not know, so Raft only talks to certificates named as gossip says.
// Accept returns inbound Raft streams whose peer allow accepts: allow gets
// the stream's verified peer name before Raft sees a byte of it, and a
// stream it refuses is reset at once, logged at warn ("raft stream
// refused", with the peer and the reason) and never reaches Accept; a nil
// allow accepts every peer Config.Authorize let in. allow runs on the
// stream's own goroutine and should not block. Close stops Accept; it does
// not close the Endpoint. Call it once, before Serve.
func (e *Endpoint) RaftLayer(advertise net.Addr, resolve func(addr string) (peerName string, err error), allow func(peer string) error) raft.StreamLayer {
	l := &raftLayer{
		ep:        e,
		advertise: advertise,
		resolve:   resolve,
		allow:     allow,
		conns:     make(chan *Stream),
		done:      make(chan struct{}),
		dialed:    map[*raftConn]struct{}{},
	}
	l.dials, l.abortDials = context.WithCancel(context.Background())
	e.Handle(KindRaft, l.hand)
	return l
}

// hand passes an inbound stream to Accept once allow has accepted its peer.
// The number of streams waiting here is bounded by the peers' stream limits.
func (l *raftLayer) hand(s *Stream) {
	if l.allow != nil {
		if err := l.allow(s.Peer()); err != nil {
			s.abort() // the peer's Raft fails at once, not at its I/O timeout
			_ = s.Close()
			l.ep.log.Warn("raft stream refused", "peer", s.Peer(), "remote", s.RemoteAddr().String(), "reason", err.Error())
			return
		}
	}
	select {
	case l.conns <- s:
	case <-l.done:
		_ = s.Close()
	case <-l.ep.ctx.Done():
		_ = s.Close()
	}
}

// Accept waits for the next inbound Raft stream.
func (l *raftLayer) Accept() (net.Conn, error) {
	select {
	case s := <-l.conns:
		return s, nil
	case <-l.done:
		return nil, fmt.Errorf("raft layer: %w", net.ErrClosed)
	case <-l.ep.ctx.Done():
		return nil, fmt.Errorf("raft layer: %w", ErrClosed)
	}
}

// Close stops Accept and aborts outbound streams (Abort). Idempotent.
func (l *raftLayer) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	l.Abort()
	return nil
}

// Abort makes every dial under way, and every later one, fail at once,
// and closes the outbound streams open. An agent calls it as it shuts Raft
// down: Raft's shutdown waits for its replication goroutines, and one
// dialling, or waiting for an answer from, a peer that is already gone
// would hold it for the whole I/O timeout (4 s on a LAN).
func (l *raftLayer) Abort() {
	l.abortDials()
	l.mu.Lock()
	open := make([]*raftConn, 0, len(l.dialed))
	for c := range l.dialed {
		open = append(open, c)
	}
	l.mu.Unlock()
	for _, c := range open {
		_ = c.Close()
	}
}

// Addr is the advertised Raft address.
func (l *raftLayer) Addr() net.Addr { return l.advertise }

// Dial opens a Raft stream to the node at address.
func (l *raftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	addr := string(address)
	name, err := l.resolve(addr)
	if err != nil {
		return nil, fmt.Errorf("raft dial %s: %w: %w", addr, ErrUnknownPeer, err)
	}
	if name == "" {
		return nil, fmt.Errorf("raft dial %s: %w", addr, ErrUnknownPeer)
	}
	if timeout <= 0 {
		timeout = dialTimeout
	}
	ctx, cancel := context.WithTimeout(l.dials, timeout)
	defer cancel()
	s, err := l.ep.OpenStream(ctx, addr, name, KindRaft)
	if err != nil {
		return nil, fmt.Errorf("raft dial: %w", err)
	}
	c := &raftConn{Stream: s, l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dials.Err() != nil { // aborted while dialling
		_ = s.Close()
		return nil, fmt.Errorf("raft dial %s: %w", addr, net.ErrClosed)
	}
	l.dialed[c] = struct{}{}
	return c, nil
}
