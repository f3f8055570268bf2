package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/leptonmesh/lepton/internal/api"
)

func TestStatusTable(t *testing.T) {
	agent := newFakeAgent(t, "")
	stdout, _ := wantExit(t, []string{"status", "--addr", agent.URL}, 0)
	want := `Leader: src-1   Term: 3
NAME   SIDE    ADDRESS         STATUS  RAFT      LABELS
src-1  source  127.0.0.1:7946  alive   voter*    cloud=aliyun,zone=hz-b
src-2  source  127.0.0.1:8946  failed  nonvoter  -
tgt-1  target  10.0.0.9:7946   alive   voter     zone=x
`
	if stdout != want {
		t.Errorf("status output:\n%s\nwant:\n%s", stdout, want)
	}
}

func TestStatusJSON(t *testing.T) {
	agent := newFakeAgent(t, "")
	stdout, _ := wantExit(t, []string{"--json", "status", "--addr", agent.URL}, 0)
	got := decodeJSON[api.Status](t, stdout)
	if !reflect.DeepEqual(got, cannedStatus) {
		t.Errorf("status --json = %+v\nwant %+v", got, cannedStatus)
	}
	again, _ := wantExit(t, []string{"status", "--json", "--addr", agent.URL}, 0)
	if again != stdout {
		t.Errorf("status --json is not stable:\n%s\n%s", stdout, again)
	}
	if !strings.HasPrefix(stdout, "{\n  \"node\"") {
		t.Errorf("status --json is not indented:\n%s", stdout)
	}
}

func TestMembers(t *testing.T) {
	agent := newFakeAgent(t, "")
	stdout, _ := wantExit(t, []string{"members", "--addr", agent.URL}, 0)
	want := `NAME   SIDE    ADDRESS         STATUS  RAFT      VERSION  LABELS
src-1  source  127.0.0.1:7946  alive   voter*    0.2.0    cloud=aliyun,zone=hz-b
src-2  source  127.0.0.1:8946  failed  nonvoter  0.1.9    -
tgt-1  target  10.0.0.9:7946   alive   voter     0.2.0    zone=x
`
	if stdout != want {
		t.Errorf("members output:\n%s\nwant:\n%s", stdout, want)
	}

	stdout, _ = wantExit(t, []string{"members", "--json", "--addr", agent.URL}, 0)
	if got := decodeJSON[[]api.Member](t, stdout); !reflect.DeepEqual(got, cannedStatus.Members) {
		t.Errorf("members --json = %+v", got)
	}
}

func TestRaftPeers(t *testing.T) {
	agent := newFakeAgent(t, "")
	stdout, _ := wantExit(t, []string{"raft", "peers", "--addr", agent.URL}, 0)
	want := `Leader: src-1   Term: 3   Commit index: 120   Applied index: 118
ID     ADDRESS         SUFFRAGE  LEADER
src-1  127.0.0.1:7947  voter     true
src-2  127.0.0.1:8947  nonvoter  false
tgt-1  10.0.0.9:7947   voter     false
`
	if stdout != want {
		t.Errorf("raft peers output:\n%s\nwant:\n%s", stdout, want)
	}
	stdout, _ = wantExit(t, []string{"raft", "peers", "--json", "--addr", agent.URL}, 0)
	if got := decodeJSON[api.RaftPeers](t, stdout); !reflect.DeepEqual(got, cannedPeers) {
		t.Errorf("raft peers --json = %+v", got)
	}
}

