package mover

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/leptonmesh/lepton/internal/manifest"
	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/internal/volume"
)

// A sparse file that changed while sent may have left data in its temp
// file where it now has holes no unit covers; the receiver of its first
// unit empties those, and keeps the ranges its units write.
func TestStaleDataOutsideASparseFilesDataIsCleared(t *testing.T) {
	const size = 64 << 20
	f, err := os.Create(filepath.Join(t.TempDir(), "1.part"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	old := bytes.Repeat([]byte{0xAA}, 4096)
	for _, off := range []int64{0, 8 << 20, 40 << 20, size - 4096} { // an earlier version's data
		if _, err := f.WriteAt(old, off); err != nil {
			t.Fatal(err)
		}
	}
	file := plan.File{
		Entry:     manifest.Entry{Path: "disk.img", Kind: manifest.KindFile, Size: size, Sparse: true, Data: []manifest.Extent{{Off: 40 << 20, Len: 4096}}},
		Changed:   1,
		FirstUnit: 7,
	}
	// Not the first unit, or a file that never changed: nothing to clear.
	for _, c := range []struct {
		unit    uint64
		changed int32
	}{{8, 1}, {7, 0}} {
		file.Changed = c.changed
		if err := clearStale(f, c.unit, &file); err != nil {
			t.Fatal(err)
		}
		if ext, _ := volume.DataExtents(f, 0, size); len(ext) != 4 {
			t.Fatalf("unit %d, changed %d: data extents %+v, want the 4 untouched", c.unit, c.changed, ext)
		}
	}
	file.Changed = 1
	if err := clearStale(f, 7, &file); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4096)
	for off, want := range map[int64]byte{0: 0, 8 << 20: 0, 40 << 20: 0xAA, size - 4096: 0} {
		if _, err := f.ReadAt(got, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, bytes.Repeat([]byte{want}, 4096)) {
			t.Errorf("at %d: %x..., want %x", off, got[:4], want)
		}
	}
}
