package linkemu

import (
	"bytes"
	"encoding/binary"
	"io"
	"syscall"
	"testing"
	"time"
)

// chanPort is an in-memory end of a link: Read returns packets sent on
// in (EOF once in is closed); Write sends a copy of each packet on out.
type chanPort struct {
	in  chan []byte
	out chan []byte
}

func (p chanPort) Read(b []byte) (int, error) {
	pkt, ok := <-p.in
	if !ok {
		return 0, io.EOF
	}
	return copy(b, pkt), nil
}

func (p chanPort) Write(b []byte) (int, error) {
	p.out <- bytes.Clone(b)
	return len(b), nil
}

// memLink starts the forwarder between two in-memory ends; B sends
// nothing. It returns A's input and B's output.
func memLink(t *testing.T, p Profile) (*Link, chan<- []byte, <-chan []byte) {
	t.Helper()
	a := chanPort{in: make(chan []byte), out: make(chan []byte, 4096)}
	b := chanPort{in: make(chan []byte), out: make(chan []byte, 4096)}
	close(b.in)
	l, err := start(a, b, b, a, "a", "b", p)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: a.in closes (the reader sees EOF), then Close.
	t.Cleanup(func() { l.Close() })
	t.Cleanup(func() {
		defer func() { _ = recover() }() // a test may have closed a.in itself
		close(a.in)
	})
	return l, a.in, b.out
}

func seqPacket(i, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

// waitFor polls cond for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestForwarderDeliversEveryPacketInOrder(t *testing.T) {
	l, in, out := memLink(t, Profile{Rate: 200e6, Delay: 2 * time.Millisecond, Jitter: 3 * time.Millisecond, QueueBytes: 4 << 20})
	const n = 2000
	var sent int64
	go func() {
		for i := range n {
			in <- seqPacket(i, 100+i%1400)
		}
	}()
	for i := range n {
		select {
		case pkt := <-out:
			if got := int(binary.BigEndian.Uint32(pkt)); got != i || len(pkt) != 100+i%1400 {
				t.Fatalf("packet %d arrived as packet %d of %d bytes", i, got, len(pkt))
			}
			sent += int64(len(pkt))
		case <-time.After(10 * time.Second):
			t.Fatalf("packet %d never arrived", i)
		}
	}
	// The forwarder counts a packet after its write returns, so the last
	// count may trail the last delivery by a moment.
	waitFor(t, "the last delivery to be counted", func() bool { ab, _ := l.Stats(); return ab.Packets >= n })
	ab, ba := l.Stats()
	if ab != (Stats{Packets: n, Bytes: sent}) || ba != (Stats{}) {
		t.Fatalf("stats a->b %+v, b->a %+v; want %d packets, %d bytes one way only", ab, ba, n, sent)
	}
}

func TestForwarderCountsDropsAndFollowsSetProfile(t *testing.T) {
	l, in, out := memLink(t, Profile{})
	for i := range 100 {
		in <- seqPacket(i, 500)
	}
	waitFor(t, "100 packets delivered", func() bool { ab, _ := l.Stats(); return ab.Packets == 100 })
	l.SetProfile(Profile{Loss: 1})
	for i := range 50 {
		in <- seqPacket(100+i, 500)
	}
	waitFor(t, "50 packets lost", func() bool { ab, _ := l.Stats(); return ab.LossDrops == 50 })
	// A tiny queue at a slow rate tail-drops most of a burst.
	l.SetProfile(Profile{Rate: 800, QueueBytes: 1000})
	for i := range 10 {
		in <- seqPacket(200+i, 500)
	}
	waitFor(t, "8 packets tail-dropped", func() bool { ab, _ := l.Stats(); return ab.QueueDrops == 8 })
	l.SetProfile(Profile{Rate: 800, QueueBytes: 1000, Loss: 2}) // invalid: ignored
	ab, _ := l.Stats()
	if ab.Packets != 100 || ab.Bytes != 50000 || ab.LossDrops != 50 {
		t.Fatalf("stats %+v, want 100 packets (50000 bytes) delivered and 50 lost", ab)
	}
	for i := range 100 {
		if got := int(binary.BigEndian.Uint32(<-out)); got != i {
			t.Fatalf("delivered packet %d is packet %d", i, got)
		}
	}
}

func TestCloseStopsAWriterWaitingOnALongDelay(t *testing.T) {
	l, in, _ := memLink(t, Profile{Delay: time.Hour})
	in <- seqPacket(0, 100)
	waitFor(t, "the packet to be queued", func() bool { return l.ab.line.held.Load() == 1 })
	close(in)
	done := make(chan error, 1)
	go func() { done <- l.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs while a packet waits an hour")
	}
	if ab, _ := l.Stats(); ab.Packets != 0 {
		t.Fatalf("a packet due in an hour was delivered: %+v", ab)
	}
}

// genPort reads n copies of one packet, then EOF; writes are discarded.
type genPort struct {
	pkt  []byte
	left int
}

func (g *genPort) Read(b []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	g.left--
	return copy(b, g.pkt), nil
}

func (g *genPort) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkForwarder measures the forwarder's own cost per packet, without
// TUN devices: 1500-byte packets through the shaper, the delay line and
// the writer. cpu-ns/pkt is the process's CPU time (both goroutines) per
// packet; ns/op is wall time per packet with the two running in parallel.
// The source reads as fast as it can, so at line rate most packets are
// tail-dropped: that case measures the cost of a dropped packet too.
func BenchmarkForwarder(b *testing.B) {
	for _, c := range []struct {
		name string
		p    Profile
	}{
		{"no-delay", Profile{}},
		{"delay-1ms-loss", Profile{Delay: time.Millisecond, Loss: 0.001}},
		{"wan-line-rate", WAN(0)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			src := &genPort{pkt: make([]byte, 1500), left: b.N}
			idle := chanPort{in: make(chan []byte)}
			close(idle.in)
			cpu0 := cpuTime()
			b.ResetTimer()
			l, err := start(src, src, idle, idle, "a", "b", c.p)
			if err != nil {
				b.Fatal(err)
			}
			var ab Stats
			for deadline := time.Now().Add(5 * time.Minute); ab.Packets+ab.QueueDrops+ab.LossDrops < int64(b.N); {
				if time.Now().After(deadline) {
					b.Fatalf("packets never arrived: %+v", ab)
				}
				time.Sleep(100 * time.Microsecond)
				ab, _ = l.Stats()
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			l.Close()
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/pkt")
			b.ReportMetric(float64(ab.QueueDrops)/float64(b.N), "dropped/pkt")
		})
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
