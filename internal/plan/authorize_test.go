package plan

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/manifest"
)

func TestCheckEntryRefusesWhatCouldEscapeOrLie(t *testing.T) {
	file := func(p string) manifest.Entry {
		return manifest.Entry{Path: p, Kind: manifest.KindFile, Size: 6, Mode: 0o644}
	}
	good := []manifest.Entry{
		file("a"), file("dir/b c"), file("ünïcode/…"),
		{Path: "d", Kind: manifest.KindDir, Mode: uint32(fs.ModeSticky | fs.ModeSetgid | 0o777)},
		{Path: "l", Kind: manifest.KindSymlink, Target: "../../anywhere/at/all"},
		{Path: "h", Kind: manifest.KindFile, Size: 6, LinkOf: "a"},
		{Path: "f", Kind: manifest.KindSpecial, Skip: manifest.SkipFIFO},
		{Path: "bad\xffname", Kind: manifest.KindFile, Skip: manifest.SkipBadName},
	}
	for _, e := range good {
		if err := CheckEntry(&e); err != nil {
			t.Errorf("%+v refused: %v", e, err)
		}
	}
	bad := map[string]manifest.Entry{
		"escapes":              file("a/../../x"),
		"absolute":             file("/etc/passwd"),
		"not in clean":         file("a//b"),
		"clean form":           file("./a"),
		"empty":                file(""),
		`or "."`:               file("."),
		"NUL":                  file("a\x00b"),
		"unknown kind":         {Path: "k", Kind: 9},
		"must be skipped":      {Path: "dev", Kind: manifest.KindSpecial},
		"negative size":        {Path: "n", Kind: manifest.KindFile, Size: -1},
		"has no size":          {Path: "d", Kind: manifest.KindDir, Size: 10},
		"mode":                 {Path: "m", Kind: manifest.KindFile, Mode: 0o644 | 1<<31},
		"no link target":       {Path: "t", Kind: manifest.KindFile, Target: "x"},
		"without a target":     {Path: "l", Kind: manifest.KindSymlink},
		"hardlink to":          {Path: "h", Kind: manifest.KindFile, LinkOf: "../x"},
		"not reached":          {Path: "a", Kind: manifest.KindFile, LinkOf: "b"},
		"cannot be a hardlink": {Path: "z", Kind: manifest.KindDir, LinkOf: "a"},
		"not valid UTF-8":      file("bad\xffname"),
	}
	for why, e := range bad {
		err := CheckEntry(&e)
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%+v: got %v, want an error saying %q", e, err, why)
		}
	}
}

func TestWalkOrderIsTheScannersOrder(t *testing.T) {
	// A directory, then what it holds, then its next sibling: "a-c" sorts
	// before "a/b" as bytes, but the walk lists a's children first.
	order := []string{"a", "a/b", "a/b/c", "a-c", "a.d", "b"}
	for i := range order {
		for j := range order {
			if got, want := walkLess(order[i], order[j]), i < j; got != want {
				t.Errorf("walkLess(%q, %q) = %v, want %v", order[i], order[j], got, want)
			}
		}
	}
}

// scanningJob is a job scanned by s1 with one batch committed.
func scanningJob(t *testing.T) *applier {
	a := &applier{t: t, f: NewFSM()}
	spec := jobspec.Defaults()
	spec.Name, spec.Source.Volume, spec.Target.Volume, spec.ChunkSize = "j", "data", "data", chunk
	a.do(CmdJobSubmit, Job{ID: "j-1", Spec: spec, State: JobScanning, Scanner: "s1", Sources: []string{"s1"}, Targets: []string{"t1"}, Lead: "t1"})
	a.do(CmdManifest, Manifest{ID: "j-1", Seq: 0, Entries: []manifest.Entry{{Path: "m", Kind: manifest.KindDir}}})
	return a
}

