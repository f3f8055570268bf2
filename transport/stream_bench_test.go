package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/jobspec"
)

// Parameters of BenchmarkStreamLoopback.
const (
	loopbackSizeEnv     = "LEPTON_BENCH_TRANSPORT_SIZE"
	loopbackDefaultSize = 1 << 30  // bytes moved per iteration, over all streams
	loopbackWrite       = 4 << 20  // bytes per Write, a default job chunk
	loopbackPayload     = 64 << 20 // random bytes the writes cycle through
	loopbackReadBuf     = 4 << 20  // the receiver's reused read buffer
	// An agent's pool size: agent.New sets DataConnsPerPeer to maxLanes
	// (agent/lanes.go, 8 × sendWorkers). Slots are dialed lazily, so only
	// the lanes a case uses become connections.
	loopbackPoolSize = 64
)

// BenchmarkStreamLoopback measures the ceiling of Lepton's own transport:
// two Endpoints in one process (real quic-go, mutual TLS 1.3 against a test
// CA, 127.0.0.1, the Config defaults an agent uses) move incompressible
// random bytes over KindData streams opened with OpenDataStream, as an
// agent's sender does, and nothing else: no files read or written, no
// hashing, no compression, no framing. The sender writes in 4 MiB writes;
// the receiver's handler reads into a reused buffer and discards. An
// iteration ends when the receiver has read every byte (EOF on every
// stream), so bytes still in flight are not counted as moved.
//
// Cases: 1 stream on 1 connection; 4 streams on 1 connection; 4 streams
// over 2 connections (lanes 0 and 1 of the peer's data pool, 2 streams
// each). Every case moves the same total per iteration.
//
// Metrics: MB/s (10^6 bytes per second of the moved total) and CPU-s/GiB,
// the user+system CPU time of the whole process (both ends, quic-go, TLS,
// the kernel's UDP work, the Go runtime) per GiB moved.
//
// Run it with
//
//	go test -run '^$' -bench BenchmarkStreamLoopback -benchtime 1x ./transport/
//
// LEPTON_BENCH_TRANSPORT_SIZE sets the bytes per iteration ("512MiB",
// "2GiB"; default 1GiB). Each case also logs the UDP socket buffers both
// ends got (quic-go asks for 7 MiB, see DESIGN.md "UDP buffers") and the
// sender's QUIC statistics: bytes on the wire, loss, RTT. Both ends share
// the machine's cores, so run nothing else meanwhile; with 1x, compare
// several runs (-count), as single runs vary by ±20% on a small machine.
func BenchmarkStreamLoopback(b *testing.B) {
	size := loopbackSize(b)
	payload := make([]byte, loopbackPayload)
	rng := rand.NewChaCha8([32]byte{'l', 'e', 'p', 't', 'o', 'n'})
	_, _ = rng.Read(payload)

	for _, c := range []struct {
		name           string
		conns, streams int
	}{
		{"1conn_1stream", 1, 1},
		{"1conn_4streams", 1, 4},
		{"2conns_4streams", 2, 4},
	} {
		b.Run(c.name, func(b *testing.B) {
			benchLoopback(b, size, payload, c.conns, c.streams)
		})
	}
}

// loopbackSize reads LEPTON_BENCH_TRANSPORT_SIZE.
func loopbackSize(b *testing.B) int64 {
	env := os.Getenv(loopbackSizeEnv)
	if env == "" {
		return loopbackDefaultSize
	}
	n, err := jobspec.ParseByteSize(env)
	if err != nil {
		b.Fatalf("%s: %v", loopbackSizeEnv, err)
	}
	if n < 1<<20 || n > 1<<40 {
		b.Fatalf("%s=%s is out of range; use from 1MiB to 1TiB", loopbackSizeEnv, env)
	}
	return int64(n)
}

// loopbackResult is what the receiver read on one stream.
type loopbackResult struct {
	n   int64
	err error
}

