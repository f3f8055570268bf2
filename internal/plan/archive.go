package plan

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// An ended job needs its file records only for `leptonctl job report`, and
// its units not at all. Left as they were, a 100,000-file job kept about
// 30 MB of records on every agent, full of strings the garbage collector
// walked on every cycle: each job made the next one slower, and memory grew
// with every job. So a job that ends is archived: its records become a few
// compressed blocks (an eighth of a byte slice per thousand files to scan),
// its units are dropped, and the oldest archives are forgotten past a bound.

// archiveBlock is how many file records one archive block holds; reports
// read a block at a time.
const archiveBlock = 4096

// Retention of ended jobs: the plan keeps at most maxEndedJobs of them, and
// forgets the oldest once their archives hold more than maxArchivedFiles
// records in all; the newest ended job is always kept. Both bounds count
// what every replica holds alike, so every replica forgets the same jobs.
const (
	maxEndedJobs     = 100
	maxArchivedFiles = 1_000_000
)

// FileArchive is an ended job's manifest with each file's outcome: JSON
// file records in blocks of archiveBlock, each compressed with zstd. It is
// immutable once built, so copies of a job share it.
type FileArchive struct {
	Files  int      `json:"files"`
	Blocks [][]byte `json:"blocks"`
}

var (
	archiveEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			panic(fmt.Sprintf("plan: zstd encoder: %v", err)) // only for invalid options
		}
		return e
	})
	archiveDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20))
		if err != nil {
			panic(fmt.Sprintf("plan: zstd decoder: %v", err))
		}
		return d
	})
)

// archiveFiles compresses file records into an archive.
func archiveFiles(files []File) (*FileArchive, error) {
	a := &FileArchive{Files: len(files)}
	for from := 0; from < len(files); from += archiveBlock {
		raw, err := json.Marshal(files[from:min(len(files), from+archiveBlock)])
		if err != nil {
			return nil, fmt.Errorf("archive file records: %w", err)
		}
		a.Blocks = append(a.Blocks, archiveEncoder().EncodeAll(raw, nil))
	}
	return a, nil
}

// read returns up to n records from index from.
func (a *FileArchive) read(from, n int) ([]File, error) {
	var out []File
	for i := from; i < min(a.Files, from+n); {
		b := i / archiveBlock
		if b >= len(a.Blocks) {
			return nil, fmt.Errorf("file archive holds %d blocks for %d records", len(a.Blocks), a.Files)
		}
		raw, err := decodeBlock(a.Blocks[b])
		if err != nil {
			return nil, fmt.Errorf("file archive block %d: %w", b, err)
		}
		var block []File
		if err := json.Unmarshal(raw, &block); err != nil {
			return nil, fmt.Errorf("file archive block %d: %w", b, err)
		}
		lo, hi := i-b*archiveBlock, min(len(block), from+n-b*archiveBlock)
		if lo >= hi {
			return nil, fmt.Errorf("file archive block %d holds %d records, want record %d", b, len(block), i)
		}
		out = append(out, block[lo:hi]...)
		i += hi - lo
	}
	return out, nil
}

// zstdMaxRatio is more than any zstd frame decodes to per byte it takes:
// an RLE block, the densest, holds 128 KiB in 4 bytes.
const zstdMaxRatio = 32 << 10

// decodeBlock decompresses one archive block. The decoder allocates the
// size a frame's header announces before it decodes anything, so a size no
// frame of this length can hold is refused first: before, a 15-byte block
// in a snapshot that announced 60 MiB cost 60 MiB on every read of the job's
// report (FuzzRestore).
func decodeBlock(block []byte) ([]byte, error) {
	var fh zstd.Header
	if err := fh.Decode(block); err == nil && fh.HasFCS && fh.FrameContentSize > uint64(len(block))*zstdMaxRatio {
		return nil, fmt.Errorf("a zstd frame of %d bytes announces %d", len(block), fh.FrameContentSize)
	}
	return archiveDecoder().DecodeAll(block, nil)
}

// retire archives an ended job's records and drops its units, then forgets
// the oldest ended jobs past the retention bounds. A job whose records
// cannot be encoded (never expected) keeps them: nothing is lost.
func (st *State) retire(r *JobRecord) {
	a, err := archiveFiles(r.Files)
	if err != nil {
		return
	}
	r.Archive, r.Files, r.Units, r.settledFrom = a, nil, nil, 0
	st.forgetOldJobs()
}

// forgetOldJobs drops the oldest ended jobs beyond maxEndedJobs or
// maxArchivedFiles, keeping the newest.
func (st *State) forgetOldJobs() {
	var ended []*JobRecord
	for _, r := range st.Jobs {
		if r.Job.State.Ended() {
			ended = append(ended, r)
		}
	}
	slices.SortFunc(ended, func(x, y *JobRecord) int { // newest first
		return cmp.Or(cmp.Compare(y.Job.Ended, x.Job.Ended), cmp.Compare(y.Job.ID, x.Job.ID))
	})
	files := 0
	for i, r := range ended {
		files += r.archivedFiles()
		if i > 0 && (i >= maxEndedJobs || files > maxArchivedFiles) {
			delete(st.Jobs, r.Job.ID)
		}
	}
}

// archivedFiles counts the records an ended job keeps.
func (r *JobRecord) archivedFiles() int {
	if r.Archive != nil {
		return r.Archive.Files
	}
	return len(r.Files)
}
