// Package manifest is what a scan says of a tree: one Entry per file
// system object (kind, size, mode, times, owner, link target, hardlink,
// the data extents of a sparse file) and the rules for the relative paths
// entries carry. The scanner (internal/volume) makes entries, the plan
// replicates them, the mover acts on them; nothing here touches a disk, so
// every package that only carries entries builds on every platform.
package manifest

import (
	"fmt"
	"path"
	"strings"
)

// Kind is what a manifest entry is.
type Kind uint8

// Entry kinds.
const (
	KindFile    Kind = 1 // regular file
	KindDir     Kind = 2 // directory
	KindSymlink Kind = 3 // symbolic link, copied as a link
	KindSpecial Kind = 4 // socket, FIFO or device: listed, never transferred
)

var kindNames = [...]string{"unknown", "file", "dir", "symlink", "special"}

// String names the kind for reports.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Skip reasons: why an entry is listed but not transferred.
const (
	SkipSocket   = "socket"
	SkipFIFO     = "named pipe (FIFO)"
	SkipCharDev  = "character device"
	SkipBlockDev = "block device"
	SkipVanished = "vanished during scan"
	SkipBadName  = "file name is not valid UTF-8"
)

// Entry is one file system object of a scan. Its JSON is compact because
// the manifest is replicated through Raft.
type Entry struct {
	Path    string `json:"p"`           // relative to the scan root, slash-separated; never "."
	Kind    Kind   `json:"k"`           // what it is
	Size    int64  `json:"s,omitempty"` // bytes, regular files only
	Mode    uint32 `json:"m"`           // uint32(fs.FileMode): permission, setuid, setgid, sticky; no type bits
	MtimeNs int64  `json:"t"`           // modification time, ns since the epoch
	UID     uint32 `json:"u,omitempty"` // owner
	GID     uint32 `json:"g,omitempty"` // group
	Target  string `json:"l,omitempty"` // symlink target, verbatim, never followed
	LinkOf  string `json:"h,omitempty"` // hardlink: Path of the first entry of the same inode; its data is not sent again
	Sparse  bool   `json:"z,omitempty"` // allocated blocks take less than Size
	Skip    string `json:"x,omitempty"` // why it is not transferred; empty when it is
	// Data is, for a sparse regular file, the ranges holding its data,
	// sorted and apart (neighbours closer than 4 MiB merged, at most
	// MaxDataExtents): the plan cuts units over these and never walks the
	// holes between them. Nil when not known (a dense file, or one whose
	// file system cannot tell), and the file counts as data throughout; empty
	// but not nil for a file that is all hole. omitzero keeps that
	// difference in JSON, where omitempty would turn empty into nil.
	Data []Extent `json:"d,omitzero"`
}

// Extent is a byte range of a file.
type Extent struct {
	Off int64 `json:"o"`
	Len int64 `json:"l"`
}

// MaxDataExtents bounds Entry.Data, so one entry of a manifest stays a few
// kilobytes whatever the file's layout: the scanner merges the closest
// extents until they fit.
const MaxDataExtents = 1024

// DataKnown reports whether Data lists where the file's data is, so the
// ranges outside it are holes that need not be planned, read or sent.
func (e *Entry) DataKnown() bool {
	return e.Kind == KindFile && e.Sparse && e.Data != nil
}

// DataSize is the number of bytes of the file that travel: the sum of its
// Data for a file whose data is known, else its Size.
func (e *Entry) DataSize() int64 {
	if !e.DataKnown() {
		return e.Size
	}
	var n int64
	for _, x := range e.Data {
		n += x.Len
	}
	return n
}

// CheckData validates Data of an entry that came from a peer: only a
// sparse regular file has it; each extent is non-empty and lies inside
// [0, Size); extents are sorted and do not overlap; there are at most
// MaxDataExtents. A plan cut over bad extents would miss data or reach
// past the file.
func (e *Entry) CheckData() error {
	if e.Data == nil {
		return nil
	}
	if e.Kind != KindFile || !e.Sparse {
		return fmt.Errorf("%s: data extents on a %s that is not a sparse file", e.Path, e.Kind)
	}
	if len(e.Data) > MaxDataExtents {
		return fmt.Errorf("%s: %d data extents, at most %d", e.Path, len(e.Data), MaxDataExtents)
	}
	var end int64
	for i, x := range e.Data {
		switch {
		case x.Len <= 0 || x.Off < 0:
			return fmt.Errorf("%s: data extent %d (%d+%d) is empty or negative", e.Path, i, x.Off, x.Len)
		case x.Off < end:
			return fmt.Errorf("%s: data extent %d (%d+%d) overlaps or precedes the one before", e.Path, i, x.Off, x.Len)
		case x.Off >= e.Size || x.Len > e.Size-x.Off:
			return fmt.Errorf("%s: data extent %d (%d+%d) reaches past the file's %d bytes", e.Path, i, x.Off, x.Len, e.Size)
		}
		end = x.Off + x.Len
	}
	return nil
}

// Changed reports whether a file was modified between two looks at it
// (kind, size or mtime differ), e.g. before and after its data was read.
func Changed(before, after Entry) bool {
	return before.Kind != after.Kind || before.Size != after.Size || before.MtimeNs != after.MtimeNs
}

// MaxPathLen bounds a relative path accepted from config, jobs or peers
// (PATH_MAX on Linux).
const MaxPathLen = 4096

// CleanRel validates a relative, slash-separated path that came from a
// config file, a job or a peer, and returns its path.Clean form ("" and
// "./" give "."). It rejects absolute paths, any ".." element (even one that
// would cancel out), NUL bytes and over-long paths. A backslash is an
// ordinary character of a Linux file name.
func CleanRel(p string) (string, error) {
	switch {
	case len(p) > MaxPathLen:
		return "", fmt.Errorf("path %.40q... is longer than %d bytes", p, MaxPathLen)
	case strings.IndexByte(p, 0) >= 0:
		return "", fmt.Errorf("path %q contains a NUL byte", p)
	case strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("path %q is absolute; it must be relative to the volume", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", fmt.Errorf("path %q escapes the volume (contains ..)", p)
		}
	}
	if p == "" {
		return ".", nil
	}
	return path.Clean(p), nil
}
