package plan

import (
	"fmt"
	"slices"
	"testing"

	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/manifest"
)

type applier struct {
	t   *testing.T
	f   *FSM
	idx uint64
}

func (a *applier) do(ct CommandType, v any) {
	a.t.Helper()
	data, err := Encode(ct, v)
	if err != nil {
		a.t.Fatal(err)
	}
	a.idx++
	if res := a.f.Apply(data); res != nil {
		a.t.Fatalf("apply %d: %v", ct, res)
	}
}

const chunk = 1 << 20

// newJob plans a job over a manifest of: one 2.5-chunk file, 300 small
// files, an empty file, a directory and a symlink.
func newJob(t *testing.T, verify bool) (*applier, Job) {
	a := &applier{t: t, f: NewFSM()}
	spec := jobspec.Defaults()
	spec.Name, spec.Source.Volume, spec.Target.Volume = "j", "data", "data"
	spec.ChunkSize, spec.Verify = chunk, verify
	a.do(CmdJobSubmit, Job{ID: "j-1", Spec: spec, State: JobScanning, Sources: []string{"s1", "s2"}, Targets: []string{"t1", "t2"}, Lead: "t1"})
	entries := []manifest.Entry{{Path: "big", Kind: manifest.KindFile, Size: chunk*2 + chunk/2}}
	for i := range 300 {
		entries = append(entries, manifest.Entry{Path: fmt.Sprintf("small/%03d", i), Kind: manifest.KindFile, Size: 10_000})
	}
	entries = append(entries,
		manifest.Entry{Path: "empty", Kind: manifest.KindFile},
		manifest.Entry{Path: "dir", Kind: manifest.KindDir},
		manifest.Entry{Path: "link", Kind: manifest.KindSymlink, Target: "big"},
		manifest.Entry{Path: "fifo", Kind: manifest.KindSpecial, Skip: manifest.SkipFIFO})
	a.do(CmdManifest, Manifest{ID: "j-1", Seq: 0, Entries: entries[:100]})
	a.do(CmdManifest, Manifest{ID: "j-1", Seq: 0, Entries: entries[:100]}) // a retried batch applies once
	a.do(CmdManifest, Manifest{ID: "j-1", Seq: 1, Entries: entries[100:], Final: true})
	a.do(CmdAssign, Assign{ID: "j-1", Senders: []string{"s1", "s2"}, Receivers: []string{"t1", "t2"}})
	j, _ := a.f.Job("j-1")
	return a, j
}

func TestPlanningPacksSmallFilesAndChunksBigOnes(t *testing.T) {
	a, j := newJob(t, false)
	if j.State != JobRunning || j.Stats.FilesTotal != 305 || j.Stats.FilesSkipped != 1 {
		t.Fatalf("job after planning: %s %+v", j.State, j.Stats)
	}
	// 3 units for the big file; 300 × 10 kB = 3 MB of small files in
	// packs of at most one chunk (104 files of 10 kB fit in 1 MiB).
	if j.Stats.UnitsTotal != 3+3 {
		t.Errorf("units = %d, want 6", j.Stats.UnitsTotal)
	}
	bySender := map[string]int{}
	for _, s := range []string{"s1", "s2"} {
		for _, w := range a.f.SendWork(s, 100, nil) {
			bySender[s]++
			if w.Unit.Receiver != "t1" && w.Unit.Receiver != "t2" {
				t.Errorf("unit %d has receiver %q", w.Unit.ID, w.Unit.Receiver)
			}
			if len(w.Files) != len(w.Unit.Parts) {
				t.Errorf("unit %d: %d files for %d parts", w.Unit.ID, len(w.Files), len(w.Unit.Parts))
			}
		}
	}
	if bySender["s1"]+bySender["s2"] != 6 || bySender["s1"] == 0 || bySender["s2"] == 0 {
		t.Errorf("work by sender: %v", bySender)
	}
	// Every replica computes the same assignment.
	b, _ := newJob(t, false)
	for _, s := range []string{"s1", "s2"} {
		x, y := a.f.SendWork(s, 100, nil), b.f.SendWork(s, 100, nil)
		if len(x) != len(y) {
			t.Fatalf("replicas disagree for %s: %d vs %d units", s, len(x), len(y))
		}
		for i := range x {
			if x[i].Unit.ID != y[i].Unit.ID || x[i].Unit.Receiver != y[i].Unit.Receiver {
				t.Errorf("replicas disagree on unit %d", x[i].Unit.ID)
			}
		}
	}
}

