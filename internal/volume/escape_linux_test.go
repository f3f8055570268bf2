package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/leptonmesh/lepton/internal/manifest"
	"golang.org/x/sys/unix"
)

// TestPlantedSymlinksDoNotLeadOutside plants symlinks inside the volume
// that point outside it (absolute and climbing) and uses them as parents
// of every read and write: each must fail and nothing may appear outside.
func TestPlantedSymlinksDoNotLeadOutside(t *testing.T) {
	outside := t.TempDir()
	mustOK(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("outside"), 0o600))
	dir := t.TempDir()
	mustOK(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("inside"), 0o644))
	climb, err := filepath.Rel(dir, outside)
	mustOK(t, err)
	mustOK(t, os.Symlink(outside, filepath.Join(dir, "abs")))
	mustOK(t, os.Symlink(climb, filepath.Join(dir, "climb")))
	v := openVolume(t, dir)
	ctx := context.Background()

	for _, evil := range []string{"abs", "climb"} {
		f, err := v.OpenTemp("j", 1, 3)
		mustOK(t, err)
		mustOK(t, WriteAt(f, []byte("new"), 0))
		f.Close()
		e := fileEntry(3)
		if err := v.FinalizeFile("j", 1, evil+"/x", e, false); err == nil {
			t.Errorf("FinalizeFile through %s succeeded", evil)
		}
		if err := v.MakeDir(evil+"/sub", manifest.Entry{Kind: manifest.KindDir, Mode: 0o755}, false); err == nil {
			t.Errorf("MakeDir through %s succeeded", evil)
		}
		if err := v.FinalizeDir(evil, manifest.Entry{Kind: manifest.KindDir, Mode: 0o777}, false); err == nil {
			t.Errorf("FinalizeDir of %s succeeded", evil)
		}
		if err := v.MakeSymlink(evil+"/l", manifest.Entry{Kind: manifest.KindSymlink, Target: "a"}, false); err == nil {
			t.Errorf("MakeSymlink through %s succeeded", evil)
		}
		if err := v.MakeHardlink(evil+"/h", "a.txt"); err == nil {
			t.Errorf("MakeHardlink through %s succeeded", evil)
		}
		if err := v.MakeHardlink("h", evil+"/secret"); err == nil {
			t.Errorf("MakeHardlink from %s succeeded", evil)
		}
		if f, err := v.OpenRead(evil + "/secret"); err == nil {
			f.Close()
			t.Errorf("OpenRead through %s succeeded", evil)
		}
		run := v.Run()
		if f, _, err := run.OpenRead(evil + "/secret"); err == nil {
			f.Close()
			t.Errorf("a run's OpenRead through %s succeeded", evil)
		}
		f, err = v.OpenTemp("j", 2, 3)
		mustOK(t, err)
		mustOK(t, WriteAt(f, []byte("new"), 0))
		if err := run.PlaceFile(f, 3, "j", 2, evil+"/x", e, false); err == nil {
			t.Errorf("a run's PlaceFile through %s succeeded", evil)
		}
		mustOK(t, run.Close())
		if _, err := v.Lstat(evil + "/secret"); err == nil {
			t.Errorf("Lstat through %s succeeded", evil)
		}
		if err := v.Walk(ctx, evil, nil, func(manifest.Entry) error { return nil }); err == nil {
			t.Errorf("Walk of %s succeeded", evil)
		}
	}
	// The links themselves are data: listed, never followed.
	for _, e := range walkAll(t, v, "", nil) {
		if e.Path == "abs/secret" || e.Path == "climb/secret" {
			t.Errorf("walk followed a link out: %q", e.Path)
		}
	}
	assertUntouched(t, outside)
	if fi, err := os.Stat(filepath.Join(outside)); err != nil || fi.Mode().Perm() == 0o777 {
		t.Fatalf("outside directory changed: %v %v", fi.Mode(), err)
	}
}

