package linkemu

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Link is an emulated link between two network namespaces: a TUN device in
// each, and a forwarder moving packets between them with a Profile.
type Link struct {
	profile atomic.Pointer[Profile]
	ab, ba  *direction
	tuns    [2]*os.File
	ends    [2][2]string // namespace and device of A and B
	done    chan struct{}
	wg      sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// Open creates TUN device devA inside existing namespace nsA and devB
// inside nsB (namespace names as `ip netns` knows them), sets MTU 1500,
// brings them up, and starts forwarding A->B and B->A with profile p. It
// does not assign addresses: callers do (a /24 on each end routes that
// prefix through the link).
func Open(nsA, devA, nsB, devB string, p Profile) (*Link, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	tunA, err := openTUN(nsA, devA)
	if err != nil {
		return nil, fmt.Errorf("link %s/%s: %w", nsA, devA, err)
	}
	tunB, err := openTUN(nsB, devB)
	if err != nil {
		tunA.Close()
		return nil, fmt.Errorf("link %s/%s: %w", nsB, devB, err)
	}
	l, err := start(tunA, tunB, tunB, tunA, nsA+"/"+devA, nsB+"/"+devB, p)
	if err != nil {
		tunA.Close()
		tunB.Close()
		return nil, err
	}
	l.tuns = [2]*os.File{tunA, tunB}
	l.ends = [2][2]string{{nsA, devA}, {nsB, devB}}
	return l, nil
}

// start forwards srcA→dstB and srcB→dstA; it is Open without devices, so
// the in-memory benchmark measures the very same forwarder.
func start(srcA io.Reader, dstB io.Writer, srcB io.Reader, dstA io.Writer, nameA, nameB string, p Profile) (*Link, error) {
	l := &Link{done: make(chan struct{})}
	l.profile.Store(&p)
	epoch := time.Now()
	now := func() int64 { return int64(time.Since(epoch)) }
	mk := func(src io.Reader, dst io.Writer, name string, stream uint64) (*direction, error) {
		s, err := newSleeper()
		if err != nil {
			return nil, err
		}
		return &direction{name: name, src: src, dst: dst, now: now, profile: &l.profile,
			stream: stream, line: newDelayLine(), sleep: s, done: l.done}, nil
	}
	var err error
	if l.ab, err = mk(srcA, dstB, nameA+"->"+nameB, 1); err != nil {
		return nil, err
	}
	if l.ba, err = mk(srcB, dstA, nameB+"->"+nameA, 2); err != nil {
		l.ab.sleep.close()
		return nil, err
	}
	for _, d := range []*direction{l.ab, l.ba} {
		l.wg.Add(2)
		go func() { defer l.wg.Done(); d.readLoop() }()
		go func() { defer l.wg.Done(); d.writeLoop() }()
	}
	return l, nil
}

// SetProfile changes the link's behaviour, e.g. between runs of a loss
// sweep. It takes effect for packets read from now on; packets in flight
// keep their delivery times, and the random sequence restarts from p.Seed.
// An invalid profile is ignored (Open reports the same check as an error).
func (l *Link) SetProfile(p Profile) {
	if p.validate() != nil {
		return
	}
	l.profile.Store(&p)
}

// Stats returns what each direction has delivered and dropped so far.
func (l *Link) Stats() (aToB, bToA Stats) {
	return l.ab.stats(), l.ba.stats()
}

// DeviceDrops returns how many packets the kernel dropped at each TUN
// device (its TX drops) because the forwarder did not read them in time,
// typically when other processes starved it of CPU. Stats cannot see
// these; a benchmark run with any should be taken as having seen loss its
// profile did not ask for. It runs `ip -s link`, so call it per run, not
// per packet.
func (l *Link) DeviceDrops() (a, b int64, err error) {
	var drops [2]int64
	for i, end := range l.ends {
		if drops[i], err = txDropped(end[0], end[1]); err != nil {
			return 0, 0, err
		}
	}
	return drops[0], drops[1], nil
}

// Close stops forwarding and closes the TUN devices, which vanish with
// their descriptors. Packets in flight are dropped.
func (l *Link) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		var errs []error
		for _, f := range l.tuns {
			if f != nil {
				errs = append(errs, f.Close())
			}
		}
		for _, d := range []*direction{l.ab, l.ba} {
			errs = append(errs, d.sleep.close())
		}
		l.wg.Wait()
		l.ab.line.drain()
		l.ba.line.drain()
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}
