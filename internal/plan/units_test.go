package plan

import (
	"testing"

	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/manifest"
)

const tib = int64(1) << 40

// sparseEntry is a mapped sparse file of size bytes with data at xs.
func sparseEntry(path string, size int64, xs ...manifest.Extent) manifest.Entry {
	if xs == nil {
		xs = []manifest.Extent{}
	}
	return manifest.Entry{Path: path, Kind: manifest.KindFile, Size: size, Sparse: true, Data: xs}
}

// plan cuts the units of entries as a manifest batch would.
func plan(entries ...manifest.Entry) ([]File, []Unit) {
	files := make([]File, len(entries))
	idx := make([]uint64, len(entries))
	for i, e := range entries {
		files[i], idx[i] = File{Entry: e}, uint64(i)
	}
	return files, planUnits(files, idx, chunk, 0)
}

func TestASparseFileIsPlannedByItsData(t *testing.T) {
	files, units := plan(sparseEntry("disk.img", 4*tib, manifest.Extent{Off: tib, Len: 6}))
	if len(units) != 1 {
		t.Fatalf("a 4 TiB file holding 6 bytes: %d units, want 1", len(units))
	}
	u := units[0]
	if len(u.Parts) != 1 || u.Parts[0] != (Part{File: 0, Off: tib, Len: 6}) || u.Bytes != 6 {
		t.Errorf("unit %+v, want the 6 bytes at 1 TiB", u)
	}
	if f := files[0]; f.Units != 1 || f.UnitsLeft != 1 || f.FirstUnit != 0 {
		t.Errorf("file %+v", f)
	}
}

func TestAnAllHoleFileGetsOneUnit(t *testing.T) {
	files, units := plan(sparseEntry("holes.img", 4*tib), sparseEntry("small-holes.img", chunk/2))
	if len(units) != 2 {
		t.Fatalf("%d units, want 1 for each all-hole file", len(units))
	}
	if p := units[0].Parts[0]; p.Off != 0 || p.Len != chunk || units[0].Bytes != 0 {
		t.Errorf("unit of the 4 TiB hole %+v, want [0, chunk) with no data", units[0])
	}
	if p := units[1].Parts[0]; p.Off != 0 || p.Len != chunk/2 || units[1].Bytes != 0 {
		t.Errorf("unit of the small hole %+v, want [0, size) with no data", units[1])
	}
	if files[0].Units != 1 || files[1].Units != 1 {
		t.Errorf("units per file %d %d", files[0].Units, files[1].Units)
	}
}

func TestExtentsLongerThanAChunkAreCut(t *testing.T) {
	files, units := plan(
		manifest.Entry{Path: "a-dense", Kind: manifest.KindFile, Size: chunk + 10},
		sparseEntry("b-sparse", 100*chunk,
			manifest.Extent{Off: 5, Len: chunk / 4},
			manifest.Extent{Off: 10 * chunk, Len: 2*chunk + 7},
			manifest.Extent{Off: 99 * chunk, Len: chunk}),
		manifest.Entry{Path: "c-small", Kind: manifest.KindFile, Size: 100},
		sparseEntry("d-small-sparse", chunk/4, manifest.Extent{Off: 4096, Len: 4096}),
	)
	want := []Part{
		{File: 0, Off: 0, Len: chunk}, {File: 0, Off: chunk, Len: 10},
		{File: 1, Off: 5, Len: chunk / 4},
		{File: 1, Off: 10 * chunk, Len: chunk}, {File: 1, Off: 11 * chunk, Len: chunk}, {File: 1, Off: 12 * chunk, Len: 7},
		{File: 1, Off: 99 * chunk, Len: chunk},
	}
	if len(units) != len(want)+1 {
		t.Fatalf("%d units, want %d and a pack", len(units), len(want)+1)
	}
	for i, p := range want {
		if units[i].ID != uint64(i) || len(units[i].Parts) != 1 || units[i].Parts[0] != p || units[i].Bytes != p.Len {
			t.Errorf("unit %d = %+v, want part %+v", i, units[i], p)
		}
	}
	// Small files, sparse or not, are packed whole; the pack counts their data.
	pack := units[len(want)]
	if len(pack.Parts) != 2 || pack.Parts[1] != (Part{File: 3, Off: 0, Len: chunk / 4}) || pack.Bytes != 100+4096 {
		t.Errorf("pack %+v", pack)
	}
	// A file's units are consecutive from its first (failFile relies on it).
	if f := files[1]; f.FirstUnit != 2 || f.Units != 5 {
		t.Errorf("sparse file: first unit %d, %d units; want 2, 5", f.FirstUnit, f.Units)
	}
}