// finishAll writes every unit (but those in fail, which fail for good),
// finalizes every ready file (but the one at path failFinalize), and
// reports the lead's entries done.
func finishAll(a *applier, fail map[uint64]bool, failFinalize string) {
	p := Progress{ID: "j-1"}
	for _, s := range []string{"s1", "s2"} {
		for _, w := range a.f.SendWork(s, 1000, nil) {
			if fail[w.Unit.ID] {
				for range MaxUnitAttempts {
					a.do(CmdProgress, Progress{ID: "j-1", Failed: []UnitFail{{Unit: w.Unit.ID, Reason: "hash mismatch"}}})
				}
				continue
			}
			p.Done = append(p.Done, UnitWritten{Unit: w.Unit.ID, Hash: 42, WireBytes: w.Unit.Bytes / 2, Sender: s, Receiver: w.Unit.Receiver})
		}
	}
	a.do(CmdProgress, p)
	f := Progress{ID: "j-1"}
	for _, r := range []string{"t1", "t2"} {
		for _, fw := range a.f.FinalizeWork(r, 1000, nil) {
			ok := fw.File.Path != failFinalize
			f.Finalized = append(f.Finalized, FileResult{File: fw.Index, OK: ok, Reason: "is a directory"})
		}
	}
	a.do(CmdProgress, f)
	// The lead's turn comes once every data file is settled.
	m := Progress{ID: "j-1", MetaDone: true}
	for _, fw := range a.f.LeadWork("t1") {
		if fw.Index != ^uint64(0) {
			m.Finalized = append(m.Finalized, FileResult{File: fw.Index, OK: true})
		}
	}
	a.do(CmdProgress, m)
}

func TestJobRunsToDoneThroughVerification(t *testing.T) {
	a, _ := newJob(t, true)
	if lead := a.f.LeadWork("t1"); len(lead) != 0 {
		t.Fatalf("lead work before the data is in: %d entries", len(lead))
	}
	finishAll(a, nil, "")
	j, _ := a.f.Job("j-1")
	if j.State != JobVerifying || j.Stats.FilesDone != 304 || j.Stats.BytesDone != j.Stats.BytesTotal {
		t.Fatalf("after the data: %s %+v", j.State, j.Stats)
	}
	v := Progress{ID: "j-1"}
	for _, r := range []string{"t1", "t2"} {
		for _, w := range a.f.VerifyWork(r, 1000, nil) {
			v.Verified = append(v.Verified, UnitVerify{Unit: w.Unit.ID, OK: true})
		}
	}
	a.do(CmdProgress, v)
	j, _ = a.f.Job("j-1")
	if j.State != JobDone || !j.Verified || j.Stats.WireBytes*2 != j.Stats.BytesDone {
		t.Errorf("after verification: %s %+v", j.State, j.Stats)
	}
	if len(j.Pairs) == 0 {
		t.Error("no per-pair figures")
	}
}

func TestRepeatedFailuresFailFilesNotTheJob(t *testing.T) {
	a, _ := newJob(t, false)
	finishAll(a, map[uint64]bool{0: true}, "") // unit 0: the big file's first chunk
	j, _ := a.f.Job("j-1")
	if j.State != JobFailed || j.Stats.FilesFailed != 1 || j.Stats.FilesDone != 303 || j.Stats.Retries != MaxUnitAttempts {
		t.Errorf("job: %s %q %+v", j.State, j.Reason, j.Stats)
	}
	f := reported(t, a.f, "j-1", "big")
	if f.State != FileFailed || f.Retries != MaxUnitAttempts {
		t.Errorf("big file: %+v", f)
	}
}

