package mover

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/internal/volume"
	"github.com/leptonmesh/lepton/transport"
)

// Bounds of the data path. In flight per agent: at most sendWorkers units
// being read, compressed or on the wire (each at most one chunk, 64 MiB
// max), at most ackLoops more written in full and awaiting their ack
// (their bytes held by quic-go until the peer acknowledges the packets,
// within its congestion window), and as many being written by the
// receiver per inbound stream.
const (
	sendWorkers = 8
	// ackLoops wait for acks while the send workers go on (send.go). A
	// worker waits for its ack a round trip plus the receiver's write, a
	// third of its time across 50 ms, so half as many suffice; every one
	// more lets a receiver hold one more chunk at once (100,000 small
	// files: 253 MiB peak RSS with 8, the goal being 256).
	ackLoops      = sendWorkers / 2
	finalWorkers  = 4
	verifyWorkers = 4
	ackTimeout    = 2 * time.Minute
	ackedHold     = 30 * time.Second // an acked unit is not resent for this long while its commit is on the way
	retryBackoff  = 2 * time.Second
	workerTick    = time.Second
	maxReportKeep = 200_000 // reports kept while no leader is reachable
)

// Mover is the agent's share of every migration: scanning when it is a
// job's scanner, sending the units assigned to it, receiving chunks,
// finalizing files, creating directories and links when it leads a job's
// target side, and verifying. It takes its work from its own replica of
// the plan and reports to the leader.
type Mover struct {
	leader  Leader
	peers   Peers
	log     *slog.Logger
	name    string
	fsm     Plan
	codec   *transport.Codec
	volumes map[string]*volume.Volume
	asRoot  bool

	reports *reporter
	sendQ   chan plan.Work
	ackQ    chan pendingAck // unbuffered: to the ack loops
	finalQ  chan plan.FileWork
	verifyQ chan plan.Work
	wakeCh  chan struct{} // a worker finished: hand out more work now
	metrics *moverMetrics

	mu   sync.Mutex
	held map[unitRef]hold     // units being sent, or acked and awaiting commit
	busy map[string]time.Time // scans and leads running, or done and awaiting commit, until the time
	// finalizing: files being finalized, or finalized and awaiting commit, until the time
	finalizing map[unitRef]time.Time
	cleaned    map[string]bool
	sent       map[unitRef]sentUnit // acked units, for probing after a lost report
	pool       *streamPool
	lanes      *lanes      // QUIC connections per receiver
	stripes    *assemblies // striped chunks being put together

	note       func(job, reason string) // sets a job's reason through the leader
	failing    map[string]failures      // "job>receiver": the current run of failed sends
	stallNoted map[string]bool          // "job>receiver": the job's reason says so
}

type unitRef struct {
	job  string
	unit uint64
}

// hold keeps a unit from being handed out again until a time; a hold on a
// unit acked by a receiver lapses if the unit moves to another receiver
// (the first one failed before reporting it).
type hold struct {
	until    time.Time
	receiver string
}

// New returns the mover of one agent and takes the agent's inbound data
// streams; it moves nothing until Serve.
func New(cfg Config) *Mover {
	m := &Mover{
		leader: cfg.Leader, peers: cfg.Peers, log: cfg.Logger.With("component", "mover"), name: cfg.Node, fsm: cfg.Plan,
		codec: transport.NewCodec(), volumes: cfg.Volumes, asRoot: os.Geteuid() == 0,
		sendQ: make(chan plan.Work, sendWorkers), ackQ: make(chan pendingAck), finalQ: make(chan plan.FileWork, 16*finalWorkers),
		verifyQ: make(chan plan.Work, 2*verifyWorkers), wakeCh: make(chan struct{}, 1),
		held: map[unitRef]hold{}, busy: map[string]time.Time{}, finalizing: map[unitRef]time.Time{}, cleaned: map[string]bool{}, sent: map[unitRef]sentUnit{},
		failing: map[string]failures{}, stallNoted: map[string]bool{},
		metrics: newMoverMetrics(),
	}
	m.lanes = newLanes(m.laneCounters, time.Now)
	m.lanes.changed = func(receiver string, n int, goodput float64) {
		m.log.Debug("lanes to a receiver changed", "receiver", receiver, "lanes", n, "goodput_mbps", math.Round(goodput*8/1e6))
	}
	m.stripes = newAssemblies(time.Now)
	m.reports = newReporter(cfg.Leader, m.log)
	m.note = m.noteJob
	cfg.Peers.Handle(transport.KindData, m.receive)
	return m
}

