package e2e

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/testcluster"
)

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, string(body)
}

func TestAPITokenOpenAPIMetricsAndGracefulLeaderLeave(t *testing.T) {
	c := testcluster.New(t)
	for _, n := range []string{"src-1", "src-2", "tgt-1"} {
		side := "source"
		if n == "tgt-1" {
			side = "target"
		}
		spec := testcluster.Spec{Name: n, Side: side, BootstrapExpect: 3}
		if n == "src-1" {
			spec.Override = map[string]any{"enable_debug": true}
		}
		c.Add(spec)
	}
	leader := c.WaitForLeader(30 * time.Second)
	a := c.Agent(leader)

	// enable_debug serves Go's profiles, behind the token; off, there are none.
	debug, plain := c.Agent("src-1"), c.Agent("src-2")
	if code, body := get(t, debug.APIAddr()+"/debug/pprof/goroutine?debug=1", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /debug/pprof/goroutine without token, enable_debug on: %d %.200s", code, body)
	}
	if code, body := get(t, debug.APIAddr()+"/debug/pprof/goroutine?debug=1", c.Token); code != http.StatusOK || !strings.Contains(body, "goroutine profile") {
		t.Errorf("GET /debug/pprof/goroutine with token, enable_debug on: %d %.200s", code, body)
	}
	if code, body := get(t, plain.APIAddr()+"/debug/pprof/goroutine?debug=1", c.Token); code != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/goroutine with enable_debug off: %d %.200s, want 404", code, body)
	}

	// Without the token: 401 everywhere, with a hint; a wrong token: 401.
	for _, path := range []string{"/v1/status", "/metrics", "/v1/openapi.json"} {
		if code, body := get(t, a.APIAddr()+path, ""); code != http.StatusUnauthorized || !strings.Contains(body, "token") {
			t.Errorf("GET %s without token: %d %s", path, code, body)
		}
	}
	if code, _ := get(t, a.APIAddr()+"/v1/status", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", code)
	}
	if _, errOut, code := a.Ctl("status", "--token", "wrong"); code != 1 || !strings.Contains(errOut, "token") {
		t.Errorf("leptonctl with a wrong token: exit %d: %s", code, errOut)
	}

	// The OpenAPI document served is the one in the repository.
	code, doc := get(t, a.APIAddr()+"/v1/openapi.json", c.Token)
	if code != 200 || !bytes.Equal(bytes.TrimSpace([]byte(doc)), bytes.TrimSpace(api.OpenAPI)) {
		t.Errorf("GET /v1/openapi.json: %d, %d bytes, want the repository's %d bytes", code, len(doc), len(api.OpenAPI))
	}

	// Metrics name Raft state, term, indexes, members by status and QUIC connections.
	_, metrics := get(t, a.APIAddr()+"/metrics", c.Token)
	for _, want := range []string{`lepton_raft_state{state="leader"} 1`, "lepton_raft_term ", "lepton_raft_commit_index ",
		"lepton_raft_applied_index ", `lepton_gossip_members{status="alive"} 3`, "lepton_quic_connections ", "go_goroutines "} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// SIGTERM on the leader: it hands leadership over, then leaves; the
	// others show it as left and keep a leader.
	a.Stop()
	if code, err := a.Wait(time.Second); err != nil || code != 0 {
		t.Errorf("leader stopped with exit %d, %v", code, err)
	}
	if !strings.Contains(a.Log(), "leadership transferred") {
		t.Errorf("the leader did not transfer leadership before leaving:\n%s", a.LogTail(20))
	}
	survivors := without([]string{"src-1", "src-2", "tgt-1"}, leader)
	c.WaitForLeader(20*time.Second, survivors...)
	c.WaitFor(20*time.Second, leader+" shown left with no raft role", func() string {
		ms, err := c.MemberStatus(c.Agent(survivors[0]))
		if err != nil {
			return err.Error()
		}
		if m := ms[leader]; m.Status != api.StatusLeft || m.Raft != api.RaftNone {
			return testcluster.Describe(ms)
		}
		return ""
	})
}
