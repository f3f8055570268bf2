package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/quic-go/quic-go"
)

// peerKey names a dialed peer: the node we expect at an address. The same
// address with another expected name is another peer (and another handshake).
type peerKey struct{ addr, name string }

// peer is the pool of dialed connections to one peer. Slot 0 carries Raft
// and RPC streams; data streams go round robin over all slots. Slots are
// pointers so the pool can grow while dials hold on to theirs.
// Guarded by Endpoint.mu.
type peer struct {
	slots []*slot
	next  uint64 // round-robin counter for data streams
}

// slot holds one pooled connection, or the dial in flight that will fill it.
type slot struct {
	conn *quic.Conn
	dial *dialCall
}

// dialCall is one dial shared by every caller that needs the same slot.
type dialCall struct {
	done chan struct{} // closed when conn or err is set
	conn *quic.Conn
	err  error
}

func newPeer(size int) *peer {
	p := &peer{slots: make([]*slot, size)}
	for i := range p.slots {
		p.slots[i] = &slot{}
	}
	return p
}

func (p *peer) liveConns() int {
	n := 0
	for _, s := range p.slots {
		if c := s.conn; c != nil && c.Context().Err() == nil {
			n++
		}
	}
	return n
}

// takeConns empties the slots and returns their connections.
func (p *peer) takeConns() []*quic.Conn {
	var conns []*quic.Conn
	for _, s := range p.slots {
		if s.conn != nil {
			conns = append(conns, s.conn)
			s.conn = nil
		}
	}
	return conns
}

func (p *peer) dialing() bool {
	for _, s := range p.slots {
		if s.dial != nil {
			return true
		}
	}
	return false
}

// OpenStream opens a stream of kind to the node peerName at addr (its QUIC
// "host:port"), reusing a live pooled connection or dialing one. The peer's
// certificate must name peerName. The caller owns the stream and must Close it.
func (e *Endpoint) OpenStream(ctx context.Context, addr, peerName string, kind Kind) (*Stream, error) {
	return e.openStream(ctx, addr, peerName, kind, -1)
}

// OpenDataStream opens a KindData stream to peerName at addr on connection
// lane of the peer's pool (lane modulo DataConnsPerPeer), dialing it when
// needed. Each lane is a QUIC connection of its own, with its own congestion
// window: a sender that spreads its chunks over several lanes is not held
// to one connection's share of a lossy link.
func (e *Endpoint) OpenDataStream(ctx context.Context, addr, peerName string, lane int) (*Stream, error) {
	return e.openStream(ctx, addr, peerName, KindData, max(lane, 0))
}

// openStream opens a stream on the pooled connection for kind: slot 0 for
// Raft and RPC, lane's slot for data, or the next slot round robin when
// lane is negative.
func (e *Endpoint) openStream(ctx context.Context, addr, peerName string, kind Kind, lane int) (*Stream, error) {
	const attempts = 2 // a cached connection may die between the check and the open
	var err error
	for range attempts {
		var conn *quic.Conn
		conn, err = e.conn(ctx, peerKey{addr: addr, name: peerName}, kind, lane)
		if err != nil {
			return nil, fmt.Errorf("open %s stream to %s at %s: %w", kind, peerName, addr, err)
		}
		var qs *quic.Stream
		qs, err = conn.OpenStreamSync(ctx)
		if err == nil {
			if _, err = qs.Write([]byte{byte(kind)}); err == nil {
				return e.newStream(conn, qs, peerName, kind), nil
			}
			qs.CancelRead(streamCodeClosed)
			qs.CancelWrite(streamCodeClosed)
		}
		err = explain(err)
		if ctx.Err() != nil || conn.Context().Err() == nil || errors.Is(err, ErrRefused) {
			break // not a connection that merely died: do not redial
		}
	}
	return nil, fmt.Errorf("open %s stream to %s at %s: %w", kind, peerName, addr, err)
}

// conn returns a live connection from the peer's pool for kind (and lane,
// see openStream), dialing it when the slot is empty or its connection
// died. Concurrent callers share one dial per slot; each waits only as long
// as its own ctx allows.
func (e *Endpoint) conn(ctx context.Context, key peerKey, kind Kind, lane int) (*quic.Conn, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	p := e.peers[key]
	if p == nil {
		p = newPeer(e.cfg.DataConnsPerPeer)
		e.peers[key] = p
	}
	i := 0
	switch {
	case kind == KindData && lane >= 0:
		i = lane % len(p.slots)
	case kind == KindData:
		i = int(p.next % uint64(len(p.slots)))
		p.next++
	}
	s := p.slots[i]
	if s.conn != nil && s.conn.Context().Err() == nil {
		c := s.conn
		e.mu.Unlock()
		return c, nil
	}
	s.conn = nil
	call := s.dial
	if call == nil {
		call = &dialCall{done: make(chan struct{})}
		s.dial = call
		e.wg.Go(func() { e.dial(key, s, call) })
	}
	e.mu.Unlock()

	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-call.done:
		return call.conn, call.err
	}
}