// TestPlantedTempAreaDoesNotLeadOutside makes .lepton a link out of the volume.
func TestPlantedTempAreaDoesNotLeadOutside(t *testing.T) {
	outside := t.TempDir()
	mustOK(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("outside"), 0o600))
	dir := t.TempDir()
	mustOK(t, os.Symlink(outside, filepath.Join(dir, ".lepton")))
	v := openVolume(t, dir)
	if f, err := v.OpenTemp("j", 1, 10); err == nil {
		f.Close()
		t.Fatal("OpenTemp wrote through a planted .lepton link")
	}
	if err := v.MakeSymlink("l", manifest.Entry{Kind: manifest.KindSymlink, Target: "x"}, false); err == nil {
		t.Fatal("MakeSymlink staged through a planted .lepton link")
	}
	_ = v.RemoveJobTemp("j") // refused (the path escapes) or a no-op: either way outside stays
	assertUntouched(t, outside)
}

// TestLinksWithOutsideTargetsAreData copies links whose targets leave the
// volume: they are made verbatim and never followed by a later write.
func TestLinksWithOutsideTargetsAreData(t *testing.T) {
	outside := t.TempDir()
	mustOK(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("outside"), 0o600))
	dir := t.TempDir()
	v := openVolume(t, dir)
	mustOK(t, v.MakeSymlink("out", manifest.Entry{Kind: manifest.KindSymlink, Target: filepath.Join(outside, "secret")}, false))
	got, err := os.Readlink(filepath.Join(dir, "out"))
	mustOK(t, err)
	if got != filepath.Join(outside, "secret") {
		t.Fatalf("link target %q", got)
	}
	// Writing a file at the link's path replaces the link, not its target.
	f, err := v.OpenTemp("j", 1, 3)
	mustOK(t, err)
	mustOK(t, WriteAt(f, []byte("new"), 0))
	f.Close()
	mustOK(t, v.FinalizeFile("j", 1, "out", fileEntry(3), false))
	if fi, err := os.Lstat(filepath.Join(dir, "out")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("out is not a regular file now: %v", err)
	}
	assertUntouched(t, outside)
}

// assertUntouched checks the outside directory holds only its secret, unchanged.
func assertUntouched(t *testing.T, outside string) {
	t.Helper()
	ents, err := os.ReadDir(outside)
	mustOK(t, err)
	if len(ents) != 1 || ents[0].Name() != "secret" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("outside directory now holds %v", names)
	}
	b, err := os.ReadFile(filepath.Join(outside, "secret"))
	mustOK(t, err)
	fi, err := os.Stat(filepath.Join(outside, "secret"))
	mustOK(t, err)
	if string(b) != "outside" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("outside file changed: %q %v", b, fi.Mode())
	}
}

// TestPlantedTempNamesAreRefused puts a symlink and a FIFO where temp files
// go: OpenTemp refuses both (without blocking on the FIFO) and FinalizeFile
// never renames a link into place.
func TestPlantedTempNamesAreRefused(t *testing.T) {
	dir := t.TempDir()
	mustOK(t, os.WriteFile(filepath.Join(dir, "victim"), []byte("keep"), 0o644))
	v := openVolume(t, dir)
	f, err := v.OpenTemp("j", 1, 0) // makes the job directory
	mustOK(t, err)
	f.Close()
	jobDir := filepath.Join(dir, filepath.Dir(TempRel("j", 1)))
	mustOK(t, os.Symlink("../../../victim", filepath.Join(jobDir, "2.part")))
	mustOK(t, syscall.Mkfifo(filepath.Join(jobDir, "3.part"), 0o600))
	for _, id := range []uint64{2, 3} {
		if f, err := v.OpenTemp("j", id, 100); err == nil {
			f.Close()
			t.Errorf("OpenTemp opened planted temp %d", id)
		}
		if err := v.FinalizeFile("j", id, "out", fileEntry(4), false); err == nil {
			t.Errorf("FinalizeFile used planted temp %d", id)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "victim"))
	mustOK(t, err)
	if string(b) != "keep" {
		t.Fatalf("victim now holds %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Fatalf("out exists: %v", err)
	}
}

// refusal is the reason a write through symlink at gives.
func refusal(at string) string {
	return at + " is a symlink, not a directory; Lepton does not follow symlinks on the target: remove it or change the job's target path"
}

// wantRefused checks err refuses the symlink at, with the advice of a write.
func wantRefused(t *testing.T, op string, err error, at string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s through %s succeeded", op, at)
	} else if !strings.Contains(err.Error(), refusal(at)) {
		t.Errorf("%s through %s: %q, want it to say %q", op, at, err, refusal(at))
	}
}

