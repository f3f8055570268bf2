package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/leptonmesh/lepton/cluster"
	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/ring"
)

// submitJob validates a spec against the cluster and commits the job. The
// checks that need the registry live here; the rest is Spec.Validate.
func (s *Scheduler) submitJob(ctx context.Context, from cluster.Caller, req json.RawMessage) (any, error) {
	if err := s.cluster.CheckOperator(from, MethodSubmit); err != nil {
		return nil, err
	}
	spec, err := jobspec.ParseJSON(req)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	nodes := s.fsm.Nodes()
	sources, err := holders(nodes, "source", spec.Source)
	if err != nil {
		return nil, err
	}
	targets, err := holders(nodes, "target", spec.Target)
	if err != nil {
		return nil, err
	}
	for _, j := range s.fsm.Jobs() {
		if j.State.Ended() {
			continue
		}
		if j.Spec.Name == spec.Name {
			return nil, conflict("name: job %q is already %s as %s; wait for it to end or choose another name", spec.Name, j.State, j.ID)
		}
		if sharesTarget(j, spec, targets) {
			return nil, conflict("target.path: %s overlaps the target %s of job %s (%s, %s) on volume %s; two jobs may not write into one tree at once: wait for %s to end, or cancel it",
				quotePath(spec.Target.Path), quotePath(j.Spec.Target.Path), j.ID, j.Spec.Name, j.State, spec.Target.Volume, j.ID)
		}
	}
	id := newJobID()
	now := time.Now().UnixNano()
	job := plan.Job{
		ID: id, Spec: *spec, State: plan.JobScanning, Created: now,
		Sources: sources, Targets: targets,
		Scanner: pick(s.alive(sources), id), Lead: pick(s.alive(targets), id),
	}
	if job.Scanner == "" {
		job.Scanner = pick(sources, id)
	}
	if job.Lead == "" {
		job.Lead = pick(targets, id)
	}
	if err := s.apply(plan.CmdJobSubmit, job); err != nil {
		return nil, err
	}
	s.log.Info("job submitted", "job", id, "name", spec.Name, "sources", sources, "targets", targets)
	return api.JobSubmitted{ID: id}, nil
}

// holders finds the agents of side that hold the endpoint's volume, and
// checks the endpoint names it unambiguously.
func holders(nodes []plan.Node, side string, ep jobspec.Endpoint) ([]string, error) {
	field := side
	var names []string
	shared := map[bool]int{}
	for _, n := range nodes {
		if n.Left || n.Side != side {
			continue
		}
		for _, v := range n.Volumes {
			if v.Name == ep.Volume {
				names = append(names, n.Name)
				shared[v.Shared]++
			}
		}
	}
	sort.Strings(names)
	switch {
	case len(names) == 0:
		return nil, badRequest("%s.volume: no %s agent declares a volume named %q; `leptonctl members` lists the agents", field, side, ep.Volume)
	case shared[true] > 0 && shared[false] > 0:
		return nil, badRequest("%s.volume: %q is shared on some %s agents and local on others; make the agents' configs agree", field, ep.Volume, side)
	}
	if ep.Agent != "" {
		if !slices.Contains(names, ep.Agent) {
			return nil, badRequest("%s.agent: %s has no volume %q (agents with it: %s)", field, ep.Agent, ep.Volume, strings.Join(names, ", "))
		}
		if shared[false] > 0 {
			return []string{ep.Agent}, nil
		}
		return names, nil
	}
	if shared[false] > 1 {
		return nil, badRequest("%s.agent: %q is a local volume on %s; name one with %s.agent", field, ep.Volume, strings.Join(names, ", "), field)
	}
	return names, nil
}

// pick chooses one agent for a job deterministically (the ring owner of the
// job id), so work spreads over jobs.
func pick(names []string, id string) string {
	if len(names) == 0 {
		return ""
	}
	r, err := ring.New(names)
	if err != nil {
		return names[0]
	}
	return r.Owner(ring.KeyString(id))
}

// alive filters names to the members gossip says are alive.
func (s *Scheduler) alive(names []string) []string {
	live := map[string]bool{}
	for _, m := range s.cluster.Members() {
		if m.Status == api.StatusAlive || m.Status == api.StatusSuspect {
			live[m.Name] = true
		}
	}
	var out []string
	for _, n := range names {
		if live[n] {
			out = append(out, n)
		}
	}
	return out
}

func newJobID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "j-" + hex.EncodeToString(b)
}

// apply commits a plan command on the leader.
func (s *Scheduler) apply(t plan.CommandType, v any) error {
	return s.cluster.Apply(t, v)
}

// changeJobState pauses, resumes or cancels a job on the leader.
func (s *Scheduler) changeJobState(ctx context.Context, from cluster.Caller, req json.RawMessage) (any, error) {
	var c plan.JobStateChange
	if err := json.Unmarshal(req, &c); err != nil {
		return nil, badRequest("decode state change: %v", err)
	}
	job, ok := s.fsm.Job(c.ID)
	if !ok {
		return nil, notFound("no job %s; `leptonctl job list` shows the jobs", c.ID)
	}
	if err := s.mayChangeState(from, job, c.State); err != nil {
		return nil, err
	}
	if len(c.Reason) > maxNoteLen {
		return nil, badRequest("reason: %d bytes; at most %d", len(c.Reason), maxNoteLen)
	}
	switch {
	case job.State.Ended():
		return nil, conflict("job %s already ended (%s)", c.ID, job.State)
	case c.State == plan.JobRunning && job.State != plan.JobPaused:
		return nil, conflict("job %s is %s, not paused", c.ID, job.State)
	case c.State == plan.JobPaused && job.State == plan.JobPaused:
		return nil, conflict("job %s is already paused", c.ID)
	}
	c.Time = time.Now().UnixNano()
	if err := s.apply(plan.CmdJobState, c); err != nil {
		return nil, err
	}
	job, _ = s.fsm.Job(c.ID)
	return job, nil
}

// noteJob is the leader's side of MethodNote: a job's reason, set by an
// agent that sees why it cannot go on (or cleared when it can again).
func (s *Scheduler) noteJob(ctx context.Context, from cluster.Caller, req json.RawMessage) (any, error) {
	var n plan.Note
	if err := json.Unmarshal(req, &n); err != nil {
		return nil, badRequest("decode note: %v", err)
	}
	job, ok := s.fsm.Job(n.ID)
	if !ok {
		return nil, notFound("no job %s", n.ID)
	}
	if !slices.Contains(job.Sources, from.Node) && !slices.Contains(job.Targets, from.Node) {
		return nil, s.cluster.Refuse(from, MethodNote, http.StatusForbidden, "%s is not an agent of job %s", from.Node, job.ID)
	}
	if len(n.Reason) > maxNoteLen {
		return nil, badRequest("note: %d bytes; at most %d", len(n.Reason), maxNoteLen)
	}
	n.Time = time.Now().UnixNano()
	return struct{}{}, s.apply(plan.CmdNote, n)
}
