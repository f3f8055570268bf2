package plan

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/manifest"
)

// reported finds a file in a job's report, as `leptonctl job report` reads it.
func reported(t *testing.T, f *FSM, job, path string) File {
	t.Helper()
	for from := 0; ; from += 100 {
		files, total, err := f.JobFiles(job, from, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, fl := range files {
			if fl.Path == path {
				return fl
			}
		}
		if from+100 >= total {
			t.Fatalf("%s is not in job %s's report of %d files", path, job, total)
			return File{}
		}
	}
}

// allReported reads a job's whole report.
func allReported(t *testing.T, f *FSM, job string) []File {
	t.Helper()
	var out []File
	for {
		files, total, err := f.JobFiles(job, len(out), 1000)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, files...)
		if len(files) == 0 || len(out) >= total {
			return out
		}
	}
}

func TestAnEndedJobKeepsItsReportButNotItsWorkingState(t *testing.T) {
	a, _ := newJob(t, false)
	before := allReported(t, a.f, "j-1")
	finishAll(a, map[uint64]bool{0: true}, "")
	j, _ := a.f.Job("j-1")
	if j.State != JobFailed {
		t.Fatalf("state %s, want failed", j.State)
	}
	after := allReported(t, a.f, "j-1")
	if len(after) != len(before) || len(after) != 305 {
		t.Fatalf("report has %d files after the end, %d before; want 305", len(after), len(before))
	}
	outcome := map[FileState]int{}
	for i, f := range after {
		if f.Path != before[i].Path || f.Size != before[i].Size {
			t.Fatalf("record %d is %s (%d bytes), was %s (%d bytes)", i, f.Path, f.Size, before[i].Path, before[i].Size)
		}
		outcome[f.State]++
	}
	if outcome[FileDone] != 303 || outcome[FileFailed] != 1 || outcome[FileSkipped] != 1 {
		t.Errorf("outcomes in the report: %v", outcome)
	}
	r := a.f.state.Jobs["j-1"]
	if r.Archive == nil || r.Files != nil || r.Units != nil {
		t.Errorf("ended job holds %d live file records and %d units (archive %v)", len(r.Files), len(r.Units), r.Archive != nil)
	}
	if _, _, ok := a.f.UnitFiles("j-1", 1); ok {
		t.Error("an ended job still hands out a unit to a late chunk")
	}
	// A report delivered after the end changes nothing.
	a.do(CmdProgress, Progress{ID: "j-1", Failed: []UnitFail{{Unit: 1, Reason: "late"}}, Time: 5})
	if k, _ := a.f.Job("j-1"); k.Stats != j.Stats || k.Updated != j.Updated {
		t.Errorf("a late report changed an ended job: %+v, was %+v", k.Stats, j.Stats)
	}

	// The archive travels in snapshots.
	sink := &bytes.Buffer{}
	if err := a.f.Snapshot().Persist(sink); err != nil {
		t.Fatal(err)
	}
	g := NewFSM()
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if restored := allReported(t, g, "j-1"); fmt.Sprint(restored) != fmt.Sprint(after) {
		t.Error("the restored report differs")
	}
}

func TestReportsReadAcrossArchiveBlocks(t *testing.T) {
	files := make([]File, 2*archiveBlock+7)
	for i := range files {
		files[i] = File{Entry: manifest.Entry{Path: fmt.Sprintf("d/%05d", i), Kind: manifest.KindFile, Size: int64(i)}, State: FileDone}
	}
	arc, err := archiveFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	if len(arc.Blocks) != 3 {
		t.Fatalf("%d blocks for %d records", len(arc.Blocks), len(files))
	}
	for _, c := range []struct{ from, n, want int }{
		{0, 10, 10}, {archiveBlock - 3, 10, 10}, {2*archiveBlock - 1, 100, 8}, {len(files), 10, 0}, {0, len(files) + 5, len(files)},
	} {
		got, err := arc.read(c.from, c.n)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != c.want {
			t.Fatalf("read(%d, %d): %d records, want %d", c.from, c.n, len(got), c.want)
		}
		for i, f := range got {
			if !reflect.DeepEqual(f, files[c.from+i]) {
				t.Fatalf("read(%d, %d)[%d] = %s, want %s", c.from, c.n, i, f.Path, files[c.from+i].Path)
			}
		}
	}
	var raw int
	for _, b := range arc.Blocks {
		raw += len(b)
	}
	if per := float64(raw) / float64(len(files)); per > 20 {
		t.Errorf("archive takes %.1f bytes per record; expected compression", per)
	}
}