// sparseJob submits a job whose manifest holds a 4 TiB file with 12 bytes
// of data, an all-hole file and a small dense neighbour.
func sparseJob(t *testing.T) *applier {
	a := &applier{t: t, f: NewFSM()}
	spec := jobspec.Defaults()
	spec.Name, spec.Source.Volume, spec.Target.Volume = "j", "data", "data"
	spec.ChunkSize, spec.Verify = chunk, true
	a.do(CmdJobSubmit, Job{ID: "j-1", Spec: spec, State: JobScanning, Sources: []string{"s1", "s2"}, Targets: []string{"t1", "t2"}, Lead: "t1"})
	a.do(CmdManifest, Manifest{ID: "j-1", Seq: 0, Final: true, Entries: []manifest.Entry{
		sparseEntry("disk.img", 4*tib, manifest.Extent{Off: tib, Len: 6}, manifest.Extent{Off: 4*tib - 6, Len: 6}),
		sparseEntry("holes.img", tib),
		{Path: "notes.txt", Kind: manifest.KindFile, Size: 5000},
	}})
	a.do(CmdAssign, Assign{ID: "j-1", Senders: []string{"s1", "s2"}, Receivers: []string{"t1", "t2"}})
	return a
}

func TestASparseJobCountsItsDataNotItsHoles(t *testing.T) {
	a := sparseJob(t)
	j, _ := a.f.Job("j-1")
	if j.Stats.BytesTotal != 12+5000 || j.Stats.UnitsTotal != 4 {
		t.Fatalf("planned %d bytes in %d units, want 5012 in 4", j.Stats.BytesTotal, j.Stats.UnitsTotal)
	}
	finishAll(a, nil, "")
	verifyAll(a)
	j, _ = a.f.Job("j-1")
	if j.State != JobDone || j.Stats.BytesDone != j.Stats.BytesTotal || j.Stats.FilesDone != 3 {
		t.Errorf("job %s, %d of %d bytes, %d files done", j.State, j.Stats.BytesDone, j.Stats.BytesTotal, j.Stats.FilesDone)
	}
}

func TestAChangedSparseFileIsReplannedByItsNewData(t *testing.T) {
	a := sparseJob(t)
	disk, _ := a.f.FileByPath("j-1", "disk.img")
	now := disk.Entry
	now.MtimeNs = 99
	now.Data = []manifest.Extent{{Off: 0, Len: 3 * chunk / 2}, {Off: 2 * tib, Len: 100}}
	a.do(CmdProgress, Progress{ID: "j-1", Changed: []FileChange{{File: 0, Entry: now}}})
	j, _ := a.f.Job("j-1")
	if want := int64(3*chunk/2 + 100 + 5000); j.Stats.BytesTotal != want || j.Stats.UnitsTotal != 4+3 {
		t.Errorf("after the change: %d bytes in %d units, want %d in 7", j.Stats.BytesTotal, j.Stats.UnitsTotal, want)
	}
	f, _ := a.f.FileByPath("j-1", "disk.img")
	if f.Units != 3 {
		t.Errorf("changed file has %d units, want 3", f.Units)
	}
	// A map that does not pass CheckData is dropped: the file is planned
	// by its size, as a dense one, rather than by ranges past its end.
	bad := now
	bad.MtimeNs, bad.Size = 100, 3*chunk
	bad.Data = []manifest.Extent{{Off: 2 * chunk, Len: 5 * chunk}}
	a.do(CmdProgress, Progress{ID: "j-1", Changed: []FileChange{{File: 0, Entry: bad}}})
	f, _ = a.f.FileByPath("j-1", "disk.img")
	if f.Data != nil || f.Units != 3 {
		t.Errorf("a bad map: data %+v, %d units; want none and 3", f.Data, f.Units)
	}
	finishAll(a, nil, "")
	verifyAll(a)
	j, _ = a.f.Job("j-1")
	if j.State != JobDone || j.Stats.BytesTotal != 3*chunk+5000 {
		t.Errorf("job %s, %d of %d bytes", j.State, j.Stats.BytesDone, j.Stats.BytesTotal)
	}
}
