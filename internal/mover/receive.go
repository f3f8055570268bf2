package mover

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/internal/volume"
	"github.com/leptonmesh/lepton/transport"
)

// zeros feeds holes into the logical hash of sparse parts.
var zeros = make([]byte, 64<<10)

// receive serves one inbound data stream: chunk after chunk, each checked
// against this agent's replica of the plan, decompressed (bounded), hash
// checked, written at its offsets into the file's temp file beneath the
// target volume root, made durable, then acknowledged. Paths come from the
// plan, never from the peer: a peer names only job, unit and file numbers.
func (m *Mover) receive(s *transport.Stream) {
	defer s.Close()
	m.metrics.inflight.Inc()
	defer m.metrics.inflight.Dec()
	for {
		if !m.receiveFrame(s) {
			return
		}
	}
}

// receiveFrame reads and handles one frame of a data stream, with buffers
// borrowed for this chunk only. It reports whether the stream goes on.
func (m *Mover) receiveFrame(s *transport.Stream) bool {
	var wire *[]byte // borrowed once a frame begins: an idle stream holds none
	defer func() {
		if wire != nil {
			giveBack(wire)
		}
	}()
	alloc := func(n int) []byte {
		if wire == nil {
			wire = borrow()
		}
		if cap(*wire) < n {
			*wire = make([]byte, n)
		}
		*wire = (*wire)[:n]
		return *wire
	}
	f, err := transport.ReadDataFrame(s, alloc, jobspec.MaxChunkSize)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			m.log.Debug("data stream ended", "peer", s.Peer(), "err", err)
		}
		return false
	}
	if f.Stripe != nil {
		if err := m.receiveStripe(s, f.Stripe); err != nil {
			m.log.Warn("refused a stripe", "peer", s.Peer(), "err", err)
			return false
		}
		return true // stripes are acked with their chunk, on its header's stream
	}
	payload := f.Payload
	if f.Transfer != 0 {
		k := assemblyKey{s.Peer(), f.Transfer}
		x, err := m.stripes.join(k, f.Chunk.WireLen)
		if err == nil {
			payload, err = m.stripes.wait(k, x, assemblyTimeout)
		}
		if err != nil {
			ack := &transport.ChunkAck{Unit: f.Chunk.Unit, Attempt: f.Chunk.Attempt, Retry: true, Error: err.Error()}
			return transport.WriteAck(s, ack) == nil
		}
		defer m.stripes.recycle(x)
	}
	raw := borrow()
	defer giveBack(raw)
	m.metrics.received.Add(float64(len(payload)))
	ack := m.accept(s.Peer(), f.Chunk, payload, raw)
	return transport.WriteAck(s, ack) == nil
}

// receiveStripe reads one stripe's bytes into its transfer's assembly.
func (m *Mover) receiveStripe(s *transport.Stream, st *transport.Stripe) error {
	x, err := m.stripes.joinStripe(assemblyKey{s.Peer(), st.Transfer}, st.Total)
	if err != nil {
		return err
	}
	if _, err := io.ReadFull(s, x.buf[st.Off:st.Off+st.Len]); err != nil {
		m.stripes.failed(x)
		return fmt.Errorf("read stripe of transfer %x: %w", st.Transfer, err)
	}
	m.stripes.filled(x, st.Len)
	return nil
}

