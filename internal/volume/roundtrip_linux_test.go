package volume

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/leptonmesh/lepton/internal/manifest"
)

// copyTree copies src to dst with the public API only, the way senders and
// receivers do: data extents of each chunk into the temp file, then
// metadata and rename; links after their files; directories last, deepest
// first.
func copyTree(t *testing.T, src, dst *Volume, job string) {
	t.Helper()
	asRoot := isRoot()
	var dirs, hardlinks []manifest.Entry
	for id, e := range walkAll(t, src, "", nil) {
		if e.Skip != "" {
			continue
		}
		switch {
		case e.Kind == manifest.KindDir:
			mustOK(t, dst.MakeDir(e.Path, e, asRoot))
			dirs = append(dirs, e)
		case e.Kind == manifest.KindSymlink:
			mustOK(t, dst.MakeSymlink(e.Path, e, asRoot))
		case e.LinkOf != "":
			hardlinks = append(hardlinks, e)
		case e.Kind == manifest.KindFile:
			copyFile(t, src, dst, job, uint64(id), e)
			mustOK(t, dst.FinalizeFile(job, uint64(id), e.Path, e, asRoot))
		}
	}
	for _, e := range hardlinks {
		mustOK(t, dst.MakeHardlink(e.Path, e.LinkOf))
	}
	slices.SortStableFunc(dirs, func(a, b manifest.Entry) int {
		return strings.Count(b.Path, "/") - strings.Count(a.Path, "/")
	})
	for _, e := range dirs {
		mustOK(t, dst.FinalizeDir(e.Path, e, asRoot))
	}
	mustOK(t, dst.RemoveJobTemp(job))
}

// copyFile moves one file's data chunk by chunk, holes left out.
func copyFile(t *testing.T, src, dst *Volume, job string, id uint64, e manifest.Entry) {
	t.Helper()
	r, err := src.OpenRead(e.Path)
	mustOK(t, err)
	defer r.Close()
	w, err := dst.OpenTemp(job, id, e.Size)
	mustOK(t, err)
	defer w.Close()
	for off := int64(0); off < e.Size; off += testChunk {
		n := min(testChunk, e.Size-off)
		ext, err := DataExtents(r, off, n)
		mustOK(t, err)
		pos := off
		for _, x := range ext {
			mustOK(t, Zero(w, pos, x.Off-pos))
			buf := make([]byte, x.Len)
			_, err := r.ReadAt(buf, x.Off)
			mustOK(t, err)
			mustOK(t, WriteAt(w, buf, x.Off))
			pos = x.Off + x.Len
		}
		mustOK(t, Zero(w, pos, off+n-pos))
	}
	after, err := src.Lstat(e.Path)
	mustOK(t, err)
	if manifest.Changed(e, after) {
		t.Fatalf("%s changed while being read", e.Path)
	}
}

func TestRoundTripKeepsContentAndMetadata(t *testing.T) {
	srcDir, dstDir := t.TempDir(), t.TempDir()
	makeTree(t, srcDir)
	src, dst := openVolume(t, srcDir), openVolume(t, dstDir)
	t.Cleanup(func() { os.Chmod(filepath.Join(dstDir, "readonly-dir"), 0o755) })

	copyTree(t, src, dst, "job-1")
	assertSameTree(t, src, dst, srcDir, dstDir)

	// Again over the finished copy: files, links and hardlinks are replaced
	// in place, and the result is the same.
	copyTree(t, src, dst, "job-2")
	assertSameTree(t, src, dst, srcDir, dstDir)

	if _, err := os.Lstat(filepath.Join(dstDir, ".lepton")); !os.IsNotExist(err) {
		t.Errorf("temp area left behind: %v", err)
	}
}

func assertSameTree(t *testing.T, src, dst *Volume, srcDir, dstDir string) {
	t.Helper()
	var want []manifest.Entry
	for _, e := range walkAll(t, src, "", nil) {
		if e.Skip == "" {
			want = append(want, e)
		}
	}
	got := walkAll(t, dst, "", nil)
	gotBy := byPath(got)
	if len(got) != len(want) {
		t.Errorf("target has %d entries, source %d", len(got), len(want))
	}
	for _, w := range want {
		g, ok := gotBy[w.Path]
		if !ok {
			t.Errorf("%q missing on the target", w.Path)
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%q differs:\n source %+v\n target %+v", w.Path, w, g)
		}
		if w.Kind == manifest.KindFile {
			a, err := os.ReadFile(filepath.Join(srcDir, w.Path))
			mustOK(t, err)
			b, err := os.ReadFile(filepath.Join(dstDir, w.Path))
			mustOK(t, err)
			if !bytes.Equal(a, b) {
				t.Errorf("%q: content differs", w.Path)
			}
		}
	}
	if isRoot() {
		if e := gotBy["owned.txt"]; e.UID != ownerID || e.GID != ownerID {
			t.Errorf("owner not kept: %+v", e)
		}
	}
	a, err := os.Stat(filepath.Join(dstDir, "hard1.txt"))
	mustOK(t, err)
	b, err := os.Stat(filepath.Join(dstDir, "sub/hard2.txt"))
	mustOK(t, err)
	if !os.SameFile(a, b) {
		t.Error("hardlinks do not share an inode on the target")
	}
	if n := allocated(t, filepath.Join(dstDir, "sparse.img")); n >= sparseSize/4 {
		t.Errorf("sparse file allocates %d bytes on the target", n)
	}
	if fi, err := os.Stat(filepath.Join(dstDir, "emptydir")); err != nil || !fi.IsDir() {
		t.Errorf("empty directory: %v", err)
	}
}
