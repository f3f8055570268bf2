package mover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/internal/volume"
)

// An agent sends its reports to the leader as a group commit: a report
// that finds the reporter idle goes at once, and those that come while a
// send is under way, or within reportGap of its end, go together next.
// Each send is one Raft entry, so the log grows with time (at most one
// entry per reportGap per agent), not with chunks; and an agent whose
// last report of a phase (the last unit written, the last file
// finalized) comes while it is idle does not hold the job for a timer.
// reportEvery retries what no leader took.
const (
	reportGap      = 100 * time.Millisecond
	reportEvery    = 200 * time.Millisecond
	reportMaxItems = 4096 // per Raft entry
	reportTimeout  = 3 * time.Second
)

// reporter batches this agent's reports per job and sends them to the
// leader, keeping them (bounded) while no leader answers.
type reporter struct {
	leader Leader
	log    *slog.Logger
	kick   chan struct{}

	mu      sync.Mutex
	pending map[string]*plan.Progress
	items   int
	fullAt  map[string]time.Time // when a job's full volume was last reported
}

func newReporter(leader Leader, log *slog.Logger) *reporter {
	return &reporter{leader: leader, log: log, kick: make(chan struct{}, 1), pending: map[string]*plan.Progress{}, fullAt: map[string]time.Time{}}
}

func (r *reporter) add(job string, f func(p *plan.Progress)) {
	r.mu.Lock()
	p, ok := r.pending[job]
	if !ok {
		p = &plan.Progress{ID: job}
		r.pending[job] = p
	}
	f(p)
	r.items++
	r.mu.Unlock()
	r.flushSoon()
}

func (r *reporter) written(job string, u plan.UnitWritten) {
	r.add(job, func(p *plan.Progress) { p.Done = append(p.Done, u) })
}
func (r *reporter) failed(job string, u plan.UnitFail) {
	r.add(job, func(p *plan.Progress) { p.Failed = append(p.Failed, u) })
}
func (r *reporter) verified(job string, u plan.UnitVerify) {
	r.add(job, func(p *plan.Progress) { p.Verified = append(p.Verified, u) })
}
func (r *reporter) finalized(job string, f plan.FileResult) {
	r.add(job, func(p *plan.Progress) { p.Finalized = append(p.Finalized, f) })
}
func (r *reporter) changed(job string, f plan.FileChange) {
	r.add(job, func(p *plan.Progress) { p.Changed = append(p.Changed, f) })
}
func (r *reporter) vanished(job string, f plan.FileResult) {
	r.add(job, func(p *plan.Progress) { p.Vanished = append(p.Vanished, f) })
}
func (r *reporter) metaDone(job string) { r.add(job, func(p *plan.Progress) { p.MetaDone = true }) }

func (r *reporter) flushSoon() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// noSpace tells the leader (at most every 10 s per job) that a target
// volume is full, so it pauses the job with a reason an operator can act on.
func (r *reporter) noSpace(job plan.Job, agent string, v *volume.Volume) {
	r.mu.Lock()
	last := r.fullAt[job.ID]
	if time.Since(last) < 10*time.Second {
		r.mu.Unlock()
		return
	}
	r.fullAt[job.ID] = time.Now()
	r.mu.Unlock()
	free, _ := v.Available()
	needed := job.Stats.BytesTotal - job.Stats.BytesDone
	reason := fmt.Sprintf("target volume %s on %s is full: about %d more bytes needed, %d free; free space, then `leptonctl job resume %s`",
		job.Spec.Target.Volume, agent, needed, free, job.ID)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.leader.SetJobState(ctx, plan.JobStateChange{ID: job.ID, State: plan.JobPaused, Reason: reason}); err != nil {
			r.log.Warn("could not pause the job for a full volume", "job", job.ID, "err", err)
		}
	}()
	r.log.Warn("target volume full; pausing the job", "job", job.ID, "volume", job.Spec.Target.Volume)
}

func (r *reporter) run(ctx context.Context) {
	t := time.NewTicker(reportEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			r.flush(fctx)
			cancel()
			return
		case <-t.C:
		case <-r.kick:
		}
		r.flush(ctx)
		select { // the gap: what comes meanwhile goes in the next entry
		case <-ctx.Done():
		case <-time.After(reportGap):
		}
	}
}

// flush sends every job's pending reports; what the leader did not take
// is merged back for the next round.
func (r *reporter) flush(ctx context.Context) {
	r.mu.Lock()
	batch := r.pending
	r.pending = map[string]*plan.Progress{}
	r.items = 0
	r.mu.Unlock()
	for id, whole := range batch {
		for _, p := range split(whole, reportMaxItems) {
			// Short: a leader that just died would hold the reports until
			// the timeout; the next round finds the new one.
			cctx, cancel := context.WithTimeout(ctx, reportTimeout)
			err := r.leader.Report(cctx, p)
			cancel()
			if err == nil || errors.Is(err, ErrNoJob) || errors.Is(err, ErrRefused) {
				// Delivered, or the job is gone, or the plan gave the work
				// to another agent meanwhile: sending it again cannot help.
				continue
			}
			r.log.Debug("progress not delivered; keeping it", "job", id, "err", err)
			r.mu.Lock()
			if r.items < maxReportKeep {
				r.add0(id, p)
			}
			r.mu.Unlock()
		}
	}
}

// split cuts a batch into pieces of at most n items each, so one Raft
// entry stays small even after reports piled up while no leader answered.
func split(p *plan.Progress, n int) []*plan.Progress {
	if p.Count() <= n {
		return []*plan.Progress{p}
	}
	var out []*plan.Progress
	cur := &plan.Progress{ID: p.ID}
	room := n
	take := func(k int) int {
		k = min(k, room)
		room -= k
		return k
	}
	next := func() {
		out = append(out, cur)
		cur, room = &plan.Progress{ID: p.ID}, n
	}
	for len(p.Done)+len(p.Failed)+len(p.Verified)+len(p.Finalized)+len(p.Changed)+len(p.Vanished) > 0 {
		k := take(len(p.Done))
		cur.Done, p.Done = p.Done[:k], p.Done[k:]
		k = take(len(p.Failed))
		cur.Failed, p.Failed = p.Failed[:k], p.Failed[k:]
		k = take(len(p.Verified))
		cur.Verified, p.Verified = p.Verified[:k], p.Verified[k:]
		k = take(len(p.Finalized))
		cur.Finalized, p.Finalized = p.Finalized[:k], p.Finalized[k:]
		k = take(len(p.Changed))
		cur.Changed, p.Changed = p.Changed[:k], p.Changed[k:]
		k = take(len(p.Vanished))
		cur.Vanished, p.Vanished = p.Vanished[:k], p.Vanished[k:]
		next()
	}
	// MetaDone goes last, after every file report it depends on.
	out[len(out)-1].MetaDone = p.MetaDone
	return out
}

// add0 merges a batch back; r.mu is held.
func (r *reporter) add0(id string, b *plan.Progress) {
	p, ok := r.pending[id]
	if !ok {
		r.pending[id] = b
		r.items += b.Count()
		return
	}
	p.Done = append(p.Done, b.Done...)
	p.Failed = append(p.Failed, b.Failed...)
	p.Verified = append(p.Verified, b.Verified...)
	p.Finalized = append(p.Finalized, b.Finalized...)
	p.Changed = append(p.Changed, b.Changed...)
	p.Vanished = append(p.Vanished, b.Vanished...)
	p.MetaDone = p.MetaDone || b.MetaDone
	r.items += b.Count()
}