// accept checks and writes one chunk and says how it went.
func (m *Mover) accept(peer string, h *transport.ChunkHeader, payload []byte, raw *[]byte) *transport.ChunkAck {
	ack := &transport.ChunkAck{Unit: h.Unit, Attempt: h.Attempt}
	// refuse says no to this chunk. lag: this agent's plan is behind, so
	// the sender tries again without counting an attempt. Otherwise the
	// attempt failed and the sender reports it, so a unit that keeps
	// failing gives up its files after plan.MaxUnitAttempts; stranger
	// marks a peer that should not send this chunk at all.
	const (
		attempt = iota
		lag
		stranger
	)
	refuse := func(kind int, format string, args ...any) *transport.ChunkAck {
		ack.Retry, ack.Error = kind == lag, fmt.Sprintf(format, args...)
		if kind == stranger {
			m.metrics.failed.Inc()
		} else {
			m.metrics.retried.Inc()
		}
		m.log.Warn("refused a chunk", "peer", peer, "job", h.Job, "unit", h.Unit, "why", ack.Error)
		return ack
	}
	var (
		job     plan.Job
		unit    plan.Unit
		files   []plan.File
		ok, has bool
	)
	m.awaitPlan(func() bool {
		if job, ok = m.fsm.Job(h.Job); !ok {
			return false
		}
		unit, files, has = m.fsm.UnitFiles(h.Job, h.Unit)
		// A job scanning without senders here has its first assignment
		// still on the way to this replica.
		return has || !job.MovesData() && job.State != plan.JobScanning
	})
	switch {
	case !ok:
		return refuse(lag, "job %s is not in this agent's plan (yet)", h.Job)
	case !slices.Contains(job.Targets, m.name):
		return refuse(stranger, "%s does not serve job %s (targets: %v)", m.name, h.Job, job.Targets)
	case !slices.Contains(job.Sources, peer):
		return refuse(stranger, "%s is not a source of job %s", peer, h.Job)
	case !job.MovesData():
		ack.Retry, ack.Error = true, fmt.Sprintf("job %s is %s", h.Job, job.State)
		return ack // paused or ending: not suspicious, not worth a log line
	}
	if !has {
		return refuse(lag, "unit %d of job %s is not in this agent's plan (yet)", h.Unit, h.Job)
	}
	if unit.State != plan.UnitPending {
		ack.OK = true // already written (a resend after a lost ack): nothing to do
		return ack
	}
	if err := matchPlan(unit, h); err != nil {
		return refuse(attempt, "%v", err)
	}
	if h.Comp == transport.CompressProbe {
		return m.answerProbe(peer, job, h, files)
	}
	data, err := h.Unpack(m.codec, (*raw)[:0], payload) // decompresses (bounded) and checks the hash
	if err != nil {
		return refuse(attempt, "damaged on the way: %v", err)
	}
	if h.Comp != transport.CompressNone {
		*raw = data[:0] // our buffer, grown; uncompressed data is the wire buffer itself
	}
	v, err := m.volume(job.Spec.Target.Volume)
	if err != nil {
		return refuse(attempt, "%v", err)
	}
	logical, placed, readBack, err := m.writeParts(v, job, unit, h, files, data)
	if err != nil {
		if errors.Is(err, volume.ErrNoSpace) {
			ack.NoSpace, ack.Error = true, err.Error()
			m.reports.noSpace(job, m.name, v)
			return ack
		}
		return refuse(attempt, "write on %s: %v", m.name, err)
	}
	m.metrics.written.Add(float64(len(data)))
	m.metrics.ok.Inc()
	m.reports.written(job.ID, plan.UnitWritten{Unit: h.Unit, Write: rand.Uint64() | 1, Hash: logical, WireBytes: int64(h.WireLen), Sender: peer, Receiver: m.name, Placed: placed, ReadBack: readBack})
	ack.OK = true
	return ack
}

// planLagWait bounds how long a receiver waits for its replica of the plan
// to catch up with a sender's: the sender acts on entries its own replica
// has applied (a batch of units just scanned, a new assignment), which this
// one may apply a moment later. Refused at once, the chunk would be read,
// compressed and sent again after retryBackoff.
const planLagWait = time.Second

// awaitPlan waits, at most planLagWait, until has says this agent's plan
// holds what a chunk needs.
func (m *Mover) awaitPlan(has func() bool) {
	deadline := time.NewTimer(planLagWait)
	defer deadline.Stop()
	for {
		changed := m.fsm.Changed()
		if has() {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			return
		}
	}
}

// matchPlan checks the chunk covers exactly the unit's parts.
func matchPlan(u plan.Unit, h *transport.ChunkHeader) error {
	if len(u.Parts) != len(h.Files) {
		return fmt.Errorf("unit %d has %d parts in the plan, the chunk %d", u.ID, len(u.Parts), len(h.Files))
	}
	for i, p := range u.Parts {
		f := h.Files[i]
		if f.File != p.File || f.Off != p.Off || f.Len != p.Len {
			return fmt.Errorf("unit %d part %d differs from the plan", u.ID, i)
		}
	}
	return nil
}

