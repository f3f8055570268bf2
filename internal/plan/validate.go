package plan

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"unicode/utf8"

	"github.com/leptonmesh/lepton/internal/manifest"
)

// Bounds on what a scanner may commit to the plan, checked by the leader
// before a batch is committed (see CheckManifest).
const (
	// MaxManifestEntries bounds one manifest batch (the scanner sends at
	// most 2000), so one Raft entry stays small.
	MaxManifestEntries = 4096
	// MaxJobUnits bounds the units one job may plan: 64 TiB of data at the
	// default 4 MiB chunk, 1 PiB at 64 MiB. Every replica holds every unit.
	MaxJobUnits = 1 << 24
	// maxSkipLen bounds a skip reason.
	maxSkipLen = 256
)

// ErrTooManyUnits means a job's manifest would plan more than MaxJobUnits
// units: the leader fails the job with a reason saying what to do.
var ErrTooManyUnits = errors.New("too many units")

// entryModeBits are the mode bits an entry may carry: permissions,
// setuid, setgid and sticky; never a type bit.
const entryModeBits = uint32(fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)

// CheckEntry validates one manifest entry that came from a peer: its path
// relative and clean (checked as it is, before anything joins it to a
// directory), its kind known and its fields those of its kind. A link
// target is kept verbatim (it is never followed), but bounded.
func CheckEntry(e *manifest.Entry) error {
	if err := checkRel(e.Path); err != nil {
		return err
	}
	switch e.Kind {
	case manifest.KindFile, manifest.KindDir, manifest.KindSymlink, manifest.KindSpecial:
	default:
		return fmt.Errorf("%q: unknown kind %d", e.Path, e.Kind)
	}
	switch {
	case e.Skip == "" && !utf8.ValidString(e.Path):
		return fmt.Errorf("%q: name is not valid UTF-8 but the entry is not skipped", e.Path)
	case e.Kind == manifest.KindSpecial && e.Skip == "":
		return fmt.Errorf("%q: a special file must be skipped, with the reason", e.Path)
	case len(e.Skip) > maxSkipLen || strings.IndexByte(e.Skip, 0) >= 0:
		return fmt.Errorf("%q: skip reason longer than %d bytes or with a NUL", e.Path, maxSkipLen)
	case e.Size < 0:
		return fmt.Errorf("%q: negative size %d", e.Path, e.Size)
	case e.Kind != manifest.KindFile && e.Size != 0:
		return fmt.Errorf("%q: a %s has no size, got %d", e.Path, e.Kind, e.Size)
	case e.Mode&^entryModeBits != 0:
		return fmt.Errorf("%q: mode %#o has bits other than permissions, setuid, setgid and sticky", e.Path, e.Mode)
	case e.Kind != manifest.KindSymlink && e.Target != "":
		return fmt.Errorf("%q: a %s has no link target", e.Path, e.Kind)
	case e.Kind == manifest.KindSymlink && e.Skip == "" && e.Target == "":
		return fmt.Errorf("%q: a symlink without a target", e.Path)
	case len(e.Target) > manifest.MaxPathLen || strings.IndexByte(e.Target, 0) >= 0:
		return fmt.Errorf("%q: link target longer than %d bytes or with a NUL", e.Path, manifest.MaxPathLen)
	case e.Sparse && e.Kind != manifest.KindFile:
		return fmt.Errorf("%q: a %s cannot be sparse", e.Path, e.Kind)
	}
	if e.LinkOf != "" {
		if e.Kind != manifest.KindFile {
			return fmt.Errorf("%q: a %s cannot be a hardlink", e.Path, e.Kind)
		}
		if err := checkRel(e.LinkOf); err != nil {
			return fmt.Errorf("%q: hardlink to %w", e.Path, err)
		}
		if !walkLess(e.LinkOf, e.Path) {
			return fmt.Errorf("%q: hardlink to %q, which the scan has not reached yet", e.Path, e.LinkOf)
		}
	}
	if err := e.CheckData(); err != nil {
		return fmt.Errorf("%q: %w", e.Path, err)
	}
	return nil
}

// checkRel accepts a path that is relative, clean as it stands and not the
// root itself: "a/../../x", "./a", "a//b" and "/a" are all refused, so no
// join can ever take it outside the directory it is joined to.
func checkRel(p string) error {
	clean, err := manifest.CleanRel(p)
	switch {
	case err != nil:
		return err
	case clean == ".":
		return errors.New("an entry's path may not be empty or \".\"")
	case clean != p:
		return fmt.Errorf("path %q is not in clean form (%q)", p, clean)
	}
	return nil
}

// walkLess orders paths as the scanner walks them: depth first, each
// directory's entries in byte order, a directory before what it holds.
// That is byte order with '/' below every other byte (a name holds
// neither '/' nor NUL).
func walkLess(a, b string) bool {
	n := min(len(a), len(b))
	for i := range n {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			ca = 0
		}
		if cb == '/' {
			cb = 0
		}
		return ca < cb
	}
	return len(a) < len(b)
}

// unitsFor is an upper bound on the units planUnits makes for one entry.
func unitsFor(e *manifest.Entry, chunkSize int64) int64 {
	f := File{Entry: *e}
	switch {
	case !f.NeedsData():
		return 0
	case chunkSize <= 0 || e.Size < chunkSize/2:
		return 1
	case e.Sparse && e.Data != nil:
		n := int64(1)
		for _, x := range e.Data {
			n += (x.Len + chunkSize - 1) / chunkSize
		}
		return n
	}
	return (e.Size + chunkSize - 1) / chunkSize
}