// laneCounters are the bytes sent and lost on every QUIC connection this
// agent dialed to receiver, and the path's minimum RTT: what lane control
// measures.
func (m *Mover) laneCounters(receiver string) (laneSample, bool) {
	addr, err := m.peers.Addr(receiver)
	if err != nil {
		return laneSample{}, false
	}
	st, ok := m.peers.PeerStats(addr, receiver)
	return laneSample{sent: st.BytesSent, lost: st.BytesLost, rtt: st.MinRTT}, ok
}

// Serve hands out work whenever the plan changes (or every second) until
// ctx ends, then waits for its workers.
func (m *Mover) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	pool := func(n int, loop func()) {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				loop()
			}()
		}
	}
	pool(sendWorkers, func() { m.sendLoop(ctx) })
	pool(ackLoops, func() { m.ackLoop(ctx) })
	pool(finalWorkers, func() { drain(ctx, m, m.finalQ, m.finalize) })
	pool(verifyWorkers, func() { drain(ctx, m, m.verifyQ, m.verify) })
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.reports.run(ctx)
	}()
	tick := time.NewTicker(workerTick)
	defer tick.Stop()
	for {
		changed := m.fsm.Changed()
		m.dispatch(ctx)
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-changed:
		case <-m.wakeCh:
		case <-tick.C:
		}
	}
}

// wake asks the dispatcher to refill the queues (non-blocking, coalesced).
func (m *Mover) wake() {
	select {
	case m.wakeCh <- struct{}{}:
	default:
	}
}

func (m *Mover) dispatch(ctx context.Context) {
	for _, j := range m.fsm.ScanWork(m.name) {
		m.startOnce("scan:"+j.ID, func() { m.scan(ctx, j) })
	}
	if free := sendWorkers - len(m.sendQ); free > 0 {
		for _, w := range m.fsm.SendWork(m.name, free, m.isHeld) {
			m.hold(w.Job.ID, w.Unit.ID, ackTimeout+time.Minute)
			select {
			case m.sendQ <- w:
			case <-ctx.Done():
				return
			}
		}
	}
	// The finalize and verify queues are refilled once at most half full
	// (drain wakes the dispatcher then): finding their work walks every
	// ready file or received unit not yet committed done, thousands in a
	// tree of small files, and the dispatcher runs at every ack and
	// commit. Topping up a nearly full queue cost the target a tenth of
	// its CPU in the 100,000-file benchmark.
	if len(m.finalQ) <= cap(m.finalQ)/2 {
		for _, fw := range m.fsm.FinalizeWork(m.name, cap(m.finalQ)-len(m.finalQ), m.finalizingNow()) {
			m.markFinalizing(fw.Job.ID, fw.Index, 24*time.Hour)
			select {
			case m.finalQ <- fw:
			case <-ctx.Done():
				return
			}
		}
	}
	byJob := map[string][]plan.FileWork{}
	for _, fw := range m.fsm.LeadWork(m.name) {
		byJob[fw.Job.ID] = append(byJob[fw.Job.ID], fw)
	}
	for id, work := range byJob {
		m.startOnce("lead:"+id, func() { m.lead(work) })
	}
	if len(m.verifyQ) <= cap(m.verifyQ)/2 {
		for _, w := range m.fsm.VerifyWork(m.name, cap(m.verifyQ)-len(m.verifyQ), m.isHeld) {
			m.hold(w.Job.ID, w.Unit.ID, 24*time.Hour)
			select {
			case m.verifyQ <- w:
			case <-ctx.Done():
				return
			}
		}
	}
	m.cleanEnded()
}

// startOnce runs f in a goroutine unless work under key is running or
// finished less than ackedHold ago (its report may not be committed yet).
func (m *Mover) startOnce(key string, f func()) {
	m.mu.Lock()
	if until, ok := m.busy[key]; ok && time.Now().Before(until) {
		m.mu.Unlock()
		return
	}
	m.busy[key] = time.Now().Add(24 * time.Hour)
	m.mu.Unlock()
	go func() {
		defer func() {
			m.mu.Lock()
			m.busy[key] = time.Now().Add(ackedHold)
			m.mu.Unlock()
		}()
		f()
	}()
}

// drain runs work from q until ctx ends, waking the dispatcher once the
// queue is down to half, so it never runs dry while there is work in the
// plan, yet a tree of a million small files does not cost a million
// dispatches (each reads the plan).
func drain[W any](ctx context.Context, m *Mover, q <-chan W, work func(W)) {
	for {
		select {
		case <-ctx.Done():
			return
		case w := <-q:
			work(w)
			if len(q) <= cap(q)/2 {
				m.wake()
			}
		}
	}
}

