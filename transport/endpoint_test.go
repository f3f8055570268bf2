package transport

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

// upperEcho answers a data stream with its input in upper case and reports
// who called.
func upperEcho(seen chan<- *Stream) func(*Stream) {
	return func(s *Stream) {
		defer s.Close()
		in, err := io.ReadAll(s)
		if err != nil {
			return
		}
		if seen != nil {
			seen <- s
		}
		_, _ = s.Write(bytes.ToUpper(in))
	}
}

// exchange sends msg on a new data stream to n and returns the answer.
func exchange(t *testing.T, from *Endpoint, to *node, msg string) string {
	t.Helper()
	s, err := from.OpenStream(testContext(t), to.addr, to.name, KindData)
	if err != nil {
		t.Fatalf("open stream to %s: %v", to.name, err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatalf("close write: %v", err)
	}
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatalf("read answer from %s: %v", to.name, err)
	}
	return string(got)
}

func TestDataStreamCarriesBytesBothWaysBetweenVerifiedPeers(t *testing.T) {
	ca := newTestCA(t)
	seen := make(chan *Stream, 1)
	b := startNode(t, ca.identity("b"), Config{}, func(e *Endpoint) { e.Handle(KindData, upperEcho(seen)) })
	a := startNode(t, ca.identity("a"), Config{})

	s, err := a.OpenStream(testContext(t), b.addr, "b", KindData)
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	if s.Peer() != "b" || s.Kind() != KindData {
		t.Errorf("client stream: peer %q kind %v, want b data", s.Peer(), s.Kind())
	}
	if s.RemoteAddr().String() != b.addr {
		t.Errorf("client stream remote address %s, want %s", s.RemoteAddr(), b.addr)
	}
	payload := bytes.Repeat([]byte("chunk-"), 100_000) // 600 kB, more than one flow-control window step
	go func() {
		_, _ = s.Write(payload)
		_ = s.CloseWrite()
	}()
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	if !bytes.Equal(got, bytes.ToUpper(payload)) {
		t.Fatalf("answer of %d bytes differs from the upper-cased %d bytes sent", len(got), len(payload))
	}
	_ = s.Close()

	server := <-seen
	if server.Peer() != "a" || server.Kind() != KindData {
		t.Errorf("server stream: peer %q kind %v, want a data", server.Peer(), server.Kind())
	}
	// One socket listens and dials: the server sees a's listening address.
	if server.RemoteAddr().String() != a.addr {
		t.Errorf("server sees the peer at %s, want its QUIC port %s", server.RemoteAddr(), a.addr)
	}
}

// A stream closed right after it is opened (its kind byte and its end in
// one packet) still reaches its handler, which reads a clean end.
func TestAnEmptyStreamReachesItsHandler(t *testing.T) {
	ca := newTestCA(t)
	seen := make(chan *Stream, 10)
	b := startNode(t, ca.identity("b"), Config{}, func(e *Endpoint) { e.Handle(KindData, upperEcho(seen)) })
	a := startNode(t, ca.identity("a"), Config{})
	for i := range 10 {
		s, err := a.OpenStream(testContext(t), b.addr, "b", KindData)
		if err != nil {
			t.Fatalf("open stream: %v", err)
		}
		if err := s.CloseWrite(); err != nil {
			t.Fatalf("close write: %v", err)
		}
		_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
		if got, err := io.ReadAll(s); err != nil || len(got) != 0 {
			t.Fatalf("empty stream %d: answer %q, %v; want a clean empty answer", i, got, err)
		}
		_ = s.Close()
	}
	if len(seen) != 10 {
		t.Errorf("the handler saw %d of 10 empty streams", len(seen))
	}
}

func TestOpenStreamReusesOneConnectionPerPeer(t *testing.T) {
	ca := newTestCA(t)
	b := startNode(t, ca.identity("b"), Config{}, func(e *Endpoint) { e.Handle(KindData, upperEcho(nil)) })
	a := startNode(t, ca.identity("a"), Config{})

	// Concurrent first callers share one dial.
	var wg sync.WaitGroup
	streams := make(chan *Stream, 8)
	for range 8 {
		wg.Go(func() {
			s, err := a.OpenStream(testContext(t), b.addr, "b", KindRPC)
			if err != nil {
				t.Errorf("open stream: %v", err)
				return
			}
			streams <- s
		})
	}
	wg.Wait()
	close(streams)
	if st := a.Stats(); st.Conns != 1 || st.Streams != 8 {
		t.Errorf("after 8 concurrent opens: %d connections and %d streams, want 1 and 8", st.Conns, st.Streams)
	}
	for s := range streams {
		_ = s.Close()
	}
	if got := exchange(t, a.Endpoint, b, "again"); got != "AGAIN" {
		t.Errorf("exchange = %q", got)
	}
	if st := a.Stats(); st.Conns != 1 || st.Streams != 0 {
		t.Errorf("after closing streams: %d connections and %d streams, want 1 and 0", st.Conns, st.Streams)
	}
	waitFor(t, "b to count one inbound connection", func() bool { return b.Stats().Conns == 1 })
}

