package plan

import (
	"sort"
	"strconv"

	"github.com/leptonmesh/lepton/internal/manifest"
	"github.com/leptonmesh/lepton/ring"
)

// PackFileLimit bounds how many small files share one unit, so one frame's
// header stays small and one bad file costs little to resend.
const PackFileLimit = 1024

// planUnits cuts the data of files[from:] into units, numbering them from
// firstID. A file of at least half a chunk is cut into chunk-size units
// over its data: over each extent of its Data when the scanner mapped it
// (a sparse file), so holes between extents are never planned, read or
// walked; over [0, Size) otherwise. A mapped file that is all hole still
// gets one unit at its start, so it is sized, finalized and verified like
// any other. Smaller files are packed in manifest order (neighbours in a
// directory travel together) until a pack holds a chunk's worth of bytes or
// PackFileLimit files. A file's units are consecutive from its FirstUnit.
// Pure and deterministic: every replica plans the same units.
func planUnits(files []File, indexes []uint64, chunkSize int64, firstID uint64) []Unit {
	var units []Unit
	next := firstID
	var pack *Unit
	var packSize int64 // logical bytes in pack, holes included
	flush := func() {
		if pack != nil {
			units = append(units, *pack)
			pack = nil
		}
	}
	for _, idx := range indexes {
		f := &files[idx]
		if !f.NeedsData() {
			continue
		}
		if f.Size >= chunkSize/2 {
			f.FirstUnit = next
			cut := func(off, end int64) {
				for ; off < end; off += chunkSize {
					part := Part{File: idx, Off: off, Len: min(chunkSize, end-off)}
					units = append(units, Unit{ID: next, Key: unitKey(f.Path, off), Parts: []Part{part}, Bytes: partBytes(&f.Entry, part)})
					next++
					f.Units++
				}
			}
			switch {
			case !f.DataKnown():
				cut(0, f.Size)
			case len(f.Data) == 0:
				cut(0, min(chunkSize, f.Size)) // all hole: one unit, no data
			default:
				for _, x := range f.Data {
					cut(x.Off, x.Off+x.Len)
				}
			}
			f.UnitsLeft = f.Units
			continue
		}
		if pack != nil && (packSize+f.Size > chunkSize || len(pack.Parts) >= PackFileLimit) {
			flush()
		}
		if pack == nil {
			pack = &Unit{ID: next, Key: unitKey(f.Path, 0)}
			packSize = 0
			next++
		}
		f.FirstUnit = pack.ID
		part := Part{File: idx, Len: f.Size}
		pack.Parts = append(pack.Parts, part)
		pack.Bytes += partBytes(&f.Entry, part)
		packSize += f.Size
		f.Units, f.UnitsLeft = 1, 1
	}
	flush()
	// A pack takes its id when opened but is appended when full, after
	// any big-file units planned meanwhile: order by id, so a unit's id is
	// its index in the job.
	sort.Slice(units, func(i, j int) bool { return units[i].ID < units[j].ID })
	return units
}

// partBytes is what a part of file e counts in its unit's Bytes: the data
// it covers, holes left out. Summed over a file's parts it is the file's
// DataSize, so BytesDone reaches BytesTotal.
func partBytes(e *manifest.Entry, p Part) int64 {
	if !e.DataKnown() {
		return p.Len
	}
	end := p.Off + p.Len
	i := sort.Search(len(e.Data), func(i int) bool { return e.Data[i].Off+e.Data[i].Len > p.Off })
	var n int64
	for ; i < len(e.Data) && e.Data[i].Off < end; i++ {
		x := e.Data[i]
		n += min(end, x.Off+x.Len) - max(p.Off, x.Off)
	}
	return n
}

func unitKey(path string, off int64) uint64 {
	return ring.KeyString(path + "@" + strconv.FormatInt(off, 10))
}
