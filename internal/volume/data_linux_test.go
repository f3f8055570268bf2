package volume

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/leptonmesh/lepton/internal/manifest"
)

// sparseFile makes a file of size bytes at p holding data (4 KiB blocks)
// at offs, and skips the test when the file system cannot hold it.
func sparseFile(t *testing.T, p string, size int64, offs ...int64) {
	t.Helper()
	f, err := os.Create(p)
	mustOK(t, err)
	defer f.Close()
	if err := f.Truncate(size); errors.Is(err, syscall.EFBIG) {
		t.Skipf("the test directory's file system cannot hold a %d-byte sparse file: %v", size, err)
	} else {
		mustOK(t, err)
	}
	block := make([]byte, 4096)
	for i := range block {
		block[i] = byte(i | 1)
	}
	for _, off := range offs {
		_, err := f.WriteAt(block, off)
		mustOK(t, err)
	}
}

// covers reports whether one extent of xs holds all of [off, off+n).
func covers(xs []manifest.Extent, off, n int64) bool {
	for _, x := range xs {
		if x.Off <= off && off+n <= x.Off+x.Len {
			return true
		}
	}
	return false
}

func TestWalkMapsTheDataOfASparseFile(t *testing.T) {
	dir := t.TempDir()
	const size = 1 << 30
	// Data at 10 MiB and 1 MiB later (one extent: closer than the merge
	// gap), at 100 MiB, and in the last block.
	offs := []int64{10 << 20, 11 << 20, 100 << 20, size - 4096}
	sparseFile(t, filepath.Join(dir, "disk.img"), size, offs...)
	mustOK(t, os.WriteFile(filepath.Join(dir, "dense.bin"), make([]byte, 64<<10), 0o644))
	sparseFile(t, filepath.Join(dir, "holes.img"), 64<<20)
	v := openVolume(t, dir)

	got := byPath(walkAll(t, v, "", nil))
	e := got["disk.img"]
	if !e.Sparse || len(e.Data) != 3 {
		t.Fatalf("disk.img: sparse %v, data %+v; want 3 extents", e.Sparse, e.Data)
	}
	for _, off := range offs {
		if !covers(e.Data, off, 4096) {
			t.Errorf("data at %d not in %+v", off, e.Data)
		}
	}
	if err := e.CheckData(); err != nil {
		t.Errorf("the scanner's own map fails CheckData: %v", err)
	}
	// A few blocks of slack around each write at most (the file system's
	// allocation unit), never the holes.
	if n := e.DataSize(); n < 5*4096 || n > (1<<20)+4*(64<<10) {
		t.Errorf("disk.img DataSize %d, want about 1 MiB", n)
	}

	if d := got["dense.bin"]; d.Sparse || d.Data != nil || d.DataSize() != d.Size {
		t.Errorf("dense.bin: sparse %v data %+v size %d of %d", d.Sparse, d.Data, d.DataSize(), d.Size)
	}
	h := got["holes.img"]
	if !h.Sparse || h.Data == nil || len(h.Data) != 0 || h.DataSize() != 0 {
		t.Errorf("holes.img: sparse %v data %#v DataSize %d; want an empty, non-nil map", h.Sparse, h.Data, h.DataSize())
	}

	// Lstat, which a sender uses on a file that changed, maps it the same.
	l, err := v.Lstat("disk.img")
	mustOK(t, err)
	if len(l.Data) != len(e.Data) || l.Data[0] != e.Data[0] || l.DataSize() != e.DataSize() {
		t.Errorf("Lstat data %+v, walk %+v", l.Data, e.Data)
	}
}

