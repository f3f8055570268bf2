package testtree

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func utimesNanoAt(p string, ts []syscall.Timespec) error {
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{unix.NsecToTimespec(syscall.TimespecToNsec(ts[0])), unix.NsecToTimespec(syscall.TimespecToNsec(ts[1]))}, unix.AT_SYMLINK_NOFOLLOW)
}

// Options say what Compare leaves out.
type Options struct {
	// SkipSpecial ignores FIFOs, sockets and devices in src (a migration skips them).
	SkipSpecial bool
	// IgnoreOwner skips uid/gid (when not running as root).
	IgnoreOwner bool
	// Exclude lists top-level relative paths to ignore on both sides.
	Exclude []string
}

type node struct {
	mode   fs.FileMode
	size   int64
	mtime  int64
	uid    uint32
	gid    uint32
	target string
	ino    uint64
	blocks int64
}

// Compare returns every difference between two trees (empty when equal):
// entry sets, kinds, modes, mtimes (ns), owners, contents, symlink targets,
// hardlink groups, and sparseness (a sparse source file must not become
// fully allocated).
func Compare(src, dst string, o Options) []string {
	a, errA := scan(src, o)
	b, errB := scan(dst, o)
	if errA != nil || errB != nil {
		return []string{fmt.Sprintf("scan: %v %v", errA, errB)}
	}
	var diffs []string
	add := func(format string, args ...any) {
		if len(diffs) < 50 {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	var names []string
	for n := range a {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		x := a[n]
		y, ok := b[n]
		if !ok {
			add("%s: missing on the target", n)
			continue
		}
		if x.mode.Type() != y.mode.Type() {
			add("%s: kind %v, target %v", n, x.mode.Type(), y.mode.Type())
			continue
		}
		if x.mode&fs.ModeSymlink == 0 && x.mode.Perm()|x.mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != y.mode.Perm()|y.mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) {
			add("%s: mode %v, target %v", n, x.mode, y.mode)
		}
		if x.mtime != y.mtime {
			add("%s: mtime %d, target %d", n, x.mtime, y.mtime)
		}
		if !o.IgnoreOwner && (x.uid != y.uid || x.gid != y.gid) {
			add("%s: owner %d:%d, target %d:%d", n, x.uid, x.gid, y.uid, y.gid)
		}
		switch {
		case x.mode&fs.ModeSymlink != 0:
			if x.target != y.target {
				add("%s: symlink to %q, target %q", n, x.target, y.target)
			}
		case x.mode.IsRegular():
			if x.size != y.size {
				add("%s: size %d, target %d", n, x.size, y.size)
				continue
			}
			ca, _ := os.ReadFile(filepath.Join(src, n))
			cb, _ := os.ReadFile(filepath.Join(dst, n))
			if !bytes.Equal(ca, cb) {
				add("%s: contents differ", n)
			}
			if x.blocks*512 < x.size && y.blocks*512 >= y.size && x.size > 64<<10 {
				add("%s: sparse on the source (%d blocks), fully allocated on the target (%d blocks)", n, x.blocks, y.blocks)
			}
		}
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			add("%s: on the target only", n)
		}
	}
	// Hardlink groups: names sharing an inode in src share one in dst.
	groups := map[uint64][]string{}
	for _, n := range names {
		if a[n].mode.IsRegular() {
			groups[a[n].ino] = append(groups[a[n].ino], n)
		}
	}
	for _, g := range groups {
		for _, n := range g[1:] {
			if y, ok := b[n]; ok && b[g[0]].ino != y.ino {
				add("%s: hardlinked to %s on the source, a separate file on the target", n, g[0])
			}
		}
	}
	sort.Strings(diffs)
	return diffs
}

func scan(root string, o Options) (map[string]node, error) {
	out := map[string]node{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r := rel(root, p)
		if r == "." {
			return nil
		}
		for _, ex := range o.Exclude {
			if r == ex || strings.HasPrefix(r, ex+"/") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode()
		if o.SkipSpecial && mode.Type()&(fs.ModeNamedPipe|fs.ModeSocket|fs.ModeDevice|fs.ModeCharDevice) != 0 {
			return nil
		}
		n := node{mode: mode, size: info.Size(), mtime: st.Mtim.Nano(), uid: st.Uid, gid: st.Gid, ino: st.Ino, blocks: st.Blocks}
		if mode&fs.ModeSymlink != 0 {
			n.target, _ = os.Readlink(p)
		}
		out[r] = n
		return nil
	})
	return out, err
}
