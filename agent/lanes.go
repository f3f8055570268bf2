package agent

import (
	"sync"
	"time"
)

// Lanes: how many QUIC connections a sender spreads its chunks to one
// receiver over. quic-go's congestion control is NewReno, fixed per
// connection: under random loss one connection gets about
// MSS/RTT × 1.22/√loss whatever the link could carry, so on a lossy
// long-distance link more connections mean more throughput. On loopback or
// a clean LAN they only cost handshakes and goroutines. So the sender
// measures instead of guessing: it starts with minLanes, and every
// laneWindow it compares the goodput (bytes sent minus bytes lost, from
// quic-go's connection statistics) with the goodput before the last lane
// was added. While each added lane still adds at least laneGain, it adds
// another, up to maxLanes; when one does not, it takes it back and settles.
// Conditions change (a cross-traffic burst ends, a loss episode starts), so
// a settled sender tries one more lane every laneRetry.
const (
	minLanes   = 2
	maxLanes   = sendWorkers // a lane with no chunk in flight adds nothing
	laneWindow = time.Second
	laneGain   = 1.10
	laneRetry  = 20 * time.Second
)

// laneStats returns the goodput counter (bytes sent minus bytes lost, over
// every connection of the pool) to one receiver, and false when there is
// no connection to measure.
type laneStats func(receiver string) (uint64, bool)

// lanes keeps one laneSet per receiver. Safe for concurrent use.
type lanes struct {
	stats laneStats
	now   func() time.Time

	mu     sync.Mutex
	byPeer map[string]*laneSet
}

// laneSet is the lanes to one receiver and the measurement in progress.
type laneSet struct {
	n    int   // lanes in use: 0..n-1
	busy []int // chunks in flight per lane

	start     time.Time // of the measurement window
	startGood uint64    // goodput counter at start
	demand    int       // chunks in flight, summed at each pick in the window
	picks     int
	prevRate  float64   // goodput per second before the last lane was added; 0: none yet
	settled   time.Time // zero while growing
}

func newLanes(stats laneStats, now func() time.Time) *lanes {
	return &lanes{stats: stats, now: now, byPeer: map[string]*laneSet{}}
}

// pick returns the lane for the next chunk to receiver: the least busy
// lane in use. The caller must release it.
func (l *lanes) pick(receiver string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.byPeer[receiver]
	if s == nil {
		s = &laneSet{n: minLanes, busy: make([]int, maxLanes)}
		l.byPeer[receiver] = s
	}
	l.measure(receiver, s)
	best, inFlight := 0, 1
	for i, b := range s.busy {
		inFlight += b
		if i < s.n && b < s.busy[best] {
			best = i
		}
	}
	s.busy[best]++
	s.demand += inFlight
	s.picks++
	return best
}

// release says a chunk on lane is done.
func (l *lanes) release(receiver string, lane int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.byPeer[receiver]; s != nil && lane < len(s.busy) && s.busy[lane] > 0 {
		s.busy[lane]--
	}
}

// inUse reports whether lane is one of the lanes to receiver in use now
// (a pooled stream on a lane given back is closed rather than reused).
func (l *lanes) inUse(receiver string, lane int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.byPeer[receiver]
	return s != nil && lane < s.n
}

// count returns the lanes in use to receiver (for metrics and logs).
func (l *lanes) count(receiver string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.byPeer[receiver]; s != nil {
		return s.n
	}
	return 0
}

// measure closes the window when it is over and decides on the lanes. A
// window in which the sender did not keep every lane busy says nothing
// about the link (it was idle, or CPU-bound before the network), so it
// changes nothing. Called with l.mu held.
func (l *lanes) measure(receiver string, s *laneSet) {
	now := l.now()
	elapsed := now.Sub(s.start)
	if !s.start.IsZero() && elapsed < laneWindow {
		return
	}
	good, ok := l.stats(receiver)
	if s.start.IsZero() || !ok || good < s.startGood { // first look, or connections redialed
		s.start, s.startGood, s.demand, s.picks = now, good, 0, 0
		return
	}
	rate := float64(good-s.startGood) / elapsed.Seconds()
	busy := s.picks > 0 && s.demand >= s.n*s.picks
	s.start, s.startGood, s.demand, s.picks = now, good, 0, 0
	if !busy || rate <= 0 {
		return
	}
	switch {
	case !s.settled.IsZero():
		if now.Sub(s.settled) >= laneRetry && s.n < maxLanes {
			s.settled, s.prevRate = time.Time{}, rate
			s.n++
		}
	case s.prevRate == 0 || rate >= s.prevRate*laneGain:
		s.prevRate = rate
		if s.n < maxLanes {
			s.n++
		} else {
			s.settled = now
		}
	default: // the last lane added nothing: give it back
		s.n = max(s.n-1, minLanes)
		s.settled = now
	}
}
