package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/leptonmesh/lepton/cluster"
	"github.com/leptonmesh/lepton/internal/plan"
)

// acceptManifest is the leader's side of MethodManifest: only the job's
// scanner may send its manifest, and every batch is checked before it is
// committed (plan.CheckManifest). A batch that would take the job past its
// unit bound fails the job, with the reason.
func (s *Scheduler) acceptManifest(ctx context.Context, from cluster.Caller, req json.RawMessage) (any, error) {
	var b plan.Manifest
	if err := json.Unmarshal(req, &b); err != nil {
		return nil, badRequest("decode manifest batch: %v", err)
	}
	err := s.fsm.CheckManifest(from.Node, &b)
	switch {
	case errors.Is(err, plan.ErrNoJob):
		return nil, notFound("%v", err)
	case errors.Is(err, plan.ErrTooManyUnits):
		reason := fmt.Sprintf("scan of %s stopped: %v", b.ID, err)
		if ferr := s.apply(plan.CmdJobState, plan.JobStateChange{ID: b.ID, State: plan.JobFailed, Reason: reason, Time: time.Now().UnixNano()}); ferr != nil {
			return nil, ferr
		}
		return nil, conflict("%s", reason)
	case errors.Is(err, plan.ErrNotYourRole):
		return nil, s.cluster.Refuse(from, MethodManifest, http.StatusForbidden, "%v", err)
	case err != nil:
		return nil, s.cluster.Refuse(from, MethodManifest, http.StatusBadRequest, "%v", err)
	}
	b.Time = time.Now().UnixNano()
	return struct{}{}, s.apply(plan.CmdManifest, b)
}

// acceptProgress is the leader's side of MethodProgress: one Raft entry per
// batch, holding only the reports the caller's role allows
// (plan.AuthorizeProgress); the rest are logged, counted and dropped. A
// legitimate agent meets a refusal only when the plan moved its work to
// another agent meanwhile, and that agent does the work again.
func (s *Scheduler) acceptProgress(ctx context.Context, from cluster.Caller, req json.RawMessage) (any, error) {
	var p plan.Progress
	if err := json.Unmarshal(req, &p); err != nil {
		return nil, badRequest("decode progress: %v", err)
	}
	refused, err := s.fsm.AuthorizeProgress(from.Node, &p)
	if err != nil {
		return nil, notFound("%v", err)
	}
	if len(refused) > 0 {
		s.cluster.CountRefused(MethodProgress, len(refused))
		s.log.Warn("peer call refused", "peer", from.Node, "method", MethodProgress, "job", p.ID,
			"refused", len(refused), "first", refused[0].String())
	}
	if p.Count() == 0 && !p.MetaDone {
		if len(refused) > 0 {
			return nil, cluster.Errorf(http.StatusForbidden, "%s refused for %s: %s", MethodProgress, from.Node, refused[0])
		}
		return struct{}{}, nil
	}
	p.Time = time.Now().UnixNano()
	return struct{}{}, s.apply(plan.CmdProgress, p)
}