func TestTheDataMapIsBoundedWhateverTheLayout(t *testing.T) {
	dir := t.TempDir()
	// 2000 extents in 1000 pairs: 5 MiB apart within a pair (more than the
	// merge gap), 1 GiB between pairs. Doubling the gap once merges each
	// pair: 1000 extents, within manifest.MaxDataExtents, and no hole of a GiB is
	// ever swallowed.
	const pairs = 1000
	var offs []int64
	for i := range int64(pairs) {
		offs = append(offs, i<<30, i<<30+5<<20)
	}
	size := int64(pairs) << 30
	sparseFile(t, filepath.Join(dir, "frag.img"), size, offs...)
	// Many more, all 8 MiB apart: they must still come back bounded.
	var many []int64
	for i := range int64(3 * manifest.MaxDataExtents) {
		many = append(many, i*8<<20)
	}
	sparseFile(t, filepath.Join(dir, "many.img"), int64(len(many))*8<<20, many...)
	v := openVolume(t, dir)

	got := byPath(walkAll(t, v, "", nil))
	e := got["frag.img"]
	if len(e.Data) != pairs {
		t.Fatalf("frag.img: %d extents, want %d (one a pair)", len(e.Data), pairs)
	}
	for _, x := range e.Data {
		if x.Len > 6<<20 {
			t.Fatalf("extent %+v swallowed a hole between pairs", x)
		}
	}
	for name, offs := range map[string][]int64{"frag.img": offs, "many.img": many} {
		e := got[name]
		if len(e.Data) > manifest.MaxDataExtents {
			t.Errorf("%s: %d extents, more than %d", name, len(e.Data), manifest.MaxDataExtents)
		}
		if err := e.CheckData(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, off := range offs {
			if !covers(e.Data, off, 4096) {
				t.Fatalf("%s: data at %d lost from the map", name, off)
			}
		}
	}
}

func TestCheckDataRefusesABadMap(t *testing.T) {
	sparse := func(data ...manifest.Extent) manifest.Entry {
		return manifest.Entry{Path: "f", Kind: manifest.KindFile, Size: 1000, Sparse: true, Data: data}
	}
	good := []manifest.Entry{
		sparse(), // nil: not mapped
		{Path: "f", Kind: manifest.KindFile, Size: 1000, Sparse: true, Data: []manifest.Extent{}}, // all hole
		sparse(manifest.Extent{Off: 0, Len: 10}, manifest.Extent{Off: 10, Len: 5}, manifest.Extent{Off: 900, Len: 100}),
		{Path: "d", Kind: manifest.KindFile, Size: 1000}, // dense, no map
	}
	for _, e := range good {
		if err := e.CheckData(); err != nil {
			t.Errorf("CheckData(%+v) = %v", e.Data, err)
		}
	}
	tooMany := make([]manifest.Extent, manifest.MaxDataExtents+1)
	for i := range tooMany {
		tooMany[i] = manifest.Extent{Off: int64(i) * 2, Len: 1}
	}
	bad := map[string]manifest.Entry{
		"unsorted":     sparse(manifest.Extent{Off: 500, Len: 10}, manifest.Extent{Off: 100, Len: 10}),
		"overlapping":  sparse(manifest.Extent{Off: 100, Len: 50}, manifest.Extent{Off: 120, Len: 10}),
		"past the end": sparse(manifest.Extent{Off: 990, Len: 11}),
		"at the end":   sparse(manifest.Extent{Off: 1000, Len: 1}),
		"negative":     sparse(manifest.Extent{Off: -1, Len: 5}),
		"empty extent": sparse(manifest.Extent{Off: 10, Len: 0}),
		"huge":         sparse(manifest.Extent{Off: 10, Len: 1<<63 - 1}),
		"too many":     {Path: "f", Kind: manifest.KindFile, Size: 1 << 20, Sparse: true, Data: tooMany},
		"dense file":   {Path: "f", Kind: manifest.KindFile, Size: 1000, Data: []manifest.Extent{{Off: 0, Len: 10}}},
		"directory":    {Path: "f", Kind: manifest.KindDir, Sparse: true, Data: []manifest.Extent{}},
	}
	for why, e := range bad {
		if err := e.CheckData(); err == nil {
			t.Errorf("%s: CheckData(%+v) accepted it", why, e.Data)
		}
	}
}

func TestAnAllHoleMapSurvivesJSON(t *testing.T) {
	for _, in := range []manifest.Entry{
		{Path: "h", Kind: manifest.KindFile, Size: 1 << 40, Sparse: true, Data: []manifest.Extent{}},
		{Path: "d", Kind: manifest.KindFile, Size: 1 << 40, Sparse: true, Data: []manifest.Extent{{Off: 1 << 30, Len: 6}}},
		{Path: "n", Kind: manifest.KindFile, Size: 10},
	} {
		b, err := json.Marshal(in)
		mustOK(t, err)
		var out manifest.Entry
		mustOK(t, json.Unmarshal(b, &out))
		if (out.Data == nil) != (in.Data == nil) || len(out.Data) != len(in.Data) || out.DataSize() != in.DataSize() {
			t.Errorf("%s: %s decoded to data %#v", in.Path, b, out.Data)
		}
	}
}
