package plan

import (
	"fmt"
	"slices"
	"sort"

	"github.com/leptonmesh/lepton/internal/manifest"
	"github.com/leptonmesh/lepton/ring"
)

func (r *JobRecord) clone() *JobRecord {
	c := &JobRecord{Job: r.Job.clone(), Files: slices.Clone(r.Files), Units: slices.Clone(r.Units), Seq: r.Seq,
		Archive: r.Archive}
	for i := range c.Units {
		c.Units[i].Parts = slices.Clone(c.Units[i].Parts)
	}
	return c
}

func (j Job) clone() Job {
	j.Sources, j.Targets = slices.Clone(j.Sources), slices.Clone(j.Targets)
	j.Senders, j.Receivers = slices.Clone(j.Senders), slices.Clone(j.Receivers)
	j.Spec.Include, j.Spec.Exclude = slices.Clone(j.Spec.Include), slices.Clone(j.Spec.Exclude)
	if j.Pairs != nil {
		pairs := make(map[string]PairStats, len(j.Pairs))
		for k, v := range j.Pairs {
			pairs[k] = v
		}
		j.Pairs = pairs
	}
	return j
}

// Jobs returns every job, oldest first.
func (f *FSM) Jobs() []Job {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Job, 0, len(f.state.Jobs))
	for _, r := range f.state.Jobs {
		out = append(out, r.Job.clone())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Created != out[j].Created {
			return out[i].Created < out[j].Created
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Job returns one job.
func (f *FSM) Job(id string) (Job, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.state.Jobs[id]
	if !ok {
		return Job{}, false
	}
	return r.Job.clone(), true
}

// JobFiles returns up to n manifest entries of a job, with their outcome,
// from index from, and the manifest's length. An ended job's entries come
// from its archive.
func (f *FSM) JobFiles(id string, from, n int) ([]File, int, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.state.Jobs[id]
	switch {
	case !ok:
		return nil, 0, nil
	case r.Archive != nil:
		files, err := r.Archive.read(from, n)
		if err != nil {
			return nil, 0, fmt.Errorf("job %s: %w", id, err)
		}
		return files, r.Archive.Files, nil
	case from >= len(r.Files):
		return nil, len(r.Files), nil
	}
	end := min(len(r.Files), from+n)
	return slices.Clone(r.Files[from:end]), len(r.Files), nil
}

// Work is one unit for an agent to send or verify, with the entries of the
// files it covers and the spec settings it needs.
type Work struct {
	Job   Job
	Unit  Unit
	Files []manifest.Entry // Files[i] is the entry of Unit.Parts[i].File
}

// Claim says whether a worker already holds a unit (so it is not handed out twice).
type Claim func(job string, unit uint64) bool

// UnitClaim says whether a worker already holds a unit; it sees the unit,
// so a hold can lapse when the unit's receiver changes.
type UnitClaim func(job string, u *Unit) bool

// SendWork returns up to limit pending units whose sender is name, of
// running jobs and of jobs still scanning (their first batches move while
// the rest of the tree is walked).
func (f *FSM) SendWork(name string, limit int, held UnitClaim) []Work {
	return f.unitWork(limit, held, func(r *JobRecord, u *Unit) bool {
		return r.Job.MovesData() && u.State == UnitPending && u.Sender == name
	})
}

// VerifyWork returns up to limit written, unverified units of verifying jobs
// whose receiver is name.
func (f *FSM) VerifyWork(name string, limit int, held UnitClaim) []Work {
	return f.unitWork(limit, held, func(r *JobRecord, u *Unit) bool {
		if r.Job.State != JobVerifying || u.State != UnitDone || u.Verified || r.finisher(u) != name {
			return false
		}
		for _, p := range u.Parts {
			if r.Files[p.File].State != FileDone {
				return false // failed files are not verified; the unit still counts as checked
			}
		}
		return true
	})
}

func (f *FSM) unitWork(limit int, held UnitClaim, want func(*JobRecord, *Unit) bool) []Work {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []Work
	for _, r := range f.sortedJobs() {
		for i := range r.Units {
			u := &r.Units[i]
			if !want(r, u) || (held != nil && held(r.Job.ID, u)) {
				continue
			}
			w := Work{Job: r.Job.clone(), Unit: *u}
			w.Unit.Parts = slices.Clone(u.Parts)
			for _, p := range u.Parts {
				w.Files = append(w.Files, r.Files[p.File].Entry)
			}
			out = append(out, w)
			if len(out) >= limit {
				return out
			}
		}
	}
	return out
}

// FileWork is a file to finalize or a non-data entry to create.
type FileWork struct {
	Job   Job
	Index uint64
	File  File
}

// FinalizeWork returns up to limit files whose units are all written and
// whose first unit's receiver is name: that agent renames them into place.
func (f *FSM) FinalizeWork(name string, limit int, held Claim) []FileWork {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []FileWork
	for _, r := range f.sortedJobs() {
		if !r.Job.MovesData() {
			continue
		}
		var job *Job // one copy for all of the job's files
		for i := r.settledFrom; i < len(r.Files); i++ {
			fl := &r.Files[i]
			if fl.State != FileReady || !fl.NeedsData() || r.finisher(&r.Units[fl.FirstUnit]) != name ||
				(held != nil && held(r.Job.ID, uint64(i))) {
				continue
			}
			if job == nil {
				c := r.Job.clone()
				job = &c
			}
			out = append(out, FileWork{Job: *job, Index: uint64(i), File: *fl})
			if len(out) >= limit {
				return out
			}
		}
	}
	return out
}

// LeadWork returns, for each running job led by name whose data is settled
// and whose metadata is not done, every entry that carries no data:
// directories, symlinks, hardlinks and empty files, in manifest order.
func (f *FSM) LeadWork(name string) []FileWork {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []FileWork
	for _, r := range f.sortedJobs() {
		if r.Job.State != JobRunning || r.lead() != name || r.Job.MetaDone || !r.Job.Scanned || !r.DataSettled() {
			continue
		}
		job := r.Job.clone()
		for i := range r.Files {
			fl := &r.Files[i]
			if fl.NeedsData() || fl.State == FileSkipped || fl.State == FileFailed {
				continue
			}
			out = append(out, FileWork{Job: job, Index: uint64(i), File: *fl})
		}
		if len(out) == 0 {
			out = append(out, FileWork{Job: job, Index: ^uint64(0)}) // nothing to create: report MetaDone
		}
	}
	return out
}

// ScanWork returns the scanning jobs whose scanner is name, with the next
// manifest batch number expected.
func (f *FSM) ScanWork(name string) []Job {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []Job
	for _, r := range f.sortedJobs() {
		if r.Job.State == JobScanning && !r.Job.Scanned && r.Job.Scanner == name {
			out = append(out, r.Job.clone())
		}
	}
	return out
}

// ManifestSeq returns the next manifest batch a job expects.
func (f *FSM) ManifestSeq(id string) int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if r, ok := f.state.Jobs[id]; ok {
		return r.Seq
	}
	return 0
}

// sortedJobs lists jobs oldest first; callers hold f.mu.
func (f *FSM) sortedJobs() []*JobRecord {
	out := make([]*JobRecord, 0, len(f.state.Jobs))
	for _, r := range f.state.Jobs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Job.Created != out[j].Job.Created {
			return out[i].Job.Created < out[j].Job.Created
		}
		return out[i].Job.ID < out[j].Job.ID
	})
	return out
}