// markFinalizing marks a file as being finalized, or finalized and
// awaiting its commit, for d.
func (m *Mover) markFinalizing(job string, file uint64, d time.Duration) {
	m.mu.Lock()
	m.finalizing[unitRef{job, file}] = time.Now().Add(d)
	m.mu.Unlock()
}

// finalizingNow returns a check, for one dispatch, of whether a file is
// being finalized or awaiting its commit. It runs for every ready file
// (thousands in a tree of small files), so it reads the clock once.
func (m *Mover) finalizingNow() func(job string, file uint64) bool {
	now := time.Now()
	return func(job string, file uint64) bool {
		m.mu.Lock()
		until, ok := m.finalizing[unitRef{job, file}]
		m.mu.Unlock()
		return ok && now.Before(until)
	}
}

func (m *Mover) hold(job string, unit uint64, d time.Duration) { m.holdFor(job, unit, "", d) }

// holdFor holds a unit acked by receiver.
func (m *Mover) holdFor(job string, unit uint64, receiver string, d time.Duration) {
	m.mu.Lock()
	m.held[unitRef{job, unit}] = hold{until: time.Now().Add(d), receiver: receiver}
	m.mu.Unlock()
}

func (m *Mover) release(job string, unit uint64) {
	m.mu.Lock()
	delete(m.held, unitRef{job, unit})
	m.mu.Unlock()
}

func (m *Mover) isHeld(job string, u *plan.Unit) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	ref := unitRef{job, u.ID}
	h, ok := m.held[ref]
	if ok && (time.Now().After(h.until) || (h.receiver != "" && h.receiver != u.Receiver)) {
		delete(m.held, ref)
		return false
	}
	return ok
}

// cleanEnded forgets, once per ended job, what this agent remembered of
// it, and removes its temp area from this agent's target volume. When the
// last job ends it closes the pooled data streams and the lanes' extra
// connections (each holds goroutines on both sides, and lanes may have
// opened dozens); lane control remembers each receiver's lane count for
// the next job (lanes.go).
func (m *Mover) cleanEnded() {
	active, ended := false, false
	defer func() {
		if ended && !active {
			m.streams().closeAll()
			m.lanes.reset()
			m.peers.CloseDataLanes()
		}
	}()
	jobs := m.fsm.Jobs()
	m.forgetCleaned(jobs)
	for _, j := range jobs {
		if !j.State.Ended() {
			active = true
			continue
		}
		m.mu.Lock()
		done := m.cleaned[j.ID]
		m.cleaned[j.ID] = true
		ended = ended || !done
		if !done {
			for ref := range m.sent {
				if ref.job == j.ID {
					delete(m.sent, ref)
				}
			}
			for ref := range m.finalizing {
				if ref.job == j.ID {
					delete(m.finalizing, ref)
				}
			}
		}
		m.mu.Unlock()
		if done || !slices.Contains(j.Targets, m.name) {
			continue
		}
		if v := m.volumes[j.Spec.Target.Volume]; v != nil {
			if err := v.RemoveJobTemp(j.ID); err != nil {
				m.log.Warn("remove temp files of ended job", "job", j.ID, "err", err)
			}
		}
	}
}

// forgetCleaned drops the marks of jobs the plan itself has forgotten
// (it keeps a bounded number of ended jobs), so the marks stay bounded too.
func (m *Mover) forgetCleaned(jobs []plan.Job) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cleaned) <= len(jobs) {
		return
	}
	known := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		known[j.ID] = true
	}
	for id := range m.cleaned {
		if !known[id] {
			delete(m.cleaned, id)
		}
	}
}

// volume returns this agent's volume of a name, or an error naming it.
func (m *Mover) volume(name string) (*volume.Volume, error) {
	v, ok := m.volumes[name]
	if !ok {
		return nil, fmt.Errorf("agent %s has no volume %q", m.name, name)
	}
	return v, nil
}

// sourcePath and targetPath place a manifest path under a job's directories.
func sourcePath(j plan.Job, rel string) string { return under(j.Spec.Source.Path, rel) }
func targetPath(j plan.Job, rel string) string { return under(j.Spec.Target.Path, rel) }

// under joins a manifest path to a job's directory without cleaning the
// result: path.Join would cancel "a/../../x" against the directory and let
// it out beside it, while left as it is the volume refuses any ".."
// (manifest.CleanRel). The plan refuses such paths before they are
// committed; this keeps a path that got there anyway inside the job.
func under(dir, rel string) string {
	if dir == "" || dir == "." {
		return rel
	}
	return dir + "/" + rel
}
