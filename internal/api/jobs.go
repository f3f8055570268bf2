package api

import "time"

// Job states, as `leptonctl job status` shows them.
const (
	JobPending   = "pending"
	JobScanning  = "scanning"
	JobRunning   = "running"
	JobVerifying = "verifying"
	JobDone      = "done"
	JobFailed    = "failed"
	JobPaused    = "paused"
	JobCancelled = "cancelled"
)

// JobSubmitted is the answer to POST /v1/jobs.
type JobSubmitted struct {
	ID string `json:"id"`
}

// JobEndpoint is one end of a job as submitted.
type JobEndpoint struct {
	Volume string `json:"volume"`
	Agent  string `json:"agent,omitempty"`
	Path   string `json:"path,omitempty"`
}

// JobPair is what one sender moved to one receiver.
type JobPair struct {
	Sender    string `json:"sender"`
	Receiver  string `json:"receiver"`
	Bytes     int64  `json:"bytes"`
	WireBytes int64  `json:"wire_bytes"`
	Units     int64  `json:"units"`
}

// Job is a job's status: GET /v1/jobs/{id}, and each entry of GET /v1/jobs.
type Job struct {
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	State         string      `json:"state"`
	Reason        string      `json:"reason,omitempty"`
	Source        JobEndpoint `json:"source"`
	Target        JobEndpoint `json:"target"`
	Sources       []string    `json:"sources"`
	Targets       []string    `json:"targets"`
	Verify        bool        `json:"verify"`
	FilesTotal    int64       `json:"files_total"`
	FilesDone     int64       `json:"files_done"`
	FilesFailed   int64       `json:"files_failed"`
	FilesSkipped  int64       `json:"files_skipped"`
	BytesTotal    int64       `json:"bytes_total"`
	BytesDone     int64       `json:"bytes_done"`
	WireBytes     int64       `json:"wire_bytes"`
	UnitsTotal    int64       `json:"units_total"`
	UnitsDone     int64       `json:"units_done"`
	UnitsVerified int64       `json:"units_verified"`
	Retries       int64       `json:"retries"`
	Errors        int64       `json:"errors"`
	BytesResent   int64       `json:"bytes_resent"`
	Pairs         []JobPair   `json:"pairs"`
	Created       time.Time   `json:"created"`
	Updated       time.Time   `json:"updated"`
	Ended         *time.Time  `json:"ended,omitempty"`
}

// File outcomes in a job report.
const (
	OutcomePending = "pending"
	OutcomeDone    = "done"
	OutcomeFailed  = "failed"
	OutcomeSkipped = "skipped"
)

// FileReport is one line of a job report: what happened to one entry.
type FileReport struct {
	Path    string `json:"path"`
	Kind    string `json:"kind"`
	Size    int64  `json:"size"`
	Outcome string `json:"outcome"`
	Chunks  int    `json:"chunks"`
	Retries int    `json:"retries"`
	Changed int    `json:"changed,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// JobReport is the answer to GET /v1/jobs/{id}/report.
type JobReport struct {
	Job   Job          `json:"job"`
	Files []FileReport `json:"files"`
}