func TestForceLeave(t *testing.T) {
	agent := newFakeAgent(t, "")
	stdout, _ := wantExit(t, []string{"force-leave", "src-2", "--addr", agent.URL}, 0)
	if want := "Forced src-2 to leave the cluster and removed it from the Raft configuration.\n"; stdout != want {
		t.Errorf("force-leave output = %q, want %q", stdout, want)
	}
	stdout, _ = wantExit(t, []string{"force-leave", "src-2", "--json", "--addr", agent.URL}, 0)
	if got := decodeJSON[api.ForceLeaveResult](t, stdout); got != (api.ForceLeaveResult{Name: "src-2", Removed: true}) {
		t.Errorf("force-leave --json = %+v", got)
	}

	// An alive member: the agent refuses with 409, a failure.
	_, stderr := wantExit(t, []string{"force-leave", "src-1", "--addr", agent.URL}, 1,
		"Error: src-1 is alive: only failed members can be forced out")
	if strings.Contains(stderr, "Usage:") {
		t.Errorf("a refused force-leave printed usage:\n%s", stderr)
	}
	// An unknown member: 404 is bad input.
	wantExit(t, []string{"force-leave", "nope", "--addr", agent.URL}, 2, "Error: no member named nope")
	// No leader: 503 is a failure.
	wantExit(t, []string{"force-leave", "busy", "--addr", agent.URL}, 1, "no Raft leader")
}

func TestForceLeaveCompletesFailedMembers(t *testing.T) {
	agent := newFakeAgent(t, "")
	stdout, _, code := runCLI(t, "__complete", "force-leave", "--addr", agent.URL, "")
	if code != 0 {
		t.Fatalf("__complete exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) < 2 || lines[0] != "src-2" || !strings.HasPrefix(lines[len(lines)-1], ":") {
		t.Errorf("completion of force-leave = %q, want only the failed member src-2", stdout)
	}
}

func TestToken(t *testing.T) {
	agent := newFakeAgent(t, "s3cret")

	wantExit(t, []string{"status", "--addr", agent.URL, "--token", "s3cret"}, 0)
	if got := agent.authHeaders(); len(got) != 1 || got[0] != "Bearer s3cret" {
		t.Errorf("Authorization headers = %q, want one \"Bearer s3cret\"", got)
	}

	_, stderr := wantExit(t, []string{"status", "--addr", agent.URL}, 1,
		"Error: the agent requires an API token: pass --token or set LEPTON_TOKEN")
	if strings.Contains(stderr, "Usage:") {
		t.Errorf("a 401 printed usage:\n%s", stderr)
	}
	wantExit(t, []string{"members", "--addr", agent.URL, "--token", "wrong"}, 1, "the API token was rejected")

	t.Setenv("LEPTON_TOKEN", "s3cret")
	wantExit(t, []string{"members", "--addr", agent.URL}, 0)
	// The flag wins over the environment.
	wantExit(t, []string{"members", "--addr", agent.URL, "--token", "wrong"}, 1, "rejected")
}

func TestAddrFromEnvironment(t *testing.T) {
	agent := newFakeAgent(t, "")
	t.Setenv("LEPTON_ADDR", agent.URL)
	stdout, _ := wantExit(t, []string{"status"}, 0)
	if !strings.HasPrefix(stdout, "Leader: src-1") {
		t.Errorf("status via LEPTON_ADDR printed:\n%s", stdout)
	}
	// Without a scheme, http:// is assumed.
	t.Setenv("LEPTON_ADDR", strings.TrimPrefix(agent.URL, "http://"))
	wantExit(t, []string{"members"}, 0)
	// --addr wins over LEPTON_ADDR.
	dead := closedAddr(t)
	wantExit(t, []string{"status", "--addr", dead}, 1, "cannot reach leptond at http://"+dead)
}

func TestUnreachableAgent(t *testing.T) {
	dead := closedAddr(t)
	for _, args := range [][]string{
		{"status", "--addr", dead},
		{"members", "--addr", dead},
		{"raft", "peers", "--addr", "http://" + dead},
		{"force-leave", "src-2", "--addr", dead},
	} {
		_, stderr := wantExit(t, args, 1,
			"Error: cannot reach leptond at http://"+dead+": connection refused; is the agent running? set --addr or LEPTON_ADDR")
		if strings.Contains(stderr, "Usage:") {
			t.Errorf("unreachable agent printed usage:\n%s", stderr)
		}
	}
}
