package mover

import (
	"testing"
	"time"
)

// laneLink is a simulated network: goodput per second as a function of
// the lanes in use, and a clock.
type laneLink struct {
	now  time.Time
	good float64
	loss float64                 // fraction of bytes sent that are lost
	rtt  time.Duration           // smoothed round trip the connections report
	rate func(lanes int) float64 // goodput, bytes per second
}

// run drives l for d in steps of 50 ms with workers senders, each of
// which gives its lanes back and picks again every step (as many as
// l.stripes says a chunk is cut into), as send workers do chunk after chunk.
func (k *laneLink) run(l *lanes, d time.Duration, workers int) {
	const step = 50 * time.Millisecond
	lanesOf := make([][]int, workers)
	pick := func(w int) {
		lanesOf[w] = lanesOf[w][:0]
		for range l.stripes("r") {
			lanesOf[w] = append(lanesOf[w], l.pick("r"))
		}
	}
	release := func(w int) {
		for _, lane := range lanesOf[w] {
			l.release("r", lane)
		}
	}
	for w := range lanesOf {
		pick(w)
	}
	for t := time.Duration(0); t < d; t += step {
		k.now = k.now.Add(step)
		k.good += k.rate(l.count("r")) * step.Seconds()
		for w := range lanesOf {
			release(w)
			pick(w)
		}
	}
	for w := range lanesOf {
		release(w)
	}
}

func newLaneLink(rate func(int) float64) (*laneLink, *lanes) {
	k := &laneLink{now: time.Unix(1000, 0), rate: rate}
	l := newLanes(func(string) (laneSample, bool) {
		sent := k.good / (1 - k.loss)
		return laneSample{sent: uint64(sent), lost: uint64(sent - k.good), rtt: k.rtt}, true
	}, func() time.Time { return k.now })
	return k, l
}

func TestLanesGrowWhileEachAddsThroughputThenSettle(t *testing.T) {
	// A lossy link: each connection gets 10 MB/s until the 45 MB/s link is full.
	k, l := newLaneLink(func(n int) float64 { return min(float64(n)*10e6, 45e6) })
	k.run(l, 15*time.Second, sendWorkers)
	// 2, 3, 4 and 6 lanes each add throughput (6 fill the 45 MB/s); 9
	// add nothing and are given back, whenever they are tried again.
	if n := l.count("r"); n != 6 {
		t.Errorf("lanes on a link where each adds 10 MB/s up to 45 MB/s: %d, want 6", n)
	}
	for range 3 {
		k.run(l, laneRetry+3*laneWindow, sendWorkers)
		if n := l.count("r"); n != 6 && n != 9 {
			t.Errorf("lanes after a retry: %d, want 6 (or 9 while trying)", n)
		}
	}
}

func TestLanesStayFewWhenTheLinkIsNotTheLimit(t *testing.T) {
	// Loopback: the CPU, not a connection's window, sets the pace.
	k, l := newLaneLink(func(int) float64 { return 300e6 })
	k.run(l, 10*time.Second, sendWorkers)
	if n := l.count("r"); n != minLanes {
		t.Errorf("lanes where more add nothing: %d, want %d", n, minLanes)
	}
}

func TestLanesDoNotGrowWithoutDemand(t *testing.T) {
	// One chunk in flight at a time: spare lanes would idle, and the
	// window says nothing about what more lanes could carry.
	k, l := newLaneLink(func(n int) float64 { return float64(n) * 10e6 })
	k.run(l, 10*time.Second, 1)
	if n := l.count("r"); n != minLanes {
		t.Errorf("lanes with one chunk in flight: %d, want %d", n, minLanes)
	}
}

func TestSettledLanesTryAgainWhenTheLinkChanges(t *testing.T) {
	limit := 25e6
	k, l := newLaneLink(func(n int) float64 { return min(float64(n)*10e6, limit) })
	k.run(l, 10*time.Second, sendWorkers)
	if n := l.count("r"); n != 3 {
		t.Fatalf("lanes on a 25 MB/s link of 10 MB/s connections: %d, want 3", n)
	}
	limit = 80e6 // the bottleneck went away
	k.run(l, laneRetry+10*time.Second, sendWorkers)
	if n := l.count("r"); n < 6 {
		t.Errorf("lanes after the link widened and a retry: %d, want at least 6", n)
	}
	if n := l.count("r"); n > maxLanes {
		t.Errorf("lanes %d above the bound %d", n, maxLanes)
	}
}

