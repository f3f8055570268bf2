package plan

import (
	"errors"
	"fmt"
	"slices"
)

// Agents are mutually authenticated, not mutually trusted: the leader
// checks every manifest batch and report against its replica of the plan
// before committing it, by the role the plan gives the agent that sent it
// (its name comes from its certificate, never from the request).

// ErrNoJob means a call names a job the plan does not hold.
var ErrNoJob = errors.New("no such job")

// ErrNotYourRole means the calling agent has no role in the plan that
// allows the call.
var ErrNotYourRole = errors.New("not this agent's role")

// ErrBadManifest means a manifest batch holds an entry that may not be
// committed (a path that escapes, an unknown kind, entries out of order).
var ErrBadManifest = errors.New("bad manifest batch")

// CheckManifest decides whether caller may commit batch m: it must be the
// job's scanner, and every entry valid, in walk order after those already
// committed, within the job's unit bound. A batch the plan will ignore
// (already applied, or for an ended job) passes unchecked.
func (f *FSM) CheckManifest(caller string, m *Manifest) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.state.Jobs[m.ID]
	switch {
	case !ok:
		return fmt.Errorf("%w %s", ErrNoJob, m.ID)
	case r.Job.Scanner != caller:
		return fmt.Errorf("%w: job %s is scanned by %s, not %s", ErrNotYourRole, m.ID, r.Job.Scanner, caller)
	case r.Job.State.Ended() || r.Job.Scanned || m.Seq != r.Seq:
		return nil
	case len(m.Entries) > MaxManifestEntries:
		return fmt.Errorf("%w: %d entries in one batch; at most %d", ErrBadManifest, len(m.Entries), MaxManifestEntries)
	}
	prev := ""
	if n := len(r.Files); n > 0 {
		prev = r.Files[n-1].Path
	}
	chunk := int64(r.Job.Spec.ChunkSize)
	units := r.Job.Stats.UnitsTotal
	for i := range m.Entries {
		e := &m.Entries[i]
		if err := CheckEntry(e); err != nil {
			return fmt.Errorf("%w: entry %d: %v", ErrBadManifest, i, err)
		}
		if prev != "" && !walkLess(prev, e.Path) {
			return fmt.Errorf("%w: entry %d: %q does not come after %q in walk order (a path listed twice, or out of order)", ErrBadManifest, i, e.Path, prev)
		}
		prev = e.Path
		units += unitsFor(e, chunk)
	}
	if units > MaxJobUnits {
		return fmt.Errorf("%w: the job would plan more than %d units at chunk_size %d; raise chunk_size (up to 64MiB) or split the job into several with narrower paths",
			ErrTooManyUnits, MaxJobUnits, chunk)
	}
	return nil
}

// Refusal says why one report of a batch was dropped.
type Refusal struct {
	What   string // "unit 12 written", "file 7 finalized", ...
	Reason string
}

func (r Refusal) String() string { return r.What + ": " + r.Reason }