func TestAChangedFileIsReplannedOnceAndFailsWhenItKeepsChanging(t *testing.T) {
	a, j := newJob(t, false)
	big, _ := a.f.FileByPath("j-1", "big")
	unitsBefore := j.Stats.UnitsTotal
	grown := big.Entry
	grown.Size, grown.MtimeNs = chunk*4, 99
	// Two units of the file report the same change: one re-plan.
	a.do(CmdProgress, Progress{ID: "j-1", Changed: []FileChange{{File: 0, Entry: grown}, {File: 0, Entry: grown}}})
	j, _ = a.f.Job("j-1")
	f, _ := a.f.FileByPath("j-1", "big")
	if f.Changed != 1 || f.Size != chunk*4 || j.Stats.UnitsTotal != unitsBefore+4 {
		t.Errorf("after one change: file %+v, units %d (before %d)", f, j.Stats.UnitsTotal, unitsBefore)
	}
	for i := range MaxFileChanges {
		e := grown
		e.MtimeNs = int64(100 + i)
		a.do(CmdProgress, Progress{ID: "j-1", Changed: []FileChange{{File: 0, Entry: e}}})
	}
	f, _ = a.f.FileByPath("j-1", "big")
	if f.State != FileFailed {
		t.Errorf("a file changing %d times: %+v", MaxFileChanges+1, f)
	}
}

func TestPauseResumeCancel(t *testing.T) {
	a, _ := newJob(t, false)
	a.do(CmdJobState, JobStateChange{ID: "j-1", State: JobPaused, Reason: "disk full"})
	if w := a.f.SendWork("s1", 10, nil); len(w) != 0 {
		t.Errorf("a paused job hands out work: %d units", len(w))
	}
	a.do(CmdJobState, JobStateChange{ID: "j-1", State: JobRunning})
	if j, _ := a.f.Job("j-1"); j.State != JobRunning || j.Reason != "" {
		t.Errorf("resumed: %s %q", j.State, j.Reason)
	}
	a.do(CmdJobState, JobStateChange{ID: "j-1", State: JobCancelled, Reason: "operator"})
	data, _ := Encode(CmdJobState, JobStateChange{ID: "j-1", State: JobRunning})
	if res := a.f.Apply(data); res == nil {
		t.Error("an ended job was resumed")
	}
}

func TestAFailedReceiversFilesAreFinishedByASurvivor(t *testing.T) {
	a, _ := newJob(t, true)
	// Everything is written; t1 then fails and the leader re-assigns over t2.
	p := Progress{ID: "j-1"}
	for _, s := range []string{"s1", "s2"} {
		for _, w := range a.f.SendWork(s, 1000, nil) {
			p.Done = append(p.Done, UnitWritten{Unit: w.Unit.ID, Sender: s, Receiver: w.Unit.Receiver})
		}
	}
	a.do(CmdProgress, p)
	if len(a.f.FinalizeWork("t1", 1000, nil)) == 0 {
		t.Fatal("t1 has nothing to finalize; the test needs it to")
	}
	a.do(CmdAssign, Assign{ID: "j-1", Senders: []string{"s1", "s2"}, Receivers: []string{"t2"}})
	if n := len(a.f.FinalizeWork("t1", 1000, nil)); n != 0 {
		t.Errorf("the failed t1 still has %d files to finalize", n)
	}
	if n := len(a.f.FinalizeWork("t2", 1000, nil)); n != 301 {
		t.Errorf("t2 finalizes %d files, want all 301 data files", n)
	}
	f := Progress{ID: "j-1"}
	for _, fw := range a.f.FinalizeWork("t2", 1000, nil) {
		f.Finalized = append(f.Finalized, FileResult{File: fw.Index, OK: true})
	}
	a.do(CmdProgress, f)
	if len(a.f.LeadWork("t1")) != 0 || len(a.f.LeadWork("t2")) == 0 {
		t.Error("the lead's work did not move from the failed t1 to t2")
	}
}

func TestAFailedScannerIsReplaced(t *testing.T) {
	a := &applier{t: t, f: NewFSM()}
	spec := jobspec.Defaults()
	spec.Name, spec.Source.Volume, spec.Target.Volume = "j", "data", "data"
	a.do(CmdJobSubmit, Job{ID: "j-2", Spec: spec, State: JobScanning, Sources: []string{"s1", "s2"}, Targets: []string{"t1"}, Scanner: "s1"})
	a.do(CmdManifest, Manifest{ID: "j-2", Seq: 0, Entries: []manifest.Entry{{Path: "a", Kind: manifest.KindFile, Size: 1}}})
	a.do(CmdScanner, Scanner{ID: "j-2", Scanner: "s2"})
	if len(a.f.ScanWork("s1")) != 0 || len(a.f.ScanWork("s2")) != 1 || a.f.ManifestSeq("j-2") != 1 {
		t.Errorf("scan not handed over: s1 %d, s2 %d, next batch %d", len(a.f.ScanWork("s1")), len(a.f.ScanWork("s2")), a.f.ManifestSeq("j-2"))
	}
}