// writeParts writes each part into its file's temp file and syncs it, and
// returns the xxhash of the unit's logical bytes (holes as zeros), which
// verification compares later. For a unit without holes that is the hash
// the chunk carried, which Unpack has checked already.
//
// A file whole in this unit, which this agent finalizes, is put in place
// at once (placesOnReceipt), and returned in placed. For a tree of small
// files that saves opening, checking and closing every file a second time,
// and a trip through the plan; a file that cannot be placed is left whole
// in its temp file, for the finalize step to try and report.
//
// When the job verifies and every file of the unit is put in place here,
// each is also read back on its open descriptor before it is placed (one
// pread a small file), and readBack says the unit's bytes as read hash to
// what the sender sent: the unit is verified with its report, instead of
// being opened file by file again by the verify step for the same bytes.
func (m *Mover) writeParts(v *volume.Volume, job plan.Job, u plan.Unit, h *transport.ChunkHeader, files []plan.File, data []byte) (logical uint64, placed []uint64, readBack bool, err error) {
	dense := !slices.ContainsFunc(h.Files, func(p transport.FilePart) bool { return p.Segments != nil })
	d := xxhash.New()
	var back *xxhash.Digest // the unit read back, while every file so far was
	if job.Spec.Verify && dense {
		back = xxhash.New()
	}
	var backBP *[]byte // borrowed at the first file read back
	var backBuf []byte
	defer func() {
		if backBP != nil {
			giveBack(backBP)
		}
	}()
	run := v.Run() // its Close makes the placed files' directory entries durable
	defer func() {
		if cerr := run.Close(); cerr != nil && err == nil {
			logical, placed, readBack, err = 0, nil, false, cerr
		}
	}()
	for i, part := range h.Files {
		open := v.OpenTemp
		if part.Off == 0 && part.Len == files[i].Size && part.Segments == nil {
			open = v.OpenTempWhole
		}
		f, err := open(job.ID, part.File, files[i].Size)
		if err != nil {
			return 0, nil, false, err
		}
		segs := part.Segments
		if segs == nil {
			segs = []transport.Segment{{Off: part.Off, Len: part.Len}}
		}
		pos := part.Off
		sparse := part.Segments != nil
		hole := func(from, to int64) error {
			if from >= to {
				return nil
			}
			for p := from; p < to; { // zeros in the logical hash
				n := min(int64(len(zeros)), to-p)
				d.Write(zeros[:n])
				p += n
			}
			// A hole stays a hole; punch it in case an earlier attempt
			// (before the file changed) wrote data there.
			return volume.Zero(f, from, to-from)
		}
		for _, s := range segs {
			if sparse {
				if err := hole(pos, s.Off); err != nil {
					f.Close()
					return 0, nil, false, err
				}
			}
			chunk := data[:s.Len]
			data = data[s.Len:]
			if err := volume.WriteAt(f, chunk, s.Off); err != nil {
				f.Close()
				return 0, nil, false, err
			}
			if !dense {
				d.Write(chunk)
			}
			pos = s.Off + s.Len
		}
		if sparse {
			if err := hole(pos, part.Off+part.Len); err != nil {
				f.Close()
				return 0, nil, false, err
			}
		}
		if err := clearStale(f, u.ID, &files[i]); err != nil {
			f.Close()
			return 0, nil, false, err
		}
		if m.placesOnReceipt(job, &u, &files[i]) {
			if back != nil {
				if backBP == nil {
					backBP, backBuf = borrowRead()
				}
				if hashRange(back, f, 0, files[i].Size, backBuf) != nil {
					back = nil // the verify step will tell
				}
			}
			err := run.PlaceFile(f, files[i].Size, job.ID, part.File, targetPath(job, files[i].Path), files[i].Entry, m.asRoot)
			switch {
			case err == nil:
				placed = append(placed, part.File)
			case errors.Is(err, volume.ErrNotPlaced):
				m.log.Debug("file not placed on receipt; the finalize step will", "job", job.ID, "path", files[i].Path, "err", err)
			default:
				return 0, nil, false, err
			}
			continue
		}
		back = nil // not placed here: the verify step reads it
		err = volume.Sync(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, nil, false, err
		}
	}
	if back != nil && len(placed) == len(h.Files) {
		if readBack = back.Sum64() == h.Hash; !readBack {
			m.log.Warn("a unit read back as it was placed differs from what was written; the verify step will check it", "job", job.ID, "unit", u.ID)
		}
	}
	if dense {
		return h.Hash, placed, readBack, nil
	}
	return d.Sum64(), placed, readBack, nil
}

