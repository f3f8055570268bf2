package linkemu

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// writeBatch is how many due packets a writer takes from its delay line
// per lock: several wake-ups' worth at 1 Gbit/s, while the reader waits
// for the lock only briefly.
const writeBatch = 64

// minSleep is the shortest sleep a writer takes. Arming a timer costs a
// few microseconds here (in a VM, reprogramming the timer exits to the
// hypervisor), and at 1 Gbit/s a packet falls due every 12 µs: sleeping
// until each one would cost more than forwarding it. So a writer whose
// next packet is due sooner than this sleeps this long instead, then
// writes every packet due by then: packets arrive up to about this much
// late in small bursts (12 packets at 1 Gbit/s), never early, and a busy
// direction wakes at most 10,000 times a second.
const minSleep = 100 * time.Microsecond

// Stats counts one direction's packets: delivered (Packets, Bytes) and
// dropped at the bottleneck (QueueDrops) or at random (LossDrops).
type Stats struct{ Packets, Bytes, QueueDrops, LossDrops int64 }

// direction forwards one way: a reader goroutine turns packets read from
// src into delay-line entries through its shaper, a writer goroutine
// writes each entry to dst once it is due. Time is nanoseconds from now().
type direction struct {
	name    string // e.g. "nsA/devA->nsB/devB", for logs
	src     io.Reader
	dst     io.Writer
	now     func() int64
	profile *atomic.Pointer[Profile]
	stream  uint64
	line    *delayLine
	sleep   *sleeper
	done    <-chan struct{}

	packets, bytes, queueDrops, lossDrops, writeErrs atomic.Int64
}

func (d *direction) stats() Stats {
	return Stats{
		Packets:    d.packets.Load(),
		Bytes:      d.bytes.Load(),
		QueueDrops: d.queueDrops.Load(),
		LossDrops:  d.lossDrops.Load(),
	}
}

// closed reports whether the link is shutting down.
func (d *direction) closed() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// readLoop runs until src fails (closed by Link.Close).
func (d *direction) readLoop() {
	cur := d.profile.Load()
	sh := newShaper(*cur, d.stream)
	var buf *[bufSize]byte
	for {
		if buf == nil {
			buf = buffers.Get().(*[bufSize]byte)
		}
		n, err := d.src.Read(buf[:])
		if err != nil {
			buffers.Put(buf)
			if !d.closed() && !errors.Is(err, os.ErrClosed) && err != io.EOF {
				slog.Warn("link emulator stops forwarding", "direction", d.name, "err", err)
			}
			return
		}
		if n == 0 {
			continue
		}
		if p := d.profile.Load(); p != cur {
			cur = p
			sh.setProfile(*p)
		}
		if d.line.full() {
			d.queueDrops.Add(1)
			continue
		}
		due, v := sh.admit(d.now(), n)
		switch v {
		case lossDrop:
			d.lossDrops.Add(1)
			continue
		case queueDrop:
			d.queueDrops.Add(1)
			continue
		}
		d.line.push(packet{buf: buf, n: n, due: due}) // cannot fail: only this loop pushes
		buf = nil
	}
}

// writeLoop runs until the link closes. It sleeps until the head of the
// line is due, then writes every packet that is due by then: a late wake
// delivers a small burst, never an early packet.
func (d *direction) writeLoop() {
	batch := make([]packet, 0, writeBatch)
	for {
		var next int64
		var waiting bool
		batch, next, waiting = d.line.popDue(d.now(), batch[:0])
		for i := range batch {
			p := &batch[i]
			if _, err := d.dst.Write(p.buf[:p.n]); err != nil {
				// A device set down (a partition) refuses packets: they are
				// lost, as on a cut cable.
				if d.writeErrs.Add(1) == 1 && !d.closed() {
					slog.Debug("link emulator cannot deliver", "direction", d.name, "err", err)
				}
			} else {
				d.packets.Add(1)
				d.bytes.Add(int64(p.n))
			}
			buffers.Put(p.buf)
			p.buf = nil
		}
		if len(batch) > 0 {
			continue
		}
		if !waiting {
			select {
			case <-d.line.ready:
				continue
			case <-d.done:
				return
			}
		}
		if err := d.sleep.sleep(max(next-d.now(), int64(minSleep))); err != nil {
			return // the sleeper closes only with the link
		}
	}
}
