package plan

import (
	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/manifest"
)

// JobState is where a job is in its life.
type JobState string

// Job states, as `leptonctl job status` shows them.
const (
	JobPending   JobState = "pending"
	JobScanning  JobState = "scanning"
	JobRunning   JobState = "running"
	JobVerifying JobState = "verifying"
	JobDone      JobState = "done"
	JobFailed    JobState = "failed"
	JobPaused    JobState = "paused"
	JobCancelled JobState = "cancelled"
)

// Ended reports whether no more work will happen for a job in this state.
func (s JobState) Ended() bool { return s == JobDone || s == JobFailed || s == JobCancelled }

// MovesData says whether a job's data is being sent, written and finalized:
// it runs, or it is still scanning and its first batches are assigned.
func (j *Job) MovesData() bool {
	return j.State == JobRunning || j.State == JobScanning && len(j.Senders) > 0 && len(j.Receivers) > 0
}

// Job is a migration: its spec, where it runs and how far it got. Every
// agent holds every job in its replica of the plan.
type Job struct {
	ID      string       `json:"id"`
	Spec    jobspec.Spec `json:"spec"`
	State   JobState     `json:"state"`
	Reason  string       `json:"reason,omitempty"`
	Resume  JobState     `json:"resume,omitempty"` // the state a paused job returns to
	Created int64        `json:"created"`          // unix ns, from the leader
	Updated int64        `json:"updated"`
	Ended   int64        `json:"ended,omitempty"`

	// Sources and Targets are the agents holding the source and target
	// volumes, resolved when the job was submitted.
	Sources []string `json:"sources"`
	Targets []string `json:"targets"`
	// Scanner walks the source tree; Lead makes directories, links and
	// final directory metadata on the target.
	Scanner string `json:"scanner"`
	Lead    string `json:"lead"`
	// Senders and Receivers are the live agents the last assignment used.
	Senders   []string `json:"senders,omitempty"`
	Receivers []string `json:"receivers,omitempty"`

	Scanned  bool `json:"scanned"`   // the whole manifest is committed
	MetaDone bool `json:"meta_done"` // directories, links and directory metadata are in place
	Verified bool `json:"verified"`

	Stats JobStats             `json:"stats"`
	Pairs map[string]PairStats `json:"pairs,omitempty"` // "sender>receiver"
}

// JobStats are a job's committed counters.
type JobStats struct {
	FilesTotal    int64 `json:"files_total"`
	FilesDone     int64 `json:"files_done"`
	FilesFailed   int64 `json:"files_failed"`
	FilesSkipped  int64 `json:"files_skipped"`
	BytesTotal    int64 `json:"bytes_total"` // data bytes to move: a sparse file's holes are not counted
	BytesDone     int64 `json:"bytes_done"`
	WireBytes     int64 `json:"wire_bytes"`
	UnitsTotal    int64 `json:"units_total"`
	UnitsDone     int64 `json:"units_done"`
	UnitsVerified int64 `json:"units_verified"`
	Retries       int64 `json:"retries"`
	Errors        int64 `json:"errors"`
	// BytesResent counts bytes that crossed the wire more than once: units
	// written again (a lost report or ack) and failed attempts.
	BytesResent int64 `json:"bytes_resent"`
}

// PairStats count what one sender moved to one receiver.
type PairStats struct {
	Sender    string `json:"sender"`
	Receiver  string `json:"receiver"`
	Bytes     int64  `json:"bytes"`
	WireBytes int64  `json:"wire_bytes"`
	Units     int64  `json:"units"`
}

// FileState is where one manifest entry is.
type FileState uint8

// File states.
const (
	FilePending FileState = iota // waiting for its units
	FileReady                    // every unit is in; waiting to be finalized
	FileDone                     // at its final path with its metadata
	FileFailed                   // given up; Reason says why
	FileSkipped                  // not transferred (special file, vanished); Reason says why
)

var fileStateNames = [...]string{"pending", "ready", "done", "failed", "skipped"}

func (s FileState) String() string {
	if int(s) < len(fileStateNames) {
		return fileStateNames[s]
	}
	return "unknown"
}

// File is one manifest entry and its progress.
type File struct {
	manifest.Entry
	State     FileState `json:"st,omitempty"`
	Reason    string    `json:"why,omitempty"`
	Units     int32     `json:"n,omitempty"`    // units holding its data
	UnitsLeft int32     `json:"left,omitempty"` // of those, not yet written
	Retries   int32     `json:"r,omitempty"`
	Changed   int32     `json:"c,omitempty"`  // times it changed while being read
	FirstUnit uint64    `json:"fu,omitempty"` // the unit holding its first bytes; its receiver finalizes the file
}

// NeedsData reports whether the file's bytes travel in units.
func (f *File) NeedsData() bool {
	return f.Kind == manifest.KindFile && f.Skip == "" && f.LinkOf == "" && f.Size > 0
}

// Part is a byte range of one file inside a unit.
type Part struct {
	File uint64 `json:"f"`
	Off  int64  `json:"o"`
	Len  int64  `json:"l"`
}

// UnitState is where one unit of work is.
type UnitState uint8

// Unit states.
const (
	UnitPending  UnitState = iota // to be sent
	UnitDone                      // written durably on the target
	UnitFailed                    // given up
	UnitObsolete                  // its file changed and was re-planned
)

// Unit is the work unit the ring assigns: a chunk of one big file, or a
// pack of small files, sent as one frame from Sender to Receiver.
type Unit struct {
	ID       uint64    `json:"id"`
	Key      uint64    `json:"k"` // ring key: xxhash of the first part's path and offset
	Parts    []Part    `json:"p"`
	Bytes    int64     `json:"b"` // data bytes of its parts, holes of a mapped sparse file left out
	Sender   string    `json:"s,omitempty"`
	Receiver string    `json:"r,omitempty"`
	State    UnitState `json:"st,omitempty"`
	Attempts int32     `json:"a,omitempty"`
	Hash     uint64    `json:"h,omitempty"` // xxhash64 of the unit's logical bytes, from the sender
	Write    uint64    `json:"w,omitempty"` // the write that counted (UnitWritten.Write)
	Verified bool      `json:"v,omitempty"`
}
