package scheduler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/plan"
)

// scheduleEvery is how often the leader looks for jobs to assign or
// re-assign; plan changes wake it earlier.
const scheduleEvery = 500 * time.Millisecond

// Run is the leader's job loop, run by the cluster's leadership loop while
// this agent leads (cluster.Config.LeaderWork) and stopped when it no
// longer does: once a manifest is complete it assigns the units over the
// live source and target agents, and whenever those change it re-assigns
// what is not yet written.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(scheduleEvery)
	defer t.Stop()
	fsm := s.fsm
	for {
		changed := fsm.Changed()
		for _, j := range fsm.Jobs() {
			if ctx.Err() != nil {
				return
			}
			s.scheduleJob(j)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-t.C:
		}
	}
}

func (s *Scheduler) scheduleJob(j plan.Job) {
	if j.State == plan.JobScanning && !j.Scanned {
		s.keepScanning(j) // and assign what is scanned so far: data moves during the scan
	}
	if j.State != plan.JobRunning && j.State != plan.JobScanning && j.State != plan.JobVerifying {
		return
	}
	// A shared volume may have gained agents since the job was submitted
	// (registered late, or added to scale out): take them in.
	sources, targets := s.sharedHolders(j.Spec.Source, "source", j.Sources), s.sharedHolders(j.Spec.Target, "target", j.Targets)
	grown := !slices.Equal(sources, j.Sources) || !slices.Equal(targets, j.Targets)
	senders, receivers := s.alive(sources), s.alive(targets)
	switch {
	case len(senders) == 0:
		s.note(j, fmt.Sprintf("waiting: no live source agent holds volume %s (%s down)", j.Spec.Source.Volume, strings.Join(j.Sources, ", ")))
		return
	case len(receivers) == 0:
		s.note(j, fmt.Sprintf("waiting: no live target agent holds volume %s (%s down)", j.Spec.Target.Volume, strings.Join(j.Targets, ", ")))
		return
	}
	// Verifying jobs are re-assigned too: a failed receiver's units are
	// then verified by a live one.
	if !grown && slices.Equal(senders, j.Senders) && slices.Equal(receivers, j.Receivers) {
		return
	}
	c := plan.Assign{ID: j.ID, Senders: senders, Receivers: receivers, Time: time.Now().UnixNano()}
	if grown {
		c.Sources, c.Targets = sources, targets
	}
	if err := s.apply(plan.CmdAssign, c); err != nil {
		s.log.Warn("assign units", "job", j.ID, "err", err)
		return
	}
	s.log.Info("assigned units", "job", j.ID, "senders", senders, "receivers", receivers)
}

// keepScanning hands a scan whose scanner failed to a live source agent;
// the new scanner skips the batches already committed.
func (s *Scheduler) keepScanning(j plan.Job) {
	live := s.alive(j.Sources)
	if slices.Contains(live, j.Scanner) {
		return
	}
	if len(live) == 0 {
		s.note(j, fmt.Sprintf("waiting: no live source agent holds volume %s to scan it (%s down)", j.Spec.Source.Volume, strings.Join(j.Sources, ", ")))
		return
	}
	next := pick(live, j.ID)
	if err := s.apply(plan.CmdScanner, plan.Scanner{ID: j.ID, Scanner: next, Time: time.Now().UnixNano()}); err != nil {
		s.log.Warn("hand the scan over", "job", j.ID, "err", err)
		return
	}
	s.note(j, "")
	s.log.Info("scan handed over", "job", j.ID, "from", j.Scanner, "to", next)
}

// note records why a job is waiting, once per change of reason.
func (s *Scheduler) note(j plan.Job, reason string) {
	if j.Reason == reason {
		return
	}
	if err := s.apply(plan.CmdNote, plan.Note{ID: j.ID, Reason: reason, Time: time.Now().UnixNano()}); err != nil {
		s.log.Warn("note why a job waits", "job", j.ID, "err", err)
	}
}

// sharedHolders returns the agents now holding a job's shared volume (a
// superset of have), or have itself for a local volume.
func (s *Scheduler) sharedHolders(ep jobspec.Endpoint, side string, have []string) []string {
	if ep.Agent != "" {
		return have
	}
	now, err := holders(s.fsm.Nodes(), side, ep)
	if err != nil || len(now) <= len(have) {
		return have
	}
	for _, h := range have {
		if !slices.Contains(now, h) {
			return have // not a superset: leave the job's agents alone
		}
	}
	return now
}