// UnitFiles returns a unit and the manifest entries of its parts' files.
func (f *FSM) UnitFiles(job string, unit uint64) (Unit, []File, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.state.Jobs[job]
	if !ok || unit >= uint64(len(r.Units)) {
		return Unit{}, nil, false
	}
	u := r.Units[unit]
	u.Parts = slices.Clone(u.Parts)
	files := make([]File, len(u.Parts))
	for i, p := range u.Parts {
		files[i] = r.Files[p.File]
	}
	return u, files, true
}

// FileOf returns one manifest entry of a job.
func (f *FSM) FileOf(job string, idx uint64) (File, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.state.Jobs[job]
	if !ok || idx >= uint64(len(r.Files)) {
		return File{}, false
	}
	return r.Files[idx], true
}

// FileByPath finds a manifest entry by path (hardlinks name their target so).
func (f *FSM) FileByPath(job, path string) (File, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.state.Jobs[job]
	if !ok {
		return File{}, false
	}
	for i := range r.Files {
		if r.Files[i].Path == path {
			return r.Files[i], true
		}
	}
	return File{}, false
}

// finisher is the agent that finalizes and verifies what a written unit
// holds: the agent that received it, or, when that agent has left the
// live receivers (it failed), the ring's choice among those alive. A
// shared target volume holds the data wherever it was written.
func (r *JobRecord) finisher(u *Unit) string { return r.Job.Finisher(u) }

// Finisher is the agent that finalizes and verifies what a written unit
// holds: the agent that received it, or, when that agent has left the
// live receivers (it failed), the ring's choice among those alive.
func (j *Job) Finisher(u *Unit) string {
	if len(j.Receivers) == 0 || slices.Contains(j.Receivers, u.Receiver) {
		return u.Receiver
	}
	return owner(j.Receivers, u.Key)
}

// lead is the agent that makes a job's directories and links: the one
// chosen at submit while it is alive, else the ring's choice among the
// live receivers.
func (r *JobRecord) lead() string {
	if len(r.Job.Receivers) == 0 || slices.Contains(r.Job.Receivers, r.Job.Lead) {
		return r.Job.Lead
	}
	return owner(r.Job.Receivers, ring.KeyString(r.Job.ID))
}

func owner(members []string, key uint64) string {
	rg, err := ring.New(members)
	if err != nil {
		return members[0]
	}
	return rg.Owner(key)
}
