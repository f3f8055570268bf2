package volume

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
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
		if err := v.MakeDir(evil+"/sub", Entry{Kind: KindDir, Mode: 0o755}, false); err == nil {
			t.Errorf("MakeDir through %s succeeded", evil)
		}
		if err := v.FinalizeDir(evil, Entry{Kind: KindDir, Mode: 0o777}, false); err == nil {
			t.Errorf("FinalizeDir of %s succeeded", evil)
		}
		if err := v.MakeSymlink(evil+"/l", Entry{Kind: KindSymlink, Target: "a"}, false); err == nil {
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
		if err := v.Walk(ctx, evil, nil, func(Entry) error { return nil }); err == nil {
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
	if err := v.MakeSymlink("l", Entry{Kind: KindSymlink, Target: "x"}, false); err == nil {
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
	mustOK(t, v.MakeSymlink("out", Entry{Kind: KindSymlink, Target: filepath.Join(outside, "secret")}, false))
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
