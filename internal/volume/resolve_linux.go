package volume

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync/atomic"

	"github.com/leptonmesh/lepton/internal/manifest"
	"golang.org/x/sys/unix"
)

// Every directory of a volume that Lepton opens, reads or writes in is
// opened here, by openDir or makeDirs, from the descriptor of the volume's
// root and without following a symlink: not on the way, not at the
// directory itself. os.Root would follow a symlink that stays inside the
// root, so a link dst/photos -> ../data planted on a target would take a
// job's files into data/. Where the kernel has openat2 (Linux 5.6) one
// call resolves the whole path with RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH;
// elsewhere each element is opened from its parent with
// O_NOFOLLOW|O_DIRECTORY. Either way a symlink, a file or anything else
// where a directory should be is refused with an error naming it.

// dirFlags opens a directory for *at calls and never follows its name.
const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// noOpenat2 is set once openat2 answered ENOSYS (Linux before 5.6) or
// EPERM (a seccomp filter older than the call; opening a directory for
// reading has no EPERM of its own): every later open walks element by
// element, which is as strict, only a few system calls dearer.
var noOpenat2 atomic.Bool

// access says whether an operation reads a volume or writes it, so a
// refusal can say what to do about it.
type access bool

const (
	reading access = false
	writing access = true
)

// notDirError refuses a path because something other than a directory (a
// symlink, a file, a FIFO...) stands where one of its directories should
// be. It unwraps to ELOOP (a symlink) or ENOTDIR.
type notDirError struct {
	path  string     // the element that is not a directory, relative to the volume
	what  string     // what it is instead, with its article: "a symlink"
	errno unix.Errno // ELOOP or ENOTDIR
	write bool       // refused on a write: say how to get past it
}

func (e *notDirError) Error() string {
	if e.errno != unix.ELOOP {
		return fmt.Sprintf("%s is %s, not a directory", e.path, e.what)
	}
	if e.write {
		return e.path + " is a symlink, not a directory; Lepton does not follow symlinks on the target: remove it or change the job's target path"
	}
	return e.path + " is a symlink, not a directory; Lepton does not follow symlinks"
}

func (e *notDirError) Unwrap() error { return e.errno }

