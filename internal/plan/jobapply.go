package plan

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/leptonmesh/lepton/internal/manifest"
	"github.com/leptonmesh/lepton/ring"
)

// JobRecord is everything the plan holds about one job.
type JobRecord struct {
	Job   Job    `json:"job"`
	Files []File `json:"files"`
	Units []Unit `json:"units"`
	Seq   int    `json:"seq"` // next manifest batch expected

	// Archive replaces Files and Units once the job ended (archive.go).
	Archive *FileArchive `json:"archive,omitempty"`

	// settledFrom is a hint, never state: every file before it is settled
	// (see settled). It only saves rescanning a long settled prefix on each
	// plan change; zero (as after a restore) is always correct.
	settledFrom int
}

// settled reports whether a file's data needs nothing more: it carries
// none, or it is done, failed or skipped, states it never leaves.
func settled(f *File) bool { return !f.NeedsData() || f.State >= FileDone }

// advanceSettled moves settledFrom past the files settled since.
func (r *JobRecord) advanceSettled() {
	for r.settledFrom < len(r.Files) && settled(&r.Files[r.settledFrom]) {
		r.settledFrom++
	}
}

func (f *FSM) applyJob(t CommandType, body []byte) error {
	var r *JobRecord // the job the command changed, if any
	defer func() {
		if r != nil && r.Job.State.Ended() && r.Archive == nil {
			f.state.retire(r)
		}
	}()
	switch t {
	case CmdJobSubmit:
		var j Job
		if err := json.Unmarshal(body, &j); err != nil {
			return fmt.Errorf("apply job-submit: %w", err)
		}
		if _, ok := f.state.Jobs[j.ID]; ok {
			return fmt.Errorf("job %s exists", j.ID)
		}
		j.Updated = j.Created
		f.state.Jobs[j.ID] = &JobRecord{Job: j}
	case CmdJobState:
		var c JobStateChange
		if err := json.Unmarshal(body, &c); err != nil {
			return fmt.Errorf("apply job-state: %w", err)
		}
		var ok bool
		if r, ok = f.state.Jobs[c.ID]; !ok {
			return fmt.Errorf("no job %s", c.ID)
		}
		return r.setState(c.State, c.Reason, c.Time)
	case CmdManifest:
		var c Manifest
		if err := json.Unmarshal(body, &c); err != nil {
			return fmt.Errorf("apply manifest: %w", err)
		}
		if r = f.state.Jobs[c.ID]; r != nil && !r.Job.State.Ended() {
			r.addManifest(c)
		}
	case CmdAssign:
		var c Assign
		if err := json.Unmarshal(body, &c); err != nil {
			return fmt.Errorf("apply assign: %w", err)
		}
		if r = f.state.Jobs[c.ID]; r != nil && !r.Job.State.Ended() {
			return r.assign(c)
		}
	case CmdProgress:
		var c Progress
		if err := json.Unmarshal(body, &c); err != nil {
			return fmt.Errorf("apply progress: %w", err)
		}
		if r = f.state.Jobs[c.ID]; r != nil && !r.Job.State.Ended() {
			r.progress(c)
		}
	case CmdScanner:
		var c Scanner
		if err := json.Unmarshal(body, &c); err != nil {
			return fmt.Errorf("apply scanner: %w", err)
		}
		if r, ok := f.state.Jobs[c.ID]; ok && !r.Job.Scanned {
			r.Job.Scanner, r.Job.Updated = c.Scanner, c.Time
		}
	case CmdNote:
		var c Note
		if err := json.Unmarshal(body, &c); err != nil {
			return fmt.Errorf("apply note: %w", err)
		}
		if r, ok := f.state.Jobs[c.ID]; ok && !r.Job.State.Ended() {
			r.Job.Reason, r.Job.Updated = c.Reason, c.Time
		}
	default:
		panic(fmt.Sprintf("plan: unknown command type %d; this agent is older than the leader, upgrade it", t))
	}
	return nil
}

// setState applies an operator's or the leader's state change.
func (r *JobRecord) setState(to JobState, reason string, now int64) error {
	j := &r.Job
	if j.State.Ended() {
		return fmt.Errorf("job %s already ended (%s)", j.ID, j.State)
	}
	switch to {
	case JobPaused:
		if j.State != JobPaused {
			j.Resume = j.State
		}
	case JobRunning: // resume
		if j.State == JobPaused {
			to = j.Resume
			j.Resume = ""
		}
	}
	j.State, j.Reason, j.Updated = to, reason, now
	if to.Ended() {
		j.Ended = now
	}
	return nil
}

