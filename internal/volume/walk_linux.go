package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"unicode/utf8"

	"github.com/leptonmesh/lepton/internal/manifest"
	"golang.org/x/sys/unix"
)

// Walk scans directory sub of the volume depth-first in lexical (byte)
// order, a directory before its contents, and calls fn for every entry.
//
// It never follows a symlink: each directory is opened from its parent's
// descriptor with O_NOFOLLOW, so the walk stays inside the volume even when
// the tree changes under it. At the top of the volume it skips ".lepton",
// Lepton's own temp area. match (nil means everything) sees the path
// relative to sub and whether it is a directory; false excludes a file or
// prunes a directory. A file that vanishes between readdir and lstat is
// reported with Skip "vanished during scan". A directory that cannot be
// read is an error naming it. A sparse file of at least 4 MiB is opened
// (O_NOFOLLOW) and its data mapped with SEEK_DATA/SEEK_HOLE into Data,
// bounded by manifest.MaxDataExtents. Memory is bounded by the names of the
// directories on the current path and by the inodes with several links
// whose other links have not been met yet.
func (v *Volume) Walk(ctx context.Context, sub string, match func(rel string, isDir bool) bool, fn func(manifest.Entry) error) error {
	sub, err := manifest.CleanRel(sub)
	if err != nil {
		return err
	}
	if inTempArea(sub) {
		return fmt.Errorf("scan %s: path is inside Lepton's temp area", sub)
	}
	// The start is opened like every other directory: no symlink is
	// followed on the way to it, nor at it.
	d, err := v.openDir(sub, reading)
	if err != nil {
		var nd *notDirError
		if errors.As(err, &nd) && nd.path == sub && nd.errno == unix.ELOOP {
			return fmt.Errorf("scan %s in volume %s: is a symlink; name the directory itself", sub, v.path)
		}
		return fmt.Errorf("scan %s in volume %s: %w", sub, v.path, err)
	}
	defer d.Close()
	w := &walker{ctx: ctx, match: match, fn: fn, sub: sub, links: map[inode]*linkSeen{}}
	return w.dir(d, "")
}

// inode identifies a file across its hardlinks.
type inode struct{ dev, ino uint64 }

// linkSeen remembers the first path of an inode and how many of its links
// are still to come, so the entry can be forgotten after the last one.
type linkSeen struct {
	first string
	left  uint64
}

// walker is the state of one Walk.
type walker struct {
	ctx   context.Context
	match func(string, bool) bool
	fn    func(manifest.Entry) error
	sub   string
	links map[inode]*linkSeen
}

// shown is a path for messages: relative to the volume, not to sub.
func (w *walker) shown(rel string) string { return path.Join(w.sub, rel) }

func (w *walker) included(rel string, isDir bool) bool {
	return w.match == nil || w.match(rel, isDir)
}

// dir emits the contents of the open directory d, whose path is rel.
func (w *walker) dir(d *os.File, rel string) error {
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("scan %s: read directory: %w", w.shown(rel), err)
	}
	slices.Sort(names)
	top := rel == "" && w.sub == "."
	for _, name := range names {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		if top && name == tempDir {
			continue
		}
		if err := w.child(d, rel, name); err != nil {
			return err
		}
	}
	return nil
}

// child emits one directory entry, and recurses into it when it is a directory.
func (w *walker) child(parent *os.File, prel, name string) error {
	rel := name
	if prel != "" {
		rel = prel + "/" + name
	}
	var st unix.Stat_t
	err := withFd(parent, func(fd int) error { return fstatat(fd, name, &st) })
	if errors.Is(err, unix.ENOENT) {
		return w.vanished(rel, manifest.KindFile)
	}
	if err != nil {
		return fmt.Errorf("scan %s: %w", w.shown(rel), err)
	}
	e := entryFromStat(rel, &st)
	if !w.included(rel, e.Kind == manifest.KindDir) {
		return nil
	}
	if !utf8.ValidString(name) {
		// JSON would mangle the name; list it rather than copy it wrongly.
		e.Size, e.Sparse, e.Skip = 0, false, manifest.SkipBadName
		return w.fn(e)
	}
	switch e.Kind {
	case manifest.KindSymlink:
		err := withFd(parent, func(fd int) (err error) {
			e.Target, err = readlinkat(fd, name, st.Size)
			return err
		})
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) {
			return w.vanished(rel, manifest.KindSymlink)
		}
		if err != nil {
			return fmt.Errorf("scan %s: readlink: %w", w.shown(rel), err)
		}
	case manifest.KindFile:
		w.hardlink(&e, &st)
		_ = withFd(parent, func(fd int) error { mapData(fd, name, &st, &e); return nil })
	case manifest.KindDir:
		return w.subdir(parent, rel, name)
	}
	return w.fn(e)
}

// vanished reports an entry that disappeared while it was being scanned.
func (w *walker) vanished(rel string, kind manifest.Kind) error {
	if !w.included(rel, kind == manifest.KindDir) {
		return nil
	}
	return w.fn(manifest.Entry{Path: rel, Kind: kind, Skip: manifest.SkipVanished})
}

// hardlink sets LinkOf when the file's inode was met before in this walk.
func (w *walker) hardlink(e *manifest.Entry, st *unix.Stat_t) {
	if st.Nlink < 2 {
		return
	}
	key := inode{dev: st.Dev, ino: st.Ino}
	if seen, ok := w.links[key]; ok {
		e.LinkOf = seen.first
		if seen.left--; seen.left == 0 {
			delete(w.links, key)
		}
		return
	}
	w.links[key] = &linkSeen{first: e.Path, left: uint64(st.Nlink) - 1}
}

// subdir opens directory name of parent without following symlinks, emits
// its entry (from the opened descriptor, so entry and contents agree) and
// walks it.
func (w *walker) subdir(parent *os.File, rel, name string) error {
	var fd int
	err := withFd(parent, func(pfd int) error {
		return eintr(func() (err error) {
			fd, err = unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			return err
		})
	})
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
		// Gone, or replaced by a symlink or a file since the lstat.
		return w.vanished(rel, manifest.KindDir)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Errorf("scan %s: permission denied opening directory: %w", w.shown(rel), err)
	case err != nil:
		return fmt.Errorf("scan %s: open directory: %w", w.shown(rel), err)
	}
	d := os.NewFile(uintptr(fd), w.shown(rel))
	defer d.Close()
	var st unix.Stat_t
	if err := fstat(d, &st); err != nil {
		return fmt.Errorf("scan %s: %w", w.shown(rel), err)
	}
	if err := w.fn(entryFromStat(rel, &st)); err != nil {
		return err
	}
	return w.dir(d, rel)
}
