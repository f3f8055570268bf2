package volume

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leptonmesh/lepton/internal/manifest"
)

func TestWalkListsEveryShape(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir)
	mustOK(t, os.MkdirAll(filepath.Join(dir, ".lepton/tmp/job1"), 0o700))
	mustOK(t, os.WriteFile(filepath.Join(dir, ".lepton/tmp/job1/1.part"), []byte("partial"), 0o600))
	v := openVolume(t, dir)

	es := walkAll(t, v, "", nil)
	got := byPath(es)

	for _, e := range es {
		if e.Path == "." || strings.HasPrefix(e.Path, ".lepton") {
			t.Errorf("walk emitted %q", e.Path)
		}
	}
	want := map[string]struct {
		kind manifest.Kind
		size int64
	}{
		"empty.txt":                   {manifest.KindFile, 0},
		"random.bin":                  {manifest.KindFile, 100 << 10},
		"multi.bin":                   {manifest.KindFile, multiSize},
		"deep/a/b/c/d/e/f/g/leaf.txt": {manifest.KindFile, 4},
		"deep/a/b/c/d/e/f/g":          {manifest.KindDir, 0},
		"café/naïve file.txt":         {manifest.KindFile, 9},
		"with space/x y.txt":          {manifest.KindFile, 6},
		"emptydir":                    {manifest.KindDir, 0},
		"private":                     {manifest.KindDir, 0},
		"links/rel":                   {manifest.KindSymlink, 0},
		"sparse.img":                  {manifest.KindFile, sparseSize},
	}
	for p, w := range want {
		e, ok := got[p]
		if !ok {
			t.Errorf("%q missing from the walk", p)
			continue
		}
		if e.Kind != w.kind || e.Size != w.size || e.Skip != "" {
			t.Errorf("%q: kind %v size %d skip %q, want %v %d", p, e.Kind, e.Size, e.Skip, w.kind, w.size)
		}
	}
	if m := got["private"].Mode; m != 0o700 {
		t.Errorf("private mode %o, want 700", m)
	}
	if m := fs.FileMode(got["modes/suid"].Mode); m != 0o755|fs.ModeSetuid {
		t.Errorf("suid mode %v", m)
	}
	if got["links/rel"].Target != "../random.bin" || got["links/abs"].Target != "/etc/hostname" {
		t.Errorf("symlink targets %q %q", got["links/rel"].Target, got["links/abs"].Target)
	}
	if _, ok := got["links/rel/x"]; ok {
		t.Error("walk followed a symlink")
	}
	if got["hard1.txt"].LinkOf != "" || got["sub/hard2.txt"].LinkOf != "hard1.txt" {
		t.Errorf("hardlinks: %+v %+v", got["hard1.txt"], got["sub/hard2.txt"])
	}
	if got["special/fifo"].Skip != manifest.SkipFIFO || got["special/sock"].Skip != manifest.SkipSocket {
		t.Errorf("special files: %+v %+v", got["special/fifo"], got["special/sock"])
	}
	if got["special/fifo"].Kind != manifest.KindSpecial {
		t.Errorf("fifo kind %v", got["special/fifo"].Kind)
	}
	if !got["sparse.img"].Sparse || got["random.bin"].Sparse {
		t.Errorf("sparse flags: sparse.img %v random.bin %v", got["sparse.img"].Sparse, got["random.bin"].Sparse)
	}
	if got["random.bin"].MtimeNs%1_000_000_000 == 0 {
		t.Error("mtime lost its nanoseconds")
	}
	if isRoot() && (got["owned.txt"].UID != ownerID || got["owned-link"].GID != ownerID) {
		t.Errorf("owners: %+v %+v", got["owned.txt"], got["owned-link"])
	}

	// Depth-first, lexical, a directory before its contents: each path
	// sorts after the previous one element by element.
	for i := 1; i < len(es); i++ {
		a, b := strings.Split(es[i-1].Path, "/"), strings.Split(es[i].Path, "/")
		if slices.Compare(a, b) >= 0 {
			t.Fatalf("order: %q before %q", es[i-1].Path, es[i].Path)
		}
	}
}

func TestWalkMatchPrunesAndExcludes(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir)
	v := openVolume(t, dir)
	var asked []string
	es := walkAll(t, v, "", func(rel string, isDir bool) bool {
		asked = append(asked, rel)
		if isDir && rel == "deep/a" {
			return false
		}
		return !strings.HasSuffix(rel, ".bin")
	})
	for _, e := range es {
		if strings.HasPrefix(e.Path, "deep/a") || strings.HasSuffix(e.Path, ".bin") {
			t.Errorf("excluded %q was emitted", e.Path)
		}
	}
	if _, ok := byPath(es)["deep"]; !ok {
		t.Error("deep itself should be listed")
	}
	for _, a := range asked {
		if strings.HasPrefix(a, "deep/a/") {
			t.Errorf("walk descended into pruned directory: asked about %q", a)
		}
	}
}

