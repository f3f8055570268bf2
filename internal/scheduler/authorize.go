package scheduler

import (
	"slices"
	"strconv"

	"github.com/leptonmesh/lepton/cluster"
	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/plan"
)

// maxNoteLen bounds a reason an agent writes into the plan.
const maxNoteLen = 4096

// mayChangeState authorises a job state change. An operator (the API
// token) may make any; an agent, on its own, only the two its role needs:
// the scanner fails a job whose scan failed, a target agent pauses a job
// whose volume is full.
func (s *Scheduler) mayChangeState(from cluster.Caller, job plan.Job, to plan.JobState) error {
	if from.Token == "" {
		switch {
		case to == plan.JobFailed && from.Node == job.Scanner,
			to == plan.JobPaused && slices.Contains(job.Targets, from.Node):
			return nil
		}
	}
	return s.cluster.CheckOperator(from, MethodJobState)
}

// sharesTarget reports whether a job writes into the same tree as spec
// would on targets: the same volume name on a common agent, with target
// paths one inside the other.
func sharesTarget(j plan.Job, spec *jobspec.Spec, targets []string) bool {
	if j.Spec.Target.Volume != spec.Target.Volume || !jobspec.PathsOverlap(j.Spec.Target.Path, spec.Target.Path) {
		return false
	}
	for _, t := range targets {
		if slices.Contains(j.Targets, t) {
			return true
		}
	}
	return false
}

// quotePath shows a job path, "." for the volume's root.
func quotePath(p string) string {
	if p == "" {
		p = "."
	}
	return strconv.Quote(p)
}