func TestOpenStreamRedialsAPeerThatRestarted(t *testing.T) {
	ca := newTestCA(t)
	idB := ca.identity("b")
	b := startNode(t, idB, Config{}, func(e *Endpoint) { e.Handle(KindData, upperEcho(nil)) })
	a := startNode(t, ca.identity("a"), Config{})

	if got := exchange(t, a.Endpoint, b, "before"); got != "BEFORE" {
		t.Fatalf("exchange = %q", got)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("close b: %v", err)
	}
	waitFor(t, "a to notice b closed its connection", func() bool { return a.Stats().Conns == 0 })

	b2 := startNode(t, idB, Config{BindAddr: b.addr}, func(e *Endpoint) { e.Handle(KindData, upperEcho(nil)) })
	if got := exchange(t, a.Endpoint, b2, "after"); got != "AFTER" {
		t.Fatalf("exchange after restart = %q", got)
	}
	if n := a.Stats().Conns; n != 1 {
		t.Errorf("a has %d connections after the redial, want 1", n)
	}
}

func TestDataStreamsSpreadOverThePool(t *testing.T) {
	ca := newTestCA(t)
	b := startNode(t, ca.identity("b"), Config{}, func(e *Endpoint) { e.Handle(KindData, upperEcho(nil)) })
	a := startNode(t, ca.identity("a"), Config{DataConnsPerPeer: 3})

	for i := range 6 {
		if got := exchange(t, a.Endpoint, b, "x"); got != "X" {
			t.Fatalf("exchange %d = %q", i, got)
		}
	}
	if n := a.Stats().Conns; n != 3 {
		t.Errorf("a has %d connections after 6 data streams with a pool of 3, want 3", n)
	}
	// Raft and RPC streams ride the pool's first connection.
	s, err := a.OpenStream(testContext(t), b.addr, "b", KindRaft)
	if err != nil {
		t.Fatalf("open raft stream: %v", err)
	}
	_ = s.Close()
	if n := a.Stats().Conns; n != 3 {
		t.Errorf("a has %d connections after a raft stream, want 3", n)
	}
	waitFor(t, "b to count three inbound connections", func() bool { return b.Stats().Conns == 3 })
}

func TestDataStreamsUseTheLaneTheSenderPicks(t *testing.T) {
	ca := newTestCA(t)
	b := startNode(t, ca.identity("b"), Config{}, func(e *Endpoint) { e.Handle(KindData, upperEcho(nil)) })
	a := startNode(t, ca.identity("a"), Config{DataConnsPerPeer: 8})
	send := func(lane int) {
		t.Helper()
		s, err := a.OpenDataStream(testContext(t), b.addr, "b", lane)
		if err != nil {
			t.Fatalf("open data stream on lane %d: %v", lane, err)
		}
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := s.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		_ = s.CloseWrite()
		if got, err := io.ReadAll(s); err != nil || string(got) != "X" {
			t.Fatalf("lane %d answered %q, %v", lane, got, err)
		}
	}
	for range 4 {
		send(0)
	}
	if n := a.Stats().Conns; n != 1 {
		t.Fatalf("four streams on lane 0 made %d connections, want 1", n)
	}
	for lane := range 3 {
		send(lane)
	}
	if n := a.Stats().Conns; n != 3 {
		t.Errorf("streams on lanes 0, 1 and 2 made %d connections, want 3", n)
	}
	send(8 + 1) // lanes wrap around the pool
	if n := a.Stats().Conns; n != 3 {
		t.Errorf("lane 9 of a pool of 8 opened a connection of its own: %d, want 3", n)
	}
	// An idle sender gives its lanes back and keeps slot 0 (Raft, RPC).
	a.CloseDataLanes()
	waitFor(t, "a to hold one connection after closing its lanes", func() bool { return a.Stats().Conns == 1 })
	send(2) // a lane is dialed again when used
	if n := a.Stats().Conns; n != 2 {
		t.Errorf("after a stream on lane 2: %d connections, want 2", n)
	}
}

func TestStreamOfUnhandledKindIsReset(t *testing.T) {
	ca := newTestCA(t)
	b := startNode(t, ca.identity("b"), Config{}) // no data handler
	a := startNode(t, ca.identity("a"), Config{})

	s, err := a.OpenStream(testContext(t), b.addr, "b", KindData)
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	defer s.Close()
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(s)
	se, ok := errors.AsType[*quic.StreamError](err)
	if !ok || !se.Remote || se.ErrorCode != streamCodeUnknownKind {
		t.Fatalf("read on an unhandled kind: %v, want a reset by the peer with code %d", err, streamCodeUnknownKind)
	}
	waitFor(t, "b to log the reset", func() bool { return bytes.Contains([]byte(b.logs.String()), []byte("unknown kind")) })
}

func TestDropPeerClosesItsConnections(t *testing.T) {
	ca := newTestCA(t)
	b := startNode(t, ca.identity("b"), Config{}, func(e *Endpoint) { e.Handle(KindData, upperEcho(nil)) })
	a := startNode(t, ca.identity("a"), Config{})

	exchange(t, a.Endpoint, b, "x")
	a.DropPeer(b.addr)
	if n := a.Stats().Conns; n != 0 {
		t.Fatalf("a has %d connections after DropPeer, want 0", n)
	}
	if got := exchange(t, a.Endpoint, b, "y"); got != "Y" {
		t.Fatalf("exchange after DropPeer = %q", got)
	}
	if n := a.Stats().Conns; n != 1 {
		t.Errorf("a has %d connections after the redial, want 1", n)
	}
}

func TestClosedEndpointRefusesToOpenStreams(t *testing.T) {
	ca := newTestCA(t)
	b := startNode(t, ca.identity("b"), Config{})
	a := startNode(t, ca.identity("a"), Config{})
	if err := a.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := a.OpenStream(testContext(t), b.addr, "b", KindData); !errors.Is(err, ErrClosed) {
		t.Fatalf("open stream on a closed endpoint: %v, want ErrClosed", err)
	}
}
