package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"

	"github.com/leptonmesh/lepton/internal/manifest"
	"golang.org/x/sys/unix"
)

// Volume is one declared volume directory. Every directory in it is opened
// from the descriptor of its root without following a symlink (openDir,
// makeDirs), and every file by name from such a directory with O_NOFOLLOW,
// so no path, and no symlink planted in the volume, leads anywhere else:
// not outside the directory, and not to another place inside it either.
type Volume struct {
	top  *os.File // the volume's root directory: every path resolves from it
	path string
	dirs dirCache // open directories of the temp area
}

// Open opens the volume at path, which must be an existing directory.
func Open(dir string) (*Volume, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("volume %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("volume %s: directory does not exist", abs)
	case err != nil:
		return nil, fmt.Errorf("volume %s: %w", abs, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("volume %s: not a directory", abs)
	}
	top, err := os.OpenFile(abs, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("volume %s: %w", abs, err)
	}
	return &Volume{top: top, path: abs}, nil
}

// Close releases the volume's directory descriptors.
func (v *Volume) Close() error {
	v.dirs.closeAll()
	return v.top.Close()
}

// Path is the absolute directory of the volume, for messages.
func (v *Volume) Path() string { return v.path }

// Available is the number of bytes an unprivileged user may still write on
// the volume's file system (statfs f_bavail).
func (v *Volume) Available() (uint64, error) {
	var st unix.Statfs_t
	err := v.withDir(".", reading, func(fd int) error {
		return eintr(func() error { return unix.Fstatfs(fd, &st) })
	})
	if err != nil {
		return 0, fmt.Errorf("statfs %s: %w", v.path, err)
	}
	unit := uint64(st.Frsize)
	if unit == 0 {
		unit = uint64(st.Bsize)
	}
	return st.Bavail * unit, nil
}

// withDir opens directory rel without following a symlink (openDir) and
// runs fn with its descriptor.
//
// Directories in Lepton's temp area come from the volume's cache of open
// descriptors; if fn fails in a way a stale descriptor explains, the entry
// is evicted and fn runs once more on a fresh walk.
func (v *Volume) withDir(rel string, acc access, fn func(fd int) error) error {
	open := func() (*os.File, error) { return v.openDir(rel, acc) }
	if inTempArea(rel) {
		d, err := v.dirs.get(rel, open)
		if err != nil {
			return err
		}
		if err = withFd(d, fn); err == nil || !stale(err) {
			return err
		}
		v.dirs.evict(rel)
	}
	d, err := open()
	if err != nil {
		return err
	}
	defer d.Close()
	return withFd(d, fn)
}

// inParent runs fn with a descriptor of rel's parent directory (opened
// without following a symlink) and rel's last element, for the *at calls
// that must act on a name without following it.
func (v *Volume) inParent(rel string, acc access, fn func(dirfd int, name string) error) error {
	return v.withDir(path.Dir(rel), acc, func(fd int) error { return fn(fd, path.Base(rel)) })
}

// inParentOf is inParent through run, or the volume itself when run is nil.
func (v *Volume) inParentOf(run *DirRun, rel string, acc access, fn func(dirfd int, name string) error) error {
	if run != nil {
		return run.inParent(rel, acc, fn)
	}
	return v.inParent(rel, acc, fn)
}

// withFd runs fn with f's descriptor without switching it to blocking mode.
func withFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// maxEINTR bounds retries of a system call interrupted by a signal.
const maxEINTR = 100

// eintr retries fn while it fails with EINTR (NFS and FUSE can return it).
func eintr(fn func() error) error {
	var err error
	for range maxEINTR {
		if err = fn(); err != unix.EINTR {
			return err
		}
	}
	return err
}

// fstatat is lstat of name in directory dirfd.
func fstatat(dirfd int, name string, st *unix.Stat_t) error {
	return eintr(func() error { return unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW) })
}

// fstat is stat of an open file.
func fstat(f *os.File, st *unix.Stat_t) error {
	return withFd(f, func(fd int) error {
		return eintr(func() error { return unix.Fstat(fd, st) })
	})
}

// readlinkat reads the target of symlink name in dirfd verbatim.
func readlinkat(dirfd int, name string, sizeHint int64) (string, error) {
	n := 256
	if sizeHint > 0 && sizeHint < manifest.MaxPathLen {
		n = int(sizeHint) + 1
	}
	for n <= 2*manifest.MaxPathLen {
		buf := make([]byte, n)
		var got int
		err := eintr(func() (err error) { got, err = unix.Readlinkat(dirfd, name, buf); return err })
		if err != nil {
			return "", err
		}
		if got < n {
			return string(buf[:got]), nil
		}
		n *= 2
	}
	return "", fmt.Errorf("symlink target longer than %d bytes", 2*manifest.MaxPathLen)
}

// entryFromStat builds the entry of one object from its lstat.
func entryFromStat(rel string, st *unix.Stat_t) manifest.Entry {
	e := manifest.Entry{
		Path:    rel,
		Mode:    uint32(modeOf(st.Mode)),
		MtimeNs: st.Mtim.Nano(),
		UID:     st.Uid,
		GID:     st.Gid,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		e.Kind = manifest.KindFile
		e.Size = st.Size
		e.Sparse = st.Blocks*512 < st.Size
	case unix.S_IFDIR:
		e.Kind = manifest.KindDir
	case unix.S_IFLNK:
		e.Kind = manifest.KindSymlink
	case unix.S_IFSOCK:
		e.Kind, e.Skip = manifest.KindSpecial, manifest.SkipSocket
	case unix.S_IFIFO:
		e.Kind, e.Skip = manifest.KindSpecial, manifest.SkipFIFO
	case unix.S_IFCHR:
		e.Kind, e.Skip = manifest.KindSpecial, manifest.SkipCharDev
	case unix.S_IFBLK:
		e.Kind, e.Skip = manifest.KindSpecial, manifest.SkipBlockDev
	default:
		e.Kind, e.Skip = manifest.KindSpecial, "unknown file type"
	}
	return e
}

// modeOf turns st_mode into fs.FileMode permission and special bits.
func modeOf(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// modeBits is the part of an fs.FileMode that Lepton transfers.
const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