func (r *JobRecord) addManifest(c Manifest) {
	if c.Seq != r.Seq || r.Job.Scanned {
		return // a retried batch already applied
	}
	r.Seq++
	j := &r.Job
	idx := make([]uint64, 0, len(c.Entries))
	for _, e := range c.Entries {
		f := File{Entry: e}
		keepValidData(&f.Entry)
		if e.Skip != "" {
			f.State, f.Reason = FileSkipped, e.Skip
			j.Stats.FilesSkipped++
		}
		if f.NeedsData() {
			j.Stats.BytesTotal += f.DataSize()
		}
		idx = append(idx, uint64(len(r.Files)))
		r.Files = append(r.Files, f)
	}
	j.Stats.FilesTotal += int64(len(c.Entries))
	units := planUnits(r.Files, idx, int64(j.Spec.ChunkSize), uint64(len(r.Units)))
	first := len(r.Units)
	r.Units = append(r.Units, units...)
	j.Stats.UnitsTotal += int64(len(units))
	// Once the leader has named the live senders and receivers, a batch's
	// units go to them at once: data moves while the scan goes on.
	if len(j.Senders) > 0 && len(j.Receivers) > 0 {
		_ = r.spreadUnits(first, j.Senders, j.Receivers) // members were checked when assigned
	}
	if c.Final {
		j.Scanned = true
		if j.State == JobScanning && len(j.Senders) > 0 && len(j.Receivers) > 0 {
			j.State, j.Reason = JobRunning, ""
		}
	}
	j.Updated = c.Time
}

// keepValidData drops a file's data map when it does not pass CheckData
// (the leader refuses such manifests; this keeps a replica safe from one
// that got through): the file is then planned by its size, as a dense one.
func keepValidData(e *manifest.Entry) {
	if e.CheckData() != nil {
		e.Data = nil
	}
}

// assign spreads every pending unit over the given agents with the ring
// (bounded loads, weighted by bytes). Deterministic, so every replica agrees.
func (r *JobRecord) assign(c Assign) error {
	r.Job.Senders, r.Job.Receivers, r.Job.Updated = c.Senders, c.Receivers, c.Time
	if len(c.Sources) > 0 {
		r.Job.Sources = c.Sources
	}
	if len(c.Targets) > 0 {
		r.Job.Targets = c.Targets
	}
	if r.Job.State == JobScanning && r.Job.Scanned {
		r.Job.State = JobRunning
	}
	if r.Job.State == JobRunning || r.Job.State == JobScanning {
		r.Job.Reason = "" // it is no longer waiting for agents
	}
	if err := r.spreadUnits(0, c.Senders, c.Receivers); err != nil {
		return err
	}
	r.maybeFinish(c.Time)
	return nil
}

