package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
)

// drillReport is what a drill found. Its JSON keys are a contract for
// scripts, listed in "leptonctl drill --help": add keys, never rename them.
type drillReport struct {
	Drill          string         `json:"drill"`
	Target         string         `json:"target"`
	Polled         string         `json:"polled"`
	PolledAddr     string         `json:"polled_addr"`
	OldLeader      string         `json:"old_leader"`
	NewLeader      string         `json:"new_leader"`
	TermBefore     uint64         `json:"term_before"`
	TermAfter      uint64         `json:"term_after"`
	DetectMS       *int64         `json:"detect_ms"`
	NewLeaderMS    *int64         `json:"new_leader_ms"`
	ResumedMS      *int64         `json:"resumed_ms"`
	JobID          string         `json:"job_id"`
	ProgressBefore *drillProgress `json:"progress_before"`
	ProgressAfter  *drillProgress `json:"progress_after"`
	BytesResent    int64          `json:"bytes_resent"`
	ResentShare    float64        `json:"resent_share"`
	OnTrack        bool           `json:"on_track"`
	Completed      bool           `json:"completed"`
	Notes          []string       `json:"notes"`

	// For the text view: why a measure does not apply ("" when it does),
	// how the target was detected, the job's title, why it is off track.
	detectNA, leaderNA, resumeNA string
	detectedAs                   string
	jobTitle                     string
	offTrack                     string
}

// drillProgress is a job's progress at one moment of the drill.
type drillProgress struct {
	State      string `json:"state"`
	BytesDone  int64  `json:"bytes_done"`
	BytesTotal int64  `json:"bytes_total"`
}

func progressOf(j api.Job) *drillProgress {
	return &drillProgress{State: j.State, BytesDone: j.BytesDone, BytesTotal: j.BytesTotal}
}

// report builds the drill's report: watch is the agent polled, addr the
// URL --addr named.
func (w *drillWatch) report(watch watcher, addr string) *drillReport {
	r := &drillReport{
		Drill: w.kind, Target: w.target, Polled: watch.name, PolledAddr: watch.client.Addr(),
		OldLeader: w.oldLeader, NewLeader: w.newLeader, TermBefore: w.termFirst, TermAfter: w.last.Term,
		DetectMS: millis(w.detect), NewLeaderMS: millis(w.leader), ResumedMS: millis(w.resumed),
		Completed: w.complete(), Notes: []string{},
		detectNA: w.detectNA, leaderNA: w.leaderNA, resumeNA: w.resumeNA, detectedAs: w.detectedAs,
	}
	if watch.client.Addr() != addr {
		r.note("watched from %s because the agent at --addr is the one crashed", watch.name)
	}
	r.Notes = append(r.Notes, w.notes...)
	switch {
	case w.leaderNA != "" && w.newLeader != "":
		r.leaderNA = "the drill did not crash the leader"
		r.note("the leader changed from %s to %s although the drill did not crash it", orNone(w.oldLeader), w.newLeader)
	case w.leaderNA != "":
		r.note("%s", w.leaderNA)
	}
	if w.rejoined {
		r.note("%s was seen %s, then alive again: it restarted and rejoined", w.target, w.detectedAs)
	}
	if w.hasJob {
		j := w.job
		r.JobID, r.jobTitle = j.ID, jobTitle(j)
		r.ProgressBefore, r.ProgressAfter = progressOf(w.before), progressOf(j)
		r.BytesResent = max(j.BytesResent-w.before.BytesResent, 0)
		if j.BytesTotal > 0 {
			r.ResentShare = float64(r.BytesResent) / float64(j.BytesTotal)
		}
		if w.resumeNA != "" {
			r.note("transfers resumed: n/a, %s", w.resumeNA)
		} else if w.resumed == nil && w.jobSettled() {
			r.note("job %s ended (%s) before its transfers were seen to resume", j.ID, j.State)
		}
		if w.jobMissing {
			r.note("job %s was missing from some answers of %s", j.ID, watch.name)
		}
	} else {
		r.note("no job running: the drill measured the cluster only")
	}
	r.OnTrack, r.offTrack = w.onTrack()
	if !r.OnTrack {
		r.note("not on track: %s", r.offTrack)
	}
	if w.pollErrors > 0 {
		r.note("%d of %d polls of %s got no answer (last: %v); the drill polled on", w.pollErrors, w.pollErrors+w.answers, watch.name, w.lastPollErr)
	}
	for _, m := range w.missing() {
		r.note("did not happen: %s", m)
	}
	return r
}

func (r *drillReport) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// onTrack reports whether the job is still in progress or done and moved on
// during the drill (its transfers resumed, where they had to); why says
// what is wrong when it is not.
func (w *drillWatch) onTrack() (ok bool, why string) {
	if !w.hasJob {
		return true, ""
	}
	j := w.job
	switch j.State {
	case api.JobFailed, api.JobPaused, api.JobCancelled:
		why = fmt.Sprintf("job %s is %s", jobTitle(j), j.State)
		if j.Reason != "" {
			why += ": " + j.Reason
		}
		return false, why
	}
	if w.resumeNA == "" && w.resumed == nil && j.State != api.JobDone {
		return false, fmt.Sprintf("job %s: transfers have not resumed since the failure (%s of %s done)", jobTitle(j), humanBytes(j.BytesDone), humanBytes(j.BytesTotal))
	}
	if !advanced(w.before, j) {
		return false, fmt.Sprintf("job %s made no progress during the drill (%s of %s done)", jobTitle(j), humanBytes(j.BytesDone), humanBytes(j.BytesTotal))
	}
	return true, ""
}

