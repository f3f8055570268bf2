package volume

import (
	"fmt"
	"os"
	"path"

	"github.com/leptonmesh/lepton/internal/manifest"
)

// DirRun keeps open the directory of the last file reached through it, so
// that a run of calls on neighbouring files (a unit packs up to a thousand
// small files in manifest order, mostly of one directory) resolves that
// directory once, not once per file. When files are put in place through
// a run, their directories' fsyncs are batched too: one per directory when
// the run moves on or closes, not one per file.
//
// The directory is opened without following a symlink (openDir); if its
// name is swapped for a symlink while the run holds it, the run goes on in
// the real directory it opened, never through the link (see dirCache).
//
// A run holds its descriptor only while its caller works on one unit;
// Close it before reporting the work done. It is not safe for concurrent
// use.
type DirRun struct {
	v     *Volume
	rel   string   // the directory held, "" when none
	d     *os.File // its descriptor
	dirty bool     // entries were renamed into it since its last fsync
	err   error    // the first failed fsync
}

// Run starts a run of calls on neighbouring files of the volume.
func (v *Volume) Run() *DirRun { return &DirRun{v: v} }

// OpenRead is Volume.OpenRead, resolving rel's directory through the run.
// It also returns what the file opened is (from its descriptor, so it is
// the file read, whatever happens to the name meanwhile).
func (r *DirRun) OpenRead(rel string) (*os.File, manifest.Entry, error) {
	rel, err := manifest.CleanRel(rel)
	if err != nil {
		return nil, manifest.Entry{}, err
	}
	f, st, err := r.v.openChecked(r, rel, os.O_RDONLY, 0)
	if err != nil {
		return nil, manifest.Entry{}, fmt.Errorf("open %s in volume %s: %w", rel, r.v.path, err)
	}
	return f, entryFromStat(rel, st), nil
}

// PlaceFile does what Volume.FinalizeFile does for a temp file its caller
// has just written whole and still holds open (a small file that came in
// one unit), without opening it again: metadata, fsync, rename over dst;
// dst's directory is resolved through the run, which fsyncs it later (see
// Close). size is the length the caller gave OpenTemp. It closes f. Once
// the data is durable, any failure is an ErrNotPlaced: the temp file is
// whole, only not in place.
func (r *DirRun) PlaceFile(f *os.File, size int64, job string, file uint64, dst string, e manifest.Entry, asRoot bool) error {
	return r.v.placeFile(r, f, size, job, file, dst, e, asRoot)
}

// Close fsyncs the directory held if files were put in it, and lets it go.
// An error means files put in place may not survive a crash: the caller
// must not report them done.
func (r *DirRun) Close() error {
	r.release()
	return r.err
}

// inParent runs fn with a descriptor of rel's parent and rel's last
// element. Lepton's temp area goes through the volume's own cache.
func (r *DirRun) inParent(rel string, acc access, fn func(dirfd int, name string) error) error {
	dir := path.Dir(rel)
	if inTempArea(dir) {
		return r.v.inParent(rel, acc, fn)
	}
	if r.d == nil || r.rel != dir {
		r.release()
		d, err := r.v.openDir(dir, acc)
		if err != nil {
			return err
		}
		r.rel, r.d = dir, d
	}
	return withFd(r.d, func(fd int) error { return fn(fd, path.Base(rel)) })
}

// holds says whether the run (nil: none) holds directory dir open.
func (r *DirRun) holds(dir string) bool { return r != nil && r.d != nil && r.rel == dir }

// renamed notes that an entry was renamed into the directory held.
func (r *DirRun) renamed() { r.dirty = true }

// release fsyncs the directory held when dirty, and closes it.
func (r *DirRun) release() {
	if r.d == nil {
		return
	}
	if r.dirty {
		if err := syncDir(r.d); err != nil && r.err == nil {
			r.err = fmt.Errorf("%s: %w", r.rel, err)
		}
	}
	r.d.Close()
	r.rel, r.d, r.dirty = "", nil, false
}
