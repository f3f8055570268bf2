package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/leptonmesh/lepton/internal/testtree"
)

// leptonDir is where a Lepton receiver keeps its temp files inside a
// target volume; it is not part of the copy.
const leptonDir = ".lepton"

// tree is one sample tree on tmpfs: what every tool of a scenario copies.
type tree struct {
	dir   string
	bytes int64 // regular-file bytes
	files int64 // regular files
	top   []string
}

// measureTree counts a tree's regular files and bytes and lists its
// top-level entries (the split for parallel rsync/rclone).
func measureTree(dir string) (tree, error) {
	t := tree{dir: dir}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			t.files++
			t.bytes += info.Size()
		}
		return nil
	})
	if err != nil {
		return t, fmt.Errorf("measure %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return t, fmt.Errorf("measure %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.Name() != leptonDir {
			t.top = append(t.top, e.Name())
		}
	}
	return t, nil
}

// splitThree deals names into three disjoint groups, round robin, so each
// of three parallel processes gets about a third of the tree.
func splitThree(names []string) [3][]string {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	var out [3][]string
	for i, n := range sorted {
		out[i%3] = append(out[i%3], n)
	}
	return out
}

// emptyDir removes everything in dir but the names in keep.
func emptyDir(dir string, keep ...string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("empty %s: %w", dir, err)
	}
	for _, e := range entries {
		if contains(keep, e.Name()) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("empty %s: %w", dir, err)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// bytesLanded is what a stopped copy has put on the target so far: the
// allocated bytes (st_blocks × 512) of every regular file under dir, temp
// files included and holes not, so a preallocated but unwritten file does
// not count. Directories and symlinks are left out. Files that vanish
// during the walk (a tool renaming its temp file) are skipped.
func bytesLanded(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p != dir {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		total += st.Blocks * 512
		return nil
	})
	if err != nil {
		return total, fmt.Errorf("bytes landed in %s: %w", dir, err)
	}
	return total, nil
}

// verifyStrict is the check for Lepton and rsync -a: the target equals
// the source as rsync -aH would keep it (entries, bytes, modes, mtimes to
// the nanosecond, owners, links), the receiver's .lepton excluded.
func verifyStrict(src, dst string) error {
	diffs := testtree.Compare(src, dst, testtree.Options{Exclude: []string{leptonDir}})
	return diffsError(diffs)
}

// verifyContent is the check for rclone copy, which keeps files' mtimes
// but not directories' mtimes, modes or owners: the same set of regular
// files and directories with the same sizes and bytes.
func verifyContent(src, dst string) error {
	a, err := contentIndex(src)
	if err != nil {
		return err
	}
	b, err := contentIndex(dst)
	if err != nil {
		return err
	}
	var diffs []string
	add := func(format string, args ...any) {
		if len(diffs) < 20 {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	for name, x := range a {
		y, ok := b[name]
		switch {
		case !ok:
			add("%s: missing on the target", name)
		case x.dir != y.dir:
			add("%s: a directory on one side only", name)
		case x.size != y.size:
			add("%s: size %d, target %d", name, x.size, y.size)
		case !x.dir:
			same, err := sameBytes(filepath.Join(src, name), filepath.Join(dst, name))
			if err != nil {
				add("%s: %v", name, err)
			} else if !same {
				add("%s: contents differ", name)
			}
		}
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			add("%s: on the target only", name)
		}
	}
	sort.Strings(diffs)
	return diffsError(diffs)
}

type contentEntry struct {
	dir  bool
	size int64
}

func contentIndex(root string) (map[string]contentEntry, error) {
	out := map[string]contentEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if rel == leptonDir {
			return filepath.SkipDir
		}
		switch {
		case d.IsDir():
			out[rel] = contentEntry{dir: true}
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			out[rel] = contentEntry{size: info.Size()}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", root, err)
	}
	return out, nil
}

// sameBytes compares two files in 1 MiB pieces.
func sameBytes(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if ea == io.EOF || ea == io.ErrUnexpectedEOF {
			return eb == io.EOF || eb == io.ErrUnexpectedEOF, nil
		}
		if ea != nil {
			return false, ea
		}
		if eb != nil {
			return false, eb
		}
	}
}

func diffsError(diffs []string) error {
	if len(diffs) == 0 {
		return nil
	}
	more := ""
	if len(diffs) > 5 {
		more = fmt.Sprintf(" (and %d more)", len(diffs)-5)
		diffs = diffs[:5]
	}
	return fmt.Errorf("the target differs from the source: %s%s", strings.Join(diffs, "; "), more)
}
