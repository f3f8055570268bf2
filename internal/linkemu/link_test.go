package linkemu

import (
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestLinkBetweenNamespaces drives one real link with real sockets through
// three profiles in turn: delay, loss, and a rate limit under TCP.
func TestLinkBetweenNamespaces(t *testing.T) {
	const delay = 20 * time.Millisecond
	l, nsA, nsB := testLink(t, Profile{Delay: delay})
	client := listenUDP(t, nsA, "10.203.0.1:0")
	server := listenUDP(t, nsB, "10.203.0.2:7000")
	serverAddr := net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.203.0.2:7000"))

	t.Run("round trip takes two delays", func(t *testing.T) {
		go func() { // echo until the socket closes
			buf := make([]byte, 2048)
			for {
				n, from, err := server.ReadFromUDP(buf)
				if err != nil {
					return
				}
				_, _ = server.WriteToUDP(buf[:n], from)
			}
		}()
		buf := make([]byte, 2048)
		best := time.Hour
		for i := range 5 {
			start := time.Now()
			if _, err := client.WriteToUDP([]byte{byte(i)}, serverAddr); err != nil {
				t.Fatal(err)
			}
			if err := client.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			n, _, err := client.ReadFromUDP(buf)
			if err != nil {
				t.Fatalf("ping %d: no echo across the link: %v", i, err)
			}
			rtt := time.Since(start)
			if n != 1 || buf[0] != byte(i) {
				t.Fatalf("ping %d: echo %v", i, buf[:n])
			}
			if rtt < 2*delay {
				t.Fatalf("ping %d: round trip %v, shorter than the link's two %v delays", i, rtt, delay)
			}
			best = min(best, rtt)
		}
		t.Logf("best round trip %v across a link of two %v delays", best, delay)
	})

	t.Run("half the datagrams are lost", func(t *testing.T) {
		// The echo server above keeps reading: give the loss test its own port.
		sink := listenUDP(t, nsB, "10.203.0.2:7001")
		sinkAddr := net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.203.0.2:7001"))
		before, _ := l.Stats()
		l.SetProfile(Profile{Delay: time.Millisecond, Loss: 0.5, Seed: 11})
		const n = 400
		for i := range n {
			if _, err := client.WriteToUDP([]byte{byte(i)}, sinkAddr); err != nil {
				t.Fatal(err)
			}
		}
		got := 0
		buf := make([]byte, 2048)
		for got < n { // stop once the link has been quiet for half a second
			if err := sink.SetReadDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := sink.ReadFromUDP(buf); err != nil {
				break
			}
			got++
		}
		lost := float64(n-got) / n
		if lost < 0.38 || lost > 0.62 {
			t.Fatalf("%d of %d datagrams arrived (%.0f%% lost), want about half lost", got, n, 100*lost)
		}
		t.Logf("%d of %d datagrams arrived: %.1f%% lost at loss 0.5", got, n, 100*lost)
		after, _ := l.Stats()
		if drops := after.LossDrops - before.LossDrops; drops < int64(n-got) {
			t.Fatalf("stats count %d random drops, but %d datagrams went missing", drops, n-got)
		}
	})

	t.Run("TCP crosses a 20 Mbit/s link intact and no faster", func(t *testing.T) {
		const rate, size = 20e6, 3 << 20
		l.SetProfile(Profile{Rate: rate, Delay: 5 * time.Millisecond})
		ln := listenTCP(t, nsB, "10.203.0.2:7002")
		data := make([]byte, size)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		type result struct {
			sum  [32]byte
			n    int64
			done time.Time
			err  error
		}
		res := make(chan result, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				res <- result{err: err}
				return
			}
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			h := sha256.New()
			n, err := io.Copy(h, c)
			res <- result{sum: [32]byte(h.Sum(nil)), n: n, done: time.Now(), err: err}
		}()
		// Timed from before the connection exists, so no byte can escape it.
		start := time.Now()
		c := dialTCP(t, nsA, "10.203.0.2:7002", 0)
		if _, err := c.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		r := <-res
		elapsed := r.done.Sub(start)
		if r.err != nil {
			t.Fatalf("receive: %v", r.err)
		}
		if r.n != size || r.sum != sha256.Sum256(data) {
			t.Fatalf("received %d bytes with a different checksum, want %d intact", r.n, size)
		}
		if floor := time.Duration(float64(size*8) / rate * 0.9 * float64(time.Second)); elapsed < floor {
			t.Fatalf("%d bytes took %v: faster than the 20 Mbit/s link allows (at least %v)", size, elapsed, floor)
		}
		t.Logf("%d bytes in %v: %.1f Mbit/s of goodput on a 20 Mbit/s link", size, elapsed, float64(size*8)/elapsed.Seconds()/1e6)
	})

	t.Run("close removes the devices", func(t *testing.T) {
		a, b, err := l.DeviceDrops()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("the TUN devices dropped %d and %d packets the forwarder did not read in time", a, b)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		for _, ns := range []string{nsA, nsB} {
			if out, err := ipCmd("-n", ns, "link", "show", "dev", "emu0"); err == nil {
				t.Fatalf("emu0 still in %s after Close: %s", ns, out)
			}
		}
	})
}
