package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/manifest"
)

// The plan's fuzz targets: the commands a replica applies (FuzzApply) and
// the snapshots it restores (FuzzRestore). `make fuzz-short` runs each for a
// few seconds; for a long run:
//
//	go test -run '^$' -fuzz '^FuzzApply$' -fuzztime 10m ./internal/plan/
//
// or `make fuzz` (FUZZTIME per target). A crasher lands in
// testdata/fuzz/<FuzzName>/ and is replayed by every `go test` from then on.

// fuzzCommandTypes is every command type Apply knows. A fuzzed entry's type
// byte is mapped onto it, since an unknown type panics by design
// (TestFuzzCommandTypesAreEveryKnownType keeps the list whole).
var fuzzCommandTypes = []CommandType{
	CmdSetClusterID, CmdUpsertNode, CmdMarkLeft, CmdRemoveNode,
	CmdJobSubmit, CmdJobState, CmdManifest, CmdAssign, CmdProgress, CmdScanner, CmdNote,
}

// fuzzAgents are the agents a fuzzed manifest or report may come from: the
// fuzzed state's sources and targets, and one that has no role.
var fuzzAgents = []string{"s1", "s2", "t1", "t2", "intruder"}

// fuzzMaxUnits bounds the units a fuzzed job may plan, so that one input
// costs milliseconds. It is the harness's bound, not the plan's: a job may
// plan MaxJobUnits (1<<24) units, about 3 GB on every replica.
const fuzzMaxUnits = 1 << 15

// fuzzChunk is the fuzzed job's chunk size.
const fuzzChunk = 1 << 20

