package api

// DrillCrash is the body of POST /v1/drill/crash: the agent to crash.
type DrillCrash struct {
	Node string `json:"node"`
}

// DrillCrashResult is the answer to POST /v1/drill/crash (202): the agent
// accepted and crashes a moment later.
type DrillCrashResult struct {
	Node     string `json:"node"`
	Crashing bool   `json:"crashing"`
}

// LeaderTransfer is the answer to POST /v1/drill/transfer-leader.
type LeaderTransfer struct {
	From string `json:"from"`
	To   string `json:"to"`
	Term uint64 `json:"term"`
}
