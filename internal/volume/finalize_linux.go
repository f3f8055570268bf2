package volume

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"

	"github.com/leptonmesh/lepton/internal/manifest"
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
func (v *Volume) FinalizeFile(job string, file uint64, dst string, e manifest.Entry, asRoot bool) error {
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
		if done, _ := v.Lstat(dst); done.Kind == manifest.KindFile && !manifest.Changed(done, e) {
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
func (v *Volume) placeFile(run *DirRun, f *os.File, size int64, job string, file uint64, dst string, e manifest.Entry, asRoot bool) error {
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
func (v *Volume) finish(f *os.File, size int64, tmp, dst string, e manifest.Entry, asRoot bool) error {
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
func finishTemp(f *os.File, size int64, e manifest.Entry, asRoot bool) error {
	if err := setMeta(f, size, e, asRoot); err != nil {
		return err
	}
	return Sync(f)
}

// setMeta checks the temp file's size against e and applies e's owner,
// mode and mtime.
func setMeta(f *os.File, size int64, e manifest.Entry, asRoot bool) error {
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
func applyMeta(f *os.File, e manifest.Entry, asRoot bool, mode fs.FileMode) error {
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
// mtime once the contents are in. A symlink at dst or on the way to it is
// refused, not followed, and so is a file.
func (v *Volume) MakeDir(dst string, e manifest.Entry, asRoot bool) error {
	dst, err := targetRel(dst, true)
	if err != nil {
		return err
	}
	d, err := v.makeDirs(dst, 0o755, writing)
	if err != nil {
		return noSpace(fmt.Errorf("make directory %s in volume %s: %w", dst, v.path, err))
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
func (v *Volume) FinalizeDir(dst string, e manifest.Entry, asRoot bool) error {
	dst, err := targetRel(dst, true)
	if err != nil {
		return err
	}
	d, err := v.openDir(dst, writing)
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
func (v *Volume) MakeSymlink(dst string, e manifest.Entry, asRoot bool) error {
	dst, err := targetRel(dst, false)
	if err != nil {
		return err
	}
	if e.Target == "" || len(e.Target) > manifest.MaxPathLen {
		return fmt.Errorf("make symlink %s in volume %s: target is empty or longer than %d bytes", dst, v.path, manifest.MaxPathLen)
	}
	tmp := stageName()
	err = v.inStage(linkStage, func() error {
		return v.inParent(tmp, writing, func(dirfd int, name string) error {
			return eintr(func() error { return unix.Symlinkat(e.Target, dirfd, name) })
		})
	})
	if err != nil {
		return noSpace(fmt.Errorf("make symlink %s in volume %s: %w", dst, v.path, err))
	}
	err = v.inParent(tmp, writing, func(dirfd int, name string) error {
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
		_ = v.unlink(tmp)
		return fmt.Errorf("make symlink %s in volume %s: %w", dst, v.path, err)
	}
	return nil
}

// MakeHardlink links dst to existing (a file already at its final path):
// linked under a staging name, then renamed into place. Neither path is
// followed through a symlink, and existing is linked itself, not what it
// might point to.
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
	err = v.inStage(linkStage, func() error {
		return v.inParent(existing, writing, func(fromDir int, fromName string) error {
			return v.inParent(tmp, writing, func(toDir int, toName string) error {
				return eintr(func() error { return unix.Linkat(fromDir, fromName, toDir, toName, 0) })
			})
		})
	})
	if err != nil {
		return noSpace(fmt.Errorf("hardlink %s to %s in volume %s: %w", dst, existing, v.path, err))
	}
	err = v.renameInto(nil, tmp, dst, "hardlink")
	// When dst already was a link to the same inode, rename does nothing and
	// leaves the staging name behind.
	if rerr := v.unlink(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("hardlink %s to %s in volume %s: %w", dst, existing, v.path, err)
	}
	return nil
}

// renameInto renames tmp over dst, making dst's parents when missing and
// refusing to replace a directory, then fsyncs dst's directory (or leaves
// that to run, when not nil). Both parents are opened once, following no
// symlink, and the rename and the fsync act on their descriptors. A
// symlink at dst itself is replaced, like a file.
func (v *Volume) renameInto(run *DirRun, tmp, dst, what string) error {
	err := v.renameAt(run, tmp, dst)
	if errors.Is(err, fs.ErrNotExist) {
		d, merr := v.makeDirs(path.Dir(dst), 0o755, writing)
		if merr != nil {
			return noSpace(fmt.Errorf("make parent directories of %s: %w", dst, merr))
		}
		d.Close()
		err = v.renameAt(run, tmp, dst)
	}
	var nd *notDirError
	switch {
	case errors.As(err, &nd):
		return err // it names the path
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
// directories (each opened by openDir), and fsyncs dst's directory, or has
// run do it later. Neither name is followed: a symlink at dst is replaced,
// not written through.
func (v *Volume) renameAt(run *DirRun, tmp, dst string) error {
	return v.inParentOf(run, dst, writing, func(dstDir int, dstName string) error {
		err := v.inParent(tmp, writing, func(tmpDir int, tmpName string) error {
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

// unlink removes the non-directory rel (a staging name).
func (v *Volume) unlink(rel string) error {
	return v.inParent(rel, writing, func(dirfd int, name string) error {
		return eintr(func() error { return unix.Unlinkat(dirfd, name, 0) })
	})
}

// targetRel cleans a target path and refuses Lepton's temp area and, unless
// allowRoot, the volume root itself.
func targetRel(p string, allowRoot bool) (string, error) {
	rel, err := manifest.CleanRel(p)
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
