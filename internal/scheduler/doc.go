// Package scheduler is the leader's side of every migration: it takes jobs
// (checked against the registry and the running jobs), assigns their units
// over the live agents and re-assigns them as agents come and go, and
// accepts what agents send back (manifest batches, reports, notes, state
// changes) once the caller's role in the plan, or the operator's token,
// allows it. It runs only on the leader: its calls are cluster leader calls
// and its loop is the cluster's LeaderWork. See DESIGN.md.
package scheduler

import (
	"log/slog"

	"github.com/leptonmesh/lepton/cluster"
	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/plan"
)

// Leader calls for jobs, forwarded from any agent to the leader.
const (
	MethodSubmit   = "job.submit"
	MethodJobState = "job.state"
	MethodManifest = "job.manifest"
	MethodProgress = "job.progress"
	MethodNote     = "job.note"
)

// Cluster is what the scheduler needs of the cluster: the plan and a way
// to commit to it, who is alive, and the authorisation of callers.
type Cluster interface {
	FSM() *plan.FSM
	Apply(t plan.CommandType, v any) error
	Members() []api.Member
	CheckOperator(from cluster.Caller, method string) error
	Refuse(from cluster.Caller, method string, status int, format string, args ...any) error
	CountRefused(method string, n int)
}

// Scheduler is the leader's job scheduler.
type Scheduler struct {
	cluster Cluster
	fsm     *plan.FSM
	log     *slog.Logger
}

// New returns a scheduler over c.
func New(c Cluster, log *slog.Logger) *Scheduler {
	return &Scheduler{cluster: c, fsm: c.FSM(), log: log.With("component", "scheduler")}
}

// Register hands every leader call of the scheduler to handle
// (cluster.(*Cluster).HandleLeader).
func (s *Scheduler) Register(handle func(method string, fn cluster.LeaderCall)) {
	handle(MethodSubmit, s.submitJob)
	handle(MethodJobState, s.changeJobState)
	handle(MethodManifest, s.acceptManifest)
	handle(MethodProgress, s.acceptProgress)
	handle(MethodNote, s.noteJob)
}
