package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/leptonmesh/lepton/internal/api"
)

// fakeAgent serves canned answers of the agent API and records the
// Authorization headers it saw. When token is set it answers 401 without it.
type fakeAgent struct {
	*httptest.Server
	token string

	mu   sync.Mutex
	auth []string
}

var cannedStatus = api.Status{
	Node:   "tgt-1",
	Leader: "src-1",
	Term:   3,
	Members: []api.Member{ // deliberately not sorted
		{Name: "tgt-1", Side: "target", Addr: "10.0.0.9:7946", Status: api.StatusAlive, Raft: api.RaftVoter, Server: true, Labels: map[string]string{"zone": "x"}, Version: "0.2.0"},
		{Name: "src-1", Side: "source", Addr: "127.0.0.1:7946", Status: api.StatusAlive, Raft: api.RaftVoter, Leader: true, Server: true, Labels: map[string]string{"zone": "hz-b", "cloud": "aliyun"}, Version: "0.2.0"},
		{Name: "src-2", Side: "source", Addr: "127.0.0.1:8946", Status: api.StatusFailed, Raft: api.RaftNonvoter, Version: "0.1.9"},
	},
}

var cannedPeers = api.RaftPeers{
	Leader: "src-1", Term: 3, CommitIndex: 120, AppliedIndex: 118,
	Servers: []api.RaftServer{
		{ID: "tgt-1", Address: "10.0.0.9:7947", Suffrage: api.RaftVoter},
		{ID: "src-1", Address: "127.0.0.1:7947", Suffrage: api.RaftVoter, Leader: true},
		{ID: "src-2", Address: "127.0.0.1:8947", Suffrage: api.RaftNonvoter},
	},
}

var cannedVersion = api.Version{Version: "0.2.0", Commit: "abc123", Go: "go1.26.8"}

func newFakeAgent(t *testing.T, token string) *fakeAgent {
	t.Helper()
	f := &fakeAgent{token: token}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) { reply(w, 200, cannedStatus) })
	mux.HandleFunc("GET /v1/members", func(w http.ResponseWriter, r *http.Request) { reply(w, 200, cannedStatus.Members) })
	mux.HandleFunc("GET /v1/raft/peers", func(w http.ResponseWriter, r *http.Request) { reply(w, 200, cannedPeers) })
	mux.HandleFunc("GET /v1/version", func(w http.ResponseWriter, r *http.Request) { reply(w, 200, cannedVersion) })
	mux.HandleFunc("POST /v1/members/{name}/force-leave", func(w http.ResponseWriter, r *http.Request) {
		switch name := r.PathValue("name"); name {
		case "src-2":
			reply(w, 200, api.ForceLeaveResult{Name: name, Removed: true})
		case "src-1", "tgt-1":
			reply(w, 409, api.Error{Error: name + " is alive: only failed members can be forced out"})
		case "busy":
			reply(w, 503, api.Error{Error: "no Raft leader; try again when one is elected"})
		default:
			reply(w, 404, api.Error{Error: "no member named " + name})
		}
	})
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		f.mu.Lock()
		f.auth = append(f.auth, got)
		f.mu.Unlock()
		if f.token != "" && got != "Bearer "+f.token {
			reply(w, 401, api.Error{Error: "missing or invalid API token"})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAgent) authHeaders() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auth...)
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// runCLI runs leptonctl in-process as main would.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("output is not a %T: %v\n%s", v, err, s)
	}
	return v
}

// wantExit checks the exit code and that stderr carries one "Error:" line
// containing every fragment.
func wantExit(t *testing.T, args []string, code int, fragments ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, got := runCLI(t, args...)
	if got != code {
		t.Fatalf("leptonctl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, stdout, stderr)
	}
	if code != 0 && strings.Count(stderr, "Error:") != 1 {
		t.Errorf("leptonctl %s: want exactly one Error: line on stderr, got:\n%s", strings.Join(args, " "), stderr)
	}
	for _, f := range fragments {
		if !strings.Contains(stderr, f) {
			t.Errorf("leptonctl %s: stderr lacks %q:\n%s", strings.Join(args, " "), f, stderr)
		}
	}
	return stdout, stderr
}