// clearStale empties, in the temp file f of a mapped sparse file that
// changed while it was sent, what lies outside the file's Data: no unit
// covers those holes, so data an earlier version of the file left there
// would otherwise survive into the copy. The receiver of the file's first
// unit does it, with that unit; no other unit writes there. Only ranges the
// temp file holds data in are touched (SEEK_DATA), so a clean one costs a
// seek per hole.
func clearStale(f *os.File, unit uint64, file *plan.File) error {
	if file.Changed == 0 || unit != file.FirstUnit || !file.DataKnown() {
		return nil
	}
	empty := func(off, end int64) error {
		if off >= end {
			return nil
		}
		held, err := volume.DataExtents(f, off, end-off)
		if err != nil {
			return err
		}
		for _, x := range held {
			if err := volume.Zero(f, x.Off, x.Len); err != nil {
				return err
			}
		}
		return nil
	}
	var pos int64
	for _, x := range file.Data {
		if err := empty(pos, x.Off); err != nil {
			return err
		}
		pos = x.Off + x.Len
	}
	return empty(pos, file.Size)
}

// placesOnReceipt says whether this agent puts a file in place as soon as
// it has written it: the file is whole in unit u, still waiting for its
// data, and this agent is the one to finalize u.
func (m *Mover) placesOnReceipt(job plan.Job, u *plan.Unit, f *plan.File) bool {
	return f.Units == 1 && f.FirstUnit == u.ID && f.State == plan.FilePending && u.Receiver == m.name && job.Finisher(u) == m.name
}

// answerProbe tells a sender whether this agent already holds a unit it
// wrote before (its report was lost: the agent restarted, or the leader
// changed before committing it). The temp files, or the files already put
// in place, are re-read and hashed; on a match the unit is reported written
// again and not sent again.
func (m *Mover) answerProbe(peer string, job plan.Job, h *transport.ChunkHeader, files []plan.File) *transport.ChunkAck {
	ack := &transport.ChunkAck{Unit: h.Unit, Attempt: h.Attempt}
	v, err := m.volume(job.Spec.Target.Volume)
	if err == nil {
		sum, placed, err := hashHeld(v, job, h.Files, files)
		if err == nil && sum == h.Hash {
			m.metrics.ok.Inc()
			m.reports.written(job.ID, plan.UnitWritten{Unit: h.Unit, Write: rand.Uint64() | 1, Hash: sum, Sender: peer, Receiver: m.name, Placed: placed})
			ack.OK = true
			return ack
		}
	}
	ack.Retry, ack.Error = true, "not held here: send the data"
	return ack
}

// hashHeld hashes the bytes of parts as they stand in their temp files or,
// for a file whole in the unit whose temp file is gone, in the file put in
// place on receipt (listed in placed).
func hashHeld(v *volume.Volume, job plan.Job, parts []transport.FilePart, files []plan.File) (sum uint64, placed []uint64, err error) {
	d := xxhash.New()
	buf := make([]byte, 256<<10)
	run := v.Run()
	defer run.Close()
	for i, p := range parts {
		limit := p.Len
		f, err := v.OpenRead(volume.TempRel(job.ID, p.File))
		if errors.Is(err, fs.ErrNotExist) && files[i].Units == 1 {
			f, _, err = run.OpenRead(targetPath(job, files[i].Path))
			placed = append(placed, p.File)
			limit++ // the whole file: one byte more says it grew
		}
		if err != nil {
			return 0, nil, err
		}
		n, err := io.CopyBuffer(d, io.NewSectionReader(f, p.Off, limit), buf)
		f.Close()
		if err != nil {
			return 0, nil, err
		}
		if n != p.Len {
			return 0, nil, fmt.Errorf("%s holds %d bytes of part %d, want %d", files[i].Path, n, i, p.Len)
		}
	}
	return d.Sum64(), placed, nil
}
