package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// OpenTemp opens (creating it and its parents, mode 0700) the temp file of
// one file of a job, for writing chunks at their offsets. It never
// truncates content: it only sets the length to size when it differs, so
// holes stay holes and several receivers of a shared volume (or several
// goroutines) may open the same temp file and write different ranges.
func (v *Volume) OpenTemp(job string, file uint64, size int64) (*os.File, error) {
	return v.openTempSized(job, file, size, false)
}

// OpenTempWhole is OpenTemp for a caller about to write all size bytes of
// a file with no holes: a new, empty temp file is not sized first (the
// write sizes it, and a system call per small file is saved); one left
// with other content by an earlier attempt is sized as by OpenTemp.
func (v *Volume) OpenTempWhole(job string, file uint64, size int64) (*os.File, error) {
	return v.openTempSized(job, file, size, true)
}

func (v *Volume) openTempSized(job string, file uint64, size int64, whole bool) (*os.File, error) {
	if err := checkJob(job); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, fmt.Errorf("temp file for file %d of job %s: negative size %d", file, job, size)
	}
	rel := TempRel(job, file)
	var (
		f  *os.File
		st *unix.Stat_t
	)
	err := v.inStage(path.Dir(rel), func() (err error) {
		f, st, err = v.openTemp(rel, os.O_RDWR|os.O_CREATE)
		return err
	})
	if err != nil {
		return nil, noSpace(fmt.Errorf("open temp %s in volume %s: %w", rel, v.path, err))
	}
	if st.Size != size && (!whole || st.Size != 0) {
		if err := f.Truncate(size); err != nil {
			f.Close()
			return nil, noSpace(fmt.Errorf("size temp %s in volume %s to %d bytes: %w", rel, v.path, size, err))
		}
	}
	return f, nil
}

// openTemp opens a temp file in Lepton's own area (0700, made and emptied by
// Lepton alone): with O_NOFOLLOW on its name, through the kept descriptor
// of its directory, and refused unless it is a regular file. Nothing else
// writes there, so the checks openChecked makes against a name being
// swapped under it are not needed: two system calls per file instead of four.
func (v *Volume) openTemp(rel string, flag int) (*os.File, *unix.Stat_t, error) {
	fd := -1
	var st unix.Stat_t
	err := v.inParent(rel, writing, func(dirfd int, name string) error {
		err := eintr(func() (err error) {
			fd, err = unix.Openat(dirfd, name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600) // O_RDWR never blocks on a FIFO
			return err
		})
		if err != nil {
			return err
		}
		err = eintr(func() error { return unix.Fstat(fd, &st) })
		if err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG {
			err = fmt.Errorf("not a regular file (%s)", entryFromStat(rel, &st).Kind)
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
	return os.NewFile(uintptr(fd), path.Join(v.path, rel)), &st, nil
}

// maxStageTries bounds retries when a concurrent cleanup removed an empty
// staging directory between our mkdir and our create.
const maxStageTries = 3

// inStage runs create in directory dir, making dir (0700, and following
// no symlink: makeDirs) first when it is missing, and retrying when create
// finds it gone again (RemoveJobTemp of another job removes empty ones).
// The directory usually exists: trying first spares a walk of the path for
// every chunk.
func (v *Volume) inStage(dir string, create func() error) error {
	err := create()
	for range maxStageTries {
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		var d *os.File
		if d, err = v.makeDirs(dir, 0o700, writing); err != nil {
			return err
		}
		d.Close()
		err = create()
	}
	return err
}

// RemoveJobTemp removes the temp files of a job, and Lepton's temp area of
// the volume when nothing else is left in it. It follows no symlink: one
// planted in the temp area is refused on the way or removed itself, and
// nothing it points to is touched.
func (v *Volume) RemoveJobTemp(job string) error {
	if err := checkJob(job); err != nil {
		return err
	}
	dir := path.Dir(TempRel(job, 0))
	v.dirs.evict(dir)
	v.dirs.evict(linkStage)
	err := v.inParent(dir, writing, func(dirfd int, name string) error { return removeTree(dirfd, name, 0) })
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove temp files of job %s in volume %s: %w", job, v.path, err)
	}
	for _, d := range []string{linkStage, tmpRoot, tempDir} {
		err := v.inParent(d, writing, func(dirfd int, name string) error {
			return eintr(func() error { return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR) })
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			break // not empty: another job's, or a link being made
		}
	}
	return nil
}

// WriteAt writes all of p at off in a temp file, wrapping a full disk or
// spent quota with ErrNoSpace.
func WriteAt(f *os.File, p []byte, off int64) error {
	if _, err := f.WriteAt(p, off); err != nil {
		return noSpace(err)
	}
	return nil
}

// Sync makes a temp file's written data durable, wrapping a full disk or
// spent quota (which NFS reports only here) with ErrNoSpace.
func Sync(f *os.File) error {
	if err := f.Sync(); err != nil {
		return noSpace(err)
	}
	return nil
}

// zeroBuf is the write size of Zero's fallback.
const zeroBuf = 64 << 10

// Zero makes [off, off+length) of a temp file read as zeros, as a hole where
// the file system can punch one. A receiver calls it for the holes of a
// sparse source range, so a temp file that already held other data (a file
// sent again after it changed) ends up exact, and sparse.
func Zero(f *os.File, off, length int64) error {
	if off < 0 || length < 0 {
		return fmt.Errorf("zero %s: negative range %d+%d", f.Name(), off, length)
	}
	if length == 0 {
		return nil
	}
	err := withFd(f, func(fd int) error {
		return eintr(func() error {
			return unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, length)
		})
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS) {
		return noSpace(fmt.Errorf("punch hole in %s at %d+%d: %w", f.Name(), off, length, err))
	}
	buf := make([]byte, min(length, zeroBuf))
	for done := int64(0); done < length; {
		n := min(int64(len(buf)), length-done)
		if err := WriteAt(f, buf[:n], off+done); err != nil {
			return err
		}
		done += n
	}
	return nil
}

// noSpace wraps err with ErrNoSpace when it is ENOSPC or EDQUOT, keeping
// the original error in the chain.
func noSpace(err error) error {
	if err == nil || errors.Is(err, ErrNoSpace) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// futimens sets the mtime of an open file to the nanosecond and leaves its
// atime alone (utimensat with a NULL path acts on the descriptor itself).
func futimens(f *os.File, mtimeNs int64) error {
	ts := timesFor(mtimeNs)
	return withFd(f, func(fd int) error {
		return eintr(func() error {
			_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
			if errno != 0 {
				return errno
			}
			return nil
		})
	})
}

// timesFor is the utimensat times argument: atime untouched, mtime set.
func timesFor(mtimeNs int64) [2]unix.Timespec {
	return [2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(mtimeNs)}
}
