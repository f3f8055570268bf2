package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// Application error codes sent in CONNECTION_CLOSE.
const (
	codeClosing quic.ApplicationErrorCode = 0 // endpoint shutting down
	codeRefused quic.ApplicationErrorCode = 1 // Authorize said no
	codeDropped quic.ApplicationErrorCode = 2 // DropPeer
)

// Stream error codes sent in RESET_STREAM / STOP_SENDING.
const (
	streamCodeClosed      quic.StreamErrorCode = 0 // normal close or cancel
	streamCodeUnknownKind quic.StreamErrorCode = 1 // no handler for the kind byte
)

const (
	handshakeIdleTimeout = 5 * time.Second  // quic-go aborts after twice this
	dialTimeout          = 10 * time.Second // bound on one dial, whoever waits
	kindByteTimeout      = 10 * time.Second // an accepted stream must name its kind by then
)

// Endpoint is an agent's QUIC port: one UDP socket that accepts connections
// from peers and dials them, with a cache (pool) of dialed connections per peer.
type Endpoint struct {
	cfg      Config
	log      *slog.Logger
	udp      *net.UDPConn
	tr       *quic.Transport
	ln       *quic.Listener
	quicConf *quic.Config

	ctx    context.Context // canceled by Close; bounds dials and loops
	cancel context.CancelFunc
	wg     sync.WaitGroup // internal goroutines: dials, accept loops

	mu       sync.Mutex
	closed   bool
	serving  bool
	handlers map[Kind]func(*Stream)
	methods  map[string]RPCHandler
	peers    map[peerKey]*peer
	inbound  map[*quic.Conn]struct{}

	streams          atomic.Int64
	refused          atomic.Uint64
	handshakesFailed atomic.Uint64
}

var bufferWarningOnce sync.Once

// Listen opens the UDP socket and starts listening. Peers may connect at
// once; their connections queue until Serve runs. Outbound OpenStream and
// Call work without Serve.
func Listen(cfg Config) (*Endpoint, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	// We report small UDP buffers ourselves (UDPBufferWarning), once, through slog.
	_ = os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	bufferWarningOnce.Do(func() {
		if w := UDPBufferWarning(); w != "" {
			cfg.Logger.Warn(w)
		}
	})

	addr, err := net.ResolveUDPAddr("udp", cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("resolve bind address %q: %w", cfg.BindAddr, err)
	}
	udp, err := net.ListenUDP("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on udp %s: %w", cfg.BindAddr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Endpoint{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "transport"),
		udp:    udp,
		ctx:    ctx,
		cancel: cancel,
		quicConf: &quic.Config{
			HandshakeIdleTimeout:       handshakeIdleTimeout,
			MaxIdleTimeout:             cfg.IdleTimeout,
			KeepAlivePeriod:            cfg.KeepAlive,
			MaxIncomingStreams:         cfg.MaxIncomingStreams,
			MaxIncomingUniStreams:      -1,
			MaxStreamReceiveWindow:     cfg.MaxStreamWindow,
			MaxConnectionReceiveWindow: cfg.MaxConnWindow,
		},
		handlers: make(map[Kind]func(*Stream)),
		methods:  make(map[string]RPCHandler),
		peers:    make(map[peerKey]*peer),
		inbound:  make(map[*quic.Conn]struct{}),
	}
	e.handlers[KindRPC] = e.serveRPC
	e.tr = &quic.Transport{
		Conn:              udp,
		StatelessResetKey: statelessResetKey(cfg.Identity),
		ConnContext:       e.watchHandshake,
	}
	e.ln, err = e.tr.Listen(serverTLS(cfg.Identity), e.quicConf)
	if err != nil {
		cancel()
		_ = e.tr.Close()
		_ = udp.Close()
		return nil, fmt.Errorf("listen quic on %s: %w", udp.LocalAddr(), err)
	}
	return e, nil
}

// Addr is the local address of the UDP socket.
func (e *Endpoint) Addr() net.Addr { return e.udp.LocalAddr() }

// Handle registers the handler for inbound streams of kind. Each stream runs
// in its own goroutine and the handler owns it: it must Close it. Register
// before Serve. KindRPC is served by HandleRPC's methods; KindRaft by RaftLayer.
func (e *Endpoint) Handle(kind Kind, h func(s *Stream)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.handlers[kind] = h
}

// Stats returns a snapshot of the endpoint's counters.
func (e *Endpoint) Stats() Stats {
	e.mu.Lock()
	conns := 0
	for c := range e.inbound {
		if c.Context().Err() == nil {
			conns++
		}
	}
	for _, p := range e.peers {
		conns += p.liveConns()
	}
	e.mu.Unlock()
	return Stats{
		Conns:            conns,
		Streams:          e.streams.Load(),
		Refused:          e.refused.Load(),
		HandshakesFailed: e.handshakesFailed.Load(),
	}
}

