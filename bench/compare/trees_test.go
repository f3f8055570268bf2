package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leptonmesh/lepton/internal/testtree"
)

func write(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// bytesLanded counts allocated bytes: a preallocated but unwritten file
// (a hole) counts nothing, a temp file counts, directories do not.
func TestBytesLanded(t *testing.T) {
	dir := t.TempDir()
	// Random bytes: a file system that compresses would store zeros in less.
	rng := rand.New(rand.NewPCG(1, 2))
	write(t, filepath.Join(dir, "a/full.bin"), testtree.Random(rng, 256<<10))
	write(t, filepath.Join(dir, "a/.full.bin.XyZ12"), testtree.Random(rng, 64<<10)) // rsync's temp file
	f, err := os.Create(filepath.Join(dir, "holes.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(8 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Symlink("a/full.bin", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	got, err := bytesLanded(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(320 << 10); got < want || got > want+64<<10 {
		t.Errorf("bytes landed %d, want about %d (the written bytes, not the 8 MiB hole)", got, want)
	}
	if _, err := bytesLanded(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing target gave no error")
	}
}

func TestMeasureTreeAndSplit(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"d00", "d01", "d02", "d03", "d04"} {
		write(t, filepath.Join(dir, d, "f"), []byte("12345"))
	}
	write(t, filepath.Join(dir, leptonDir, "tmp/x.part"), []byte("x"))
	tr, err := measureTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tr.files != 6 || tr.bytes != 26 || strings.Join(tr.top, " ") != "d00 d01 d02 d03 d04" {
		t.Errorf("tree: %d files, %d bytes, top %v", tr.files, tr.bytes, tr.top)
	}
	parts := splitThree([]string{"d04", "d00", "d02", "d01", "d03"})
	if got := [3]string{strings.Join(parts[0], " "), strings.Join(parts[1], " "), strings.Join(parts[2], " ")}; got != [3]string{"d00 d03", "d01 d04", "d02"} {
		t.Errorf("split %q", got)
	}
}

func TestVerifyContent(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	for _, d := range []string{src, dst} {
		write(t, filepath.Join(d, "a/one"), []byte("same bytes"))
		write(t, filepath.Join(d, "a/two"), make([]byte, 3<<20))
	}
	if err := os.Chmod(filepath.Join(dst, "a/one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := verifyContent(src, dst); err != nil {
		t.Errorf("modes differ only: %v", err)
	}
	if err := verifyStrict(src, dst); err == nil {
		t.Error("the strict check missed a mode")
	}
	big := make([]byte, 3<<20)
	big[len(big)-1] = 1
	write(t, filepath.Join(dst, "a/two"), big)
	write(t, filepath.Join(dst, "extra"), nil)
	if err := os.Remove(filepath.Join(dst, "a/one")); err != nil {
		t.Fatal(err)
	}
	err := verifyContent(src, dst)
	for _, want := range []string{"a/one: missing on the target", "a/two: contents differ", "extra: on the target only"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestEmptyDirKeeps(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "x/y"), nil)
	write(t, filepath.Join(dir, leptonDir, "state"), nil)
	if err := emptyDir(dir, leptonDir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != leptonDir {
		t.Errorf("left %v", entries)
	}
}