// dial fills slot s with a new connection to key. It runs detached from the
// callers' contexts (bounded by dialTimeout and Close), so a caller giving
// up does not fail the others.
func (e *Endpoint) dial(key peerKey, s *slot, call *dialCall) {
	ctx, cancel := context.WithTimeout(e.ctx, dialTimeout)
	defer cancel()
	conn, err := e.handshake(ctx, key)

	e.mu.Lock()
	s.dial = nil
	if err == nil && e.closed {
		err = ErrClosed
		defer func() { _ = conn.CloseWithError(codeClosing, "endpoint closing") }()
	}
	if err == nil {
		s.conn = conn
		context.AfterFunc(conn.Context(), func() {
			e.mu.Lock()
			if s.conn == conn {
				s.conn = nil
				e.forgetIfIdle(key)
			}
			e.mu.Unlock()
		})
	} else {
		e.forgetIfIdle(key)
	}
	call.conn, call.err = conn, err
	e.mu.Unlock()
	close(call.done)
}

// forgetIfIdle deletes the peer's entry when it holds no connection and no
// dial, so the map stays as small as the set of peers we talk to.
// The caller holds e.mu.
func (e *Endpoint) forgetIfIdle(key peerKey) {
	if p := e.peers[key]; p != nil && p.liveConns() == 0 && !p.dialing() {
		delete(e.peers, key)
	}
}

// handshake dials key.addr and checks the peer is key.name.
func (e *Endpoint) handshake(ctx context.Context, key peerKey) (*quic.Conn, error) {
	udpAddr, err := resolveUDP(ctx, key.addr)
	if err != nil {
		return nil, err
	}
	conn, err := e.tr.Dial(ctx, udpAddr, clientTLS(e.cfg.Identity, key.name), e.quicConf)
	if err != nil {
		err = explain(err)
		if isHandshakeFailure(err) || errors.Is(err, ErrPeerNameMismatch) {
			e.handshakesFailed.Add(1)
			e.log.Warn("outbound TLS handshake failed", "peer", key.name, "remote", key.addr, "err", err.Error())
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	// Go checked that some name in the certificate is key.name; the node a
	// certificate speaks for is its first name, and that must be key.name too.
	got, err := peerName(conn)
	if err == nil && got != key.name {
		err = fmt.Errorf("%w: certificate is for %q, expected %q", ErrPeerNameMismatch, got, key.name)
	}
	if err != nil {
		e.handshakesFailed.Add(1)
		e.log.Warn("outbound peer has the wrong name", "peer", key.name, "remote", key.addr, "err", err.Error())
		_ = conn.CloseWithError(codeRefused, err.Error())
		return nil, err
	}
	return conn, nil
}

// resolveUDP parses "ip:port" without a lookup, and resolves a host name
// within ctx otherwise.
func resolveUDP(ctx context.Context, addr string) (*net.UDPAddr, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return net.UDPAddrFromAddrPort(ap), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("peer address %q: %w", addr, err)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	pn, err := net.DefaultResolver.LookupPort(ctx, "udp", port)
	if err != nil {
		return nil, fmt.Errorf("peer address %q: %w", addr, err)
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(ips[0].Unmap(), uint16(pn))), nil
}

// DropPeer closes the pooled connections dialed to addr, whatever name was
// expected there; the next OpenStream redials. Use it when gossip declares
// the peer at addr failed. Connections the peer dialed to us are left to
// end on their own (idle timeout or the peer's close).
func (e *Endpoint) DropPeer(addr string) {
	e.mu.Lock()
	var conns []*quic.Conn
	for key, p := range e.peers {
		if key.addr != addr {
			continue
		}
		conns = append(conns, p.takeConns()...)
		if !p.dialing() {
			delete(e.peers, key)
		}
	}
	e.mu.Unlock()
	closeAll(conns, codeDropped, "peer dropped")
}

// PeerStats sums quic-go's statistics over the live connections this
// endpoint dialed to peerName at addr (its pool), and reports whether there
// is any. Senders use it to see what the network gives them: BytesSent
// minus BytesLost is goodput. SmoothedRTT is the longest of the
// connections', MinRTT the shortest (the path's delay without queues or
// a busy CPU's scheduling in it).
func (e *Endpoint) PeerStats(addr, peerName string) (quic.ConnectionStats, bool) {
	e.mu.Lock()
	var conns []*quic.Conn
	if p := e.peers[peerKey{addr: addr, name: peerName}]; p != nil {
		for _, s := range p.slots {
			if s.conn != nil && s.conn.Context().Err() == nil {
				conns = append(conns, s.conn)
			}
		}
	}
	e.mu.Unlock()
	var sum quic.ConnectionStats
	for _, c := range conns {
		st := c.ConnectionStats()
		sum.BytesSent += st.BytesSent
		sum.BytesLost += st.BytesLost
		sum.PacketsSent += st.PacketsSent
		sum.PacketsLost += st.PacketsLost
		sum.BytesReceived += st.BytesReceived
		sum.PacketsReceived += st.PacketsReceived
		sum.CongestionWindow += st.CongestionWindow
		sum.SmoothedRTT = max(sum.SmoothedRTT, st.SmoothedRTT)
		if st.MinRTT > 0 && (sum.MinRTT == 0 || st.MinRTT < sum.MinRTT) {
			sum.MinRTT = st.MinRTT
		}
	}
	return sum, len(conns) > 0
}

// CloseDataLanes closes every pooled connection but slot 0 (which carries
// Raft and RPC) to every peer, so an idle sender holds one connection per
// peer however many lanes its last job spread over. The next data stream
// on a lane dials it again.
func (e *Endpoint) CloseDataLanes() {
	e.mu.Lock()
	var conns []*quic.Conn
	for _, p := range e.peers {
		for _, s := range p.slots[1:] {
			if s.conn != nil {
				conns = append(conns, s.conn)
				s.conn = nil
			}
		}
	}
	e.mu.Unlock()
	closeAll(conns, codeClosing, "lanes closed: idle")
}
