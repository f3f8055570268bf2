package mover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/leptonmesh/lepton/internal/manifest"
	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/internal/volume"
	"github.com/leptonmesh/lepton/transport"
)

// errFileChanged marks a unit whose files changed under the sender; the
// leader re-plans them, so the unit is neither retried nor failed.
var errFileChanged = errors.New("a file changed while being read")

// streamPool keeps idle data streams per receiver and lane, so consecutive
// chunks reuse a stream (its flow-control window already grown) instead of
// opening one each.
type streamPool struct {
	mu   sync.Mutex
	idle map[laneKey][]*transport.Stream
}

// laneKey names one lane (a pooled QUIC connection) to one receiver.
type laneKey struct {
	receiver string
	lane     int
}

func (p *streamPool) get(k laneKey) *transport.Stream {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.idle[k]
	if len(list) == 0 {
		return nil
	}
	s := list[len(list)-1]
	p.idle[k] = list[:len(list)-1]
	return s
}

// closeAll closes every idle stream.
func (p *streamPool) closeAll() {
	p.mu.Lock()
	idle := p.idle
	p.idle = map[laneKey][]*transport.Stream{}
	p.mu.Unlock()
	for _, list := range idle {
		for _, s := range list {
			s.Close()
		}
	}
}

func (p *streamPool) put(k laneKey, s *transport.Stream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle[k]) >= sendWorkers {
		s.Close()
		return
	}
	p.idle[k] = append(p.idle[k], s)
}

// sendBuffers are one worker's reusable buffers: the raw chunk, where each
// of its parts ends in it, and the payload.
type sendBuffers struct {
	raw, wire []byte
	ends      []int
}

// pendingAck is a chunk written in full, whose receiver has yet to say it
// is durable.
type pendingAck struct {
	w       plan.Work
	h       *transport.ChunkHeader
	s       *transport.Stream // the header's stream: the ack comes on it
	k       laneKey
	wireLen int
}

func (m *Mover) sendLoop(ctx context.Context) {
	var bufs sendBuffers
	for {
		select {
		case <-ctx.Done():
			return
		case w := <-m.sendQ:
			m.sendUnit(ctx, w, &bufs)
			m.wake()
		}
	}
}

// ackLoop waits for the acks of chunks the send workers have written, so
// that a worker reads and compresses its next chunk while the last one
// crosses the network and is written (a round trip or more: on a long
// path the workers would otherwise idle a third of the time). There are
// ackLoops of them and ackQ is unbuffered, so at most ackLoops chunks
// await an ack; a worker that finds every ack loop busy waits.
func (m *Mover) ackLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-m.ackQ:
			ack, err := m.awaitAck(p.s, p.k, p.h)
			m.settle(p.w, p.h, p.wireLen, ack, err)
			m.wake()
		}
	}
}

// sendUnit reads, hashes, compresses and sends one unit, and hands the
// wait for the receiver's acknowledgement (that it is durable) to an ack
// loop.
func (m *Mover) sendUnit(ctx context.Context, w plan.Work, bufs *sendBuffers) {
	log := m.log.With("job", w.Job.ID, "unit", w.Unit.ID, "receiver", w.Unit.Receiver)
	if m.probe(ctx, w) {
		return
	}
	h, raw, err := m.readUnit(w, bufs)
	if err != nil {
		m.release(w.Job.ID, w.Unit.ID)
		if errors.Is(err, errFileChanged) {
			return
		}
		log.Warn("read unit", "err", err)
		m.reports.failed(w.Job.ID, plan.UnitFail{Unit: w.Unit.ID, Reason: "read on " + m.name + ": " + err.Error()})
		return
	}
	if !m.stillMine(w) {
		m.release(w.Job.ID, w.Unit.ID) // re-assigned meanwhile (an agent came or went): its new sender sends it
		return
	}
	policy, _ := transport.ParsePolicy(w.Job.Spec.Compression)
	level, _ := transport.ParseLevel(w.Job.Spec.CompressionLevel)
	payload, comp := m.codec.EncodeParts(bufs.wire[:0], raw, bufs.ends, policy, level)
	if comp != transport.CompressNone {
		bufs.wire = payload[:0] // our buffer, grown; a raw payload is bufs.raw itself
	}
	h.Comp, h.WireLen = comp, uint32(len(payload))
	s, k, err := m.transmit(ctx, w.Unit.Receiver, h, payload)
	if err != nil {
		m.settle(w, h, len(payload), nil, err)
		return
	}
	select {
	case m.ackQ <- pendingAck{w: w, h: h, s: s, k: k, wireLen: len(payload)}:
	case <-ctx.Done():
		s.Close()
	}
}

