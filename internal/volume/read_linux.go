package volume

import (
	"errors"
	"fmt"
	"os"
	"path"

	"github.com/leptonmesh/lepton/internal/manifest"
	"golang.org/x/sys/unix"
)

// Lstat describes one object of the volume without following it, as
// Walk does (a sparse file's Data included); the entry's Path is rel. It
// does not set LinkOf (that needs a walk).
func (v *Volume) Lstat(rel string) (manifest.Entry, error) {
	rel, err := manifest.CleanRel(rel)
	if err != nil {
		return manifest.Entry{}, err
	}
	var e manifest.Entry
	err = v.inParent(rel, reading, func(dirfd int, name string) error {
		var st unix.Stat_t
		if err := fstatat(dirfd, name, &st); err != nil {
			return err
		}
		e = entryFromStat(rel, &st)
		mapData(dirfd, name, &st, &e)
		if e.Kind == manifest.KindSymlink {
			t, err := readlinkat(dirfd, name, st.Size)
			if err != nil {
				return err
			}
			e.Target = t
		}
		return nil
	})
	if err != nil {
		return manifest.Entry{}, fmt.Errorf("lstat %s in volume %s: %w", rel, v.path, err)
	}
	return e, nil
}

// OpenRead opens regular file rel for reading. It refuses anything else,
// including a symlink (even one pointing inside the volume), and checks
// that the file it opened is the one the name refers to.
func (v *Volume) OpenRead(rel string) (*os.File, error) {
	rel, err := manifest.CleanRel(rel)
	if err != nil {
		return nil, err
	}
	f, _, err := v.openChecked(nil, rel, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s in volume %s: %w", rel, v.path, err)
	}
	return f, nil
}

// openChecked opens rel (its directory through run, when not nil) and
// makes sure the object opened is a regular file, without following a
// symlink, on the way or at rel itself. It returns the file's stat.
//
// The parent directory is resolved once (openDir); the file is then looked
// at and opened relative to that one descriptor, with O_NOFOLLOW on its
// name, and the descriptor's own stat says what was opened. For a tree of
// small files this is most of what a migration costs per file.
func (v *Volume) openChecked(run *DirRun, rel string, flag int, perm os.FileMode) (*os.File, *unix.Stat_t, error) {
	var (
		fd     = -1
		opened unix.Stat_t
	)
	acc := reading
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE) != 0 {
		acc = writing
	}
	err := v.inParentOf(run, rel, acc, func(dirfd int, name string) error {
		// Never open anything but a regular file: opening a FIFO blocks,
		// and opening a device may act on it.
		var before unix.Stat_t
		err := fstatat(dirfd, name, &before)
		switch {
		case err == nil && before.Mode&unix.S_IFMT != unix.S_IFREG:
			return fmt.Errorf("not a regular file (%s)", entryFromStat(rel, &before).Kind)
		case err != nil && (flag&os.O_CREATE == 0 || !errors.Is(err, unix.ENOENT)):
			return err
		}
		if err := eintr(func() (err error) {
			fd, err = unix.Openat(dirfd, name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
			return err
		}); err != nil {
			if errors.Is(err, unix.ELOOP) {
				return errors.New("is a symlink or was replaced by one while being opened")
			}
			return err
		}
		err = eintr(func() error { return unix.Fstat(fd, &opened) })
		if err == nil && opened.Mode&unix.S_IFMT != unix.S_IFREG {
			err = fmt.Errorf("was replaced while being opened (now %s)", entryFromStat(rel, &opened).Kind)
		}
		if err != nil {
			unix.Close(fd)
			fd = -1
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fd), path.Join(v.path, rel)), &opened, nil
}

// maxExtents bounds the extents DataExtents returns for one range; past it
// the rest of the range is returned as one extent (sending a few zeros is
// cheaper than a huge list).
const maxExtents = 4096

// DataExtents lists the ranges of [off, off+length) that hold data, so that
// holes of a sparse file are neither read nor sent. It uses SEEK_DATA and
// SEEK_HOLE; where the file system does not support them the whole range is
// one extent.
func DataExtents(f *os.File, off, length int64) ([]manifest.Extent, error) {
	if off < 0 || length < 0 {
		return nil, fmt.Errorf("data extents of %s: negative range %d+%d", f.Name(), off, length)
	}
	if length == 0 {
		return nil, nil
	}
	end := off + length
	whole := []manifest.Extent{{Off: off, Len: length}}
	var out []manifest.Extent
	err := withFd(f, func(fd int) error {
		pos := off
		for pos < end {
			if len(out) == maxExtents {
				out = append(out, manifest.Extent{Off: pos, Len: end - pos})
				return nil
			}
			data, err := seek(fd, pos, unix.SEEK_DATA)
			if errors.Is(err, unix.ENXIO) {
				return nil // only a hole (or EOF) from pos on
			}
			if err != nil {
				return err
			}
			if data >= end {
				return nil
			}
			hole, err := seek(fd, data, unix.SEEK_HOLE)
			if errors.Is(err, unix.ENXIO) {
				return nil // truncated under us
			}
			if err != nil {
				return err
			}
			if data < pos || hole <= data {
				out = whole // a file system that answers nonsense
				return nil
			}
			hole = min(hole, end)
			out = append(out, manifest.Extent{Off: data, Len: hole - data})
			pos = hole
		}
		return nil
	})
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
		return whole, nil
	}
	if err != nil {
		return nil, fmt.Errorf("data extents of %s: %w", f.Name(), err)
	}
	return out, nil
}