func TestWalkSubdirectory(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir)
	v := openVolume(t, dir)
	es := walkAll(t, v, "./deep/a/", nil)
	if len(es) == 0 || es[0].Path != "b" || es[len(es)-1].Path != "b/c/d/e/f/g/leaf.txt" {
		t.Fatalf("walk of deep/a: %+v", es)
	}
	for _, sub := range []string{"links/rel", "random.bin", ".lepton", "../x", "missing"} {
		if err := v.Walk(context.Background(), sub, nil, func(manifest.Entry) error { return nil }); err == nil {
			t.Errorf("Walk(%q) succeeded", sub)
		}
	}
}

func TestWalkReportsVanishedFile(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "c"} {
		mustOK(t, os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644))
	}
	v := openVolume(t, dir)
	// The names are read before any is looked at; removing b while a is
	// matched makes b vanish between readdir and lstat.
	es := walkAll(t, v, "", func(rel string, _ bool) bool {
		if rel == "a" {
			mustOK(t, os.Remove(filepath.Join(dir, "b")))
		}
		return true
	})
	got := byPath(es)
	if len(es) != 3 || got["b"].Skip != manifest.SkipVanished || got["b"].Kind != manifest.KindFile || got["c"].Skip != "" {
		t.Fatalf("entries: %+v", es)
	}
}

func TestWalkListsBadNamesWithoutCopying(t *testing.T) {
	dir := t.TempDir()
	mustOK(t, os.WriteFile(filepath.Join(dir, "latin1-\xe9t\xe9"), []byte("x"), 0o644))
	v := openVolume(t, dir)
	es := walkAll(t, v, "", nil)
	if len(es) != 1 || es[0].Skip != manifest.SkipBadName {
		t.Fatalf("entries: %+v", es)
	}
}

func TestWalkStopsOnCallbackErrorAndCancel(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir)
	v := openVolume(t, dir)
	stop := errors.New("stop")
	n := 0
	err := v.Walk(context.Background(), "", nil, func(manifest.Entry) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err %v after %d entries", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := v.Walk(ctx, "", nil, func(manifest.Entry) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled walk: %v", err)
	}
}

func TestWalkNamesUnreadableDirectory(t *testing.T) {
	if isRoot() {
		t.Skip("root reads every directory; permission errors need an unprivileged user")
	}
	dir := t.TempDir()
	mustOK(t, os.MkdirAll(filepath.Join(dir, "locked/inner"), 0o755))
	mustOK(t, os.Chmod(filepath.Join(dir, "locked"), 0))
	t.Cleanup(func() { os.Chmod(filepath.Join(dir, "locked"), 0o755) })
	v := openVolume(t, dir)
	err := v.Walk(context.Background(), "", nil, func(manifest.Entry) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("walk of an unreadable directory: %v", err)
	}
}

func TestLstatAndOpenRead(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir)
	v := openVolume(t, dir)
	e, err := v.Lstat("links/rel")
	mustOK(t, err)
	if e.Path != "links/rel" || e.Kind != manifest.KindSymlink || e.Target != "../random.bin" {
		t.Fatalf("lstat: %+v", e)
	}
	if _, err := v.Lstat("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("lstat of a missing file: %v", err)
	}
	f, err := v.OpenRead("café/naïve file.txt")
	mustOK(t, err)
	f.Close()
	for _, p := range []string{"links/rel", "private", "special/fifo", "/etc/passwd", "../x"} {
		if f, err := v.OpenRead(p); err == nil {
			f.Close()
			t.Errorf("OpenRead(%q) succeeded", p)
		}
	}
}

func TestDataExtentsSkipHoles(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir)
	v := openVolume(t, dir)
	f, err := v.OpenRead("sparse.img")
	mustOK(t, err)
	defer f.Close()
	ext, err := DataExtents(f, 0, sparseSize)
	mustOK(t, err)
	var total int64
	for _, x := range ext {
		total += x.Len
	}
	covers := func(off int64) bool {
		for _, x := range ext {
			if off >= x.Off && off+4096 <= x.Off+x.Len {
				return true
			}
		}
		return false
	}
	if !covers(1<<20) || !covers(6<<20) || total > sparseSize/4 {
		t.Fatalf("extents %+v (total %d) do not isolate the two data blocks", ext, total)
	}
	// A range inside a hole has no data; a range is clipped to itself.
	if ext, _ := DataExtents(f, 2<<20, 1<<20); len(ext) != 0 {
		t.Errorf("hole range: %+v", ext)
	}
	if ext, _ := DataExtents(f, 1<<20+100, 50); len(ext) != 1 || ext[0] != (manifest.Extent{Off: 1<<20 + 100, Len: 50}) {
		t.Errorf("clipped range: %+v", ext)
	}
	g, err := v.OpenRead("random.bin")
	mustOK(t, err)
	defer g.Close()
	if ext, _ := DataExtents(g, 0, 100<<10); len(ext) != 1 || ext[0] != (manifest.Extent{Off: 0, Len: 100 << 10}) {
		t.Errorf("dense file: %+v", ext)
	}
}
