package mover

import (
	"sync"
	"time"
)

// MaxLanes is the most QUIC connections a sender spreads its chunks to one
// receiver over: beyond one per send worker, chunks are striped over
// lanes. The transport's pool must hold as many per peer.
const MaxLanes = 8 * sendWorkers

// Lanes: how many QUIC connections a sender spreads its chunks to one
// receiver over. quic-go's congestion control is NewReno, fixed per
// connection: under random loss one connection gets about
// MSS/RTT × 1.22/√loss whatever the link could carry, so on a lossy
// long-distance link more connections mean more throughput. On loopback or
// a clean LAN they only cost handshakes, goroutines and smaller packet
// batches. So the sender measures instead of guessing. It starts with
// minLanes, and every laneWindow in which its chunks kept every lane busy
// it reads quic-go's statistics for the pool: goodput (bytes sent minus
// bytes lost) and the loss rate.
//   - On a clean path (loss below lossyAbove) more lanes must earn their
//     keep: half as many again are added only while each step raises the
//     goodput by laneGain.
//   - On a lossy path, where the next lanes almost always help until the
//     link is full, twice as many are tried while goodput stays within
//     laneSlack of the best seen (one window is a noisy measure of a
//     sawtooth).
//
// The first busy window (handshakes, slow start) only warms up.
//
// When a step does not pay, the sender goes back to the lane count of the
// best goodput and settles; conditions change, so it tries again after
// laneRetry.
//
// Climbing from minLanes costs a window per step, and a job of a few
// gigabytes on a long path is over before the climb is. Two things start
// it higher:
//   - The round trip. After a loss a NewReno connection regrows its window
//     by one packet per round trip, so the time to refill a path grows with
//     the square of the RTT and shrinks with the number of connections
//     sharing it. A sender therefore starts with one lane per rttPerLane of
//     the path's minimum RTT (at most maxLanes/2): two on a LAN, 16 across
//     50 ms. The minimum, not the smoothed RTT: on a busy machine the
//     smoothed RTT of a loopback path reads several milliseconds of
//     scheduling delay, and lanes there only cost goroutines. By the same
//     reasoning a path is given at most laneCap of its RTT: four times its
//     start, and 4 on a LAN, where a connection's window regrows within
//     milliseconds and a loss signal more likely means a starved CPU
//     (quic-go's timers declaring late packets lost).
//   - Memory. When a sender's last job ends it closes the extra
//     connections but remembers, for laneMemory, the count each receiver
//     settled on, and the next job to that receiver starts there, as
//     Linux's tcp_metrics remembers a destination's ssthresh.
const (
	minLanes   = 2
	maxLanes   = MaxLanes
	laneWindow = time.Second
	laneGain   = 1.10
	laneSlack  = 0.85
	lossyAbove = 5e-5
	laneRetry  = 10 * time.Second
	rttPerLane = 3 * time.Millisecond
	laneMemory = 10 * time.Minute
)

// laneSample is what lane control reads of the pool's connections to one
// receiver: byte counters summed over them (lost counts retransmissions)
// and the path's minimum round trip.
type laneSample struct {
	sent, lost uint64
	rtt        time.Duration
}

// laneStats samples the pool's connections to one receiver; false when
// there is no connection to measure.
type laneStats func(receiver string) (laneSample, bool)

// startLanes is the lane count a sender starts with on a path of the
// given round trip.
func startLanes(rtt time.Duration) int {
	return min(maxLanes/2, max(minLanes, int(rtt/rttPerLane)))
}

// laneCap is the most lanes lane control grows to on a path of the given
// round trip.
func laneCap(rtt time.Duration) int {
	return min(maxLanes, 4*max(1, int(rtt/rttPerLane)))
}

// remembered is a receiver's settled lane count, kept after its last job.
type remembered struct {
	n  int
	at time.Time
}

// lanes keeps one laneSet per receiver. Safe for concurrent use.
type lanes struct {
	stats laneStats
	now   func() time.Time
	// changed, when set, hears every change of a receiver's lane count
	// (called with l.mu held: it must not call back).
	changed func(receiver string, n int, goodput float64)

	mu     sync.Mutex
	byPeer map[string]*laneSet
	memory map[string]remembered // by receiver, from reset
}

