package linkemu

import (
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLinkTCP pushes TCP across the WAN profile (1 Gbit/s, 50 ms
// RTT, 0 loss) for about 4 s per iteration and reports goodput over the
// whole run and over its last 3 s (after slow start), the CPU that the
// process (senders, forwarder, receivers and the kernel work they do) and
// the whole machine used, and what was dropped. Run it alone, on an
// otherwise idle machine:
//
//	go test -run '^$' -bench LinkTCP -benchtime 1x ./internal/linkemu/
//
// "1-autotuned" is one stream as rsync over ssh sends it (the send buffer
// grows up to net.ipv4.tcp_wmem's max); "1-sndbuf-4MiB" sets SO_SNDBUF as
// a tuned sender would (the kernel doubles it, capped by
// net.core.wmem_max); "4-autotuned" is four streams at once, which no
// single socket buffer limits: it shows what the link itself carries.
func BenchmarkLinkTCP(b *testing.B) {
	logBufferAdvice(b)
	for _, c := range []struct {
		name    string
		streams int
		sndbuf  int
	}{{"1-autotuned", 1, 0}, {"1-sndbuf-4MiB", 1, 4 << 20}, {"4-autotuned", 4, 0}} {
		b.Run(c.name, func(b *testing.B) {
			l, nsA, nsB := testLink(b, WAN(0))
			ln := listenTCP(b, nsB, "10.203.0.2:7100")
			for i := range b.N {
				r := streamTCP(b, l, nsA, ln, c.streams, c.sndbuf, 4*time.Second)
				b.ReportMetric(r.total/1e6, "MB/s")
				b.ReportMetric(r.steady/1e6, "MB/s-steady")
				b.ReportMetric(r.onLink*8/1e6, "link-Mbit/s")
				b.ReportMetric(r.procCores, "proc-cores")
				b.ReportMetric(r.hostCores, "host-cores")
				b.ReportMetric(float64(r.queueDrops), "queue-drops")
				b.ReportMetric(float64(r.tunDrops), "tun-drops")
				if i == 0 {
					b.Logf("%s; sender's first socket at the end: %s", WAN(0), r.ss)
				}
			}
		})
	}
}

type streamResult struct {
	total, steady        float64 // goodput, bytes/s
	onLink               float64 // IP bytes/s the link delivered A->B, steady
	procCores, hostCores float64 // CPU seconds per second over the steady window
	queueDrops, tunDrops int64
	ss                   string // the first sender's TCP state at the end (ss -tin)
}

// streamTCP sends over streams connections from nsA to ln for d and
// measures.
func streamTCP(b *testing.B, l *Link, nsA string, ln *net.TCPListener, streams, sndbuf int, d time.Duration) streamResult {
	b.Helper()
	var got atomic.Int64
	recvDone := make(chan error, streams)
	go func() {
		for range streams {
			c, err := ln.Accept()
			if err != nil {
				recvDone <- err
				continue
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1<<20)
				for {
					n, err := c.Read(buf)
					got.Add(int64(n))
					if err != nil {
						if err == io.EOF {
							err = nil
						}
						recvDone <- err
						return
					}
				}
			}()
		}
	}()
	ab0, _ := l.Stats()
	tunA0, tunB0, err := l.DeviceDrops()
	if err != nil {
		b.Fatal(err)
	}
	conns := make([]*net.TCPConn, streams)
	for i := range conns {
		conns[i] = dialTCP(b, nsA, "10.203.0.2:7100", sndbuf)
	}
	start := time.Now()
	type sample struct {
		at            time.Time
		bytes, onLink int64
		proc, host    time.Duration
	}
	take := func() sample {
		ab, _ := l.Stats()
		return sample{time.Now(), got.Load(), ab.Bytes, cpuTime(), hostBusy()}
	}
	sampled := make(chan sample, 1)
	go func() {
		time.Sleep(d / 4)
		sampled <- take()
	}()
	sent := make(chan struct{}, streams)
	for _, c := range conns {
		go func() {
			defer func() { sent <- struct{}{} }()
			buf := make([]byte, 1<<20)
			_ = c.SetWriteDeadline(start.Add(d))
			for time.Since(start) < d {
				if _, err := c.Write(buf); err != nil {
					return // the deadline
				}
			}
		}()
	}
	for range streams {
		<-sent
	}
	s1 := take()
	s0 := <-sampled
	ss, _ := exec.Command("ip", "netns", "exec", nsA, "ss", "-tin", "dst", "10.203.0.2").CombinedOutput()
	for _, c := range conns {
		c.Close()
	}
	for range streams {
		if err := <-recvDone; err != nil {
			b.Fatalf("receive: %v", err)
		}
	}
	ab1, _ := l.Stats()
	tunA1, tunB1, err := l.DeviceDrops()
	if err != nil {
		b.Fatal(err)
	}
	win := s1.at.Sub(s0.at).Seconds()
	ssText := strings.Join(strings.Fields(string(ss)), " ")
	if _, first, ok := strings.Cut(ssText, " ESTAB "); ok {
		first, _, _ = strings.Cut(first, " ESTAB ")
		ssText = first
	}
	return streamResult{
		total:      float64(s1.bytes) / s1.at.Sub(start).Seconds(),
		steady:     float64(s1.bytes-s0.bytes) / win,
		onLink:     float64(s1.onLink-s0.onLink) / win,
		procCores:  (s1.proc - s0.proc).Seconds() / win,
		hostCores:  (s1.host - s0.host).Seconds() / win,
		queueDrops: ab1.QueueDrops - ab0.QueueDrops,
		tunDrops:   tunA1 - tunA0 + tunB1 - tunB0,
		ss:         ssText,
	}
}

// hostBusy is the machine's non-idle CPU time so far (all cores), from
// /proc/stat: it includes softirq work outside this process.
func hostBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 { // not idle, not iowait, not guest
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / 100 // USER_HZ
}

// logBufferAdvice says what the socket buffer limits allow across a
// 50 ms RTT at 1 Gbit/s, which needs about 6.25 MB in flight. It only
// reads the sysctls; benchmarks never change them.
func logBufferAdvice(b *testing.B) {
	read := func(name string) string {
		v, _ := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
		return strings.Join(strings.Fields(string(v)), " ")
	}
	wmem, rmem := read("net.ipv4.tcp_wmem"), read("net.ipv4.tcp_rmem")
	b.Logf("tcp_wmem %q, tcp_rmem %q, wmem_max %s, rmem_max %s, congestion control %s", wmem, rmem,
		read("net.core.wmem_max"), read("net.core.rmem_max"), read("net.ipv4.tcp_congestion_control"))
	if f := strings.Fields(wmem); len(f) == 3 {
		if max, _ := strconv.Atoi(f[2]); max < 16<<20 {
			b.Logf("advice: tcp_wmem max %d B holds less than 2 BDPs (12.5 MB) of a 1 Gbit/s, 50 ms link, so an "+
				"untuned TCP sender (rsync over ssh) is window-limited below line rate. tcp_wmem/tcp_rmem are per "+
				"network namespace: an S3 harness can raise them in its own namespaces only, with "+
				"ip netns exec NS sysctl -w net.ipv4.tcp_wmem=\"4096 16384 33554432\" (measured: 120 MB/s, line rate).", max)
		}
	}
}