// spreadUnits spreads the pending units from index from over senders and
// receivers with the ring (bounded loads, weighted by bytes).
func (r *JobRecord) spreadUnits(from int, senders, receivers []string) error {
	var pending []int
	for i := from; i < len(r.Units); i++ {
		if r.Units[i].State == UnitPending {
			pending = append(pending, i)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	keys := make([]uint64, len(pending))
	weights := make([]int64, len(pending))
	for k, i := range pending {
		keys[k], weights[k] = r.Units[i].Key, max(r.Units[i].Bytes, 1)
	}
	bySender, err := spread(senders, keys, weights)
	if err != nil {
		return fmt.Errorf("assign senders of %s: %w", r.Job.ID, err)
	}
	byReceiver, err := spread(receivers, keys, weights)
	if err != nil {
		return fmt.Errorf("assign receivers of %s: %w", r.Job.ID, err)
	}
	for k, i := range pending {
		r.Units[i].Sender, r.Units[i].Receiver = bySender[k], byReceiver[k]
	}
	return nil
}

func spread(members []string, keys []uint64, weights []int64) ([]string, error) {
	rg, err := ring.New(members)
	if err != nil {
		return nil, err
	}
	return rg.AssignBounded(keys, weights, ring.DefaultLoadFactor)
}

// progress applies a batch of agent reports.
func (r *JobRecord) progress(c Progress) {
	j := &r.Job
	for _, d := range c.Done {
		u := r.unit(d.Unit)
		if u == nil {
			continue
		}
		if u.State != UnitPending {
			if d.Write == 0 || d.Write != u.Write {
				j.Stats.BytesResent += u.Bytes // written again after a lost report or ack
			}
			continue // a report delivered twice changes nothing
		}
		u.State, u.Hash, u.Write = UnitDone, d.Hash, d.Write
		j.Stats.UnitsDone++
		j.Stats.BytesDone += u.Bytes
		j.Stats.WireBytes += d.WireBytes
		if j.Pairs == nil {
			j.Pairs = map[string]PairStats{}
		}
		key := d.Sender + ">" + d.Receiver
		p := j.Pairs[key]
		p.Sender, p.Receiver = d.Sender, d.Receiver
		p.Bytes += u.Bytes
		p.WireBytes += d.WireBytes
		p.Units++
		j.Pairs[key] = p
		for _, part := range u.Parts {
			f := &r.Files[part.File]
			if f.State == FilePending && f.UnitsLeft > 0 {
				f.UnitsLeft--
				if f.UnitsLeft == 0 {
					f.State = FileReady
				}
			}
			if f.State == FileFailed || f.State == FileSkipped {
				r.checkedUnread(u)
			}
		}
		r.placed(u, d.Placed)
		if d.ReadBack && j.Spec.Verify && r.allDone(u) {
			r.countVerified(u)
		}
	}
	for _, fl := range c.Failed {
		u := r.unit(fl.Unit)
		if u == nil || u.State != UnitPending {
			continue
		}
		u.Attempts++
		j.Stats.Retries++
		j.Stats.BytesResent += u.Bytes
		for _, part := range u.Parts {
			r.Files[part.File].Retries++
		}
		if fl.Fatal || u.Attempts >= MaxUnitAttempts {
			u.State = UnitFailed
			for _, part := range u.Parts {
				r.failFile(part.File, fmt.Sprintf("gave up after %d attempts: %s", u.Attempts, fl.Reason))
			}
		}
	}
	for _, ch := range c.Changed {
		r.replan(ch, c.Time)
	}
	for _, v := range c.Vanished {
		if int(v.File) < len(r.Files) && r.Files[v.File].State < FileDone {
			f := &r.Files[v.File]
			r.dropFromUnits(v.File)
			f.State, f.Reason = FileSkipped, v.Reason
			j.Stats.FilesSkipped++
		}
	}
	for _, fr := range c.Finalized {
		if int(fr.File) >= len(r.Files) {
			continue
		}
		f := &r.Files[fr.File]
		if f.State == FileDone || f.State == FileFailed || f.State == FileSkipped {
			continue
		}
		if fr.OK {
			f.State = FileDone
			j.Stats.FilesDone++
		} else {
			r.failFile(fr.File, fr.Reason)
		}
	}
	for _, v := range c.Verified {
		u := r.unit(v.Unit)
		if u == nil || u.State != UnitDone || u.Verified {
			continue
		}
		u.Verified = true
		j.Stats.UnitsVerified++
		if !v.OK {
			for _, part := range u.Parts {
				r.failFile(part.File, "verification failed: "+v.Reason)
			}
		}
	}
	if c.MetaDone {
		j.MetaDone = true
	}
	j.Updated = c.Time
	r.advanceSettled()
	r.maybeFinish(c.Time)
}

// placed marks done the files a receiver put in place as it wrote unit u,
// listed in the order of u's parts: only files whole in u, now ready. A
// claim out of order or for a file not in u ends the list.
func (r *JobRecord) placed(u *Unit, files []uint64) {
	part := 0
	for _, idx := range files {
		for part < len(u.Parts) && u.Parts[part].File != idx {
			part++
		}
		if part == len(u.Parts) {
			return
		}
		f := &r.Files[idx]
		if f.State == FileReady && f.Units == 1 && f.FirstUnit == u.ID {
			f.State = FileDone
			r.Job.Stats.FilesDone++
		}
	}
}

// allDone says whether every file of u is done: in place, as a receiver
// that read u back claims.
func (r *JobRecord) allDone(u *Unit) bool {
	for _, p := range u.Parts {
		if r.Files[p.File].State != FileDone {
			return false
		}
	}
	return true
}

func (r *JobRecord) unit(id uint64) *Unit {
	if id >= uint64(len(r.Units)) {
		return nil
	}
	return &r.Units[id]
}

// failFile gives a file up, counting it once.
func (r *JobRecord) failFile(idx uint64, reason string) {
	f := &r.Files[idx]
	switch f.State {
	case FileFailed, FileSkipped:
		return
	case FileDone:
		r.Job.Stats.FilesDone--
	}
	f.State, f.Reason = FileFailed, reason
	r.Job.Stats.FilesFailed++
	r.Job.Stats.Errors++
	// Its units are planned consecutively from FirstUnit.
	for id := f.FirstUnit; id < f.FirstUnit+uint64(max(f.Units, 0)) && id < uint64(len(r.Units)); id++ {
		r.checkedUnread(&r.Units[id])
	}
}

// checkedUnread counts a written unit as checked without re-reading it,
// because one of its files failed, vanished or changed after the unit was
// written: its bytes are not what the target must hold, so re-reading it
// proves nothing (its other files go unverified). Without this a job that
// verifies would wait in verifying for ever for a unit no one re-reads.
func (r *JobRecord) checkedUnread(u *Unit) { r.countVerified(u) }

// countVerified marks a written unit verified, counting it once.
func (r *JobRecord) countVerified(u *Unit) {
	if u.State == UnitDone && !u.Verified {
		u.Verified = true
		r.Job.Stats.UnitsVerified++
	}
}

// dropFromUnits removes a file's parts from every pending unit, and counts
// every written unit holding it as checked (checkedUnread); a pending unit
// left with no parts becomes obsolete.
func (r *JobRecord) dropFromUnits(idx uint64) {
	for i := range r.Units {
		u := &r.Units[i]
		if u.State == UnitDone && !u.Verified && slices.ContainsFunc(u.Parts, func(p Part) bool { return p.File == idx }) {
			r.checkedUnread(u)
		}
		if u.State != UnitPending {
			continue
		}
		kept := u.Parts[:0]
		for _, p := range u.Parts {
			if p.File == idx {
				u.Bytes -= partBytes(&r.Files[idx].Entry, p)
				continue
			}
			kept = append(kept, p)
		}
		u.Parts = kept
		if len(kept) == 0 {
			u.State = UnitObsolete
		}
	}
}

// replan handles a file that changed while it was read: its old units are
// dropped and it is cut into new ones, sent again; after MaxFileChanges it fails.
func (r *JobRecord) replan(ch FileChange, now int64) {
	if int(ch.File) >= len(r.Files) {
		return
	}
	f := &r.Files[ch.File]
	if f.State != FilePending && f.State != FileReady {
		return
	}
	if !manifest.Changed(f.Entry, ch.Entry) {
		return // several units of the file saw the same change; it is re-planned already
	}
	r.dropFromUnits(ch.File)
	r.settledFrom = min(r.settledFrom, int(ch.File)) // it may need data now
	j := &r.Job
	if f.NeedsData() {
		j.Stats.BytesTotal -= f.DataSize()
	}
	f.Changed++
	f.Entry = ch.Entry
	keepValidData(&f.Entry)
	f.Units, f.UnitsLeft, f.FirstUnit = 0, 0, 0
	if f.Changed > MaxFileChanges {
		r.failFile(ch.File, fmt.Sprintf("changed %d times while being read; copy it once it is quiet", f.Changed))
		return
	}
	if ch.Entry.Skip != "" {
		f.State, f.Reason = FileSkipped, ch.Entry.Skip
		j.Stats.FilesSkipped++
		return
	}
	f.State = FilePending
	if f.NeedsData() {
		j.Stats.BytesTotal += f.DataSize()
	}
	units := planUnits(r.Files, []uint64{ch.File}, int64(j.Spec.ChunkSize), uint64(len(r.Units)))
	if len(units) == 0 {
		f.State = FileReady
	}
	r.Units = append(r.Units, units...)
	j.Stats.UnitsTotal += int64(len(units))
	if len(units) > 0 && len(j.Senders) > 0 {
		_ = r.assign(Assign{ID: j.ID, Senders: j.Senders, Receivers: j.Receivers, Time: now})
	}
}

// maybeFinish moves a running job to verifying or its end once every file
// is settled, and a verifying job to its end once every unit is verified.
func (r *JobRecord) maybeFinish(now int64) {
	j := &r.Job
	switch j.State {
	case JobRunning:
		if !j.Scanned || !j.MetaDone || !r.filesSettled() {
			return
		}
		if j.Spec.Verify && j.Stats.UnitsVerified < j.Stats.UnitsDone {
			j.State = JobVerifying
			return
		}
	case JobVerifying:
		if j.Stats.UnitsVerified < j.Stats.UnitsDone {
			return
		}
	default:
		return
	}
	j.Verified = j.Spec.Verify
	j.Ended, j.Updated = now, now
	if j.Stats.FilesFailed > 0 {
		j.State = JobFailed
		j.Reason = fmt.Sprintf("%d of %d files failed; see `leptonctl job report %s`", j.Stats.FilesFailed, j.Stats.FilesTotal, j.ID)
		return
	}
	j.State = JobDone
}

func (r *JobRecord) filesSettled() bool {
	st := r.Job.Stats
	return st.FilesDone+st.FilesFailed+st.FilesSkipped >= st.FilesTotal
}

// DataSettled reports whether every file that needs data is done, failed
// or skipped: the point where directories and links can be finalized.
func (r *JobRecord) DataSettled() bool {
	for i := r.settledFrom; i < len(r.Files); i++ {
		if !settled(&r.Files[i]) {
			return false
		}
	}
	return true
}