// settle acts on how a chunk's delivery ended: the receiver's ack, or the
// error that kept it from coming.
func (m *Mover) settle(w plan.Work, h *transport.ChunkHeader, wireLen int, ack *transport.ChunkAck, err error) {
	log := m.log.With("job", w.Job.ID, "unit", w.Unit.ID, "receiver", w.Unit.Receiver)
	switch {
	case err != nil:
		// The network or the receiver failed, not the unit: it is not an
		// attempt against the unit's files. A receiver that died is marked
		// failed by gossip and its units re-assigned; one that stays
		// unreachable while gossip says it is alive is named in the job's
		// reason, so the job is never stuck without one.
		log.Warn("send chunk", "err", err)
		m.hold(w.Job.ID, w.Unit.ID, retryBackoff)
		m.unreachable(w.Job, w.Unit.Receiver, err)
	case ack.OK:
		m.metrics.sent.Add(float64(wireLen))
		m.remember(w, h)
		m.reachable(w.Job, w.Unit.Receiver)
		m.holdFor(w.Job.ID, w.Unit.ID, w.Unit.Receiver, ackedHold) // the receiver reports it; do not resend meanwhile
	case ack.NoSpace:
		m.hold(w.Job.ID, w.Unit.ID, retryBackoff) // the job is being paused
	case ack.Retry: // the receiver's plan is behind; not an attempt
		m.hold(w.Job.ID, w.Unit.ID, retryBackoff)
		log.Debug("receiver asked to retry", "why", ack.Error)
	default: // this attempt failed; the leader counts it
		log.Warn("receiver refused chunk", "why", ack.Error)
		m.reports.failed(w.Job.ID, plan.UnitFail{Unit: w.Unit.ID, Reason: w.Unit.Receiver + " refused: " + ack.Error})
		m.hold(w.Job.ID, w.Unit.ID, retryBackoff)
	}
}

// deliver sends one chunk to the receiver and reads the ack.
func (m *Mover) deliver(ctx context.Context, receiver string, h *transport.ChunkHeader, payload []byte) (*transport.ChunkAck, error) {
	s, k, err := m.transmit(ctx, receiver, h, payload)
	if err != nil {
		return nil, err
	}
	return m.awaitAck(s, k, h)
}

// transmit writes one chunk to the receiver: whole on one pooled stream,
// or, when lane control spreads chunks to this receiver over more lanes
// than there are send workers, as stripes on several. It returns the
// header's stream, on which the ack comes; payload may be reused as soon
// as it returns (quic-go has copied it into its frames).
func (m *Mover) transmit(ctx context.Context, receiver string, h *transport.ChunkHeader, payload []byte) (*transport.Stream, laneKey, error) {
	addr, err := m.peers.Addr(receiver)
	if err != nil {
		return nil, laneKey{}, err
	}
	cuts := cutStripes(len(payload), m.lanes.stripes(receiver))
	k := laneKey{receiver, m.lanes.pick(receiver)}
	s, err := m.stream(ctx, addr, k)
	if err != nil {
		m.lanes.release(receiver, k.lane)
		return nil, k, err
	}
	_ = s.SetDeadline(time.Now().Add(ackTimeout))
	if len(cuts) <= 2 {
		err = transport.WriteChunk(s, h, payload)
		m.lanes.release(receiver, k.lane)
	} else {
		transfer := rand.Uint64() | 1
		err = transport.WriteStripedChunk(s, h, transfer, len(payload))
		m.lanes.release(receiver, k.lane)
		if err == nil {
			err = m.sendStripes(ctx, addr, receiver, transfer, payload, cuts)
		}
	}
	if err != nil {
		s.Close()
		return nil, k, err
	}
	return s, k, nil
}

