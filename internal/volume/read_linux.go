package volume

import (
	"errors"
	"fmt"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// Lstat describes one object of the volume without following it; the
// entry's Path is rel. It does not set LinkOf (that needs a walk).
func (v *Volume) Lstat(rel string) (Entry, error) {
	rel, err := CleanRel(rel)
	if err != nil {
		return Entry{}, err
	}
	var e Entry
	err = v.inParent(rel, func(dirfd int, name string) error {
		var st unix.Stat_t
		if err := fstatat(dirfd, name, &st); err != nil {
			return err
		}
		e = entryFromStat(rel, &st)
		if e.Kind == KindSymlink {
			t, err := readlinkat(dirfd, name, st.Size)
			if err != nil {
				return err
			}
			e.Target = t
		}
		return nil
	})
	if err != nil {
		return Entry{}, fmt.Errorf("lstat %s in volume %s: %w", rel, v.path, err)
	}
	return e, nil
}

// OpenRead opens regular file rel for reading. It refuses anything else,
// including a symlink (even one pointing inside the volume), and checks
// that the file it opened is the one the name refers to.
func (v *Volume) OpenRead(rel string) (*os.File, error) {
	rel, err := CleanRel(rel)
	if err != nil {
		return nil, err
	}
	f, _, err := v.openChecked(nil, rel, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s in volume %s: %w", rel, v.path, err)
	}
	return f, nil
}

// openChecked opens rel through the root (or run, when not nil) and makes
// sure the object opened is a regular file, without following a symlink:
// os.Root follows one that stays inside the root, and Lepton follows none.
// It returns the file's stat.
//
// The parent directory is resolved once; the file is then looked at and
// opened relative to that one descriptor, with O_NOFOLLOW on its name, and
// the descriptor's own stat says what was opened. For a tree of small files
// this is most of what a migration costs per file.
func (v *Volume) openChecked(run *DirRun, rel string, flag int, perm os.FileMode) (*os.File, *unix.Stat_t, error) {
	var (
		fd     = -1
		opened unix.Stat_t
	)
	err := v.inParentOf(run, rel, func(dirfd int, name string) error {
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

// Extent is a byte range of a file.
type Extent struct{ Off, Len int64 }

// maxExtents bounds the extents DataExtents returns for one range; past it
// the rest of the range is returned as one extent (sending a few zeros is
// cheaper than a huge list).
const maxExtents = 4096

// DataExtents lists the ranges of [off, off+length) that hold data, so that
// holes of a sparse file are neither read nor sent. It uses SEEK_DATA and
// SEEK_HOLE; where the file system does not support them the whole range is
// one extent.
func DataExtents(f *os.File, off, length int64) ([]Extent, error) {
	if off < 0 || length < 0 {
		return nil, fmt.Errorf("data extents of %s: negative range %d+%d", f.Name(), off, length)
	}
	if length == 0 {
		return nil, nil
	}
	end := off + length
	whole := []Extent{{Off: off, Len: length}}
	var out []Extent
	err := withFd(f, func(fd int) error {
		pos := off
		for pos < end {
			if len(out) == maxExtents {
				out = append(out, Extent{Off: pos, Len: end - pos})
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
			out = append(out, Extent{Off: data, Len: hole - data})
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
