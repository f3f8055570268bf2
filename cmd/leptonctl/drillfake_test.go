package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/leptonmesh/lepton/internal/api"
)

// drillScript says at which poll after the trigger each event of a drill
// happens; 0 means never. A poll is one GET /v1/status to any agent.
type drillScript struct {
	commitAt    int    // the crashing leader's last commit, before anyone notices
	suspectAt   int    // the target shown suspect
	failedAt    int    // the target shown failed
	leaderGone  int    // the watched agents know no leader
	newLeaderAt int    // newLeader is elected, the term goes up by one
	newLeader   string // the agent that wins
	resumeAt    int    // from then on every poll commits 256 KiB, 64 KiB of it sent again
	jobFailsAt  int    // the job fails
	rejoinAt    int    // the target is alive again (restarted)
}

// drillFake is a cluster of fake agents src-1 (the leader), src-2 and tgt-1,
// each on its own httptest server with its api_addr in the members list.
// A drill request starts the script; a crashed agent stops answering.
type drillFake struct {
	t      *testing.T
	token  string
	script drillScript

	mu        sync.Mutex
	servers   map[string]*httptest.Server
	drills    map[string]bool // agents whose config has drills: true
	down      map[string]bool
	leader    string
	term      uint64
	members   map[string]string // name → status
	job       *api.Job
	triggered bool
	kind      string // "crash" or "transfer"
	target    string
	ticks     int
	crashes   []string
	probes    map[string]int // status requests per agent
}

var drillNodes = []string{"src-1", "src-2", "tgt-1"}

const drillJobTotal = 16 << 20

func newDrillFake(t *testing.T, token string, script drillScript, withJob bool) *drillFake {
	t.Helper()
	f := &drillFake{
		t: t, token: token, script: script,
		servers: map[string]*httptest.Server{},
		drills:  map[string]bool{"src-1": true, "src-2": true, "tgt-1": false},
		down:    map[string]bool{},
		leader:  "src-1", term: 3,
		members: map[string]string{"src-1": api.StatusAlive, "src-2": api.StatusAlive, "tgt-1": api.StatusAlive},
		probes:  map[string]int{},
	}
	if withJob {
		f.job = &api.Job{
			ID: "j-0000001", Name: "orders", State: api.JobRunning,
			Source: api.JobEndpoint{Volume: "data"}, Target: api.JobEndpoint{Volume: "data"},
			Sources: []string{"src-1", "src-2"}, Targets: []string{"tgt-1"}, Verify: true,
			FilesTotal: 16, FilesDone: 4, BytesTotal: drillJobTotal, BytesDone: 4 << 20, WireBytes: 2 << 20,
			UnitsTotal: 16, UnitsDone: 4, BytesResent: 1 << 20, Pairs: []api.JobPair{}, Created: fakeT0, Updated: fakeT0,
		}
	}
	for _, name := range drillNodes {
		f.servers[name] = httptest.NewServer(f.handler(name))
		t.Cleanup(f.servers[name].Close)
	}
	return f
}

// url is the API address of agent name.
func (f *drillFake) url(name string) string { return f.servers[name].URL }

func (f *drillFake) handler(name string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.probes[name]++
		if f.triggered {
			f.ticks++
			f.advance()
		}
		reply(w, 200, f.status(name))
	})
	mux.HandleFunc("GET /v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.job == nil || r.PathValue("id") != f.job.ID {
			reply(w, 404, api.Error{Error: "no job " + r.PathValue("id") + "; `leptonctl job list` shows the jobs"})
			return
		}
		reply(w, 200, f.job)
	})
	mux.HandleFunc("POST /v1/drill/crash", func(w http.ResponseWriter, r *http.Request) {
		var req api.DrillCrash
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Node == "" {
			reply(w, 400, api.Error{Error: `body must be {"node": "NAME"}`})
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		allowed, known := f.drills[req.Node]
		switch {
		case f.token == "":
			reply(w, 403, api.Error{Error: "drills need an API token: set api_token or api_token_file on the agents"})
		case !known:
			reply(w, 404, api.Error{Error: "no member " + req.Node + " with a QUIC address"})
		case !allowed:
			reply(w, 403, api.Error{Error: "drills are off on this agent: set `drills: true` in its config (and an API token) to allow them"})
		default:
			f.crashes = append(f.crashes, req.Node)
			f.triggered, f.kind, f.target = true, "crash", req.Node
			reply(w, 202, api.DrillCrashResult{Node: req.Node, Crashing: true})
			f.down[req.Node] = true
		}
	})
	mux.HandleFunc("POST /v1/drill/transfer-leader", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.token == "" {
			reply(w, 403, api.Error{Error: "drills need an API token: set api_token or api_token_file on the agents"})
			return
		}
		f.triggered, f.kind, f.target = true, "transfer", f.leader
		reply(w, 200, api.LeaderTransfer{From: f.leader, To: f.script.newLeader, Term: f.term + 1})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		down := f.down[name]
		f.mu.Unlock()
		if down {
			panic(http.ErrAbortHandler) // the process is gone: no answer
		}
		if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
			reply(w, 401, api.Error{Error: "missing or invalid API token"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// advance plays the script up to the current tick; f.mu is held.
func (f *drillFake) advance() {
	s, n := f.script, f.ticks
	at := func(tick int) bool { return tick > 0 && n >= tick }
	wasLeader := f.target == "src-1" || f.kind == "transfer"
	if f.kind == "crash" {
		switch {
		case at(s.rejoinAt):
			f.members[f.target] = api.StatusAlive
			f.down[f.target] = false
		case at(s.failedAt):
			f.members[f.target] = api.StatusFailed
		case at(s.suspectAt):
			f.members[f.target] = api.StatusSuspect
		}
	}
	if wasLeader {
		switch {
		case at(s.newLeaderAt):
			if f.leader != s.newLeader {
				f.leader, f.term = s.newLeader, f.term+1
			}
		case at(s.leaderGone):
			f.leader = ""
		}
	}
	if f.job == nil {
		return
	}
	if n == s.commitAt && s.commitAt > 0 {
		f.job.BytesDone += 256 << 10
	}
	if at(s.resumeAt) && f.job.State == api.JobRunning {
		f.job.BytesDone = min(f.job.BytesDone+256<<10, f.job.BytesTotal)
		f.job.BytesResent += 64 << 10
	}
	if at(s.jobFailsAt) {
		f.job.State, f.job.Reason = api.JobFailed, "tgt-1 volume data: disk full"
	}
}

// status is the cluster as agent name sees it; f.mu is held.
func (f *drillFake) status(name string) api.Status {
	st := api.Status{Node: name, Leader: f.leader, Term: f.term, Jobs: []api.Job{}}
	for _, n := range drillNodes {
		side := "target"
		if strings.HasPrefix(n, "src-") {
			side = "source"
		}
		st.Members = append(st.Members, api.Member{
			Name: n, Side: side, Status: f.members[n],
			Raft: api.RaftVoter, Server: true, Leader: n == f.leader,
			APIAddr: strings.TrimPrefix(f.servers[n].URL, "http://"),
		})
	}
	if f.job != nil {
		st.Jobs = append(st.Jobs, *f.job)
	}
	return st
}

func (f *drillFake) crashRequests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.crashes...)
}

func (f *drillFake) statusRequests(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.probes[name]
}