// awaitAck reads the receiver's ack of h on s and pools s again.
func (m *Mover) awaitAck(s *transport.Stream, k laneKey, h *transport.ChunkHeader) (*transport.ChunkAck, error) {
	ack, err := transport.ReadAck(s)
	if err != nil {
		s.Close()
		return nil, err
	}
	if ack.Unit != h.Unit {
		s.Close()
		return nil, fmt.Errorf("ack for unit %d, want %d", ack.Unit, h.Unit)
	}
	m.putStream(k, s)
	return ack, nil
}

// sendStripes sends payload's stripes (cut at cuts) of transfer at once,
// each on a pooled stream of its own lane.
func (m *Mover) sendStripes(ctx context.Context, addr, receiver string, transfer uint64, payload []byte, cuts []int) error {
	errs := make(chan error, len(cuts)-1)
	for i := range len(cuts) - 1 {
		go func() {
			k := laneKey{receiver, m.lanes.pick(receiver)}
			defer m.lanes.release(receiver, k.lane)
			s, err := m.stream(ctx, addr, k)
			if err == nil {
				_ = s.SetDeadline(time.Now().Add(ackTimeout))
				st := transport.Stripe{Transfer: transfer, Off: uint32(cuts[i]), Len: uint32(cuts[i+1] - cuts[i]), Total: uint32(len(payload))}
				if err = transport.WriteStripe(s, st, payload[cuts[i]:cuts[i+1]]); err != nil {
					s.Close()
				} else {
					m.putStream(k, s)
				}
			}
			errs <- err
		}()
	}
	var first error
	for range len(cuts) - 1 {
		if err := <-errs; err != nil && first == nil {
			first = fmt.Errorf("send stripe: %w", err)
		}
	}
	return first
}

// stream returns a pooled data stream on lane k, or opens one.
func (m *Mover) stream(ctx context.Context, addr string, k laneKey) (*transport.Stream, error) {
	if s := m.streams().get(k); s != nil {
		return s, nil
	}
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return m.peers.OpenDataStream(octx, addr, k.receiver, k.lane)
}

// putStream returns a stream whose exchange is complete to the pool, or
// closes it when its lane was given back (its connection may go idle).
func (m *Mover) putStream(k laneKey, s *transport.Stream) {
	_ = s.SetDeadline(time.Time{})
	if m.lanes.inUse(k.receiver, k.lane) {
		m.streams().put(k, s)
	} else {
		s.Close()
	}
}

func (m *Mover) streams() *streamPool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pool == nil {
		m.pool = &streamPool{idle: map[laneKey][]*transport.Stream{}}
	}
	return m.pool
}