func TestAReportDeliveredTwiceIsNotAResend(t *testing.T) {
	a, _ := newJob(t, false)
	w := a.f.SendWork("s1", 1, nil)[0]
	done := UnitWritten{Unit: w.Unit.ID, Write: 7, Hash: 1, Sender: "s1", Receiver: w.Unit.Receiver}
	a.do(CmdProgress, Progress{ID: "j-1", Done: []UnitWritten{done}})
	a.do(CmdProgress, Progress{ID: "j-1", Done: []UnitWritten{done}}) // the leader's answer was lost
	if j, _ := a.f.Job("j-1"); j.Stats.BytesResent != 0 || j.Stats.UnitsDone != 1 {
		t.Errorf("a repeated report: %+v", j.Stats)
	}
	done.Write = 8 // the unit really was written again
	a.do(CmdProgress, Progress{ID: "j-1", Done: []UnitWritten{done}})
	if j, _ := a.f.Job("j-1"); j.Stats.BytesResent != w.Unit.Bytes {
		t.Errorf("a second write: resent %d, want %d", j.Stats.BytesResent, w.Unit.Bytes)
	}
}

func TestAFailedReceiversUnitsAreVerifiedByASurvivor(t *testing.T) {
	a, _ := newJob(t, true)
	finishAll(a, nil, "")
	if j, _ := a.f.Job("j-1"); j.State != JobVerifying {
		t.Fatalf("state %s, want verifying", j.State)
	}
	all := len(a.f.VerifyWork("t1", 1000, nil)) + len(a.f.VerifyWork("t2", 1000, nil))
	// t1 fails while verifying; the leader re-assigns over t2 alone.
	a.do(CmdAssign, Assign{ID: "j-1", Senders: []string{"s1", "s2"}, Receivers: []string{"t2"}})
	if n := len(a.f.VerifyWork("t1", 1000, nil)); n != 0 {
		t.Errorf("the failed t1 still has %d units to verify", n)
	}
	if n := len(a.f.VerifyWork("t2", 1000, nil)); n != all {
		t.Errorf("t2 verifies %d units, want all %d", n, all)
	}
}

// A file that needed no data (empty) and then grew after every file before
// it settled must still be sent and finalized: the plan's settled-prefix
// hint must not skip it.
func TestAnEmptyFileThatGrowsLateIsStillFinalized(t *testing.T) {
	a, _ := newJob(t, false)
	p := Progress{ID: "j-1"}
	for _, s := range []string{"s1", "s2"} {
		for _, w := range a.f.SendWork(s, 1000, nil) {
			p.Done = append(p.Done, UnitWritten{Unit: w.Unit.ID, Hash: 42, Sender: s, Receiver: w.Unit.Receiver})
		}
	}
	a.do(CmdProgress, p)
	fin := Progress{ID: "j-1"}
	for _, r := range []string{"t1", "t2"} {
		for _, fw := range a.f.FinalizeWork(r, 1000, nil) {
			fin.Finalized = append(fin.Finalized, FileResult{File: fw.Index, OK: true})
		}
	}
	a.do(CmdProgress, fin)
	r := a.f.state.Jobs["j-1"]
	if !r.DataSettled() || r.settledFrom != len(r.Files) {
		t.Fatalf("every data file is finalized, yet DataSettled=%v (hint %d of %d)", r.DataSettled(), r.settledFrom, len(r.Files))
	}
	empty, _ := a.f.FileByPath("j-1", "empty")
	idx := uint64(0)
	for i := range r.Files {
		if r.Files[i].Path == "empty" {
			idx = uint64(i)
		}
	}
	grown := empty.Entry
	grown.Size, grown.MtimeNs = 5000, 77
	a.do(CmdProgress, Progress{ID: "j-1", Changed: []FileChange{{File: idx, Entry: grown}}})
	if r.DataSettled() {
		t.Fatal("DataSettled with the grown file's data not sent")
	}
	if lead := a.f.LeadWork("t1"); len(lead) != 0 {
		t.Fatalf("lead work while the grown file is pending: %d entries", len(lead))
	}
	p = Progress{ID: "j-1"}
	for _, s := range []string{"s1", "s2"} {
		for _, w := range a.f.SendWork(s, 1000, nil) {
			p.Done = append(p.Done, UnitWritten{Unit: w.Unit.ID, Hash: 43, Sender: s, Receiver: w.Unit.Receiver})
		}
	}
	if len(p.Done) != 1 {
		t.Fatalf("units to send for the grown file: %d, want 1", len(p.Done))
	}
	a.do(CmdProgress, p)
	var work []FileWork
	for _, rcv := range []string{"t1", "t2"} {
		work = append(work, a.f.FinalizeWork(rcv, 1000, nil)...)
	}
	if len(work) != 1 || work[0].Index != idx {
		t.Fatalf("finalize work after the grown file's unit: %+v, want file %d", work, idx)
	}
}