// endedJob submits and cancels a job of n empty files at time at.
func endedJob(a *applier, id string, n int, at int64) {
	spec := jobspec.Defaults()
	spec.Name, spec.Source.Volume, spec.Target.Volume = id, "data", "data"
	a.do(CmdJobSubmit, Job{ID: id, Spec: spec, State: JobScanning, Created: at, Sources: []string{"s1"}, Targets: []string{"t1"}})
	entries := make([]manifest.Entry, n)
	for i := range entries {
		entries[i] = manifest.Entry{Path: fmt.Sprint(i), Kind: manifest.KindFile}
	}
	a.do(CmdManifest, Manifest{ID: id, Entries: entries, Final: true, Time: at})
	a.do(CmdJobState, JobStateChange{ID: id, State: JobCancelled, Time: at})
}

func TestTheOldestEndedJobsAreForgotten(t *testing.T) {
	a := &applier{t: t, f: NewFSM()}
	spec := jobspec.Defaults()
	spec.Name, spec.Source.Volume, spec.Target.Volume = "live", "data", "data"
	a.do(CmdJobSubmit, Job{ID: "live", Spec: spec, State: JobScanning, Created: 1})
	for i := range maxEndedJobs + 2 {
		endedJob(a, fmt.Sprintf("old-%03d", i), 3, int64(10+i))
	}
	if _, ok := a.f.Job("live"); !ok {
		t.Error("a running job was forgotten")
	}
	for _, id := range []string{"old-000", "old-001"} {
		if _, ok := a.f.Job(id); ok {
			t.Errorf("%s is kept beyond the %d most recent ended jobs", id, maxEndedJobs)
		}
	}
	if _, ok := a.f.Job("old-002"); !ok || len(a.f.Jobs()) != maxEndedJobs+1 {
		t.Errorf("kept %d jobs, want the live one and the %d newest ended", len(a.f.Jobs()), maxEndedJobs)
	}

	// The file bound: the newest ended job is kept even alone over it.
	st := newState()
	for i, n := range []int{maxArchivedFiles / 2, maxArchivedFiles / 2, 10, maxArchivedFiles + 1} {
		id := fmt.Sprint("j", i)
		st.Jobs[id] = &JobRecord{Job: Job{ID: id, State: JobDone, Ended: int64(i)}, Archive: &FileArchive{Files: n}}
	}
	st.forgetOldJobs()
	if _, ok := st.Jobs["j3"]; !ok || len(st.Jobs) != 1 {
		t.Errorf("after an ended job over the file bound, kept %d jobs", len(st.Jobs))
	}
}

func TestASnapshotFromBeforeArchivesIsArchivedOnRestore(t *testing.T) {
	a, _ := newJob(t, false)
	a.do(CmdJobState, JobStateChange{ID: "j-1", State: JobCancelled})
	old := a.f.state.Jobs["j-1"]
	files, err := old.Archive.read(0, old.Archive.Files)
	if err != nil {
		t.Fatal(err)
	}
	st := newState()
	st.Jobs["j-1"] = &JobRecord{Job: old.Job, Files: files} // as older agents kept it
	var buf bytes.Buffer
	if err := writeSnapshot(&buf, st); err != nil {
		t.Fatal(err)
	}
	g := NewFSM()
	if err := g.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if r := g.state.Jobs["j-1"]; r.Archive == nil || r.Files != nil {
		t.Fatal("an ended job restored from an old snapshot was not archived")
	}
	if got := allReported(t, g, "j-1"); len(got) != len(files) {
		t.Errorf("report has %d files, want %d", len(got), len(files))
	}
}
