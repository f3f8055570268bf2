package mover

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Striped chunks (transport/stripeframe.go): across a lossy link a sender
// cuts a chunk's payload into stripes sent at once over several lanes, so
// that more connections carry data than there are chunks in flight. The
// receiver puts each transfer's stripes together here.
const (
	// maxAssemblies bounds striped chunks being put together at once, over
	// all peers; each holds one chunk's payload.
	maxAssemblies = 3 * sendWorkers
	// assemblyTimeout is how long a transfer may take to arrive whole.
	assemblyTimeout = ackTimeout
	// minStripe is the smallest stripe worth a stream of its own.
	minStripe = 256 << 10
)

// errTooManyAssemblies says a peer sent more striped chunks at once than a
// receiver puts together.
var errTooManyAssemblies = errors.New("too many striped chunks in flight")

// assemblyKey names one transfer: the sender's random id, per peer (so one
// peer cannot add stripes to another's chunk).
type assemblyKey struct {
	peer     string
	transfer uint64
}

// assembly is one striped chunk's payload being put together.
type assembly struct {
	buf     []byte
	lent    *[]byte // buf's storage, borrowed from chunkBufs
	total   uint32
	got     uint32 // bytes received so far
	readers int    // stripes reading into buf now
	done    chan struct{}
	born    time.Time
}

// assemblies are the transfers this receiver is putting together.
type assemblies struct {
	mu  sync.Mutex
	m   map[assemblyKey]*assembly
	now func() time.Time
}

func newAssemblies(now func() time.Time) *assemblies {
	return &assemblies{m: map[assemblyKey]*assembly{}, now: now}
}

// join returns the transfer's assembly, making it on first sight (by its
// header or by any of its stripes: they race on separate streams). Old
// ones whose header or stripes never came are dropped first.
func (a *assemblies) join(k assemblyKey, total uint32) (*assembly, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if x := a.m[k]; x != nil {
		if x.total != total {
			return nil, fmt.Errorf("stripe of transfer %x says the payload is %d bytes, its other parts %d", k.transfer, total, x.total)
		}
		return x, nil
	}
	now := a.now()
	for key, x := range a.m {
		if now.Sub(x.born) > assemblyTimeout {
			delete(a.m, key)
		}
	}
	if len(a.m) >= maxAssemblies {
		return nil, errTooManyAssemblies
	}
	buf := borrow()
	if cap(*buf) < int(total) {
		*buf = make([]byte, total)
	}
	x := &assembly{buf: (*buf)[:total], lent: buf, total: total, done: make(chan struct{}), born: now}
	a.m[k] = x
	return x, nil
}

// joinStripe is join for a stripe about to be read into the assembly; it
// must call filled (or failed) when done.
func (a *assemblies) joinStripe(k assemblyKey, total uint32) (*assembly, error) {
	x, err := a.join(k, total)
	if err == nil {
		a.mu.Lock()
		x.readers++
		a.mu.Unlock()
	}
	return x, err
}

// failed says a stripe's read into x ended without its bytes.
func (a *assemblies) failed(x *assembly) {
	a.mu.Lock()
	x.readers--
	a.mu.Unlock()
}

// filled records n more bytes of x received; the last ones complete it.
func (a *assemblies) filled(x *assembly, n uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	x.readers--
	if x.got >= x.total {
		return
	}
	x.got += n
	if x.got >= x.total { // overlapping stripes from a confused peer end here too; the hash check catches them
		close(x.done)
	}
}

// wait waits until x is whole, or timeout, and forgets the transfer either way.
func (a *assemblies) wait(k assemblyKey, x *assembly, timeout time.Duration) ([]byte, error) {
	defer a.drop(k)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-x.done:
		return x.buf, nil
	case <-t.C:
		a.mu.Lock()
		got := x.got
		a.mu.Unlock()
		return nil, fmt.Errorf("striped chunk: %d of %d bytes arrived in %s", got, x.total, timeout)
	}
}

// recycle gives a finished assembly's buffer back. Only the header's
// handler calls it, after wait returned the payload and it was written;
// stripes of a transfer that was dropped may still be reading into an
// abandoned buffer, which is then left to the garbage collector.
func (a *assemblies) recycle(x *assembly) {
	a.mu.Lock()
	idle := x.got >= x.total && x.readers == 0
	a.mu.Unlock()
	if idle {
		*x.lent = x.buf[:0]
		giveBack(x.lent)
	}
}

func (a *assemblies) drop(k assemblyKey) {
	a.mu.Lock()
	delete(a.m, k)
	a.mu.Unlock()
}

// cutStripes cuts a payload of n bytes into at most k stripes of at least
// minStripe bytes (fewer when it is small): their offsets, first to last,
// and n at the end.
func cutStripes(n, k int) []int {
	k = max(1, min(k, n/minStripe))
	cuts := make([]int, k+1)
	for i := range k + 1 {
		cuts[i] = n * i / k
	}
	return cuts
}
