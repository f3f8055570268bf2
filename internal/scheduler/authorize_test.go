package scheduler

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/leptonmesh/lepton/cluster"
	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/plan"
)

// tokenCluster is a Cluster whose operators hold token; only the calls the
// authorisation makes are implemented.
type tokenCluster struct {
	Cluster
	token   string
	refused int
}

func (c *tokenCluster) FSM() *plan.FSM        { return plan.NewFSM() }
func (c *tokenCluster) Members() []api.Member { return nil }
func (c *tokenCluster) CheckOperator(from cluster.Caller, method string) error {
	if from.Token == c.token {
		return nil
	}
	c.refused++
	return cluster.Errorf(http.StatusForbidden, "%s refused for %s", method, from.Node)
}

func TestWhoMayChangeAJobsState(t *testing.T) {
	c := &tokenCluster{token: "secret"}
	s := New(c, slog.Default())
	job := plan.Job{ID: "j-1", Scanner: "src-1", Sources: []string{"src-1", "src-2"}, Targets: []string{"tgt-1"}}
	for _, tc := range []struct {
		from cluster.Caller
		to   plan.JobState
		ok   bool
	}{
		{cluster.Caller{Node: "src-2", Token: "secret"}, plan.JobCancelled, true}, // an operator, through any agent
		{cluster.Caller{Node: "src-1"}, plan.JobFailed, true},                     // the scanner, its scan failed
		{cluster.Caller{Node: "tgt-1"}, plan.JobPaused, true},                     // a target, its volume is full
		{cluster.Caller{Node: "src-2"}, plan.JobFailed, false},                    // a source that does not scan
		{cluster.Caller{Node: "src-1"}, plan.JobCancelled, false},
		{cluster.Caller{Node: "tgt-1"}, plan.JobRunning, false},
		{cluster.Caller{Node: "rogue"}, plan.JobPaused, false},
		{cluster.Caller{Node: "tgt-1", Token: "guess"}, plan.JobCancelled, false},
	} {
		if err := s.mayChangeState(tc.from, job, tc.to); (err == nil) != tc.ok {
			t.Errorf("%+v sets %s: %v, want allowed %v", tc.from, tc.to, err, tc.ok)
		}
	}
	if c.refused != 5 {
		t.Errorf("%d refusals counted, want 5", c.refused)
	}
}

func TestOverlappingTargets(t *testing.T) {
	running := plan.Job{Spec: jobspec.Spec{Target: jobspec.Endpoint{Volume: "data", Path: "dst"}}, Targets: []string{"tgt-1", "tgt-2"}}
	spec := func(vol, path string) *jobspec.Spec {
		return &jobspec.Spec{Target: jobspec.Endpoint{Volume: vol, Path: path}}
	}
	for _, tc := range []struct {
		spec    *jobspec.Spec
		targets []string
		want    bool
	}{
		{spec("data", "dst"), []string{"tgt-2"}, true},
		{spec("data", "dst/sub"), []string{"tgt-1"}, true},
		{spec("data", "."), []string{"tgt-1"}, true},
		{spec("data", ""), []string{"tgt-1"}, true},
		{spec("data", "dst2"), []string{"tgt-1"}, false},   // a sibling, not inside
		{spec("data", "dst"), []string{"tgt-3"}, false},    // another agent's local volume
		{spec("archive", "dst"), []string{"tgt-1"}, false}, // another volume
	} {
		if got := sharesTarget(running, tc.spec, tc.targets); got != tc.want {
			t.Errorf("%+v on %v: overlaps %v, want %v", tc.spec.Target, tc.targets, got, tc.want)
		}
	}
}