func fuzzEncode(tb testing.TB, t CommandType, v any) []byte {
	tb.Helper()
	b, err := Encode(t, v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// fuzzLog is the log the fuzzed state is built from, as a leader would
// commit it, and the entries that seed the corpus (one valid entry of every
// command type against that state, and a few more).
type fuzzLog struct {
	log   [][]byte
	seeds [][]byte
}

var fuzzLogOnce struct {
	sync.Once
	l fuzzLog
}

// fuzzBase returns the log of a realistic state: four agents and a fifth
// that left; an ended (archived) job; and a job that moves data while it is
// scanned, whose first manifest batch holds directories, files large and
// small, an empty file, a symlink, a hardlink, mapped sparse files (one all
// hole), an unmapped sparse file and skipped entries, with some units
// written, one failed once and one file finalized.
func fuzzBase(tb testing.TB) fuzzLog {
	fuzzLogOnce.Do(func() { fuzzLogOnce.l = buildFuzzLog(tb) })
	if fuzzLogOnce.l.log == nil {
		tb.Fatal("building the fuzzed state failed")
	}
	return fuzzLogOnce.l
}

func buildFuzzLog(tb testing.TB) fuzzLog {
	f := NewFSM()
	var l fuzzLog
	do := func(t CommandType, v any) {
		tb.Helper()
		e := fuzzEncode(tb, t, v)
		if err := f.Apply(e); err != nil {
			tb.Fatalf("apply %d: %v", t, err)
		}
		l.log = append(l.log, e)
	}
	node := func(name, side string) Node {
		return Node{Name: name, Side: side, Server: side == "source", GossipAddr: name + ":7946", QUICAddr: name + ":7947",
			APIAddr: name + ":7948", Version: "0.1.0", Labels: map[string]string{"zone": side},
			Volumes: []Volume{{Name: "data", Path: "/srv/data"}}, InfoHash: uint64(len(name) * 7)}
	}
	do(CmdSetClusterID, SetClusterID{ID: "cluster-fuzz"})
	for _, n := range []Node{node("s1", "source"), node("s2", "source"), node("t1", "target"), node("t2", "target"), node("x9", "target")} {
		do(CmdUpsertNode, n)
	}
	do(CmdMarkLeft, NodeName{Name: "x9"})

	spec := jobspec.Defaults()
	spec.Name, spec.Source.Volume, spec.Target.Volume, spec.ChunkSize, spec.Verify = "old", "data", "data", 64<<10, false
	do(CmdJobSubmit, Job{ID: "j-0", Spec: spec, State: JobScanning, Created: 1, Sources: []string{"s1"}, Targets: []string{"t1"}, Scanner: "s1", Lead: "t1"})
	do(CmdManifest, Manifest{ID: "j-0", Entries: []manifest.Entry{{Path: "d", Kind: manifest.KindDir, Mode: 0o755}, {Path: "d/a", Kind: manifest.KindFile, Size: 100}}, Final: true, Time: 2})
	do(CmdAssign, Assign{ID: "j-0", Senders: []string{"s1"}, Receivers: []string{"t1"}, Time: 3})
	do(CmdJobState, JobStateChange{ID: "j-0", State: JobCancelled, Reason: "operator", Time: 4})

	spec.Name, spec.ChunkSize, spec.Verify, spec.Include = "fuzz", fuzzChunk, true, []string{"**"}
	do(CmdJobSubmit, Job{ID: "j-1", Spec: spec, State: JobScanning, Created: 10, Sources: []string{"s1", "s2"}, Targets: []string{"t1", "t2"}, Scanner: "s1", Lead: "t1"})
	do(CmdAssign, Assign{ID: "j-1", Senders: []string{"s1", "s2"}, Receivers: []string{"t1", "t2"}, Time: 11})
	const gib = 1 << 30
	entries := []manifest.Entry{
		{Path: "a", Kind: manifest.KindDir, Mode: 0o755, MtimeNs: 5},
		{Path: "a/big", Kind: manifest.KindFile, Size: 5 * fuzzChunk / 2, Mode: 0o644, MtimeNs: 6, UID: 1000, GID: 1000},
		{Path: "a/empty", Kind: manifest.KindFile, Mode: 0o600},
		{Path: "a/hard", Kind: manifest.KindFile, Size: 5 * fuzzChunk / 2, Mode: 0o644, LinkOf: "a/big"},
		{Path: "a/link", Kind: manifest.KindSymlink, Target: "big", Mode: 0o777},
	}
	for i := range 12 {
		entries = append(entries, manifest.Entry{Path: fmt.Sprintf("a/small-%02d", i), Kind: manifest.KindFile, Size: int64(10_000 + 4_000*i), Mode: 0o644, MtimeNs: int64(i)})
	}
	entries = append(entries,
		manifest.Entry{Path: "b", Kind: manifest.KindDir, Mode: uint32(0o777 | fs.ModeSticky)},
		manifest.Entry{Path: "b/disk.img", Kind: manifest.KindFile, Size: 4 * gib, Sparse: true, MtimeNs: 7,
			Data: []manifest.Extent{{Off: fuzzChunk, Len: 6}, {Off: 3 * gib, Len: 5 * fuzzChunk / 2}}},
		manifest.Entry{Path: "b/fifo", Kind: manifest.KindSpecial, Skip: manifest.SkipFIFO},
		manifest.Entry{Path: "b/holes.img", Kind: manifest.KindFile, Size: gib, Sparse: true, Data: []manifest.Extent{}},
		manifest.Entry{Path: "b/nomap.img", Kind: manifest.KindFile, Size: 100_000, Sparse: true},
		manifest.Entry{Path: "b/z\xff", Kind: manifest.KindFile, Size: 10, Skip: manifest.SkipBadName},
	)
	batch := Manifest{ID: "j-1", Seq: 0, Entries: entries, Time: 12}
	if err := f.CheckManifest("s1", &batch); err != nil {
		tb.Fatalf("the leader refuses the fuzzed state's manifest: %v", err)
	}
	do(CmdManifest, batch)

	// Some progress, as the agents would report it.
	r := f.state.Jobs["j-1"]
	if len(r.Units) < 6 {
		tb.Fatalf("fuzzed job planned %d units", len(r.Units))
	}
	sources := r.Job.Sources
	written := Progress{ID: "j-1", Time: 13}
	var receiver string
	for _, id := range []uint64{0, 2, 3} {
		u := r.Units[id]
		if receiver == "" {
			receiver = u.Receiver
		}
		if u.Receiver != receiver {
			continue
		}
		written.Done = append(written.Done, UnitWritten{Unit: id, Write: 100 + id, Hash: 0xfeed + id, WireBytes: u.Bytes / 2,
			Sender: u.Sender, Receiver: u.Receiver, Placed: []uint64{u.Parts[0].File}, ReadBack: true})
	}
	if u := r.Units[1]; u.Receiver == receiver || u.Sender == receiver {
		written.Failed = []UnitFail{{Unit: 1, Reason: "hash mismatch"}}
	}
	if refused, err := f.AuthorizeProgress(receiver, &written); err != nil || len(refused) > 0 || !slices.Contains(sources, written.Done[0].Sender) {
		tb.Fatalf("the leader refuses the fuzzed state's progress: %v %v", err, refused)
	}
	do(CmdProgress, written)

	// Seeds: one valid entry of every command type.
	seed := func(t CommandType, v any) { l.seeds = append(l.seeds, fuzzEncode(tb, t, v)) }
	seed(CmdSetClusterID, SetClusterID{ID: "another"})
	seed(CmdUpsertNode, node("t3", "target"))
	seed(CmdMarkLeft, NodeName{Name: "s2"})
	seed(CmdRemoveNode, NodeName{Name: "x9"})
	spec.Name, spec.Include, spec.Exclude, spec.Compression = "next", nil, []string{"*.tmp"}, jobspec.CompressionZstd
	seed(CmdJobSubmit, Job{ID: "j-2", Spec: spec, State: JobScanning, Created: 20, Sources: []string{"s2"}, Targets: []string{"t2"}, Scanner: "s2", Lead: "t2"})
	seed(CmdJobState, JobStateChange{ID: "j-1", State: JobPaused, Reason: "operator", Time: 21})
	seed(CmdJobState, JobStateChange{ID: "j-1", State: JobCancelled, Reason: "operator", Time: 21})
	seed(CmdManifest, Manifest{ID: "j-1", Seq: 1, Final: true, Time: 22, Entries: []manifest.Entry{
		{Path: "c", Kind: manifest.KindDir, Mode: 0o700},
		{Path: "c/file", Kind: manifest.KindFile, Size: 3 * fuzzChunk, Mode: 0o644},
		{Path: "c/hard", Kind: manifest.KindFile, Size: 10_000, LinkOf: "a/small-03"},
		{Path: "c/sparse", Kind: manifest.KindFile, Size: 8 * fuzzChunk, Sparse: true, Data: []manifest.Extent{{Off: 0, Len: 10}, {Off: 7 * fuzzChunk, Len: fuzzChunk}}},
		{Path: "c/tiny", Kind: manifest.KindFile, Size: 1},
	}})
	seed(CmdAssign, Assign{ID: "j-1", Senders: []string{"s2"}, Receivers: []string{"t1", "t2"}, Sources: []string{"s1", "s2"}, Targets: []string{"t1", "t2"}, Time: 23})
	// Reports as each role makes them: the receiver of unit 0, a source, the lead.
	u0 := r.Units[0]
	var done Progress
	done.ID, done.Time = "j-1", 24
	for _, u := range r.Units {
		if u.Receiver == u0.Receiver {
			done.Done = append(done.Done, UnitWritten{Unit: u.ID, Write: 200 + u.ID, Hash: u.Key, WireBytes: u.Bytes, Sender: u.Sender, Receiver: u.Receiver, ReadBack: u.ID%2 == 0})
			done.Verified = append(done.Verified, UnitVerify{Unit: u.ID, OK: u.ID != 4, Reason: "bytes differ"})
		}
	}
	done.Failed = []UnitFail{{Unit: 1, Reason: "no space", Fatal: true}}
	seed(CmdProgress, done)
	big := r.Files[1].Entry
	big.MtimeNs, big.Size = 99, 3*fuzzChunk
	sparse := r.Files[18].Entry
	sparse.MtimeNs, sparse.Data = 100, []manifest.Extent{{Off: 0, Len: 3 * fuzzChunk / 2}}
	seed(CmdProgress, Progress{ID: "j-1", Time: 25, Changed: []FileChange{{File: 1, Entry: big}, {File: 18, Entry: sparse}},
		Vanished: []FileResult{{File: 8, Reason: "vanished"}}})
	var lead Progress
	lead.ID, lead.Time, lead.MetaDone = "j-1", 26, true
	for i, fl := range r.Files {
		lead.Finalized = append(lead.Finalized, FileResult{File: uint64(i), OK: !fl.NeedsData() || i%3 != 0, Reason: "EIO"})
	}
	seed(CmdProgress, lead)
	seed(CmdScanner, Scanner{ID: "j-1", Scanner: "s2", Time: 27})
	seed(CmdNote, Note{ID: "j-1", Reason: "waiting for t2", Time: 28})

	// And what a confused or hostile agent or operator may send.
	seed(CmdUpsertNode, Node{Name: "", Labels: map[string]string{"": ""}})
	seed(CmdJobSubmit, Job{ID: "j-1", Spec: spec, Created: 30})
	seed(CmdJobState, JobStateChange{ID: "j-1", State: "bogus", Time: -1})
	seed(CmdJobState, JobStateChange{ID: "j-1", State: JobRunning, Time: 31})
	seed(CmdJobState, JobStateChange{ID: "j-0", State: JobRunning, Time: 31})
	seed(CmdManifest, Manifest{ID: "j-1", Seq: 1, Entries: []manifest.Entry{{Path: "d/huge", Kind: manifest.KindFile, Size: fuzzChunk * (MaxJobUnits + 1)}}})
	seed(CmdManifest, Manifest{ID: "j-1", Seq: 1, Entries: []manifest.Entry{{Path: "a/../../etc", Kind: manifest.KindFile, Size: 1}}})
	seed(CmdManifest, Manifest{ID: "j-1", Seq: 0, Entries: []manifest.Entry{{Path: "a", Kind: manifest.KindDir}}})
	seed(CmdManifest, Manifest{ID: "j-1", Seq: 1, Final: true, Entries: []manifest.Entry{
		{Path: "e/sparse", Kind: manifest.KindFile, Size: 1 << 40, Sparse: true, Data: []manifest.Extent{{Off: 1<<40 - 1, Len: 1}}},
		{Path: "e/sparse2", Kind: manifest.KindFile, Size: 3, Sparse: true, Data: []manifest.Extent{{Off: 2, Len: 2}}},
	}})
	seed(CmdAssign, Assign{ID: "j-1", Time: 32})
	seed(CmdAssign, Assign{ID: "j-1", Senders: []string{"s1", "s1"}, Receivers: []string{"", "t1"}, Time: 32})
	seed(CmdProgress, Progress{ID: "j-1", Time: 33,
		Done:      []UnitWritten{{Unit: 1 << 63, Sender: "s1", Receiver: "t1"}, {Unit: 0, Write: 100, Sender: u0.Sender, Receiver: u0.Receiver, Placed: []uint64{1 << 40, 1, 1}}},
		Failed:    []UnitFail{{Unit: 99}, {Unit: 3, Fatal: true}},
		Verified:  []UnitVerify{{Unit: 1 << 62}, {Unit: 3}},
		Finalized: []FileResult{{File: 1 << 40, OK: true}, {File: 0, OK: true}},
		Vanished:  []FileResult{{File: 999}, {File: 1}},
		Changed:   []FileChange{{File: 1 << 63}}})
	again := func(mtime int64) FileChange {
		e := r.Files[5].Entry
		e.MtimeNs = mtime
		return FileChange{File: 5, Entry: e}
	}
	dir := r.Files[6].Entry
	dir.Kind, dir.Size, dir.MtimeNs = manifest.KindDir, 0, 1
	gone := r.Files[7].Entry
	gone.Skip, gone.MtimeNs = manifest.SkipVanished, 1
	seed(CmdProgress, Progress{ID: "j-1", Time: 34, Changed: []FileChange{again(1), again(2), again(3), again(4), {File: 6, Entry: dir}, {File: 7, Entry: gone}},
		Vanished: []FileResult{{File: 1}, {File: 19}, {File: 18}}})
	seed(CmdScanner, Scanner{ID: "j-0", Scanner: "intruder"})
	seed(CmdNote, Note{ID: "j-0", Reason: "late"})
	return l
}

var fuzzBaseFSM struct {
	sync.Once
	f, replica *FSM // the base state, and a replica restored from its snapshot
	json       []byte
}

// fuzzStates returns copies of the state the base log builds and of a
// replica restored from its snapshot, and the state's JSON. They are built
// and checked once; each input gets deep copies, as Snapshot makes them.
func fuzzStates(t *testing.T) (f, replica *FSM, js []byte) {
	b := &fuzzBaseFSM
	b.Do(func() {
		f := NewFSM()
		for _, e := range fuzzBase(t).log {
			if err := f.Apply(e); err != nil {
				t.Fatal(err)
			}
		}
		checkInvariants(t, f)
		b.replica, b.json, b.f = roundTrip(t, f), stateJSON(t, f), f
	})
	if b.f == nil {
		t.Fatal("building the fuzzed state failed")
	}
	return copyFSM(b.f), copyFSM(b.replica), b.json
}

func copyFSM(f *FSM) *FSM { return &FSM{state: f.Snapshot().state, changed: make(chan struct{})} }

// leaderEntry is what the leader would commit for a fuzzed entry e sent
// by caller, or nil for nothing. The type byte is mapped onto the known
// types. Commands a peer sends go through the leader's checks, as the
// scheduler runs them: a manifest batch through CheckManifest (a batch past
// the unit bound fails the job instead), a progress batch through
// AuthorizeProgress. A job is built by the leader from the operator's
// validated spec. The other commands are the leader's own, applied as they
// come. A payload that does not decode is applied as it is: the FSM must
// refuse it by itself.
func leaderEntry(tb testing.TB, f *FSM, e []byte, caller string) []byte {
	if len(e) == 0 {
		return e // Apply refuses it: ErrEmptyCommand
	}
	t := CommandType(e[0])
	if !slices.Contains(fuzzCommandTypes, t) {
		t = fuzzCommandTypes[int(e[0])%len(fuzzCommandTypes)]
	}
	body := e[1:]
	entry := append([]byte{byte(t)}, body...)
	switch t {
	case CmdJobSubmit:
		var j Job
		if json.Unmarshal(body, &j) != nil {
			return entry
		}
		if j.Spec.Validate() != nil {
			return nil
		}
		// Only these come from outside the leader (scheduler.submitJob).
		j = Job{ID: j.ID, Spec: j.Spec, State: JobScanning, Created: j.Created, Sources: j.Sources, Targets: j.Targets, Scanner: j.Scanner, Lead: j.Lead}
		return fuzzEncode(tb, CmdJobSubmit, j)
	case CmdManifest:
		var m Manifest
		if json.Unmarshal(body, &m) != nil {
			return entry
		}
		err := f.CheckManifest(caller, &m)
		switch {
		case errors.Is(err, ErrTooManyUnits):
			return fuzzEncode(tb, CmdJobState, JobStateChange{ID: m.ID, State: JobFailed, Reason: err.Error(), Time: m.Time})
		case err != nil:
			return nil
		}
		if unitsAfter(f, m.ID, m.Entries) > fuzzMaxUnits {
			return nil
		}
		return fuzzEncode(tb, CmdManifest, m)
	case CmdProgress:
		var p Progress
		if json.Unmarshal(body, &p) != nil {
			return entry
		}
		if _, err := f.AuthorizeProgress(caller, &p); err != nil {
			return nil
		}
		if p.Count() == 0 && !p.MetaDone {
			return nil
		}
		return fuzzEncode(tb, CmdProgress, p)
	}
	return entry
}

// unitsAfter is how many units job id would hold once entries are planned.
func unitsAfter(f *FSM, id string, entries []manifest.Entry) int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r := f.state.Jobs[id]
	if r == nil {
		return 0
	}
	n := int64(len(r.Units))
	for i := range entries {
		n += unitsFor(&entries[i], int64(r.Job.Spec.ChunkSize))
	}
	return n
}

// checkInvariants checks what must hold of any state the plan reaches, and
// runs every reader over it: counters are never negative, every index the
// state holds is in range, and no reader panics.
func checkInvariants(t *testing.T, f *FSM) {
	t.Helper()
	f.mu.RLock()
	for id, r := range f.state.Jobs {
		st := reflect.ValueOf(r.Job.Stats)
		for i := range st.NumField() {
			if v := st.Field(i).Int(); v < 0 {
				t.Errorf("job %s: %s is %d", id, st.Type().Field(i).Name, v)
			}
		}
		for k, p := range r.Job.Pairs {
			if p.Bytes < 0 || p.WireBytes < 0 || p.Units < 0 {
				t.Errorf("job %s pair %s: %+v", id, k, p)
			}
		}
		if r.Archive != nil && (r.Files != nil || r.Units != nil) {
			t.Errorf("job %s is archived but keeps %d files and %d units", id, len(r.Files), len(r.Units))
		}
		for i, u := range r.Units {
			if u.ID != uint64(i) {
				t.Errorf("job %s: unit %d at index %d", id, u.ID, i)
			}
			for _, p := range u.Parts {
				if p.File >= uint64(len(r.Files)) {
					t.Errorf("job %s unit %d: part of file %d, %d files", id, u.ID, p.File, len(r.Files))
				}
			}
		}
		for i := range r.Files {
			fl := &r.Files[i]
			if fl.NeedsData() && fl.State == FileReady && fl.FirstUnit >= uint64(len(r.Units)) {
				t.Errorf("job %s file %d: ready, first unit %d of %d", id, i, fl.FirstUnit, len(r.Units))
			}
			if fl.Units < 0 || fl.UnitsLeft < 0 || fl.UnitsLeft > fl.Units {
				t.Errorf("job %s file %d: %d of %d units left", id, i, fl.UnitsLeft, fl.Units)
			}
		}
	}
	f.mu.RUnlock()
	if t.Failed() {
		t.FailNow()
	}
	for _, name := range fuzzAgents {
		f.SendWork(name, 1<<20, nil)
		f.VerifyWork(name, 1<<20, nil)
		f.FinalizeWork(name, 1<<20, nil)
		f.LeadWork(name)
		f.ScanWork(name)
	}
	for _, j := range f.Jobs() {
		if _, _, err := f.JobFiles(j.ID, 0, 1<<20); err != nil {
			t.Fatalf("job %s report: %v", j.ID, err)
		}
		f.ManifestSeq(j.ID)
		for u := uint64(0); ; u++ {
			if _, _, ok := f.UnitFiles(j.ID, u); !ok {
				break
			}
		}
	}
}

// stateJSON is the state as a snapshot holds it.
func stateJSON(t *testing.T, f *FSM) []byte {
	t.Helper()
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := json.Marshal(f.state)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// roundTrip snapshots f, restores the snapshot into a new FSM and checks
// that it holds the same state.
func roundTrip(t *testing.T, f *FSM) *FSM {
	t.Helper()
	var snap bytes.Buffer
	if err := f.Snapshot().Persist(&snap); err != nil {
		t.Fatalf("persist: %v", err)
	}
	g := NewFSM()
	if err := g.Restore(&snap); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if a, b := stateJSON(t, f), stateJSON(t, g); !bytes.Equal(a, b) {
		t.Fatalf("the restored state differs:\n%s\n%s", a, b)
	}
	return g
}

// FuzzApply applies two fuzzed entries, as the leader would commit them, to
// a realistic state. Neither may panic (an unknown type, which panics by
// design, is never fed), every invariant of checkInvariants holds after
// each, the state survives a snapshot, and a replica restored from that
// snapshot applies the next entry exactly as the original does.
func FuzzApply(f *testing.F) {
	seeds := fuzzBase(f).seeds
	for i, s := range seeds {
		for c := range fuzzAgents {
			f.Add(s, seeds[(i+1)%len(seeds)], byte(c))
		}
	}
	f.Add([]byte{}, []byte{byte(CmdJobState)}, byte(0))
	f.Add([]byte{200, '{', '}'}, []byte{byte(CmdProgress), 'n', 'u', 'l', 'l'}, byte(2))
	f.Fuzz(func(t *testing.T, e1, e2 []byte, caller byte) {
		who := fuzzAgents[int(caller)%len(fuzzAgents)]
		f, replica, last := fuzzStates(t)
		for _, e := range [][]byte{e1, e2} {
			entry := leaderEntry(t, f, e, who)
			if entry == nil {
				continue
			}
			err, rerr := f.Apply(entry), replica.Apply(entry)
			if fmt.Sprint(err) != fmt.Sprint(rerr) {
				t.Fatalf("the original says %v, the restored replica %v", err, rerr)
			}
			now := stateJSON(t, f)
			if r := stateJSON(t, replica); !bytes.Equal(now, r) {
				t.Fatalf("the restored replica diverged:\n%s\n%s", now, r)
			}
			if bytes.Equal(now, last) {
				continue // nothing changed (most fuzzed entries do not decode)
			}
			checkInvariants(t, f)
			replica, last = roundTrip(t, f), now
		}
	})
}

// TestFuzzCommandTypesAreEveryKnownType keeps fuzzCommandTypes whole: every
// type outside it panics, as an unknown one must.
func TestFuzzCommandTypesAreEveryKnownType(t *testing.T) {
	for ty := range 256 {
		known := slices.Contains(fuzzCommandTypes, CommandType(ty))
		panicked := func() (p bool) {
			defer func() { p = recover() != nil }()
			_ = NewFSM().Apply([]byte{byte(ty), '{', '}'})
			return false
		}()
		if panicked == known {
			t.Errorf("command type %d: known to the fuzzer %v, panics %v", ty, known, panicked)
		}
	}
}

// bytesAllocated is how many bytes of heap fn allocates.
func bytesAllocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// decompressedSize is how many bytes of JSON a snapshot holds, as far as
// the decoder gets (at most limit).
func decompressedSize(snap []byte, limit int64) int64 {
	if !bytes.HasPrefix(snap, []byte(snapshotMagic)) {
		return 0
	}
	zr, err := zstd.NewReader(bytes.NewReader(snap[len(snapshotMagic):]), zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(snapshotWindow))
	if err != nil {
		return 0
	}
	defer zr.Close()
	n, _ := io.Copy(io.Discard, io.LimitReader(zr, limit))
	return n
}

// restoreOverhead is what restoring any snapshot may allocate beyond what
// its JSON holds: the decoder's history (its window and two blocks) and
// its tables.
const restoreOverhead = snapshotWindow + 4<<20

// rawSnapshot is a snapshot of st whose zstd frame stores the JSON in raw
// blocks, with no checksum: the fuzzer's changes to it reach the JSON
// decoder instead of failing the frame's checksum.
func rawSnapshot(tb testing.TB, st State) []byte {
	js, err := json.Marshal(st)
	if err != nil {
		tb.Fatal(err)
	}
	// Magic, no content size or checksum, a 1 MiB window.
	b := append([]byte(snapshotMagic), 0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x50)
	for {
		n := min(len(js), 128<<10)
		last := 0
		if n == len(js) {
			last = 1
		}
		h := uint32(n<<3 | last) // a raw block
		b = append(b, byte(h), byte(h>>8), byte(h>>16))
		b = append(b, js[:n]...)
		js = js[n:]
		if last == 1 {
			return b
		}
	}
}

// readReports reads every job's report, as `leptonctl job report` does.
func readReports(t *testing.T, f *FSM) {
	for _, j := range f.Jobs() {
		for from := 0; ; from += archiveBlock {
			_, total, err := f.JobFiles(j.ID, from, archiveBlock)
			if err != nil || from+archiveBlock >= total {
				break
			}
		}
	}
}

// reportBound is the most reading every report of f may allocate: a few
// times what each archive block can decode to.
func reportBound(f *FSM) uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n := uint64(1 << 20)
	for _, r := range f.state.Jobs {
		if r != nil && r.Archive != nil {
			for _, b := range r.Archive.Blocks {
				n += 8 * min(64<<20, uint64(len(b))*zstdMaxRatio)
			}
		}
	}
	return n
}

// FuzzRestore feeds Restore arbitrary bytes. It must never panic, must
// allocate no more than restoreOverhead plus a multiple of the JSON the
// snapshot really holds (a size a snapshot claims is refused before
// anything is allocated for it), and a state it restores must survive
// another snapshot unchanged and have its reports read within a multiple
// of what its archives can hold.
func FuzzRestore(f *testing.F) {
	base := NewFSM()
	for _, e := range fuzzBase(f).log {
		if err := base.Apply(e); err != nil {
			f.Fatal(err)
		}
	}
	var snap bytes.Buffer
	if err := base.Snapshot().Persist(&snap); err != nil {
		f.Fatal(err)
	}
	f.Add(snap.Bytes())
	f.Add(snap.Bytes()[:snap.Len()/2])
	var empty bytes.Buffer
	if err := NewFSM().Snapshot().Persist(&empty); err != nil {
		f.Fatal(err)
	}
	f.Add(empty.Bytes())
	st := base.Snapshot().state
	f.Add(rawSnapshot(f, st))
	f.Add(rawSnapshot(f, newState()))
	f.Add([]byte(snapshotMagic))
	f.Add([]byte("LEPTON-PLAN-0\n"))
	// A zstd frame that claims a 512 MiB window and holds one empty block.
	f.Add(append([]byte(snapshotMagic), 0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x98, 0x01, 0x00, 0x00))
	// An archive block of 15 bytes that claims 60 MiB.
	st.Jobs["j-0"].Archive = &FileArchive{Files: 3, Blocks: [][]byte{{0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0xc0, 0x03, 0x19, 0, 0, 'a', 'b', 'c'}}}
	f.Add(rawSnapshot(f, st))
	f.Fuzz(func(t *testing.T, data []byte) {
		var g *FSM
		var err error
		alloc := bytesAllocated(func() {
			g = NewFSM()
			err = g.Restore(bytes.NewReader(data))
		})
		if limit := restoreOverhead + 32*uint64(decompressedSize(data, 1<<30)); alloc > limit {
			t.Fatalf("restoring %d bytes allocated %d bytes, more than %d (err %v)", len(data), alloc, limit, err)
		}
		if err != nil {
			return
		}
		roundTrip(t, g)
		limit := reportBound(g)
		if alloc := bytesAllocated(func() { readReports(t, g) }); alloc > limit {
			t.Fatalf("reading the reports of a %d-byte snapshot allocated %d bytes, more than %d", len(data), alloc, limit)
		}
	})
}