func benchLoopback(b *testing.B, size int64, payload []byte, conns, streams int) {
	// Every wait below is bounded: the iteration by a deadline that allows
	// 20 MB/s plus a minute, and each stream's reads and writes by the same.
	iterTimeout := time.Minute + time.Duration(float64(size)/20e6*float64(time.Second))

	ca := newTestCA(b)
	var deadline atomic.Int64 // the current iteration's, in Unix ns; read by the handler
	results := make(chan loopbackResult, 4*streams)
	stop := make(chan struct{}) // closed before the endpoints close (cleanups run last first)
	bufs := sync.Pool{New: func() any { buf := make([]byte, loopbackReadBuf); return &buf }}

	rcv := startNode(b, ca.identity("receiver"), Config{DataConnsPerPeer: loopbackPoolSize}, func(e *Endpoint) {
		e.Handle(KindData, func(s *Stream) {
			defer s.Close()
			bufp := bufs.Get().(*[]byte)
			defer bufs.Put(bufp)
			_ = s.SetReadDeadline(time.Unix(0, deadline.Load()))
			var r loopbackResult
			for {
				k, err := s.Read(*bufp)
				r.n += int64(k)
				if err != nil {
					if !errors.Is(err, io.EOF) {
						r.err = err
					}
					break
				}
			}
			select {
			case results <- r:
			case <-stop:
			}
		})
	})
	snd := startNode(b, ca.identity("sender"), Config{DataConnsPerPeer: loopbackPoolSize})
	b.Cleanup(func() { close(stop) })
	logSocketBuffers(b, snd, rcv)

	// wait collects, within ctx, the receiver's results and the senders'
	// reports for n streams, and checks that want bytes arrived in all.
	wait := func(ctx context.Context, n int, sent <-chan error, want int64) error {
		var got int64
		for pending := 2 * n; pending > 0; pending-- {
			select {
			case r := <-results:
				if r.err != nil {
					return fmt.Errorf("receive: %w", r.err)
				}
				got += r.n
			case err := <-sent:
				if err != nil {
					return fmt.Errorf("send: %w", err)
				}
			case <-ctx.Done():
				return fmt.Errorf("%w with %d of %d bytes received", context.Cause(ctx), got, want)
			}
		}
		if got != want {
			return fmt.Errorf("received %d bytes, sent %d", got, want)
		}
		return nil
	}

	// Dial the lanes and send one write on each before timing: an agent's
	// sender works on warm pooled connections. (Not an empty stream: when
	// the kind byte and the FIN arrive together, the acceptor drops the
	// stream as "ended before its kind byte", see dispatch.)
	{
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		dl, _ := ctx.Deadline()
		deadline.Store(dl.UnixNano())
		warm := make(chan error, conns)
		for lane := range conns {
			go func() {
				s, err := snd.OpenDataStream(ctx, rcv.addr, rcv.name, lane)
				if err == nil {
					defer s.Close()
					_ = s.SetWriteDeadline(dl)
					err = loopbackSend(s, payload, loopbackWrite, lane)
				}
				warm <- err
			}()
		}
		err := wait(ctx, conns, warm, int64(conns)*loopbackWrite)
		cancel()
		if err != nil {
			b.Fatalf("warm up %d lanes: %v", conns, err)
		}
	}
	before, _ := snd.PeerStats(rcv.addr, rcv.name)

	share := size / int64(streams)
	open := make([]*Stream, streams)
	b.SetBytes(size)
	b.ReportAllocs()
	cpu0 := loopbackCPU(b)
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), iterTimeout)
		dl, _ := ctx.Deadline()
		deadline.Store(dl.UnixNano())
		sent := make(chan error, streams)
		for i := range streams {
			n := share
			if i == 0 {
				n += size - share*int64(streams)
			}
			go func() {
				s, err := snd.OpenDataStream(ctx, rcv.addr, rcv.name, i%conns)
				if err != nil {
					sent <- err
					return
				}
				open[i] = s
				_ = s.SetWriteDeadline(dl)
				sent <- loopbackSend(s, payload, n, i)
			}()
		}
		err := wait(ctx, streams, sent, size)
		cancel()
		if err != nil {
			b.Fatalf("%d streams on %d connections: %v", streams, conns, err)
		}
		for i, s := range open { // every sender has reported: open is settled
			s.Close()
			open[i] = nil
		}
	}
	cpu := loopbackCPU(b) - cpu0

	moved := float64(size) * float64(b.N)
	b.ReportMetric(moved/1e6/b.Elapsed().Seconds(), "MB/s")
	b.ReportMetric(cpu.Seconds()/(moved/(1<<30)), "CPU-s/GiB")
	if after, ok := snd.PeerStats(rcv.addr, rcv.name); ok {
		sentBytes, lost := after.BytesSent-before.BytesSent, after.BytesLost-before.BytesLost
		b.Logf("quic: %d connection(s), %.0f MB sent on the wire, %.3f%% lost; smoothed RTT %v, min RTT %v, congestion windows %d KiB in all",
			conns, float64(sentBytes)/1e6, 100*float64(lost)/max(1, float64(sentBytes)), after.SmoothedRTT, after.MinRTT, after.CongestionWindow>>10)
	}
}

// loopbackSend writes n bytes to s in loopbackWrite writes, cycling through
// payload from a per-stream offset, then ends our direction.
func loopbackSend(s *Stream, payload []byte, n int64, stream int) error {
	off := (stream * loopbackWrite) % len(payload)
	for n > 0 {
		w := int(min(n, loopbackWrite))
		if off+w > len(payload) {
			off = 0
		}
		if _, err := s.Write(payload[off : off+w]); err != nil {
			return err
		}
		n -= int64(w)
		off += w
	}
	return s.CloseWrite()
}

// loopbackCPU is the process's user+system CPU time so far.
func loopbackCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// logSocketBuffers logs the UDP socket buffers both ends got (the kernel
// reports twice what was set) and the transport's own buffer warning.
func logSocketBuffers(b *testing.B, nodes ...*node) {
	for _, n := range nodes {
		rc, err := n.udp.SyscallConn()
		if err != nil {
			b.Logf("%s: socket buffers unknown: %v", n.name, err)
			continue
		}
		var rbuf, wbuf int
		var rerr, werr error
		if err := rc.Control(func(fd uintptr) {
			rbuf, rerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
			wbuf, werr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
		}); err != nil || rerr != nil || werr != nil {
			b.Logf("%s: socket buffers unknown: %v", n.name, errors.Join(err, rerr, werr))
			continue
		}
		b.Logf("%s: UDP socket SO_RCVBUF %d KiB, SO_SNDBUF %d KiB (as the kernel reports them, twice the size set)", n.name, rbuf>>10, wbuf>>10)
	}
	if w := UDPBufferWarning(); w != "" {
		b.Logf("transport warns: %s", w)
	}
}