// wantReadRefused checks err refuses a read through the symlink at.
func wantReadRefused(t *testing.T, op string, err error, at string) {
	t.Helper()
	if want := at + " is a symlink, not a directory"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s through %s: %v, want it to say %q", op, at, err, want)
	}
}

// snapshot describes every object under dir, links not followed: kind,
// mode, size, mtime and content, so a test sees any change at all.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	mustOK(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		s := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s += " " + string(b)
		case fi.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			s += " -> " + l
		}
		out[p] = s
		return nil
	}))
	return out
}

// assertSame checks dir is as snapshot before described it.
func assertSame(t *testing.T, dir string, before map[string]string) {
	t.Helper()
	after := snapshot(t, dir)
	for p, s := range after {
		if before[p] != s {
			t.Errorf("%s changed: %q, was %q", p, s, before[p])
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s is gone", p)
		}
	}
}

// symlinkedTarget makes a target volume holding data/ (keep.txt, sub/,
// j/1.part, links/), dst/real.txt and the symlinked directories
// dst/photos -> ../data (inside the volume) and dst/out -> a directory
// outside. It returns the volume and the outside directory.
func symlinkedTarget(t *testing.T) (dir, outside string) {
	t.Helper()
	outside = t.TempDir()
	mustOK(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("outside"), 0o600))
	mustOK(t, os.MkdirAll(filepath.Join(outside, "sub"), 0o755))
	dir = t.TempDir()
	for _, d := range []string{"data/sub", "data/j", "data/links", "dst"} {
		mustOK(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	mustOK(t, os.WriteFile(filepath.Join(dir, "data/keep.txt"), []byte("keep"), 0o644))
	mustOK(t, os.WriteFile(filepath.Join(dir, "data/j/1.part"), []byte("part"), 0o600))
	mustOK(t, os.WriteFile(filepath.Join(dir, "dst/real.txt"), []byte("real"), 0o644))
	mustOK(t, os.Symlink("../data", filepath.Join(dir, "dst/photos")))
	mustOK(t, os.Symlink(outside, filepath.Join(dir, "dst/out")))
	ts := []unix.Timespec{unix.NsecToTimespec(baseTime.UnixNano()), unix.NsecToTimespec(baseTime.UnixNano())}
	for _, p := range []string{outside, filepath.Join(dir, "data"), filepath.Join(dir, "data/sub")} {
		mustOK(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, 0)) // so a write shows in the mtime
	}
	return dir, outside
}

