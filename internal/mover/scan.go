package mover

import (
	"context"
	"errors"
	"time"

	"github.com/leptonmesh/lepton/internal/manifest"
	"github.com/leptonmesh/lepton/internal/plan"
)

// Manifest batches: thousands of entries per Raft entry, well under 1 MiB.
const (
	manifestBatchEntries = 2000
	manifestBatchBytes   = 512 << 10
)

// errScanStopped ends a walk whose job ended or moved to another scanner.
var errScanStopped = errors.New("scan stopped")

// scan walks a job's source tree and sends the manifest to the leader in
// batches. Batch boundaries are deterministic (the walk is in lexical
// order), so a scan restarted after a crash skips the batches already
// committed.
func (m *Mover) scan(ctx context.Context, j plan.Job) {
	log := m.log.With("job", j.ID)
	v, err := m.volume(j.Spec.Source.Volume)
	if err != nil {
		m.failJob(ctx, j.ID, err.Error())
		return
	}
	skip := m.fsm.ManifestSeq(j.ID)
	match := j.Spec.Matcher()
	var batch []manifest.Entry
	size, seq := 0, 0
	flush := func(final bool) error {
		if cur, ok := m.fsm.Job(j.ID); !ok || cur.State.Ended() || cur.Scanner != m.name {
			return errScanStopped
		}
		if seq >= skip {
			b := plan.Manifest{ID: j.ID, Seq: seq, Entries: batch, Final: final}
			rogueManifest(&b)
			if err := m.sendManifest(ctx, b); err != nil {
				return err
			}
		}
		seq++
		batch, size = batch[:0], 0
		return nil
	}
	started := time.Now()
	total := 0
	err = v.Walk(ctx, j.Spec.Source.Path, match.Match, func(e manifest.Entry) error {
		batch = append(batch, e)
		size += len(e.Path) + len(e.Target) + len(e.LinkOf) + 64 + 32*len(e.Data)
		total++
		if len(batch) >= manifestBatchEntries || size >= manifestBatchBytes {
			return flush(false)
		}
		return nil
	})
	if err == nil {
		err = flush(true)
	}
	if errors.Is(err, errScanStopped) {
		log.Info("scan stopped: the job ended or another agent scans it now")
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("scan failed", "err", err)
			m.failJob(ctx, j.ID, "scan of "+j.Spec.Source.Volume+" on "+m.name+" failed: "+err.Error())
		}
		return
	}
	log.Info("scan done", "entries", total, "batches", seq, "took", time.Since(started).Round(time.Millisecond))
}

// sendManifest delivers one batch to the leader, retrying (bounded) while
// there is no leader or it changes.
func (m *Mover) sendManifest(ctx context.Context, b plan.Manifest) error {
	var err error
	for attempt := range 30 {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = m.leader.SendManifest(cctx, b)
		cancel()
		if err == nil || ctx.Err() != nil || errors.Is(err, ErrRefused) {
			return err
		}
		m.log.Debug("manifest batch not accepted yet", "job", b.ID, "seq", b.Seq, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return err
}

// failJob asks the leader to fail a job with a reason.
func (m *Mover) failJob(ctx context.Context, id, reason string) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := m.leader.SetJobState(cctx, plan.JobStateChange{ID: id, State: plan.JobFailed, Reason: reason}); err != nil {
		m.log.Warn("could not fail the job", "job", id, "reason", reason, "err", err)
	}
}
