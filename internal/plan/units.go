package plan

import (
	"sort"
	"strconv"

	"github.com/leptonmesh/lepton/ring"
)

// PackFileLimit bounds how many small files share one unit, so one frame's
// header stays small and one bad file costs little to resend.
const PackFileLimit = 1024

// planUnits cuts the data of files[from:] into units, numbering them from
// firstID. A file of at least half a chunk is cut into chunk-size units; smaller
// files are packed in manifest order (neighbours in a directory travel
// together) until a pack holds a chunk's worth of bytes or PackFileLimit
// files. Pure and deterministic: every replica plans the same units.
func planUnits(files []File, indexes []uint64, chunkSize int64, firstID uint64) []Unit {
	var units []Unit
	next := firstID
	var pack *Unit
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
			for off := int64(0); off < f.Size; off += chunkSize {
				n := min(chunkSize, f.Size-off)
				units = append(units, Unit{ID: next, Key: unitKey(f.Path, off), Parts: []Part{{File: idx, Off: off, Len: n}}, Bytes: n})
				next++
				f.Units++
			}
			f.UnitsLeft = f.Units
			continue
		}
		if pack != nil && (pack.Bytes+f.Size > chunkSize || len(pack.Parts) >= PackFileLimit) {
			flush()
		}
		if pack == nil {
			pack = &Unit{ID: next, Key: unitKey(f.Path, 0)}
			next++
		}
		f.FirstUnit = pack.ID
		pack.Parts = append(pack.Parts, Part{File: idx, Len: f.Size})
		pack.Bytes += f.Size
		f.Units, f.UnitsLeft = 1, 1
	}
	flush()
	// A pack takes its id when opened but is appended when full, after
	// any big-file units planned meanwhile: order by id, so a unit's id is
	// its index in the job.
	sort.Slice(units, func(i, j int) bool { return units[i].ID < units[j].ID })
	return units
}

func unitKey(path string, off int64) uint64 {
	return ring.KeyString(path + "@" + strconv.FormatInt(off, 10))
}
