package volume

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/leptonmesh/lepton/internal/manifest"
	"golang.org/x/sys/unix"
)

func fileEntry(size int64) manifest.Entry {
	return manifest.Entry{Kind: manifest.KindFile, Size: size, Mode: 0o640, MtimeNs: baseTime.UnixNano()}
}

func TestNothingAtFinalPathBeforeFinalize(t *testing.T) {
	dir := t.TempDir()
	v := openVolume(t, dir)
	f, err := v.OpenTemp("j", 1, 5)
	mustOK(t, err)
	mustOK(t, WriteAt(f, []byte("hel"), 0))
	mustOK(t, f.Close())

	dst := filepath.Join(dir, "out/file.txt")
	if _, err := os.Lstat(dst); !os.IsNotExist(err) {
		t.Fatalf("final path visible before finalize: %v", err)
	}
	if es := walkAll(t, v, "", nil); len(es) != 0 {
		t.Fatalf("a scan of the target sees %+v", es)
	}
	// The temp is not complete (3 of 5 bytes written is fine: holes are
	// zeros), but a length mismatch is refused and leaves nothing behind.
	if err := v.FinalizeFile("j", 1, "out/file.txt", fileEntry(6), false); err == nil {
		t.Fatal("finalize accepted a temp file of the wrong length")
	}
	if _, err := os.Lstat(dst); !os.IsNotExist(err) {
		t.Fatalf("final path visible after a refused finalize: %v", err)
	}

	mustOK(t, v.FinalizeFile("j", 1, "out/file.txt", fileEntry(5), false))
	b, err := os.ReadFile(dst)
	mustOK(t, err)
	if !bytes.Equal(b, []byte("hel\x00\x00")) {
		t.Fatalf("content %q", b)
	}
	fi, err := os.Stat(dst)
	mustOK(t, err)
	if fi.Mode() != 0o640 || fi.ModTime().UnixNano() != baseTime.UnixNano() {
		t.Fatalf("mode %v mtime %v", fi.Mode(), fi.ModTime())
	}
	// A retry after success is harmless.
	mustOK(t, v.FinalizeFile("j", 1, "out/file.txt", fileEntry(5), false))
}

