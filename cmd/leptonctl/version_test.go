package main

import (
	"strings"
	"testing"

	"github.com/leptonmesh/lepton/internal/version"
)

func TestVersionWithAgent(t *testing.T) {
	agent := newFakeAgent(t, "")
	stdout, _ := wantExit(t, []string{"version", "--addr", agent.URL}, 0)
	client := version.Get()
	want := "Client: " + client.Version + " (commit " + client.Commit + ", " + client.Go + ")\n" +
		"Agent:  0.2.0 (commit abc123, go1.26.8) at " + agent.URL + "\n"
	if stdout != want {
		t.Errorf("version output:\n%s\nwant:\n%s", stdout, want)
	}

	stdout, _ = wantExit(t, []string{"version", "--json", "--addr", agent.URL}, 0)
	rep := decodeJSON[versionReport](t, stdout)
	if rep.Client != client || rep.Agent == nil || *rep.Agent != cannedVersion || rep.AgentError != "" {
		t.Errorf("version --json = %+v", rep)
	}
}

func TestVersionWithoutAgent(t *testing.T) {
	dead := closedAddr(t)
	stdout, stderr := wantExit(t, []string{"version", "--addr", dead}, 0)
	if !strings.HasPrefix(stdout, "Client: "+version.Version) || !strings.Contains(stdout, "Agent:  unknown (cannot reach leptond") {
		t.Errorf("version output without agent:\n%s", stdout)
	}
	if stderr != "" {
		t.Errorf("version without agent wrote to stderr: %s", stderr)
	}

	stdout, _ = wantExit(t, []string{"version", "--json", "--addr", dead}, 0)
	if !strings.Contains(stdout, `"agent": null`) {
		t.Errorf("version --json without agent lacks \"agent\": null:\n%s", stdout)
	}
	if rep := decodeJSON[versionReport](t, stdout); rep.Agent != nil || rep.Client != version.Get() || rep.AgentError == "" {
		t.Errorf("version --json without agent = %+v", rep)
	}
}
