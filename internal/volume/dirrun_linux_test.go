package volume

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/leptonmesh/lepton/internal/manifest"
)

func TestARunReadsAndPlacesFilesAcrossDirectories(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a", "b"} {
		mustOK(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
		mustOK(t, os.WriteFile(filepath.Join(dir, d, "f"), []byte("in "+d), 0o644))
	}
	mustOK(t, os.Symlink("f", filepath.Join(dir, "a", "link")))
	mustOK(t, syscall.Mkfifo(filepath.Join(dir, "a", "fifo"), 0o644))
	v := openVolume(t, dir)

	run := v.Run()
	for _, rel := range []string{"a/f", "b/f", "a/f"} {
		f, e, err := run.OpenRead(rel)
		mustOK(t, err)
		got, _ := io.ReadAll(f)
		f.Close()
		if want := "in " + filepath.Dir(rel); string(got) != want || e.Kind != manifest.KindFile || e.Size != int64(len(want)) {
			t.Errorf("%s: read %q as %+v, want %q", rel, got, e, want)
		}
	}
	for _, rel := range []string{"a/link", "a/fifo", "a/missing"} {
		if f, _, err := run.OpenRead(rel); err == nil {
			f.Close()
			t.Errorf("a run opened %s", rel)
		}
	}
	// Files placed in two directories, one of them made on the way.
	for i, dst := range []string{"a/new", "c/d/new", "a/new2"} {
		f, err := v.OpenTemp("j", uint64(i), 5)
		mustOK(t, err)
		mustOK(t, WriteAt(f, []byte("hello"), 0))
		e := fileEntry(5)
		e.Mode, e.MtimeNs = 0o600, 1_600_000_000_000_000_007
		mustOK(t, run.PlaceFile(f, 5, "j", uint64(i), dst, e, false))
		fi, err := os.Stat(filepath.Join(dir, dst))
		mustOK(t, err)
		if fi.Size() != 5 || fi.Mode().Perm() != 0o600 || fi.ModTime().UnixNano() != e.MtimeNs {
			t.Errorf("%s placed as %v %d bytes %v", dst, fi.Mode(), fi.Size(), fi.ModTime())
		}
	}
	mustOK(t, run.Close())

	// A file whose metadata cannot be applied is durable but not placed.
	f, err := v.OpenTemp("j", 9, 5)
	mustOK(t, err)
	mustOK(t, WriteAt(f, []byte("hello"), 0))
	run = v.Run()
	if err := run.PlaceFile(f, 5, "j", 9, "a/short", fileEntry(6), false); !errors.Is(err, ErrNotPlaced) {
		t.Errorf("placing a file of the wrong size: %v, want ErrNotPlaced", err)
	}
	mustOK(t, run.Close())
	if _, err := os.Stat(filepath.Join(dir, "a/short")); !os.IsNotExist(err) {
		t.Errorf("a file of the wrong size is in place: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, TempRel("j", 9))); err != nil {
		t.Errorf("its temp file is gone: %v", err)
	}
}