// TestSymlinkedDirsOnTargetAreNotFollowed plants symlinked directories in
// a target volume, one pointing inside it and one outside, and writes
// through them with every target operation: each is refused with a reason
// naming the link, and nothing changes where the links point.
func TestSymlinkedDirsOnTargetAreNotFollowed(t *testing.T) {
	bothResolvers(t, func(t *testing.T) {
		dir, outside := symlinkedTarget(t)
		data, out := snapshot(t, filepath.Join(dir, "data")), snapshot(t, outside)
		v := openVolume(t, dir)
		temp := func(id uint64) *os.File {
			f, err := v.OpenTemp("j", id, 3)
			mustOK(t, err)
			mustOK(t, WriteAt(f, []byte("new"), 0))
			return f
		}
		e := fileEntry(3)
		dirE := manifest.Entry{Kind: manifest.KindDir, Mode: 0o777, MtimeNs: 1}
		for _, at := range []string{"dst/photos", "dst/out"} {
			temp(1).Close()
			wantRefused(t, "FinalizeFile", v.FinalizeFile("j", 1, at+"/a.jpg", e, false), at)
			wantRefused(t, "FinalizeFile", v.FinalizeFile("j", 1, at+"/new/a.jpg", e, false), at)
			run := v.Run()
			err := run.PlaceFile(temp(2), 3, "j", 2, at+"/a.jpg", e, false)
			wantRefused(t, "PlaceFile", err, at)
			if !errors.Is(err, ErrNotPlaced) {
				t.Errorf("PlaceFile through %s: %v, want ErrNotPlaced", at, err)
			}
			mustOK(t, run.Close())
			wantRefused(t, "MakeDir", v.MakeDir(at+"/sub", dirE, false), at)
			wantRefused(t, "MakeDir", v.MakeDir(at+"/new/deeper", dirE, false), at)
			wantRefused(t, "MakeDir", v.MakeDir(at, dirE, false), at) // the directory to make is the link
			wantRefused(t, "FinalizeDir", v.FinalizeDir(at, dirE, false), at)
			wantRefused(t, "FinalizeDir", v.FinalizeDir(at+"/sub", dirE, false), at)
			wantRefused(t, "MakeSymlink", v.MakeSymlink(at+"/l", manifest.Entry{Kind: manifest.KindSymlink, Target: "x"}, false), at)
			wantRefused(t, "MakeHardlink", v.MakeHardlink(at+"/h", "dst/real.txt"), at)
			wantRefused(t, "MakeHardlink", v.MakeHardlink("dst/h", at+"/keep.txt"), at)
			wantRefused(t, "MakeHardlink", v.MakeHardlink("dst/h", at+"/secret"), at)

			// Reading back (verify) does not follow it either.
			f, err := v.OpenRead(at + "/keep.txt")
			if err == nil {
				f.Close()
			}
			wantReadRefused(t, "OpenRead", err, at)
			run = v.Run()
			f, _, err = run.OpenRead(at + "/keep.txt")
			if err == nil {
				f.Close()
			}
			wantReadRefused(t, "a run's OpenRead", err, at)
			mustOK(t, run.Close())
			_, err = v.Lstat(at + "/keep.txt")
			wantReadRefused(t, "Lstat", err, at)
		}
		for _, p := range []string{"dst/h", "dst/a.jpg"} {
			if _, err := os.Lstat(filepath.Join(dir, p)); !os.IsNotExist(err) {
				t.Errorf("%s exists: %v", p, err)
			}
		}
		assertSame(t, filepath.Join(dir, "data"), data)
		assertSame(t, outside, out)

		// A link as the final element is replaced, never followed: by a
		// file, and by a symlink.
		temp(3).Close()
		mustOK(t, v.FinalizeFile("j", 3, "dst/photos", e, false))
		if fi, err := os.Lstat(filepath.Join(dir, "dst/photos")); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("dst/photos is not the file now: %v", err)
		}
		mustOK(t, v.MakeSymlink("dst/out", manifest.Entry{Kind: manifest.KindSymlink, Target: "real.txt"}, false))
		if l, err := os.Readlink(filepath.Join(dir, "dst/out")); err != nil || l != "real.txt" {
			t.Errorf("dst/out links to %q (%v), want real.txt", l, err)
		}
		assertSame(t, filepath.Join(dir, "data"), data)
		assertSame(t, outside, out)
	})
}

// TestSymlinkedTempAreaIsNotFollowed makes .lepton/tmp a link to a
// directory inside the volume holding what a job's temp area would: temp
// files, links and cleanup are refused, and nothing there changes.
func TestSymlinkedTempAreaIsNotFollowed(t *testing.T) {
	bothResolvers(t, func(t *testing.T) {
		dir, _ := symlinkedTarget(t)
		mustOK(t, os.MkdirAll(filepath.Join(dir, tempDir), 0o700))
		mustOK(t, os.Symlink("../data", filepath.Join(dir, tmpRoot)))
		data := snapshot(t, filepath.Join(dir, "data"))
		v := openVolume(t, dir)
		f, err := v.OpenTemp("j", 1, 3)
		if err == nil {
			f.Close()
		}
		wantRefused(t, "OpenTemp", err, tmpRoot)
		wantRefused(t, "FinalizeFile", v.FinalizeFile("j", 1, "dst/x", fileEntry(4), false), tmpRoot)
		wantRefused(t, "MakeSymlink", v.MakeSymlink("dst/l", manifest.Entry{Kind: manifest.KindSymlink, Target: "x"}, false), tmpRoot)
		wantRefused(t, "MakeHardlink", v.MakeHardlink("dst/h", "dst/real.txt"), tmpRoot)
		wantRefused(t, "RemoveJobTemp", v.RemoveJobTemp("j"), tmpRoot)
		assertSame(t, filepath.Join(dir, "data"), data)
		if l, err := os.Readlink(filepath.Join(dir, tmpRoot)); err != nil || l != "../data" {
			t.Errorf("the planted link is now %q (%v)", l, err)
		}
	})
}

