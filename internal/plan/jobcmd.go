package plan

import "github.com/leptonmesh/lepton/internal/manifest"

// Job command types (continuing CommandType's numbering).
const (
	// CmdJobSubmit creates a job.
	CmdJobSubmit CommandType = 10
	// CmdJobState moves a job to another state (pause, resume, cancel, fail).
	CmdJobState CommandType = 11
	// CmdManifest appends a batch of scanned entries to a job's manifest.
	CmdManifest CommandType = 12
	// CmdAssign gives every pending unit a sender and a receiver by the ring.
	CmdAssign CommandType = 13
	// CmdProgress records what agents report: units written, failed,
	// verified; files finalized, changed or vanished.
	CmdProgress CommandType = 14
	// CmdScanner hands an unfinished scan to another source agent.
	CmdScanner CommandType = 15
	// CmdNote sets a job's reason without changing its state ("waiting for…").
	CmdNote CommandType = 16
)

// Scanner is the payload of CmdScanner.
type Scanner struct {
	ID      string `json:"id"`
	Scanner string `json:"scanner"`
	Time    int64  `json:"time"`
}

// Note is the payload of CmdNote.
type Note struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
	Time   int64  `json:"time"`
}

// MaxUnitAttempts bounds how often one unit is tried before its files fail.
const MaxUnitAttempts = 5

// MaxFileChanges bounds how often a file may change under us before it fails.
const MaxFileChanges = 3

// JobStateChange is the payload of CmdJobState.
type JobStateChange struct {
	ID     string   `json:"id"`
	State  JobState `json:"state"`
	Reason string   `json:"reason,omitempty"`
	Time   int64    `json:"time"`
}

// Manifest is the payload of CmdManifest: entries in scan order. Seq
// numbers batches from 0 so a retried batch is applied once.
type Manifest struct {
	ID      string           `json:"id"`
	Seq     int              `json:"seq"`
	Entries []manifest.Entry `json:"entries"`
	Final   bool             `json:"final"`
	Time    int64            `json:"time"`
}

// Assign is the payload of CmdAssign: the live agents to spread pending
// units over. The ring (bounded loads, weighted by bytes) does the rest, so
// the entry stays tiny however many units there are.
type Assign struct {
	ID        string   `json:"id"`
	Senders   []string `json:"senders"`
	Receivers []string `json:"receivers"`
	// Sources and Targets, when set, replace the job's agents: a shared
	// volume gained an agent (registered late, or added mid-job).
	Sources []string `json:"sources,omitempty"`
	Targets []string `json:"targets,omitempty"`
	Time    int64    `json:"time"`
}

// Progress is the payload of CmdProgress: a batch of agent reports.
type Progress struct {
	ID        string        `json:"id"`
	Done      []UnitWritten `json:"done,omitempty"`
	Failed    []UnitFail    `json:"failed,omitempty"`
	Verified  []UnitVerify  `json:"verified,omitempty"`
	Finalized []FileResult  `json:"finalized,omitempty"`
	Changed   []FileChange  `json:"changed,omitempty"`
	Vanished  []FileResult  `json:"vanished,omitempty"`
	MetaDone  bool          `json:"meta_done,omitempty"`
	Time      int64         `json:"time"`
}

// UnitWritten says a unit is durably written on the target.
type UnitWritten struct {
	Unit uint64 `json:"u"`
	// Write identifies this write (random per accepted chunk), so a report
	// delivered twice is told apart from the unit written twice.
	Write     uint64 `json:"id,omitempty"`
	Hash      uint64 `json:"h"`
	WireBytes int64  `json:"w"`
	Sender    string `json:"s"`
	Receiver  string `json:"r"`
	// Placed lists the files the receiver also put in place, with their
	// metadata, as it wrote the unit: files whole in this one unit, which
	// it finalizes. They are done without a separate finalize step.
	Placed []uint64 `json:"pl,omitempty"`
	// ReadBack says the receiver read every file of the unit back as it
	// put it in place, and the bytes hashed to Hash: with the job's verify
	// on, the unit is verified with this report.
	ReadBack bool `json:"rb,omitempty"`
}

// UnitFail says one attempt at a unit failed; Fatal gives up at once.
type UnitFail struct {
	Unit   uint64 `json:"u"`
	Reason string `json:"why"`
	Fatal  bool   `json:"fatal,omitempty"`
}

// UnitVerify is the result of re-reading a unit on the target.
type UnitVerify struct {
	Unit   uint64 `json:"u"`
	OK     bool   `json:"ok"`
	Reason string `json:"why,omitempty"`
}

// FileResult says a file was finalized (or not), or vanished.
type FileResult struct {
	File   uint64 `json:"f"`
	OK     bool   `json:"ok"`
	Reason string `json:"why,omitempty"`
}

// FileChange says a file changed while it was read: Entry is what it is now.
type FileChange struct {
	File  uint64         `json:"f"`
	Entry manifest.Entry `json:"e"`
}

// Count is the number of reports in a batch (MetaDone aside).
func (p *Progress) Count() int {
	return len(p.Done) + len(p.Failed) + len(p.Verified) + len(p.Finalized) + len(p.Changed) + len(p.Vanished)
}