func TestFilesPlacedOnReceiptAreDoneWithTheirUnit(t *testing.T) {
	a, _ := newJob(t, false)
	var pack, big Work
	for _, s := range []string{"s1", "s2"} {
		for _, w := range a.f.SendWork(s, 1000, nil) {
			switch {
			case len(w.Unit.Parts) > 1 && pack.Unit.Parts == nil:
				pack = w
			case w.Unit.ID == 0:
				big = w
			}
		}
	}
	var placed []uint64
	for _, p := range pack.Unit.Parts {
		placed = append(placed, p.File)
	}
	a.do(CmdProgress, Progress{ID: "j-1", Done: []UnitWritten{
		{Unit: pack.Unit.ID, Sender: "s1", Receiver: pack.Unit.Receiver, Placed: placed},
		// The big file has three units: a claim to have placed it is ignored.
		{Unit: big.Unit.ID, Sender: "s1", Receiver: big.Unit.Receiver, Placed: []uint64{0}},
	}})
	j, _ := a.f.Job("j-1")
	if j.Stats.FilesDone != int64(len(placed)) {
		t.Errorf("%d files done, want the %d placed", j.Stats.FilesDone, len(placed))
	}
	if f := reported(t, a.f, "j-1", "big"); f.State != FilePending {
		t.Errorf("big file after a false claim: %s", f.State)
	}
	for _, r := range []string{"t1", "t2"} {
		for _, fw := range a.f.FinalizeWork(r, 1000, nil) {
			if slices.Contains(placed, fw.Index) {
				t.Errorf("placed file %d handed out to finalize", fw.Index)
			}
		}
	}
}

// A pack read back as its files were placed is verified with its report;
// a claim to have read back a unit whose files are not all in place, or a
// read-back in a job that does not verify, counts for nothing.
func TestUnitsReadBackOnReceiptAreVerified(t *testing.T) {
	for _, verify := range []bool{true, false} {
		a, _ := newJob(t, verify)
		var packs []Work
		for _, s := range []string{"s1", "s2"} {
			for _, w := range a.f.SendWork(s, 1000, nil) {
				if len(w.Unit.Parts) > 1 {
					packs = append(packs, w)
				}
			}
		}
		if len(packs) < 2 {
			t.Fatalf("%d packs; want 2 or more", len(packs))
		}
		var done []UnitWritten
		for i, w := range packs {
			var placed []uint64
			for _, p := range w.Unit.Parts {
				placed = append(placed, p.File)
			}
			if i == 0 {
				placed = placed[:len(placed)-1] // one file could not be placed
			}
			done = append(done, UnitWritten{Unit: w.Unit.ID, Sender: "s1", Receiver: w.Unit.Receiver, Placed: placed, ReadBack: true})
		}
		a.do(CmdProgress, Progress{ID: "j-1", Done: done})
		j, _ := a.f.Job("j-1")
		want := int64(len(packs) - 1)
		if !verify {
			want = 0
		}
		if j.Stats.UnitsVerified != want {
			t.Errorf("verify %v: %d units verified, want %d (the packs read back whole)", verify, j.Stats.UnitsVerified, want)
		}
		if !verify {
			continue
		}
		for i, w := range packs {
			if got := a.f.state.Jobs["j-1"].Units[w.Unit.ID].Verified; got != (i > 0) {
				t.Errorf("pack %d (unit %d) verified: %v, want %v", i, w.Unit.ID, got, i > 0)
			}
		}
	}
}