func TestCheckManifest(t *testing.T) {
	a := scanningJob(t)
	ok := Manifest{ID: "j-1", Seq: 1, Entries: []manifest.Entry{{Path: "m/a", Kind: manifest.KindFile, Size: 3}, {Path: "n", Kind: manifest.KindDir}}}
	if err := a.f.CheckManifest("s1", &ok); err != nil {
		t.Errorf("the scanner's next batch: %v", err)
	}
	for _, tc := range []struct {
		caller string
		m      Manifest
		want   error
		why    string
	}{
		{"s2", ok, ErrNotYourRole, "scanned by s1"},
		{"s1", Manifest{ID: "j-9", Seq: 1}, ErrNoJob, "j-9"},
		{"s1", Manifest{ID: "j-1", Seq: 1, Entries: []manifest.Entry{{Path: "m/../../x", Kind: manifest.KindFile}}}, ErrBadManifest, "escapes"},
		{"s1", Manifest{ID: "j-1", Seq: 1, Entries: []manifest.Entry{{Path: "a", Kind: manifest.KindFile}}}, ErrBadManifest, "after \"m\""},
		{"s1", Manifest{ID: "j-1", Seq: 1, Entries: []manifest.Entry{{Path: "x", Kind: manifest.KindDir}, {Path: "x", Kind: manifest.KindFile}}}, ErrBadManifest, "listed twice"},
		{"s1", Manifest{ID: "j-1", Seq: 1, Entries: make([]manifest.Entry, MaxManifestEntries+1)}, ErrBadManifest, "at most"},
		{"s1", Manifest{ID: "j-1", Seq: 1, Entries: []manifest.Entry{{Path: "z", Kind: manifest.KindFile, Size: chunk * (MaxJobUnits + 1)}}}, ErrTooManyUnits, "chunk_size"},
	} {
		err := a.f.CheckManifest(tc.caller, &tc.m)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s sends %+v: got %v, want %v saying %q", tc.caller, tc.m.Entries, err, tc.want, tc.why)
		}
	}
	// A batch the plan would ignore (a retry of one committed) is not an attack.
	if err := a.f.CheckManifest("s1", &Manifest{ID: "j-1", Seq: 0, Entries: []manifest.Entry{{Path: "../x"}}}); err != nil {
		t.Errorf("a batch already applied: %v", err)
	}
}

func TestAuthorizeProgressKeepsOnlyWhatTheCallerMayReport(t *testing.T) {
	a, j := newJob(t, true)
	u0, _, _ := a.f.UnitFiles(j.ID, 0)
	mine, other := u0.Receiver, "t1"
	if mine == "t1" {
		other = "t2"
	}
	p := Progress{ID: j.ID,
		Done: []UnitWritten{
			{Unit: 0, Receiver: mine, Sender: u0.Sender},
			{Unit: 0, Receiver: other, Sender: u0.Sender}, // names another receiver
			{Unit: 0, Receiver: mine, Sender: "nobody"},   // a sender that is not a source
			{Unit: 999, Receiver: mine},
		},
		Failed:    []UnitFail{{Unit: 0}},
		Verified:  []UnitVerify{{Unit: 0, OK: true}},
		Vanished:  []FileResult{{File: 0}},
		Changed:   []FileChange{{File: 0, Entry: manifest.Entry{Path: "elsewhere", Kind: manifest.KindFile}}},
		Finalized: []FileResult{{File: 0, OK: true}},
		MetaDone:  true,
	}
	refused, err := a.f.AuthorizeProgress(mine, &p)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Done) != 1 || len(p.Failed) != 1 || len(p.Verified) != 1 || len(p.Vanished) != 0 || len(p.Changed) != 0 {
		t.Errorf("kept %+v", p)
	}
	// File 0 ("big") is finalized by its first unit's finisher; the lead
	// (t1) reports the metadata.
	wantFinal := u0.Receiver == mine
	if (len(p.Finalized) == 1) != wantFinal || p.MetaDone != (mine == "t1") {
		t.Errorf("finalized %v, meta done %v for %s", p.Finalized, p.MetaDone, mine)
	}
	if len(refused) < 5 {
		t.Errorf("refused %v", refused)
	}
	if _, err := a.f.AuthorizeProgress(mine, &Progress{ID: "j-9"}); !errors.Is(err, ErrNoJob) {
		t.Errorf("progress of an unknown job: %v", err)
	}
	// A source agent may say a file changed, with a valid entry for the
	// same path, or vanished.
	src := Progress{ID: j.ID, Vanished: []FileResult{{File: 1}}, Changed: []FileChange{
		{File: 0, Entry: manifest.Entry{Path: "big", Kind: manifest.KindFile, Size: 5}},
		{File: 0, Entry: manifest.Entry{Path: "big", Kind: manifest.KindFile, Size: -5}},
	}}
	if refused, _ := a.f.AuthorizeProgress("s1", &src); len(src.Vanished) != 1 || len(src.Changed) != 1 || len(refused) != 1 {
		t.Errorf("a source's reports: kept %+v, refused %v", src, refused)
	}
}
