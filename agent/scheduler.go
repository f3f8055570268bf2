package agent

import (
	"context"
	"slices"
	"time"

	"github.com/leptonmesh/lepton/internal/plan"
)

// scheduleEvery is how often the leader looks for jobs to assign or
// re-assign; plan changes wake it earlier.
const scheduleEvery = 500 * time.Millisecond

// schedule is the leader's job loop: once a manifest is complete it assigns
// the units over the live source and target agents, and whenever those
// change it re-assigns what is not yet written.
func (a *Agent) schedule(ctx context.Context) {
	t := time.NewTicker(scheduleEvery)
	defer t.Stop()
	fsm := a.cluster.FSM()
	for {
		changed := fsm.Changed()
		if a.cluster.IsLeader() {
			for _, j := range fsm.Jobs() {
				a.scheduleJob(j)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-t.C:
		}
	}
}

func (a *Agent) scheduleJob(j plan.Job) {
	if j.State != plan.JobRunning && !(j.State == plan.JobScanning && j.Scanned) {
		return
	}
	senders, receivers := a.alive(j.Sources), a.alive(j.Targets)
	if len(senders) == 0 || len(receivers) == 0 {
		return // waits for an agent holding the volume to come back
	}
	if j.State == plan.JobRunning && slices.Equal(senders, j.Senders) && slices.Equal(receivers, j.Receivers) {
		return
	}
	c := plan.Assign{ID: j.ID, Senders: senders, Receivers: receivers, Time: time.Now().UnixNano()}
	if err := a.apply(plan.CmdAssign, c); err != nil {
		a.log.Warn("assign units", "job", j.ID, "err", err)
		return
	}
	a.log.Info("assigned units", "job", j.ID, "senders", senders, "receivers", receivers)
}