// verifyAll re-reads every unit handed out for verification, all good.
func verifyAll(a *applier) {
	v := Progress{ID: "j-1"}
	for _, r := range []string{"t1", "t2"} {
		for _, w := range a.f.VerifyWork(r, 1000, nil) {
			v.Verified = append(v.Verified, UnitVerify{Unit: w.Unit.ID, OK: true})
		}
	}
	a.do(CmdProgress, v)
}

// A verifying job must end even when a unit holds a file that failed,
// vanished or changed after the unit was written: such a unit cannot be
// re-read against its hash, and used to hold the job in verifying.
func TestAVerifyingJobEndsWhenAUnitCannotBeReRead(t *testing.T) {
	for _, c := range []struct {
		name         string
		spoil        func(a *applier, big Work)
		failFinalize string
		state        JobState
	}{
		{"a small file fails to finalize", nil, "small/000", JobFailed},
		{"the big file vanishes after its first chunk", func(a *applier, big Work) {
			a.do(CmdProgress, Progress{ID: "j-1", Vanished: []FileResult{{File: 0, Reason: "vanished during transfer"}}})
		}, "", JobDone},
		{"the big file changes after its first chunk", func(a *applier, big Work) {
			e := big.Files[0]
			e.MtimeNs++
			a.do(CmdProgress, Progress{ID: "j-1", Changed: []FileChange{{File: 0, Entry: e}}})
		}, "", JobDone},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, _ := newJob(t, true)
			var big Work
			for _, s := range []string{"s1", "s2"} {
				for _, w := range a.f.SendWork(s, 1000, nil) {
					if w.Unit.ID == 0 {
						big = w
					}
				}
			}
			a.do(CmdProgress, Progress{ID: "j-1", Done: []UnitWritten{{Unit: 0, Hash: 1, Sender: big.Unit.Sender, Receiver: big.Unit.Receiver}}})
			if c.spoil != nil {
				c.spoil(a, big)
			}
			finishAll(a, nil, c.failFinalize)
			for range 3 { // the re-planned file's new units, then their verification
				finishAll(a, nil, "")
				for _, r := range []string{"t1", "t2"} {
					for _, w := range a.f.VerifyWork(r, 1000, nil) {
						if w.Unit.ID == 0 && c.spoil != nil {
							t.Fatal("unit 0 is handed out to be re-read against bytes the file no longer has")
						}
					}
				}
				verifyAll(a)
			}
			if j, _ := a.f.Job("j-1"); j.State != c.state || j.Stats.UnitsVerified != j.Stats.UnitsDone {
				t.Errorf("job %s with %d of %d units checked; want %s", j.State, j.Stats.UnitsVerified, j.Stats.UnitsDone, c.state)
			}
		})
	}
}

func TestDataMovesWhileTheTreeIsStillScanned(t *testing.T) {
	a := &applier{t: t, f: NewFSM()}
	spec := jobspec.Defaults()
	spec.Name, spec.Source.Volume, spec.Target.Volume = "j", "data", "data"
	a.do(CmdJobSubmit, Job{ID: "j-1", Spec: spec, State: JobScanning, Sources: []string{"s1"}, Targets: []string{"t1"}, Scanner: "s1"})
	batch := func(seq int, final bool) {
		entries := make([]manifest.Entry, 3)
		for i := range entries {
			entries[i] = manifest.Entry{Path: fmt.Sprintf("b%d/%d", seq, i), Kind: manifest.KindFile, Size: 3 << 20}
		}
		a.do(CmdManifest, Manifest{ID: "j-1", Seq: seq, Entries: entries, Final: final})
	}
	batch(0, false)
	if w := a.f.SendWork("s1", 100, nil); len(w) != 0 {
		t.Fatalf("%d units handed out before the leader named senders and receivers", len(w))
	}
	a.do(CmdAssign, Assign{ID: "j-1", Senders: []string{"s1"}, Receivers: []string{"t1"}})
	batch(1, false)
	j, _ := a.f.Job("j-1")
	if w := a.f.SendWork("s1", 100, nil); j.State != JobScanning || len(w) != 6 {
		t.Fatalf("job %s hands out %d units while scanning; want both batches' 6", j.State, len(w))
	}
	batch(2, true)
	if j, _ := a.f.Job("j-1"); j.State != JobRunning || len(a.f.SendWork("s1", 100, nil)) != 9 {
		t.Errorf("after the last batch: %s with %d units to send; want running with 9", j.State, len(a.f.SendWork("s1", 100, nil)))
	}
}