// openDir opens directory rel (clean and relative; "." is the root) of the
// volume without following any symlink.
func (v *Volume) openDir(rel string, acc access) (*os.File, error) {
	var fd int
	err := withFd(v.top, func(top int) (err error) {
		fd, err = openDirAt(top, rel, acc)
		return err
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path.Join(v.path, rel)), nil
}

// makeDirs is openDir that first makes the missing directories of rel,
// with mode perm (less the umask), like os.MkdirAll but following no
// symlink: a symlink on the way, or at rel itself, is refused and nothing
// is made through it.
func (v *Volume) makeDirs(rel string, perm uint32, acc access) (*os.File, error) {
	var fd int
	err := withFd(v.top, func(top int) (err error) {
		fd, err = openDirAt(top, rel, acc)
		if errors.Is(err, unix.ENOENT) {
			fd, err = walkDirs(top, rel, acc, true, perm)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path.Join(v.path, rel)), nil
}

// openDirAt opens directory rel below directory top, following no symlink,
// and returns its descriptor.
func openDirAt(top int, rel string, acc access) (int, error) {
	if !noOpenat2.Load() {
		how := unix.OpenHow{Flags: dirFlags, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH}
		var fd int
		err := eintr(func() (err error) { fd, err = unix.Openat2(top, rel, &how); return err })
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
			noOpenat2.Store(true)
		case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
			// Which element is not a directory: the walk finds it.
		case errors.Is(err, unix.EXDEV), errors.Is(err, unix.EAGAIN):
			// Not from a clean relative path (a ".." raced with a rename):
			// the walk does not care.
		default:
			return -1, &fs.PathError{Op: "open directory", Path: rel, Err: err}
		}
	}
	return walkDirs(top, rel, acc, false, 0)
}

// walkDirs opens directory rel below top one element at a time, each from
// its parent's descriptor with O_NOFOLLOW|O_DIRECTORY; when create is set
// it makes a missing element with mode perm first.
func walkDirs(top int, rel string, acc access, create bool, perm uint32) (int, error) {
	if rel == "." {
		return openat(top, ".", dirFlags)
	}
	cur := top // not ours to close until it is not top
	done := 0  // bytes of rel walked
	for el := range strings.SplitSeq(rel, "/") {
		if done > 0 {
			done++ // the slash
		}
		done += len(el)
		next, err := openat(cur, el, dirFlags)
		if create && errors.Is(err, unix.ENOENT) {
			err = eintr(func() error { return unix.Mkdirat(cur, el, perm) })
			if err == nil || errors.Is(err, unix.EEXIST) { // EEXIST: made meanwhile, or a dangling link
				next, err = openat(cur, el, dirFlags)
			}
		}
		if err != nil {
			err = notDir(cur, el, rel[:done], err, acc, create)
		}
		if cur != top {
			unix.Close(cur)
		}
		if err != nil {
			return -1, err
		}
		cur = next
	}
	return cur, nil
}

// notDir explains why element name of directory dirfd, at p, could not be
// opened (or made) as a directory.
func notDir(dirfd int, name, p string, err error, acc access, create bool) error {
	switch {
	case errors.Is(err, unix.ELOOP): // O_NOFOLLOW met a symlink
		return &notDirError{path: p, what: "a symlink", errno: unix.ELOOP, write: acc == writing}
	case errors.Is(err, unix.ENOTDIR):
		var st unix.Stat_t
		if fstatat(dirfd, name, &st) == nil {
			switch e := entryFromStat(p, &st); e.Kind {
			case manifest.KindSymlink: // replaced by one since the open
				return &notDirError{path: p, what: "a symlink", errno: unix.ELOOP, write: acc == writing}
			case manifest.KindFile:
				return &notDirError{path: p, what: "a file", errno: unix.ENOTDIR}
			case manifest.KindSpecial:
				return &notDirError{path: p, what: "a " + e.Skip, errno: unix.ENOTDIR}
			}
		}
	}
	op := "open directory"
	if create {
		op = "make directory"
	}
	return &fs.PathError{Op: op, Path: p, Err: err}
}

// openat is openat(2) retried on EINTR.
func openat(dirfd int, name string, flags int) (int, error) {
	var fd int
	err := eintr(func() (err error) { fd, err = unix.Openat(dirfd, name, flags, 0); return err })
	return fd, err
}

// removeBatch is how many names removeTree reads from a directory at a
// time, so a temp area with a million files left in it costs bounded memory.
const removeBatch = 1024

// maxRemoveDepth bounds the levels removeTree descends (and the
// descriptors it holds). Lepton's temp area has two.
const maxRemoveDepth = 16

// removeTree removes name from directory dirfd and, when it is a
// directory, everything in it first. It follows no symlink: a link is
// removed, never entered. A name already gone is ENOENT.
func removeTree(dirfd int, name string, depth int) error {
	err := eintr(func() error { return unix.Unlinkat(dirfd, name, 0) })
	if !errors.Is(err, unix.EISDIR) {
		return err
	}
	if depth >= maxRemoveDepth {
		return fmt.Errorf("remove %s: more than %d directories deep", name, maxRemoveDepth)
	}
	for {
		n, err := removeSome(dirfd, name, depth)
		if err != nil {
			return err
		}
		if n < removeBatch {
			break
		}
		// Removing may reorder what is left: read it afresh.
	}
	return eintr(func() error { return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR) })
}

// removeSome removes up to removeBatch entries of directory name of dirfd
// (and their contents), and says how many it read.
func removeSome(dirfd int, name string, depth int) (int, error) {
	fd, err := openat(dirfd, name, dirFlags)
	if err != nil {
		return 0, err
	}
	d := os.NewFile(uintptr(fd), name)
	defer d.Close()
	names, err := d.Readdirnames(removeBatch)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("%s: read directory: %w", name, err)
	}
	for _, n := range names {
		if err := removeTree(fd, n, depth+1); err != nil && !errors.Is(err, unix.ENOENT) {
			return 0, fmt.Errorf("%s/%s: %w", name, n, err)
		}
	}
	return len(names), nil
}
