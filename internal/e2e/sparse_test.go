package e2e

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/procstat"
	"github.com/leptonmesh/lepton/internal/testcluster"
)

// sparseAt is a piece of data written into a sparse file.
type sparseAt struct {
	off  int64
	data []byte
}

// makeSparse makes a file of size bytes at p holding only pieces, and
// skips the test when the file system cannot hold such a file.
func makeSparse(t *testing.T, p string, size int64, pieces ...sparseAt) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); errors.Is(err, syscall.EFBIG) {
		t.Skipf("the test directory's file system cannot hold a %d-byte sparse file: %v", size, err)
	} else if err != nil {
		t.Fatal(err)
	}
	for _, x := range pieces {
		if _, err := f.WriteAt(x.data, x.off); err != nil {
			t.Fatal(err)
		}
	}
}

// A 4 TiB disk image holding a few bytes migrates as a few bytes: its
// holes are neither planned as chunks nor walked, so the job takes what
// its data takes and no agent's memory grows with the file's size.
func TestA4TiBSparseFileMigratesAsItsData(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t)
	src, dst := filepath.Join(c.Dir, "src-data"), filepath.Join(c.Dir, "dst-data")
	for _, d := range []string{src, dst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const tib = int64(1) << 40
	pieces := []sparseAt{{tib, []byte("hello\n")}, {4*tib - 6, []byte("world\n")}}
	makeSparse(t, filepath.Join(src, "disk.img"), 4*tib, pieces...)
	makeSparse(t, filepath.Join(src, "holes.img"), tib) // all hole
	notes := bytes.Repeat([]byte("a dense neighbour\n"), 1000)
	if err := os.WriteFile(filepath.Join(src, "notes.txt"), notes, 0o644); err != nil {
		t.Fatal(err)
	}

	srcAgent, tgt := pair(t, c, src, dst)

	started := time.Now()
	id := submit(t, tgt, spec("sparse", "data", "data"))
	j := waitJob(t, c, tgt, id, 5*time.Minute)
	took := time.Since(started)
	if j.State != api.JobDone {
		t.Fatalf("job ended %s: %s", j.State, j.Reason)
	}
	if !j.Verify || j.UnitsVerified != j.UnitsDone || j.FilesFailed != 0 {
		t.Errorf("job not verified in full: %+v", j)
	}
	// Data bytes, not holes: a file system block or so around each piece.
	if j.BytesTotal > 1<<20 || j.BytesDone != j.BytesTotal || j.UnitsTotal > 8 {
		t.Errorf("job planned %d bytes in %d units (%d done); want the data only", j.BytesTotal, j.UnitsTotal, j.BytesDone)
	}

	for name, want := range map[string]struct {
		size   int64
		pieces []sparseAt
	}{"disk.img": {4 * tib, pieces}, "holes.img": {tib, nil}} {
		p := filepath.Join(dst, name)
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Size != want.size || st.Blocks*512 > 4<<20 {
			t.Errorf("%s on the target: %d bytes, %d allocated; want %d, a few MiB at most", name, st.Size, st.Blocks*512, want.size)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range append(want.pieces, sparseAt{tib / 2, make([]byte, 64)}) {
			got := make([]byte, len(x.data))
			if _, err := f.ReadAt(got, x.off); err != nil || !bytes.Equal(got, x.data) {
				t.Errorf("%s at %d: %q, %v; want %q", name, x.off, got, err, x.data)
			}
		}
		f.Close()
	}
	if got, err := os.ReadFile(filepath.Join(dst, "notes.txt")); err != nil || !bytes.Equal(got, notes) {
		t.Errorf("notes.txt on the target: %d bytes, %v", len(got), err)
	}

	for _, a := range []*testcluster.Agent{srcAgent, tgt} {
		peak, err := procstat.PeakRSS(a.PID())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: peak RSS %d MiB", a.Spec.Name, peak>>20)
		if peak > 256<<20 {
			t.Errorf("%s peaked at %d MiB of RSS, want under 256 MiB", a.Spec.Name, peak>>20)
		}
	}
	t.Logf("4 TiB sparse job: %s, %d units, %d bytes", took.Round(time.Millisecond), j.UnitsTotal, j.BytesTotal)
}
