package linkemu

import (
	"math/rand/v2"
)

// verdict is what the link does with one packet.
type verdict uint8

const (
	deliver   verdict = iota // crosses the link, due at the returned time
	lossDrop                 // lost at random (Profile.Loss)
	queueDrop                // tail-dropped: the bottleneck queue is full
)

// shaper decides, for one direction of the link, each packet's fate and
// the time it reaches the far end. It is pure: time is passed in as
// nanoseconds on any monotonic clock, so tests drive it packet by packet.
// Not safe for concurrent use; one reader goroutine owns it.
//
// The bottleneck is a fluid drop-tail queue drained at Rate: lastDepart is
// when the last admitted packet has finished crossing it, so the bytes
// still queued at time now are (lastDepart-now)×Rate. Comparing in time
// rather than bytes keeps it to integer arithmetic.
type shaper struct {
	p       Profile
	queueNs int64 // time to drain a full queue at Rate
	stream  uint64
	rng     *rand.Rand

	lastDepart  int64 // when the last admitted packet left the bottleneck
	carry       int64 // bit·ns remainder of the last serialisation time, so rates stay exact
	lastDeliver int64 // delivery time of the last admitted packet: the FIFO floor
}

// newShaper returns a shaper for p; stream tells the two directions'
// random sequences apart under one seed.
func newShaper(p Profile, stream uint64) *shaper {
	s := &shaper{stream: stream}
	s.setProfile(p)
	return s
}

// setProfile switches to p for the packets admitted from now on. Packets
// already admitted keep their times, so the link never reorders, and the
// random sequence restarts from p's seed, so every run of a sweep is
// repeatable.
func (s *shaper) setProfile(p Profile) {
	s.p = p
	s.carry = 0
	s.queueNs = 0
	if p.Rate > 0 {
		s.queueNs = int64(float64(p.queueBytes()) * 8e9 / float64(p.Rate))
	}
	seed := p.Seed
	if seed == 0 {
		seed = defaultSeed
	}
	s.rng = rand.New(rand.NewPCG(seed, s.stream))
}

// admit takes a packet of size bytes arriving at time now and returns its
// verdict and, when delivered, its delivery time: departure from the
// bottleneck (max(now, previous departure) plus size×8/Rate), plus Delay,
// plus a uniform jitter in [0, Jitter), never before the previous packet's.
func (s *shaper) admit(now int64, size int) (due int64, v verdict) {
	if s.p.Loss > 0 && s.rng.Float64() < s.p.Loss {
		return 0, lossDrop
	}
	depart := now
	if s.p.Rate > 0 {
		start := max(now, s.lastDepart)
		bitNs := int64(size)*8*1e9 + s.carry
		tx := bitNs / s.p.Rate
		if start-now+tx > s.queueNs {
			return 0, queueDrop
		}
		s.carry = bitNs % s.p.Rate
		depart = start + tx
		s.lastDepart = depart
	}
	due = depart + int64(s.p.Delay)
	if s.p.Jitter > 0 {
		due += s.rng.Int64N(int64(s.p.Jitter))
	}
	due = max(due, s.lastDeliver)
	s.lastDeliver = due
	return due, deliver
}