func TestPickSpreadsChunksOverTheLanes(t *testing.T) {
	_, l := newLaneLink(func(int) float64 { return 1 })
	seen := map[int]int{}
	for range 2 * minLanes {
		seen[l.pick("r")]++
	}
	for lane := range minLanes {
		if seen[lane] != 2 {
			t.Errorf("lane %d carries %d of %d chunks in flight, want 2: %v", lane, seen[lane], 2*minLanes, seen)
		}
	}
	if l.inUse("r", minLanes) || !l.inUse("r", 0) {
		t.Errorf("inUse: lane 0 %v, lane %d %v", l.inUse("r", 0), minLanes, l.inUse("r", minLanes))
	}
}

// On a lossy path each NewReno connection is held to its share, so lanes
// keep being added through noisy windows (a window 10% below the best is
// noise there) until the link is full.
func TestLanesClimbThroughNoiseOnALossyLink(t *testing.T) {
	windows := 0
	k, l := newLaneLink(nil)
	k.loss = 0.001
	k.rate = func(n int) float64 {
		windows++
		wobble := 1.0
		if windows%40 < 20 { // every other window reads 10% low
			wobble = 0.9
		}
		return min(float64(n)*1e6, 40e6) * wobble
	}
	k.run(l, 40*time.Second, sendWorkers)
	if n := l.count("r"); n < 20 {
		t.Errorf("lanes on a lossy link where each adds 1 MB/s up to 40 MB/s: %d, want at least 20", n)
	}
	// The same wobble on a clean path where the CPU sets the pace does not
	// buy lanes.
	windows = 0
	k2, l2 := newLaneLink(nil)
	k2.rate = func(int) float64 {
		windows++
		if windows%40 < 20 {
			return 270e6
		}
		return 300e6
	}
	k2.run(l2, 40*time.Second, sendWorkers)
	if n := l2.count("r"); n > 3 {
		t.Errorf("lanes on a clean CPU-bound path with noisy windows: %d, want at most 3", n)
	}
}

func TestLanesStartWiderOnALongPath(t *testing.T) {
	for _, c := range []struct {
		rtt  time.Duration
		want int
	}{{200 * time.Microsecond, minLanes}, {10 * time.Millisecond, 3}, {50 * time.Millisecond, 16}, {300 * time.Millisecond, maxLanes / 2}} {
		k, l := newLaneLink(func(int) float64 { return 100e6 }) // more lanes add nothing
		k.rtt = c.rtt
		k.run(l, laneWindow/2, sendWorkers) // before any window closes
		if n := l.count("r"); n != c.want {
			t.Errorf("lanes at the start of a job across %v: %d, want %d", c.rtt, n, c.want)
		}
	}
}

func TestLanesRememberTheCountAcrossJobs(t *testing.T) {
	k, l := newLaneLink(func(n int) float64 { return min(float64(n)*10e6, 45e6) })
	k.loss = 0.001
	k.run(l, 15*time.Second, sendWorkers)
	settled := l.count("r")
	if settled <= minLanes {
		t.Fatalf("lanes on a link where each adds 10 MB/s up to 45 MB/s: %d, want more than %d", settled, minLanes)
	}
	l.reset() // the job ended; its connections are closed
	if n := l.count("r"); n != 0 {
		t.Errorf("lanes in use after the job ended: %d, want 0", n)
	}
	k.now = k.now.Add(laneMemory / 2)
	k.run(l, laneWindow/2, sendWorkers)
	if n := l.count("r"); n != settled {
		t.Errorf("lanes at the start of the next job: %d, want the %d the last one settled on", n, settled)
	}
	l.reset()
	k.now = k.now.Add(laneMemory)
	k.run(l, laneWindow/2, sendWorkers)
	if n := l.count("r"); n != minLanes {
		t.Errorf("lanes at the start of a job %v after the last: %d, want %d (forgotten)", laneMemory, n, minLanes)
	}
}

func TestLanesStayFewOnAShortPathEvenWhenLossy(t *testing.T) {
	// A starved CPU on loopback: quic-go's timers declare late packets
	// lost, and each lane seems to add a little. A LAN path is not one
	// where a connection's window is slow to regrow: at most 4 lanes.
	k, l := newLaneLink(func(n int) float64 { return float64(n) * 10e6 })
	k.loss, k.rtt = 0.01, 300*time.Microsecond
	k.run(l, 20*time.Second, sendWorkers)
	if n := l.count("r"); n > 4 {
		t.Errorf("lanes on a lossy 0.3 ms path: %d, want at most 4", n)
	}
	// The same link 50 ms away grows to the maximum.
	k2, l2 := newLaneLink(func(n int) float64 { return float64(n) * 10e6 })
	k2.loss, k2.rtt = 0.01, 50*time.Millisecond
	k2.run(l2, 20*time.Second, sendWorkers)
	if n := l2.count("r"); n != maxLanes {
		t.Errorf("lanes on a lossy 50 ms path where each adds 10 MB/s: %d, want %d", n, maxLanes)
	}
}
