package linkemu

import (
	"sync"
	"sync/atomic"
)

// bufSize is the size of one packet buffer: the link's MTU (1500) with
// room to spare. A TUN device hands over one IP packet per read.
const bufSize = 2048

// maxInFlight bounds the packets one direction holds (queued at the
// bottleneck or propagating): 32768 buffers, 64 MiB. At 1 Gbit/s with
// full-size packets the WAN profile holds at most about 6,300 (a 6.25 MB
// queue plus 25 ms of propagation); the bound matters only for floods of
// small packets or an unlimited rate with a long delay. Packets over it
// count as queue drops.
const maxInFlight = 1 << 15

// buffers recycles packet buffers between the reader, the delay line and
// the writer, so the steady state allocates nothing.
var buffers = sync.Pool{New: func() any { return new([bufSize]byte) }}

// packet is one IP packet in flight and the time it is due at the far end.
type packet struct {
	buf *[bufSize]byte
	n   int
	due int64
}

// delayLine is the bounded FIFO between a direction's reader and writer.
// Delivery times never decrease along it (the shaper clamps them), so the
// head is always the next packet due.
type delayLine struct {
	mu   sync.Mutex
	ring [maxInFlight]packet
	head int // index of the oldest packet
	n    int // packets held

	held  atomic.Int64  // n, readable without the lock
	ready chan struct{} // one token: a packet landed in an empty line
}

func newDelayLine() *delayLine {
	return &delayLine{ready: make(chan struct{}, 1)}
}

// full reports whether a push would fail. Only the reader pushes, so a
// false answer stays true for it until its next push.
func (d *delayLine) full() bool {
	return d.held.Load() >= maxInFlight
}

// push appends p; it reports false, keeping nothing, when the line is full.
// A push into an empty line leaves a token on ready for a waiting writer.
func (d *delayLine) push(p packet) bool {
	d.mu.Lock()
	if d.n == maxInFlight {
		d.mu.Unlock()
		return false
	}
	d.ring[(d.head+d.n)%maxInFlight] = p
	d.n++
	d.held.Store(int64(d.n))
	wasEmpty := d.n == 1
	d.mu.Unlock()
	if wasEmpty {
		select {
		case d.ready <- struct{}{}:
		default:
		}
	}
	return true
}

// popDue appends to out every packet due at or before now, up to out's
// capacity, and returns it with the due time of the packet now at the
// head; waiting is false when the line is empty.
func (d *delayLine) popDue(now int64, out []packet) (_ []packet, next int64, waiting bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.n > 0 && len(out) < cap(out) {
		p := &d.ring[d.head]
		if p.due > now {
			break
		}
		out = append(out, *p)
		*p = packet{}
		d.head = (d.head + 1) % maxInFlight
		d.n--
	}
	d.held.Store(int64(d.n))
	if d.n == 0 {
		return out, 0, false
	}
	return out, d.ring[d.head].due, true
}

// drain empties the line, returning every buffer to the pool.
func (d *delayLine) drain() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for ; d.n > 0; d.n-- {
		buffers.Put(d.ring[d.head].buf)
		d.ring[d.head] = packet{}
		d.head = (d.head + 1) % maxInFlight
	}
	d.held.Store(0)
}
