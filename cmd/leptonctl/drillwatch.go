package main

import (
	"fmt"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
)

// drillWatch turns the watched agent's successive answers into the drill's
// measures. It does no I/O, so each rule below is plain to test.
type drillWatch struct {
	kind      string
	target    string
	oldLeader string
	termFirst uint64

	// Why a measure does not apply; "" when it does.
	detectNA, leaderNA, resumeNA string

	hasJob bool
	before api.Job // the job at the trigger
	job    api.Job // the job as last seen

	// baseline is the job's committed bytes up to the first sign of the
	// failure: a crashing agent lives on for a moment after it accepts,
	// and its last commits are not transfers that resumed.
	baseline  int64
	disrupted bool

	detect, leader, resumed *time.Duration
	detectedAs              string // failed or suspect
	newLeader               string
	rejoined                bool // the target was seen alive again after it was detected

	last        api.Status // the last answer
	answers     int
	pollErrors  int
	lastPollErr error
	jobMissing  bool
	notes       []string
}

// newDrillWatch prepares the measures of a drill of kind against target,
// from the cluster before the trigger and the job to watch.
func newDrillWatch(kind, target string, before api.Status, job api.Job, hasJob bool) *drillWatch {
	w := &drillWatch{
		kind: kind, target: target, oldLeader: before.Leader, termFirst: before.Term,
		hasJob: hasJob, before: job, job: job, baseline: job.BytesDone, last: before,
	}
	if kind == drillTransfer {
		w.detectNA = "graceful transfer: no agent fails"
	}
	if kind == drillKill && target != before.Leader {
		w.leaderNA = "leader unchanged: " + orNone(before.Leader)
	}
	switch {
	case !hasJob:
		w.resumeNA = "no job running"
	case job.State == api.JobVerifying:
		w.resumeNA = "the job was verifying: its transfers were done"
	case job.BytesTotal > 0 && job.BytesDone >= job.BytesTotal && job.State != api.JobScanning:
		w.resumeNA = "the job's transfers were done before the drill"
	}
	return w
}

// transferAnswered notes whom the leader named as its successor.
func (w *drillWatch) transferAnswered(tr api.LeaderTransfer) {
	if tr.To == "" {
		w.note(fmt.Sprintf("%s did not name a successor within its own bound; the drill polls for one", orNone(tr.From)))
		return
	}
	w.note(fmt.Sprintf("%s handed leadership to %s (term %d)", tr.From, tr.To, tr.Term))
}

// observe takes one answer of the watched agent, at elapsed since the trigger.
func (w *drillWatch) observe(st api.Status, elapsed time.Duration) {
	w.answers++
	w.last = st
	if m, ok := findMember(st, w.target); ok {
		switch {
		case m.Status == api.StatusFailed || m.Status == api.StatusSuspect:
			if w.detect == nil {
				w.detect, w.detectedAs = &elapsed, m.Status
			}
		case m.Status == api.StatusAlive && w.detect != nil:
			w.rejoined = true
		}
	}
	if st.Leader != "" && st.Leader != w.oldLeader && w.leader == nil {
		w.leader, w.newLeader = &elapsed, st.Leader
	}
	if j, ok := findJob(st, w.before.ID); w.hasJob && ok {
		w.job = j
		if !w.disrupted {
			w.baseline = max(w.baseline, j.BytesDone)
		} else if w.resumeNA == "" && w.resumed == nil && j.BytesDone > w.baseline {
			w.resumed = &elapsed
		}
	} else if w.hasJob {
		w.jobMissing = true
	}
	// The failure shows: the target is detected or, when the leader is the
	// one to go, the watched agent has lost or changed it. Later rises of the job's bytes are
	// transfers that resumed.
	if w.detect != nil || (w.leaderNA == "" && st.Leader != w.oldLeader) {
		w.disrupted = true
	}
}

// pollFailed counts a poll that got no answer.
func (w *drillWatch) pollFailed(err error) {
	w.pollErrors++
	w.lastPollErr = err
}

// jobSettled reports whether the job can no longer resume: it has ended.
func (w *drillWatch) jobSettled() bool {
	return w.hasJob && jobEnded(w.job.State)
}

// missing lists the measures that apply and were not seen, as sentences.
func (w *drillWatch) missing() []string {
	var out []string
	if w.detectNA == "" && w.detect == nil {
		out = append(out, fmt.Sprintf("%s was never shown failed or suspect (did it restart before gossip noticed?)", w.target))
	}
	if w.leaderNA == "" && w.leader == nil {
		out = append(out, fmt.Sprintf("no leader other than %s was seen", orNone(w.oldLeader)))
	}
	if w.resumeNA == "" && w.resumed == nil && !w.jobSettled() {
		out = append(out, fmt.Sprintf("the job's transfers did not resume (bytes done stayed at %s)", humanBytes(w.job.BytesDone)))
	}
	return out
}

// complete reports whether every measure that applies was seen.
func (w *drillWatch) complete() bool { return len(w.missing()) == 0 }

func (w *drillWatch) note(s string) { w.notes = append(w.notes, s) }

func findMember(st api.Status, name string) (api.Member, bool) {
	for _, m := range st.Members {
		if m.Name == name {
			return m, true
		}
	}
	return api.Member{}, false
}

func findJob(st api.Status, id string) (api.Job, bool) {
	for _, j := range st.Jobs {
		if j.ID == id {
			return j, true
		}
	}
	return api.Job{}, false
}