// Serve accepts inbound connections and dispatches their streams until ctx
// is done or the endpoint is closed (also before Serve began); then it
// closes the connections it accepted and returns nil. Outbound connections stay up until Close.
func (e *Endpoint) Serve(ctx context.Context) error {
	e.mu.Lock()
	switch {
	case e.closed:
		e.mu.Unlock()
		return nil
	case e.serving:
		e.mu.Unlock()
		return errors.New("transport: Serve called twice")
	}
	e.serving = true
	e.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(e.ctx, cancel)
	defer stop()

	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		conn, err := e.ln.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil // each serveConn closes its connection on the way out
			}
			return fmt.Errorf("accept quic connection: %w", err)
		}
		conns.Go(func() { e.serveConn(ctx, conn) })
	}
}

// serveConn authorizes an accepted connection, then dispatches its streams
// until the connection or ctx ends.
func (e *Endpoint) serveConn(ctx context.Context, conn *quic.Conn) {
	remote := conn.RemoteAddr()
	name, err := peerName(conn)
	if err == nil && e.cfg.Authorize != nil {
		err = e.cfg.Authorize(name, remote)
	}
	if err != nil {
		e.log.Warn("refused inbound peer", "peer", name, "remote", remote.String(), "reason", err.Error())
		e.refused.Add(1)
		_ = conn.CloseWithError(codeRefused, "not authorized: "+err.Error())
		return
	}

	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		_ = conn.CloseWithError(codeClosing, "endpoint closed")
		return
	}
	e.inbound[conn] = struct{}{}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.inbound, conn)
		e.mu.Unlock()
	}()
	e.log.Debug("accepted peer", "peer", name, "remote", remote.String())

	for {
		qs, err := conn.AcceptStream(ctx)
		if err != nil {
			if ctx.Err() != nil {
				_ = conn.CloseWithError(codeClosing, "endpoint stopped serving")
				return
			}
			e.log.Debug("peer connection ended", "peer", name, "remote", remote.String(), "err", err)
			return
		}
		go e.dispatch(conn, name, qs)
	}
}

// dispatch reads the kind byte of an inbound stream and hands the stream to
// its handler; unknown kinds are reset.
func (e *Endpoint) dispatch(conn *quic.Conn, name string, qs *quic.Stream) {
	var b [1]byte
	_ = qs.SetReadDeadline(time.Now().Add(kindByteTimeout))
	// The kind byte may come with the stream's end (an empty stream): that
	// read returns the byte and io.EOF, and the handler sees the end.
	if n, err := qs.Read(b[:]); n == 0 {
		qs.CancelRead(streamCodeClosed)
		qs.CancelWrite(streamCodeClosed)
		e.log.Debug("stream ended before its kind byte", "peer", name, "err", err)
		return
	}
	_ = qs.SetReadDeadline(time.Time{})
	kind := Kind(b[0])
	e.mu.Lock()
	h := e.handlers[kind]
	e.mu.Unlock()
	if h == nil {
		qs.CancelRead(streamCodeUnknownKind)
		qs.CancelWrite(streamCodeUnknownKind)
		e.log.Warn("reset stream of unknown kind", "peer", name, "remote", conn.RemoteAddr().String(), "kind", kind.String())
		return
	}
	h(e.newStream(conn, qs, name, kind))
}

// watchHandshake runs for every inbound connection attempt (quic-go's
// ConnContext) and logs and counts those whose handshake fails: no client
// certificate, one from another CA, a wrong ALPN, a timeout.
func (e *Endpoint) watchHandshake(ctx context.Context, info *quic.ClientInfo) (context.Context, error) {
	remote := info.RemoteAddr
	context.AfterFunc(ctx, func() {
		cause := context.Cause(ctx)
		if !isHandshakeFailure(cause) {
			return
		}
		msg := "inbound TLS handshake failed"
		if te, ok := errors.AsType[*quic.TransportError](cause); ok && te.Remote {
			msg = "inbound TLS handshake aborted by the peer: it rejected our certificate or expected another node here"
		}
		e.log.Warn(msg, "remote", remote.String(), "err", cause.Error())
		e.handshakesFailed.Add(1)
	})
	return ctx, nil
}

func closeAll(conns []*quic.Conn, code quic.ApplicationErrorCode, reason string) {
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { _ = c.CloseWithError(code, reason) })
	}
	wg.Wait()
}

// Close closes the listener and every connection (telling peers why), then
// the socket. Streams fail; handlers still running see errors and return.
// Close is idempotent.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	var conns []*quic.Conn
	for c := range e.inbound {
		conns = append(conns, c)
	}
	for _, p := range e.peers {
		conns = append(conns, p.takeConns()...)
	}
	e.mu.Unlock()

	e.cancel()
	lnErr := e.ln.Close()
	closeAll(conns, codeClosing, "endpoint closing")
	trErr := e.tr.Close()
	udpErr := e.udp.Close()
	e.wg.Wait()
	if err := errors.Join(lnErr, trErr, udpErr); err != nil {
		return fmt.Errorf("close transport %s: %w", e.udp.LocalAddr(), err)
	}
	return nil
}