// laneSet is the lanes to one receiver and the measurement in progress.
type laneSet struct {
	n       int   // lanes in use: 0..n-1
	busy    []int // chunks in flight per lane
	started bool  // n has been raised to startLanes of the path's RTT
	limit   int   // laneCap of the path's RTT, once started; maxLanes before

	start     time.Time // of the measurement window
	startSent uint64    // counters at start
	startLost uint64
	demand    int // chunks in flight, summed at each pick in the window
	picks     int
	warm      bool      // a first busy window has passed (slow start is over)
	best      float64   // best goodput per second of this climb; 0: none yet
	bestN     int       // lanes that gave it
	settled   time.Time // zero while growing
}

func newLanes(stats laneStats, now func() time.Time) *lanes {
	return &lanes{stats: stats, now: now, byPeer: map[string]*laneSet{}, memory: map[string]remembered{}}
}

// pick returns the lane for the next chunk to receiver: the least busy
// lane in use. The caller must release it.
func (l *lanes) pick(receiver string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.byPeer[receiver]
	if s == nil {
		s = &laneSet{n: minLanes, busy: make([]int, maxLanes), limit: maxLanes}
		if r, ok := l.memory[receiver]; ok && l.now().Sub(r.at) < laneMemory {
			s.n = max(s.n, r.n)
		}
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

// reset ends every receiver's lanes (their connections are being
// closed), remembering for laneMemory how many each had: the next chunk
// to a receiver starts there, or at startLanes of the path.
func (l *lanes) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for receiver, s := range l.byPeer {
		l.memory[receiver] = remembered{n: s.n, at: now}
	}
	for receiver, r := range l.memory {
		if now.Sub(r.at) >= laneMemory {
			delete(l.memory, receiver)
		}
	}
	clear(l.byPeer)
}

// stripes returns how many lanes each chunk to receiver should be spread
// over: one while there are no more lanes than send workers, more beyond,
// so that every lane has data.
func (l *lanes) stripes(receiver string) int {
	n := l.count(receiver)
	return max(1, (n+sendWorkers-1)/sendWorkers)
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

// grown is the next lane count to try: twice as many on a lossy path, so
// a long fat lossy link reaches its 20-odd lanes in a few windows; half as
// many again (at least one more) on a clean one.
func grown(n int, lossy bool, limit int) int {
	if lossy {
		return min(limit, 2*n)
	}
	return min(limit, n+max(1, n/2))
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
	st, ok := l.stats(receiver)
	sent, lost := st.sent, st.lost
	if ok && !s.started && st.rtt > 0 {
		s.started, s.limit = true, max(minLanes, laneCap(st.rtt))
		s.n = min(s.n, s.limit) // a count remembered from another path
		if n := startLanes(st.rtt); n > s.n {
			s.n = n
			if l.changed != nil {
				l.changed(receiver, n, 0)
			}
		}
	}
	if s.start.IsZero() || !ok || sent < s.startSent || lost < s.startLost { // first look, or connections redialed
		s.start, s.startSent, s.startLost, s.demand, s.picks = now, sent, lost, 0, 0
		return
	}
	dSent, dLost := float64(sent-s.startSent), float64(lost-s.startLost)
	rate := (dSent - min(dLost, dSent)) / elapsed.Seconds()
	lossy := dSent > 0 && dLost/dSent >= lossyAbove
	// On average more than half the lanes had a chunk or stripe. (Each
	// send worker leaves its lanes while it reads the next chunk and waits
	// for the last one's ack, a round trip or more.)
	busy := s.picks > 0 && 2*s.demand > s.n*s.picks
	s.start, s.startSent, s.startLost, s.demand, s.picks = now, sent, lost, 0, 0
	if !busy || rate <= 0 {
		return
	}
	if !s.warm { // the first window is handshakes and slow start
		s.warm = true
		return
	}
	if n := s.n; l.changed != nil {
		defer func() {
			if s.n != n {
				l.changed(receiver, s.n, rate)
			}
		}()
	}
	if !s.settled.IsZero() {
		if now.Sub(s.settled) >= laneRetry && s.n < s.limit {
			s.settled, s.best, s.bestN = time.Time{}, rate, s.n
			s.n = grown(s.n, lossy, s.limit)
		}
		return
	}
	pays := rate >= s.best*laneGain
	if lossy {
		pays = rate >= s.best*laneSlack
	}
	switch {
	case s.best == 0 || pays:
		if rate > s.best {
			s.best, s.bestN = rate, s.n
		}
		if s.n < s.limit {
			s.n = grown(s.n, lossy, s.limit)
		} else {
			s.n, s.settled = s.bestN, now
		}
	default: // the lanes last added did not pay: back to the best count
		s.n, s.settled = max(s.bestN, minLanes), now
	}
}