// readUnit reads a unit's files into bufs.raw and builds its header. Each
// file is checked before and after the read: one that changed or vanished
// is reported to the leader, which re-plans it (errFileChanged).
func (m *Mover) readUnit(w plan.Work, bufs *sendBuffers) (*transport.ChunkHeader, []byte, error) {
	v, err := m.volume(w.Job.Spec.Source.Volume)
	if err != nil {
		return nil, nil, err
	}
	if int64(cap(bufs.raw)) < w.Unit.Bytes {
		bufs.raw = make([]byte, 0, w.Unit.Bytes)
	}
	raw := bufs.raw[:0]
	bufs.ends = bufs.ends[:0]
	h := &transport.ChunkHeader{Job: w.Job.ID, Unit: w.Unit.ID, Attempt: uint32(w.Unit.Attempts)}
	changed := false
	run := v.Run()
	defer run.Close()
	for i, part := range w.Unit.Parts {
		entry := w.Files[i]
		fp, data, err := readPart(run, sourcePath(w.Job, entry.Path), entry, part, raw)
		switch {
		case errors.Is(err, os.ErrNotExist):
			m.reports.vanished(w.Job.ID, plan.FileResult{File: part.File, Reason: "vanished during transfer"})
			changed = true
			continue
		case errors.Is(err, errFileChanged):
			now, serr := v.Lstat(sourcePath(w.Job, entry.Path))
			if serr != nil {
				m.reports.vanished(w.Job.ID, plan.FileResult{File: part.File, Reason: "vanished during transfer"})
			} else {
				now.Path = entry.Path
				m.reports.changed(w.Job.ID, plan.FileChange{File: part.File, Entry: now})
			}
			changed = true
			continue
		case err != nil:
			return nil, nil, err
		}
		raw = data
		h.Files = append(h.Files, fp)
		bufs.ends = append(bufs.ends, len(raw))
	}
	bufs.raw = raw[:0]
	if changed {
		return nil, nil, errFileChanged
	}
	h.RawLen = uint32(len(raw))
	h.Hash = xxhash.Sum64(raw)
	m.metrics.read.Add(float64(len(raw)))
	return h, raw, nil
}

// readPart appends the data of one part to raw: the whole range, or for a
// sparse file only its data segments (holes are not sent).
func readPart(run *volume.DirRun, rel string, want manifest.Entry, part plan.Part, raw []byte) (transport.FilePart, []byte, error) {
	fp := transport.FilePart{File: part.File, Off: part.Off, Len: part.Len}
	f, before, err := run.OpenRead(rel)
	if err != nil {
		return fp, raw, err
	}
	defer f.Close()
	if manifest.Changed(want, before) {
		return fp, raw, errFileChanged
	}
	segs := []manifest.Extent{{Off: part.Off, Len: part.Len}}
	if want.Sparse {
		if segs, err = volume.DataExtents(f, part.Off, part.Len); err != nil {
			return fp, raw, fmt.Errorf("find data in %s: %w", rel, err)
		}
		fp.Segments = []transport.Segment{}
		for _, s := range segs {
			fp.Segments = append(fp.Segments, transport.Segment{Off: s.Off, Len: s.Len})
		}
	}
	for _, s := range segs {
		start := len(raw)
		raw = slices.Grow(raw, int(s.Len))[:start+int(s.Len)]
		if n, err := f.ReadAt(raw[start:], s.Off); n < int(s.Len) {
			if errors.Is(err, io.EOF) {
				return fp, raw, errFileChanged // shorter than planned
			}
			return fp, raw, fmt.Errorf("read %s: %w", rel, err)
		}
	}
	after, err := statEntry(f, want)
	if err != nil {
		return fp, raw, err
	}
	if manifest.Changed(want, after) {
		return fp, raw, errFileChanged
	}
	return fp, raw, nil
}

// statEntry reads size and mtime of an open file as an Entry to compare.
func statEntry(f *os.File, want manifest.Entry) (manifest.Entry, error) {
	fi, err := f.Stat()
	if err != nil {
		return manifest.Entry{}, fmt.Errorf("stat %s: %w", want.Path, err)
	}
	e := want
	e.Size, e.MtimeNs = fi.Size(), fi.ModTime().UnixNano()
	return e, nil
}

// maxRemembered bounds the acked units a sender remembers for probing.
const maxRemembered = 100_000

// sentUnit is what a sender remembers of a unit a receiver acked: enough
// to ask later, without reading or sending the data, whether it still
// holds it.
type sentUnit struct {
	receiver string
	header   transport.ChunkHeader
}

