package agent

import (
	"testing"
	"time"
)

// laneLink is a simulated network: goodput per second as a function of
// the lanes in use, and a clock.
type laneLink struct {
	now  time.Time
	good float64
	rate func(lanes int) float64 // bytes per second
}

// run drives l for d in steps of 50 ms with workers senders, each of
// which gives its lane back and picks one again every step, as send
// workers do chunk after chunk.
func (k *laneLink) run(l *lanes, d time.Duration, workers int) {
	const step = 50 * time.Millisecond
	lanesOf := make([]int, workers)
	for w := range lanesOf {
		lanesOf[w] = l.pick("r")
	}
	for t := time.Duration(0); t < d; t += step {
		k.now = k.now.Add(step)
		k.good += k.rate(l.count("r")) * step.Seconds()
		for w := range lanesOf {
			l.release("r", lanesOf[w])
			lanesOf[w] = l.pick("r")
		}
	}
	for _, lane := range lanesOf {
		l.release("r", lane)
	}
}

func newLaneLink(rate func(int) float64) (*laneLink, *lanes) {
	k := &laneLink{now: time.Unix(1000, 0), rate: rate}
	l := newLanes(func(string) (uint64, bool) { return uint64(k.good), true }, func() time.Time { return k.now })
	return k, l
}

func TestLanesGrowWhileEachAddsThroughputThenSettle(t *testing.T) {
	// A lossy link: each connection gets 10 MB/s until the 45 MB/s link is full.
	k, l := newLaneLink(func(n int) float64 { return min(float64(n)*10e6, 45e6) })
	k.run(l, 15*time.Second, sendWorkers)
	// 5 lanes give 45 MB/s; the 6th adds nothing and is given back.
	if n := l.count("r"); n != 5 {
		t.Errorf("lanes on a link where each adds 10 MB/s up to 45 MB/s: %d, want 5", n)
	}
	k.run(l, 5*time.Second, sendWorkers)
	if n := l.count("r"); n != 5 {
		t.Errorf("settled lanes changed without a retry: %d, want 5", n)
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
	if n := l.count("r"); n <= 3 {
		t.Errorf("lanes after the link widened and a retry: %d, want more than 3", n)
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
