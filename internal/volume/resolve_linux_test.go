package volume

import (
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

// bothResolvers runs fn once resolving with openat2 and once walking
// element by element, as on a kernel without openat2.
func bothResolvers(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	was := noOpenat2.Load()
	t.Cleanup(func() { noOpenat2.Store(was) })
	for _, walk := range []bool{false, true} {
		name := "openat2"
		if walk {
			name = "walk"
		}
		t.Run(name, func(t *testing.T) {
			noOpenat2.Store(walk)
			fn(t)
			if !walk && noOpenat2.Load() {
				t.Log("this kernel has no openat2: both runs walked")
			}
		})
	}
}

// linkedTree makes, under a fresh volume directory: a/b/c, a/f (a file),
// a/p (a FIFO), and the symlinks a/l -> b, top -> a, out -> a directory
// outside, dangling -> nowhere. It returns the volume directory and the
// outside one.
func linkedTree(t *testing.T) (dir, outside string) {
	t.Helper()
	outside = t.TempDir()
	mustOK(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("outside"), 0o600))
	dir = t.TempDir()
	mustOK(t, os.MkdirAll(filepath.Join(dir, "a/b/c"), 0o755))
	mustOK(t, os.WriteFile(filepath.Join(dir, "a/f"), []byte("file"), 0o644))
	mustOK(t, syscall.Mkfifo(filepath.Join(dir, "a/p"), 0o644))
	mustOK(t, os.Symlink("b", filepath.Join(dir, "a/l")))
	mustOK(t, os.Symlink("a", filepath.Join(dir, "top")))
	mustOK(t, os.Symlink(outside, filepath.Join(dir, "out")))
	mustOK(t, os.Symlink("nowhere", filepath.Join(dir, "dangling")))
	return dir, outside
}

// wantNotDir checks err refuses element at of a path, as what.
func wantNotDir(t *testing.T, err error, at, what string, acc access) {
	t.Helper()
	var nd *notDirError
	if !errors.As(err, &nd) {
		t.Fatalf("got %v, want %s refused as %s", err, at, what)
	}
	msg := err.Error()
	if want := at + " is " + what + ", not a directory"; nd.path != at || !strings.Contains(msg, want) {
		t.Fatalf("got %q, want it to say %q", msg, want)
	}
	advice := strings.Contains(msg, "remove it or change the job's target path")
	if what == "a symlink" {
		if !errors.Is(err, unix.ELOOP) || !strings.Contains(msg, "Lepton does not follow symlinks") {
			t.Fatalf("got %q (%v), want a symlink refusal", msg, errors.Unwrap(err))
		}
		if advice != (acc == writing) {
			t.Fatalf("got %q: advice on a write only", msg)
		}
	} else if !errors.Is(err, unix.ENOTDIR) || advice {
		t.Fatalf("got %q, want ENOTDIR without advice", msg)
	}
}

func TestOpenDirFollowsNoSymlink(t *testing.T) {
	dir, outside := linkedTree(t)
	v := openVolume(t, dir)
	bothResolvers(t, func(t *testing.T) {
		for _, rel := range []string{".", "a", "a/b", "a/b/c"} {
			d, err := v.openDir(rel, reading)
			mustOK(t, err)
			var got, want unix.Stat_t
			mustOK(t, fstat(d, &got))
			d.Close()
			mustOK(t, unix.Lstat(filepath.Join(dir, rel), &want))
			if got.Ino != want.Ino || got.Dev != want.Dev {
				t.Errorf("openDir(%q) opened another directory", rel)
			}
		}
		for _, c := range []struct{ rel, at, what string }{
			{"a/l", "a/l", "a symlink"},
			{"a/l/c", "a/l", "a symlink"},
			{"top", "top", "a symlink"},
			{"top/b/c", "top", "a symlink"},
			{"out", "out", "a symlink"},
			{"dangling/x", "dangling", "a symlink"},
			{"a/f", "a/f", "a file"},
			{"a/f/x", "a/f", "a file"},
			{"a/p", "a/p", "a " + manifest.SkipFIFO},
		} {
			for _, acc := range []access{reading, writing} {
				d, err := v.openDir(c.rel, acc)
				if err == nil {
					d.Close()
				}
				wantNotDir(t, err, c.at, c.what, acc)
			}
		}
		if _, err := v.openDir("a/missing/x", reading); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a missing directory: %v, want ErrNotExist", err)
		}
	})
	assertUntouched(t, outside)
}

func TestMakeDirsFollowsNoSymlink(t *testing.T) {
	bothResolvers(t, func(t *testing.T) {
		dir, outside := linkedTree(t)
		v := openVolume(t, dir)
		d, err := v.makeDirs("a/n1/n2", 0o755, writing)
		mustOK(t, err)
		d.Close()
		if fi, err := os.Lstat(filepath.Join(dir, "a/n1/n2")); err != nil || !fi.IsDir() {
			t.Fatalf("a/n1/n2 not made: %v", err)
		}
		d, err = v.makeDirs("a/b/c", 0o755, writing) // already there
		mustOK(t, err)
		d.Close()
		for _, c := range []struct{ rel, at, what string }{
			{"a/l/new", "a/l", "a symlink"},
			{"a/l", "a/l", "a symlink"}, // the directory to make is itself a link
			{"top/new/deeper", "top", "a symlink"},
			{"out/new", "out", "a symlink"},
			{"dangling", "dangling", "a symlink"},
			{"dangling/x", "dangling", "a symlink"},
			{"a/f/x", "a/f", "a file"},
		} {
			d, err := v.makeDirs(c.rel, 0o755, writing)
			if err == nil {
				d.Close()
			}
			wantNotDir(t, err, c.at, c.what, writing)
		}
		for _, p := range []string{"a/b/new", "a/new", "a/nowhere", "nowhere"} {
			if _, err := os.Lstat(filepath.Join(dir, p)); !os.IsNotExist(err) {
				t.Errorf("%s was made through a link: %v", p, err)
			}
		}
		assertUntouched(t, outside)
	})
}

func TestRemoveTreeRemovesLinksNotTheirTargets(t *testing.T) {
	dir, outside := linkedTree(t)
	victim := filepath.Join(dir, "a/b")
	tree := filepath.Join(dir, "tree")
	mustOK(t, os.MkdirAll(filepath.Join(tree, "sub/deeper"), 0o755))
	for i := range removeBatch + 3 { // more than one batch
		mustOK(t, os.WriteFile(filepath.Join(tree, fmt.Sprintf("%d.part", i)), nil, 0o600))
	}
	mustOK(t, os.Symlink(outside, filepath.Join(tree, "out")))
	mustOK(t, os.Symlink("../../a/b", filepath.Join(tree, "sub/in")))
	mustOK(t, os.WriteFile(filepath.Join(tree, "sub/deeper/x"), nil, 0o600))
	v := openVolume(t, dir)
	mustOK(t, v.inParent("tree", writing, func(dirfd int, name string) error { return removeTree(dirfd, name, 0) }))
	if _, err := os.Lstat(tree); !os.IsNotExist(err) {
		t.Fatalf("tree still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(victim, "c")); err != nil {
		t.Fatalf("a/b/c, behind a link in the tree, is gone: %v", err)
	}
	assertUntouched(t, outside)
	err := v.inParent("gone", writing, func(dirfd int, name string) error { return removeTree(dirfd, name, 0) })
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("removing what is not there: %v, want ErrNotExist", err)
	}
}