// TestSwappedDirectoryIsNotFollowed swaps a directory held open (the temp
// area's cache, a run) for a symlink: calls go on in the real directory,
// or fail once it is gone, and never land where the link points.
func TestSwappedDirectoryIsNotFollowed(t *testing.T) {
	dir, _ := symlinkedTarget(t)
	v := openVolume(t, dir)
	f, err := v.OpenTemp("k", 1, 0) // the job's temp directory is now cached
	mustOK(t, err)
	f.Close()
	data := snapshot(t, filepath.Join(dir, "data"))
	jobDir := filepath.Join(dir, filepath.Dir(TempRel("k", 1)))

	// Moved away and replaced by a link: the cached directory is the moved one.
	mustOK(t, os.Rename(jobDir, jobDir+".moved"))
	mustOK(t, os.Symlink("../../data", jobDir))
	f, err = v.OpenTemp("k", 2, 0)
	mustOK(t, err)
	f.Close()
	if _, err := os.Lstat(filepath.Join(jobDir+".moved", "2.part")); err != nil {
		t.Errorf("the temp file is not in the directory held: %v", err)
	}
	// Removed and replaced by a link: the stale descriptor is dropped and
	// the link refused.
	v.dirs.evict(filepath.Dir(TempRel("k", 1)))
	mustOK(t, os.Remove(jobDir))
	mustOK(t, os.Mkdir(jobDir, 0o700))
	f, err = v.OpenTemp("k", 3, 0) // caches the new directory
	mustOK(t, err)
	f.Close()
	mustOK(t, os.RemoveAll(jobDir))
	mustOK(t, os.Symlink("../../data", jobDir))
	f, err = v.OpenTemp("k", 4, 0)
	if err == nil {
		f.Close()
	}
	wantRefused(t, "OpenTemp", err, filepath.Dir(TempRel("k", 1)))

	// A run holds dst while it works on a unit.
	run := v.Run()
	f, _, err = run.OpenRead("dst/real.txt")
	mustOK(t, err)
	f.Close()
	mustOK(t, os.Rename(filepath.Join(dir, "dst"), filepath.Join(dir, "dst.moved")))
	mustOK(t, os.Symlink("data", filepath.Join(dir, "dst")))
	f, _, err = run.OpenRead("dst/keep.txt") // data/keep.txt if it followed
	if err == nil {
		f.Close()
		t.Error("a run read through a swapped-in link")
	}
	mustOK(t, run.Close())
	run = v.Run()
	f, _, err = run.OpenRead("dst/keep.txt")
	if err == nil {
		f.Close()
		t.Error("a new run read through a link")
	}
	mustOK(t, run.Close())
	assertSame(t, filepath.Join(dir, "data"), data)
}

// TestWalkDoesNotDescendSymlinkedDirs: a symlinked directory in a source
// is listed as a link and not entered, and is refused as a scan root.
func TestWalkDoesNotDescendSymlinkedDirs(t *testing.T) {
	dir, _ := symlinkedTarget(t)
	v := openVolume(t, dir)
	got := byPath(walkAll(t, v, "", nil))
	for _, at := range []string{"dst/photos", "dst/out"} {
		if e := got[at]; e.Kind != manifest.KindSymlink || e.Target == "" {
			t.Errorf("%s listed as %+v, want a symlink", at, e)
		}
	}
	for p := range got {
		if strings.HasPrefix(p, "dst/photos/") || strings.HasPrefix(p, "dst/out/") {
			t.Errorf("walk descended a link: %s", p)
		}
	}
	if err := v.Walk(context.Background(), "dst/photos", nil, func(manifest.Entry) error { return nil }); err == nil {
		t.Error("Walk of a symlinked directory succeeded")
	}
}

// TestWalkDoesNotStartBelowASymlink scans a path whose parent is a link.
func TestWalkDoesNotStartBelowASymlink(t *testing.T) {
	dir, _ := symlinkedTarget(t)
	v := openVolume(t, dir)
	var seen []string
	err := v.Walk(context.Background(), "dst/photos/sub", nil, func(e manifest.Entry) error { seen = append(seen, e.Path); return nil })
	wantReadRefused(t, "Walk", err, "dst/photos")
	if len(seen) != 0 {
		t.Errorf("walked %v through a link", seen)
	}
}
