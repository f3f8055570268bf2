package volume

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// FinalizeFile puts the finished temp file of a job's file at dst with the
// metadata of e: owner (when asRoot), mode, mtime to the nanosecond; then
// fsyncs it, makes dst's missing parents (0755, fixed later by
// FinalizeDir), renames it over dst atomically (replacing a file or link,
// never a directory) and fsyncs the parent. Until the rename nothing is
// visible at dst. When the temp file is gone but dst already matches e
// (size and mtime), the file was finalized before and FinalizeFile
// succeeds, so a retry after a crash is harmless.
func (v *Volume) FinalizeFile(job string, file uint64, dst string, e Entry, asRoot bool) error {
	if err := checkJob(job); err != nil {
		return err
	}
	dst, err := targetRel(dst, false)
	if err != nil {
		return err
	}
	tmp := TempRel(job, file)
	f, st, err := v.openTemp(tmp, os.O_RDWR)
	if errors.Is(err, fs.ErrNotExist) {
		if done, _ := v.Lstat(dst); done.Kind == KindFile && !Changed(done, e) {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("finalize %s in volume %s: open temp: %w", dst, v.path, err)
	}
	return v.finish(f, st.Size, tmp, dst, e, asRoot)
}

// ErrNotPlaced marks a PlaceFile that made the temp file's data durable but
// did not put it in place; FinalizeFile can try again later.
var ErrNotPlaced = errors.New("not put in place")

// placeFile is DirRun.PlaceFile.
func (v *Volume) placeFile(run *DirRun, f *os.File, size int64, job string, file uint64, dst string, e Entry, asRoot bool) error {
	rel, meta := targetRel(dst, false)
	if meta == nil {
		meta = setMeta(f, size, e, asRoot)
	}
	if err := Sync(f); err != nil {
		f.Close()
		return fmt.Errorf("place %s in volume %s: %w", dst, v.path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("place %s in volume %s: %w", dst, v.path, noSpace(err))
	}
	if meta != nil {
		return fmt.Errorf("place %s in volume %s: %w: %w", dst, v.path, ErrNotPlaced, meta)
	}
	if err := v.renameInto(run, TempRel(job, file), rel, "file"); err != nil {
		return fmt.Errorf("place %s in volume %s: %w: %w", dst, v.path, ErrNotPlaced, err)
	}
	return nil
}

// finish finishes temp file f (at tmp, holding size bytes), closes it and
// renames it over dst.
func (v *Volume) finish(f *os.File, size int64, tmp, dst string, e Entry, asRoot bool) error {
	err := finishTemp(f, size, e, asRoot)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = noSpace(cerr)
	}
	if err != nil {
		return fmt.Errorf("finalize %s in volume %s: %w", dst, v.path, err)
	}
	return v.renameInto(nil, tmp, dst, "file")
}

// finishTemp checks the temp file's size against e, applies e's metadata
// and makes it durable.
func finishTemp(f *os.File, size int64, e Entry, asRoot bool) error {
	if err := setMeta(f, size, e, asRoot); err != nil {
		return err
	}
	return Sync(f)
}

// setMeta checks the temp file's size against e and applies e's owner,
// mode and mtime.
func setMeta(f *os.File, size int64, e Entry, asRoot bool) error {
	if size != e.Size {
		return fmt.Errorf("temp holds %d bytes, the file has %d", size, e.Size)
	}
	if err := applyMeta(f, e, asRoot, fs.FileMode(e.Mode)&modeBits); err != nil {
		return err
	}
	if err := futimens(f, e.MtimeNs); err != nil {
		return fmt.Errorf("set mtime: %w", err)
	}
	return nil
}

// applyMeta sets owner (when asRoot) and then mode of an open file: chown
// clears setuid and setgid, so it must come first.
func applyMeta(f *os.File, e Entry, asRoot bool, mode fs.FileMode) error {
	if asRoot {
		if err := f.Chown(int(e.UID), int(e.GID)); err != nil {
			return err
		}
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	return nil
}

// MakeDir makes directory dst (and missing parents, 0755) and gives it e's
// owner (when asRoot) and mode, plus owner rwx so that its contents can be
// written whoever Lepton runs as; FinalizeDir sets the exact mode and the
// mtime once the contents are in.
func (v *Volume) MakeDir(dst string, e Entry, asRoot bool) error {
	dst, err := targetRel(dst, true)
	if err != nil {
		return err
	}
	if err := v.root.MkdirAll(dst, 0o755); err != nil {
		if fi, lerr := v.root.Lstat(dst); lerr == nil && !fi.IsDir() {
			return fmt.Errorf("make directory %s in volume %s: exists and is not a directory", dst, v.path)
		}
		return noSpace(fmt.Errorf("make directory %s in volume %s: %w", dst, v.path, err))
	}
	d, err := v.openDir(dst)
	if err != nil {
		return fmt.Errorf("make directory %s in volume %s: %w", dst, v.path, err)
	}
	defer d.Close()
	if err := applyMeta(d, e, asRoot, fs.FileMode(e.Mode)&modeBits|0o700); err != nil {
		return fmt.Errorf("make directory %s in volume %s: %w", dst, v.path, err)
	}
	return nil
}

// FinalizeDir gives directory dst e's exact mode and mtime. Writing an entry
// into a directory changes its mtime, so callers finalize a directory after
// everything inside it, deepest first.
func (v *Volume) FinalizeDir(dst string, e Entry, asRoot bool) error {
	dst, err := targetRel(dst, true)
	if err != nil {
		return err
	}
	d, err := v.openDir(dst)
	if err != nil {
		return fmt.Errorf("finalize directory %s in volume %s: %w", dst, v.path, err)
	}
	defer d.Close()
	if err := applyMeta(d, e, asRoot, fs.FileMode(e.Mode)&modeBits); err != nil {
		return fmt.Errorf("finalize directory %s in volume %s: %w", dst, v.path, err)
	}
	if err := futimens(d, e.MtimeNs); err != nil {
		return fmt.Errorf("finalize directory %s in volume %s: set mtime: %w", dst, v.path, err)
	}
	if err := syncDir(d); err != nil {
		return fmt.Errorf("finalize directory %s in volume %s: %w", dst, v.path, err)
	}
	return nil
}

// MakeSymlink creates symlink dst with e's target, verbatim (an absolute or
// climbing target is data; Lepton never follows it), its owner (when
// asRoot) and its own mtime, under a staging name first and then renamed
// into place, so dst is never missing or half-made.
func (v *Volume) MakeSymlink(dst string, e Entry, asRoot bool) error {
	dst, err := targetRel(dst, false)
	if err != nil {
		return err
	}
	if e.Target == "" || len(e.Target) > MaxPathLen {
		return fmt.Errorf("make symlink %s in volume %s: target is empty or longer than %d bytes", dst, v.path, MaxPathLen)
	}
	tmp := stageName()
	if err := v.inStage(linkStage, func() error { return v.root.Symlink(e.Target, tmp) }); err != nil {
		return noSpace(fmt.Errorf("make symlink %s in volume %s: %w", dst, v.path, err))
	}
	err = v.inParent(tmp, func(dirfd int, name string) error {
		if asRoot {
			if err := unix.Fchownat(dirfd, name, int(e.UID), int(e.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fmt.Errorf("lchown: %w", err)
			}
		}
		ts := timesFor(e.MtimeNs)
		if err := unix.UtimesNanoAt(dirfd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("set link mtime: %w", err)
		}
		return nil
	})
	if err == nil {
		err = v.renameInto(nil, tmp, dst, "symlink")
	}
	if err != nil {
		_ = v.root.Remove(tmp)
		return fmt.Errorf("make symlink %s in volume %s: %w", dst, v.path, err)
	}
	return nil
}

// MakeHardlink links dst to existing (a file already at its final path):
// linked under a staging name, then renamed into place.
func (v *Volume) MakeHardlink(dst, existing string) error {
	dst, err := targetRel(dst, false)
	if err != nil {
		return err
	}
	existing, err = targetRel(existing, false)
	if err != nil {
		return err
	}
	tmp := stageName()
	if err := v.inStage(linkStage, func() error { return v.root.Link(existing, tmp) }); err != nil {
		return noSpace(fmt.Errorf("hardlink %s to %s in volume %s: %w", dst, existing, v.path, err))
	}
	err = v.renameInto(nil, tmp, dst, "hardlink")
	// When dst already was a link to the same inode, rename does nothing and
	// leaves the staging name behind.
	if rerr := v.root.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("hardlink %s to %s in volume %s: %w", dst, existing, v.path, err)
	}
	return nil
}

// renameInto renames tmp over dst, making dst's parents when missing and
// refusing to replace a directory, then fsyncs dst's directory (or leaves
// that to run, when not nil). Both parents are resolved through the root
// once, and the rename and the fsync act on their descriptors.
func (v *Volume) renameInto(run *DirRun, tmp, dst, what string) error {
	parent := path.Dir(dst)
	err := v.renameAt(run, tmp, dst)
	if errors.Is(err, fs.ErrNotExist) {
		if merr := v.root.MkdirAll(parent, 0o755); merr != nil {
			return noSpace(fmt.Errorf("make parent directories of %s: %w", dst, merr))
		}
		err = v.renameAt(run, tmp, dst)
	}
	switch {
	case errors.Is(err, unix.EISDIR), errors.Is(err, unix.ENOTEMPTY), errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%s is a directory; refusing to replace it with a %s", dst, what)
	case errors.Is(err, unix.EXDEV):
		return fmt.Errorf("rename into %s: it is on another file system than the volume root (mounts nested in a target volume are not supported): %w", dst, err)
	case err != nil:
		return noSpace(fmt.Errorf("rename into %s: %w", dst, err))
	}
	return nil
}

// renameAt renames tmp to dst with renameat(2) between their parent
// directories (each opened through the root), and fsyncs dst's directory,
// or has run do it later. Neither name is followed: a symlink at dst is
// replaced, not written through.
func (v *Volume) renameAt(run *DirRun, tmp, dst string) error {
	return v.inParentOf(run, dst, func(dstDir int, dstName string) error {
		err := v.inParent(tmp, func(tmpDir int, tmpName string) error {
			return eintr(func() error { return unix.Renameat(tmpDir, tmpName, dstDir, dstName) })
		})
		if err != nil {
			return err
		}
		if run.holds(path.Dir(dst)) {
			run.renamed()
			return nil
		}
		return eintr(func() error {
			if err := unix.Fsync(dstDir); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EOPNOTSUPP) {
				return noSpace(fmt.Errorf("fsync directory %s: %w", path.Dir(dst), err))
			}
			return nil
		})
	})
}

// syncDir fsyncs an open directory; file systems that cannot are let be.
func syncDir(d *os.File) error {
	if err := d.Sync(); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EOPNOTSUPP) {
		return noSpace(fmt.Errorf("fsync directory: %w", err))
	}
	return nil
}

// openDir opens directory rel without following a symlink at its last
// element (its parents resolve through the root, never outside it).
func (v *Volume) openDir(rel string) (*os.File, error) {
	var fd int
	err := v.inParent(rel, func(dirfd int, name string) error {
		return eintr(func() (err error) {
			fd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			return err
		})
	})
	if errors.Is(err, unix.ELOOP) {
		return nil, errors.New("is a symlink, not a directory")
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path.Join(v.path, rel)), nil
}

// targetRel cleans a target path and refuses Lepton's temp area and, unless
// allowRoot, the volume root itself.
func targetRel(p string, allowRoot bool) (string, error) {
	rel, err := CleanRel(p)
	if err != nil {
		return "", err
	}
	if inTempArea(rel) {
		return "", fmt.Errorf("path %q is inside Lepton's temp area %s", p, tempDir)
	}
	if rel == "." && !allowRoot {
		return "", fmt.Errorf("path %q names the volume root itself", p)
	}
	return rel, nil
}

// stageName is a fresh staging path for a symlink or hardlink.
func stageName() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return linkStage + "/" + hex.EncodeToString(b[:])
}