// advanced reports whether a job moved on from before to after: more bytes
// or files in, more chunks verified, more files found, or a later state.
func advanced(before, after api.Job) bool {
	return after.BytesDone > before.BytesDone || after.FilesDone > before.FilesDone ||
		after.UnitsVerified > before.UnitsVerified || after.FilesTotal > before.FilesTotal ||
		stateRank(after.State) > stateRank(before.State)
}

// stateRank orders the states a job goes through on its way to done.
func stateRank(state string) int {
	switch state {
	case api.JobPending:
		return 0
	case api.JobScanning:
		return 1
	case api.JobRunning:
		return 2
	case api.JobVerifying:
		return 3
	case api.JobDone:
		return 4
	}
	return -1
}

// drillVerdict is the drill's result for the exit status: nil when it
// completed and the job is on track.
func drillVerdict(r *drillReport, w *drillWatch, timeout time.Duration, interrupted bool) error {
	if !r.Completed {
		what := strings.Join(w.missing(), "; ")
		if interrupted {
			return fmt.Errorf("drill %s interrupted before it completed: %s", r.Drill, what)
		}
		return fmt.Errorf("drill %s did not complete within %s: %s", r.Drill, timeout, what)
	}
	if !r.OnTrack {
		return fmt.Errorf("drill %s completed, but the job is not on track: %s", r.Drill, r.offTrack)
	}
	return nil
}

func millis(d *time.Duration) *int64 {
	if d == nil {
		return nil
	}
	ms := d.Milliseconds()
	return &ms
}

// printDrillReport writes the report as JSON, or as "Key:  value" lines
// followed by the notes.
func printDrillReport(w io.Writer, r *drillReport, asJSON bool) error {
	if asJSON {
		return printJSON(w, r)
	}
	kv := newFields(w)
	action := r.Target + " crashed (SIGKILL)"
	if r.Drill == drillTransfer {
		action = r.Target + " handed leadership over"
	}
	kv.row("Drill:", r.Drill+", "+action)
	kv.row("Watched from:", r.Polled+" ("+r.PolledAddr+")")
	if r.NewLeader != "" {
		kv.row("Leader:", fmt.Sprintf("%s → %s, term %d → %d", orNone(r.OldLeader), r.NewLeader, r.TermBefore, r.TermAfter))
	} else {
		kv.row("Leader:", fmt.Sprintf("%s, term %d", orNone(r.OldLeader), r.TermAfter))
	}
	detected := ""
	if r.detectedAs != "" {
		detected = fmt.Sprintf(" (%s %s on %s)", r.Target, r.detectedAs, r.Polled)
	}
	kv.row("Detected:", measureCell(r.DetectMS, r.detectNA, detected))
	kv.row("New leader:", measureCell(r.NewLeaderMS, r.leaderNA, " ("+r.NewLeader+")"))
	kv.row("Transfers resumed:", measureCell(r.ResumedMS, r.resumeNA, ""))
	if r.JobID == "" {
		kv.row("Job:", "no job running")
		kv.row("On track:", "yes (no job running)")
	} else {
		kv.row("Job:", r.jobTitle)
		kv.row("Progress:", progressCell(r.ProgressBefore)+" → "+progressCell(r.ProgressAfter))
		kv.row("Bytes sent again:", fmt.Sprintf("%s (%.2f%% of the job)", humanBytes(r.BytesResent), r.ResentShare*100))
		if r.OnTrack {
			kv.row("On track:", "yes")
		} else {
			kv.row("On track:", "no: "+r.offTrack)
		}
	}
	if err := kv.flush(); err != nil {
		return err
	}
	if len(r.Notes) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("Notes:\n")
	for _, n := range r.Notes {
		b.WriteString("  - " + n + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// measureCell writes a measured time, "n/a (why)" for a measure that does
// not apply, or "not seen".
func measureCell(ms *int64, na, detail string) string {
	switch {
	case na != "":
		return "n/a (" + na + ")"
	case ms == nil:
		return "not seen"
	}
	return (time.Duration(*ms) * time.Millisecond).String() + detail
}

// progressCell writes "1.0 MiB of 4.0 MiB (25.0%, running)".
func progressCell(p *drillProgress) string {
	if p == nil {
		return "-"
	}
	pct := percentCell(api.Job{State: p.State, BytesDone: p.BytesDone, BytesTotal: p.BytesTotal})
	return fmt.Sprintf("%s of %s (%s, %s)", humanBytes(p.BytesDone), humanBytes(p.BytesTotal), pct, p.State)
}