func seek(fd int, off int64, whence int) (int64, error) {
	var got int64
	err := eintr(func() (err error) { got, err = unix.Seek(fd, off, whence); return err })
	return got, err
}

// dataMergeGap is the widest hole the scanner's data map keeps inside one
// extent: the default chunk size, since extents closer than a chunk would
// share units anyway. The sender still skips such a hole (DataExtents).
const dataMergeGap = 4 << 20

// minMappedSize is the smallest sparse file the scanner maps. Below it the
// extents would merge into about one anyway, the plan packs such files
// whole, and file systems that keep small files inline (no blocks, so
// "sparse") would pay an open per file for nothing.
const minMappedSize = dataMergeGap

// dataMap lists where the data of a regular file of size bytes is, for
// manifest.Entry.Data: extents closer than dataMergeGap merged and, when more than
// manifest.MaxDataExtents remain, the gap doubled until they fit, so the list is
// bounded whatever the file's layout. It returns nil when the map says
// nothing a plan could use: the file system cannot tell (no SEEK_DATA, as
// DataExtents), or the data covers the whole file. An all-hole file gives
// an empty, non-nil list.
func dataMap(fd int, size int64) ([]manifest.Extent, error) {
	out := []manifest.Extent{}
	gap := int64(dataMergeGap)
	add := func(x manifest.Extent) {
		out = appendMerged(out, x, gap)
		for len(out) > manifest.MaxDataExtents {
			gap *= 2
			out = mergeExtents(out, gap)
		}
	}
	for pos := int64(0); pos < size; {
		data, err := seek(fd, pos, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole (or EOF) from pos on
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if data >= size {
			break
		}
		hole, err := seek(fd, data, unix.SEEK_HOLE)
		if errors.Is(err, unix.ENXIO) {
			break // truncated under us: the sender will see the change
		}
		if err != nil {
			return nil, err
		}
		if data < pos || hole <= data {
			return nil, nil // a file system that answers nonsense
		}
		hole = min(hole, size)
		add(manifest.Extent{Off: data, Len: hole - data})
		pos = hole
	}
	if len(out) == 1 && out[0].Off == 0 && out[0].Len == size {
		return nil, nil
	}
	return out, nil
}

// mergeExtents merges, in place, sorted extents apart by less than gap.
func mergeExtents(xs []manifest.Extent, gap int64) []manifest.Extent {
	out := xs[:0]
	for _, x := range xs {
		out = appendMerged(out, x, gap)
	}
	return out
}

// appendMerged appends x, which starts after the last extent of xs, or
// extends that one to cover x when less than gap lies between them.
func appendMerged(xs []manifest.Extent, x manifest.Extent, gap int64) []manifest.Extent {
	if n := len(xs); n > 0 && x.Off-(xs[n-1].Off+xs[n-1].Len) < gap {
		xs[n-1].Len = x.Off + x.Len - xs[n-1].Off
		return xs
	}
	return append(xs, x)
}

// mapData fills e.Data for a sparse regular file of at least
// minMappedSize bytes (not for a hardlink to one met before: its data is
// not sent), from the file at name in directory dirfd whose lstat is st.
// It opens the name with O_NOFOLLOW (and O_NONBLOCK: never wait on a FIFO
// swapped in) and maps it only if the descriptor is still the inode st
// describes. A file that cannot be opened, was replaced or cannot be
// mapped (an I/O error) keeps Data nil and is planned by its size, as a
// dense one: slower, never wrong (its sender finds what happened).
func mapData(dirfd int, name string, st *unix.Stat_t, e *manifest.Entry) {
	if e.Kind != manifest.KindFile || !e.Sparse || e.Size < minMappedSize || e.LinkOf != "" {
		return
	}
	var fd int
	err := eintr(func() (err error) {
		fd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return
	}
	defer unix.Close(fd)
	var now unix.Stat_t
	if err := eintr(func() error { return unix.Fstat(fd, &now) }); err != nil ||
		now.Mode&unix.S_IFMT != unix.S_IFREG || now.Dev != st.Dev || now.Ino != st.Ino {
		return
	}
	if data, err := dataMap(fd, e.Size); err == nil {
		e.Data = data
	}
}