func TestConcurrentWritersAssembleOneFile(t *testing.T) {
	dir := t.TempDir()
	v := openVolume(t, dir)
	const block, blocks = 64 << 10, 16
	want := make([]byte, block*blocks)
	for i := range want {
		want[i] = byte(i * 7 / block)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Go(func() {
			f, err := v.OpenTemp("job", 9, int64(len(want)))
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			for i := w; i < blocks; i += 2 { // each writer its own offsets
				if err := WriteAt(f, want[i*block:(i+1)*block], int64(i*block)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mustOK(t, v.FinalizeFile("job", 9, "assembled", fileEntry(int64(len(want))), false))
	got, err := os.ReadFile(filepath.Join(dir, "assembled"))
	mustOK(t, err)
	if !bytes.Equal(got, want) {
		t.Fatal("assembled file differs")
	}
}

func TestOpenTempKeepsContentAndHoles(t *testing.T) {
	v := openVolume(t, t.TempDir())
	const size = 8 << 20
	f, err := v.OpenTemp("j", 3, size)
	mustOK(t, err)
	mustOK(t, WriteAt(f, []byte("first receiver"), 4096))
	mustOK(t, f.Close())

	g, err := v.OpenTemp("j", 3, size)
	mustOK(t, err)
	defer g.Close()
	buf := make([]byte, 14)
	_, err = g.ReadAt(buf, 4096)
	mustOK(t, err)
	if string(buf) != "first receiver" {
		t.Fatalf("reopening lost content: %q", buf)
	}
	if n := allocated(t, g.Name()); n >= size/4 {
		t.Fatalf("temp file allocates %d bytes: holes filled", n)
	}
	if !strings.HasSuffix(g.Name(), TempRel("j", 3)) {
		t.Fatalf("temp at %s, want %s", g.Name(), TempRel("j", 3))
	}
}

func TestOpenTempWholeSizesOnlyAStaleTemp(t *testing.T) {
	v := openVolume(t, t.TempDir())
	f, err := v.OpenTempWhole("j", 4, 10)
	mustOK(t, err)
	if fi, _ := f.Stat(); fi.Size() != 0 {
		t.Errorf("a new temp for a whole write is %d bytes before the write", fi.Size())
	}
	mustOK(t, WriteAt(f, bytes.Repeat([]byte("x"), 20), 0)) // an attempt before the file shrank
	mustOK(t, f.Close())
	g, err := v.OpenTempWhole("j", 4, 10)
	mustOK(t, err)
	defer g.Close()
	if fi, _ := g.Stat(); fi.Size() != 10 {
		t.Errorf("a stale 20-byte temp reopened for a 10-byte file is %d bytes", fi.Size())
	}
}

func TestZeroClearsStaleData(t *testing.T) {
	v := openVolume(t, t.TempDir())
	f, err := v.OpenTemp("j", 1, 64<<10)
	mustOK(t, err)
	defer f.Close()
	mustOK(t, WriteAt(f, bytes.Repeat([]byte{0xaa}, 64<<10), 0))
	mustOK(t, Zero(f, 8<<10, 16<<10))
	got := make([]byte, 64<<10)
	_, err = f.ReadAt(got, 0)
	mustOK(t, err)
	for i, b := range got {
		inHole := i >= 8<<10 && i < 24<<10
		if inHole && b != 0 || !inHole && b != 0xaa {
			t.Fatalf("byte %d is %#x after Zero", i, b)
		}
	}
	if fi, _ := f.Stat(); fi.Size() != 64<<10 {
		t.Fatalf("Zero changed the size to %d", fi.Size())
	}
}

func TestFinalizeRefusesToReplaceDirectory(t *testing.T) {
	dir := t.TempDir()
	v := openVolume(t, dir)
	mustOK(t, os.MkdirAll(filepath.Join(dir, "taken/inner"), 0o755))
	f, err := v.OpenTemp("j", 1, 0)
	mustOK(t, err)
	f.Close()
	err = v.FinalizeFile("j", 1, "taken", fileEntry(0), false)
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("finalize over a directory: %v", err)
	}
	if err := v.MakeSymlink("taken", manifest.Entry{Kind: manifest.KindSymlink, Target: "x"}, false); err == nil {
		t.Fatal("symlink replaced a directory")
	}
	if _, err := os.Stat(filepath.Join(dir, "taken/inner")); err != nil {
		t.Fatalf("directory damaged: %v", err)
	}
	// A file where a directory should go is an error, not a silent replace.
	mustOK(t, os.WriteFile(filepath.Join(dir, "plain"), nil, 0o644))
	if err := v.MakeDir("plain", manifest.Entry{Kind: manifest.KindDir, Mode: 0o755}, false); err == nil {
		t.Fatal("MakeDir over a file succeeded")
	}
}

func TestTempAreaAndJobIDsAreChecked(t *testing.T) {
	v := openVolume(t, t.TempDir())
	for _, job := range []string{"", "..", "a/b", "x\x00"} {
		if f, err := v.OpenTemp(job, 1, 0); err == nil {
			f.Close()
			t.Errorf("OpenTemp accepted job %q", job)
		}
	}
	if _, err := v.OpenTemp("j", 1, -1); err == nil {
		t.Error("OpenTemp accepted a negative size")
	}
	f, err := v.OpenTemp("j", 1, 0)
	mustOK(t, err)
	f.Close()
	for _, dst := range []string{".lepton/x", ".lepton", ".", "../x", "/abs"} {
		if err := v.FinalizeFile("j", 1, dst, fileEntry(0), false); err == nil {
			t.Errorf("FinalizeFile to %q succeeded", dst)
		}
	}
}

// TestNoSpaceIsRecognisable fills a 1 MiB tmpfs.
func TestNoSpaceIsRecognisable(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root and mount rights): %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	v := openVolume(t, dir)
	avail, err := v.Available()
	mustOK(t, err)
	if avail == 0 || avail > 1<<20 {
		t.Fatalf("available %d on a 1 MiB file system", avail)
	}
	f, err := v.OpenTemp("j", 1, 4<<20) // sizing allocates nothing
	mustOK(t, err)
	defer f.Close()
	err = WriteAt(f, make([]byte, 2<<20), 0)
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing past a full disk: %v", err)
	}
}

func TestRemoveJobTempLeavesNoLeptonDirWithoutLinks(t *testing.T) {
	dir := t.TempDir()
	v, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	f, err := v.OpenTemp("j-1", 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := v.RemoveJobTemp("j-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".lepton")); !os.IsNotExist(err) {
		t.Errorf(".lepton left behind after the only job's temp files were removed: %v", err)
	}
}

// The temp area's directories are kept open between files. A job whose
// temp directory disappeared under a kept descriptor (removed by a cleanup
// while empty, or by hand) must still write and finalize its files, into a
// directory that exists.
func TestTempFilesSurviveTheirDirectoryBeingRemovedUnderTheCache(t *testing.T) {
	dir := t.TempDir()
	v := openVolume(t, dir)
	write := func(file uint64, dst string) {
		t.Helper()
		f, err := v.OpenTemp("j", file, 5)
		mustOK(t, err)
		mustOK(t, WriteAt(f, []byte("hello"), 0))
		mustOK(t, f.Close())
		mustOK(t, v.FinalizeFile("j", file, dst, fileEntry(5), false))
		b, err := os.ReadFile(filepath.Join(dir, dst))
		mustOK(t, err)
		if string(b) != "hello" {
			t.Fatalf("%s holds %q", dst, b)
		}
	}
	write(1, "a")
	// Removed behind the volume's back: its kept descriptor is stale now.
	mustOK(t, os.RemoveAll(filepath.Join(dir, ".lepton")))
	write(2, "b")
	mustOK(t, v.RemoveJobTemp("j"))
	write(3, "c")
	if _, err := os.Stat(filepath.Join(dir, filepath.Dir(TempRel("j", 3)))); err != nil {
		t.Fatalf("the job's temp directory after a write: %v", err)
	}
}