// remember keeps an acked unit's header (dense units only: the probe
// hashes the logical bytes, which for a sparse unit differ from the raw).
func (m *Mover) remember(w plan.Work, h *transport.ChunkHeader) {
	for _, p := range h.Files {
		if p.Segments != nil {
			return
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.sent) >= maxRemembered {
		clear(m.sent)
	}
	m.sent[unitRef{w.Job.ID, w.Unit.ID}] = sentUnit{receiver: w.Unit.Receiver, header: *h}
}

// probe asks the receiver whether it already holds a unit it acked before
// and the plan still shows pending (its report was lost). It reports
// whether the unit needs no sending.
func (m *Mover) probe(ctx context.Context, w plan.Work) bool {
	m.mu.Lock()
	prev, ok := m.sent[unitRef{w.Job.ID, w.Unit.ID}]
	m.mu.Unlock()
	if !ok || prev.receiver != w.Unit.Receiver || !samePlan(w.Unit.Parts, prev.header.Files) {
		return false
	}
	h := prev.header
	h.Comp, h.WireLen, h.Attempt = transport.CompressProbe, 0, uint32(w.Unit.Attempts)
	ack, err := m.deliver(ctx, w.Unit.Receiver, &h, nil)
	if err != nil || !ack.OK {
		return false
	}
	m.holdFor(w.Job.ID, w.Unit.ID, w.Unit.Receiver, ackedHold)
	m.log.Info("receiver still held a unit whose report was lost; not sent again", "job", w.Job.ID, "unit", w.Unit.ID, "receiver", w.Unit.Receiver)
	return true
}

func samePlan(parts []plan.Part, files []transport.FilePart) bool {
	if len(parts) != len(files) {
		return false
	}
	for i, p := range parts {
		if files[i].File != p.File || files[i].Off != p.Off || files[i].Len != p.Len {
			return false
		}
	}
	return true
}

// stillMine reports whether the plan still has this agent send a unit to
// the same receiver: after a re-assignment, sending it too would only
// send it twice.
func (m *Mover) stillMine(w plan.Work) bool {
	u, _, ok := m.fsm.UnitFiles(w.Job.ID, w.Unit.ID)
	return ok && u.State == plan.UnitPending && u.Sender == m.name && u.Receiver == w.Unit.Receiver
}

// failures is a run of failed sends to one receiver.
type failures struct{ since, last time.Time }

// stallAfter is how long sends to one receiver may keep failing before the
// job's reason says so.
const stallAfter = 30 * time.Second

// unreachable records a failed send to a receiver; once sends have failed
// for stallAfter, it asks the leader to put it in the job's reason.
func (m *Mover) unreachable(j plan.Job, receiver string, err error) {
	key := j.ID + ">" + receiver
	now := time.Now()
	m.mu.Lock()
	f, ok := m.failing[key]
	if !ok || now.Sub(f.last) > stallAfter { // a new run of failures
		f = failures{since: now}
	}
	f.last = now
	m.failing[key] = f
	noted := m.stallNoted[key]
	m.mu.Unlock()
	if noted || now.Sub(f.since) < stallAfter {
		return
	}
	m.mu.Lock()
	m.stallNoted[key] = true
	m.mu.Unlock()
	m.note(j.ID, fmt.Sprintf("waiting: %s cannot reach %s over QUIC for %s: %v", m.name, receiver, stallAfter, err))
}

// reachable clears what unreachable recorded, and the job's reason if it
// was noted.
func (m *Mover) reachable(j plan.Job, receiver string) {
	key := j.ID + ">" + receiver
	m.mu.Lock()
	_, failing := m.failing[key]
	noted := m.stallNoted[key]
	delete(m.failing, key)
	delete(m.stallNoted, key)
	m.mu.Unlock()
	if failing && noted {
		m.note(j.ID, "")
	}
}

// noteJob sets a job's reason through the leader, in the background.
func (m *Mover) noteJob(id, reason string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.leader.NoteJob(ctx, plan.Note{ID: id, Reason: reason}); err != nil {
			m.log.Warn("could not note why the job waits", "job", id, "err", err)
		}
	}()
}