// AuthorizeProgress drops from p every report caller has no right to make
// and returns what it dropped. Only a unit's receiver reports it written
// (or read back); its sender or receiver that an attempt failed; the agent
// that finishes it that it was verified; a file's finisher (the lead, for
// entries without data) that it is in place; a source agent of the job
// that a file changed or vanished; the lead that the job's metadata is
// done. A changed entry must itself be valid and keep its path.
func (f *FSM) AuthorizeProgress(caller string, p *Progress) ([]Refusal, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.state.Jobs[p.ID]
	if !ok {
		return nil, fmt.Errorf("%w %s", ErrNoJob, p.ID)
	}
	var refused []Refusal
	refuse := func(what, format string, args ...any) {
		refused = append(refused, Refusal{What: what, Reason: fmt.Sprintf(format, args...)})
	}
	source := slices.Contains(r.Job.Sources, caller)
	p.Done = slices.DeleteFunc(p.Done, func(d UnitWritten) bool {
		what := fmt.Sprintf("unit %d written", d.Unit)
		u := r.unit(d.Unit)
		switch {
		case u == nil:
			refuse(what, "no such unit")
		case u.Receiver != caller || d.Receiver != caller:
			refuse(what, "its receiver is %s", u.Receiver)
		case !slices.Contains(r.Job.Sources, d.Sender):
			refuse(what, "sender %s is not a source agent of the job", d.Sender)
		case d.WireBytes < 0 || d.WireBytes > maxWireBytes(u):
			refuse(what, "%d wire bytes for a unit of %d bytes", d.WireBytes, u.Bytes)
		default:
			return false
		}
		return true
	})
	p.Failed = slices.DeleteFunc(p.Failed, func(fl UnitFail) bool {
		u := r.unit(fl.Unit)
		if u != nil && (u.Sender == caller || u.Receiver == caller) {
			return false
		}
		refuse(fmt.Sprintf("unit %d failed", fl.Unit), "only its sender or receiver reports a failed attempt")
		return true
	})
	p.Verified = slices.DeleteFunc(p.Verified, func(v UnitVerify) bool {
		u := r.unit(v.Unit)
		if u != nil && r.finisher(u) == caller {
			return false
		}
		refuse(fmt.Sprintf("unit %d verified", v.Unit), "only the agent that finishes it verifies it")
		return true
	})
	p.Finalized = slices.DeleteFunc(p.Finalized, func(fr FileResult) bool {
		what := fmt.Sprintf("file %d finalized", fr.File)
		if fr.File >= uint64(len(r.Files)) {
			refuse(what, "no such file")
			return true
		}
		if want := r.finalizer(&r.Files[fr.File]); want != caller {
			refuse(what, "it is finalized by %s", want)
			return true
		}
		return false
	})
	p.Changed = slices.DeleteFunc(p.Changed, func(ch FileChange) bool {
		what := fmt.Sprintf("file %d changed", ch.File)
		switch {
		case !source:
			refuse(what, "only a source agent of the job reports a change")
		case ch.File >= uint64(len(r.Files)):
			refuse(what, "no such file")
		case ch.Entry.Path != r.Files[ch.File].Path || ch.Entry.LinkOf != "":
			refuse(what, "the new entry names another path or a hardlink")
		default:
			if err := CheckEntry(&ch.Entry); err != nil {
				refuse(what, "%v", err)
				return true
			}
			if r.Job.Stats.UnitsTotal+unitsFor(&ch.Entry, int64(r.Job.Spec.ChunkSize)) > MaxJobUnits {
				refuse(what, "the changed file would take the job past %d units", MaxJobUnits)
				return true
			}
			return false
		}
		return true
	})
	p.Vanished = slices.DeleteFunc(p.Vanished, func(v FileResult) bool {
		if source && v.File < uint64(len(r.Files)) {
			return false
		}
		refuse(fmt.Sprintf("file %d vanished", v.File), "only a source agent of the job reports a vanished file")
		return true
	})
	if p.MetaDone && r.lead() != caller {
		p.MetaDone = false
		refuse("metadata done", "the job's lead is %s", r.lead())
	}
	return refused, nil
}

// finalizer is the agent that puts a file in place: the finisher of its
// first unit for a file with data, the lead for everything else.
func (r *JobRecord) finalizer(f *File) string {
	if f.NeedsData() && f.Units > 0 && f.FirstUnit < uint64(len(r.Units)) {
		return r.finisher(&r.Units[f.FirstUnit])
	}
	return r.lead()
}

// maxWireBytes bounds what a unit may have taken on the wire: its bytes,
// or its logical length for holes sent as nothing, plus compression's worst
// case and framing.
func maxWireBytes(u *Unit) int64 {
	n := u.Bytes
	for _, p := range u.Parts {
		n = max(n, p.Len)
	}
	return 2*n + 1<<20
}
