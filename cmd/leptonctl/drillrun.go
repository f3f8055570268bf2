package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
)

// Drill polling bounds.
const (
	// drillPollInterval is how often the drill asks the watched agent.
	drillPollInterval = 50 * time.Millisecond
	// drillPollTimeout bounds one poll, so an agent that stops answering
	// costs the drill a few polls, not its whole budget.
	drillPollTimeout = 2 * time.Second
	// maxWatcherProbes bounds how many other agents the drill tries to
	// reach when the agent at --addr is the one about to crash.
	maxWatcherProbes = 8
)

// watcher is the agent a drill polls: one that does not crash with it.
type watcher struct {
	name   string
	client *api.Client
}

// runDrill snapshots the cluster, picks the agent to watch from, triggers
// the drill and polls until every measure that applies was seen or the
// drill's timeout. It returns the report (nil when the drill never
// started) and an error when the drill did not complete or left the job
// off track.
func runDrill(ctx context.Context, g *globals, opts drillOptions) (*drillReport, error) {
	c, err := g.client()
	if err != nil {
		return nil, err
	}
	// A leadership transfer answers once the new leader is known, which may
	// take the agent 10 s: bound the trigger by the drill, not one request.
	trigger, err := g.clientAt(c.Addr(), max(g.timeout, opts.timeout))
	if err != nil {
		return nil, err
	}
	before, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	target, err := drillTarget(opts, before)
	if err != nil {
		return nil, err
	}
	job, hasJob, err := drillJob(ctx, c, before, opts.jobID)
	if err != nil {
		return nil, err
	}
	watch, err := pickWatcher(ctx, g, c.Addr(), before, target, opts.kind != drillTransfer)
	if err != nil {
		return nil, err
	}
	w := newDrillWatch(opts.kind, target, before, job, hasJob)

	start := time.Now()
	if err := triggerDrill(ctx, trigger, opts.kind, target, w); err != nil {
		return nil, fmt.Errorf("drill %s: %w", opts.kind, err)
	}
	interrupted := pollDrill(ctx, watch, w, start, opts.timeout)
	rep := w.report(watch, c.Addr())
	return rep, drillVerdict(rep, w, opts.timeout, interrupted)
}

// drillTarget names the agent the drill crashes, or the leader that hands
// over.
func drillTarget(opts drillOptions, st api.Status) (string, error) {
	if opts.kind == drillKill {
		return opts.node, nil
	}
	if st.Leader == "" {
		return "", fmt.Errorf("%s knows no Raft leader; a %s drill needs one (leptonctl status shows the cluster)", st.Node, opts.kind)
	}
	return st.Leader, nil
}

// drillJob picks the job to watch: the one named, which must be in
// progress, or the first running job; hasJob is false when none runs.
func drillJob(ctx context.Context, c *api.Client, st api.Status, id string) (job api.Job, hasJob bool, err error) {
	if id == "" {
		for _, j := range st.Jobs {
			if j.State == api.JobRunning {
				return j, true, nil
			}
		}
		return api.Job{}, false, nil
	}
	j, err := c.Job(ctx, id)
	if err != nil {
		return api.Job{}, false, err
	}
	switch {
	case jobEnded(j.State):
		return api.Job{}, false, inputError{fmt.Errorf("job %s is %s: a drill watches a job in progress; name one with --job, or leave --job out to watch the first running job", jobTitle(j), j.State)}
	case j.State == api.JobPaused:
		return api.Job{}, false, inputError{fmt.Errorf("job %s is paused: resume it first (leptonctl job resume %s), or name another job", jobTitle(j), j.ID)}
	}
	return j, true, nil
}

// pickWatcher chooses the agent to poll during the drill: the one at
// --addr (base), unless it is the target of a crash; then the first other
// live member whose api_addr answers under that member's own name, so a
// loopback address that reaches another agent is not taken for it.
func pickWatcher(ctx context.Context, g *globals, base string, st api.Status, target string, crash bool) (watcher, error) {
	if !crash || st.Node != target {
		c, err := g.clientAt(base, drillPollTimeout)
		return watcher{name: st.Node, client: c}, err
	}
	var tried []string
	for _, m := range sortedMembers(st.Members) {
		if m.Name == target || m.Status != api.StatusAlive || m.APIAddr == "" {
			continue
		}
		if len(tried) == maxWatcherProbes {
			break
		}
		addr, err := memberURL(base, m.APIAddr)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", m.Name, err))
			continue
		}
		c, err := g.clientAt(addr, drillPollTimeout)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s at %s: %v", m.Name, addr, err))
			continue
		}
		got, err := c.Status(ctx)
		switch {
		case err != nil:
			tried = append(tried, fmt.Sprintf("%s at %s: %v", m.Name, addr, err))
		case got.Node != m.Name:
			tried = append(tried, fmt.Sprintf("%s at %s answers as %s", m.Name, addr, got.Node))
		default:
			return watcher{name: m.Name, client: c}, nil
		}
	}
	msg := fmt.Sprintf("the agent at --addr (%s) is the one the drill crashes, and no other agent's API answers to watch the drill from", target)
	if len(tried) > 0 {
		msg += " (" + strings.Join(tried, "; ") + ")"
	}
	return watcher{}, errors.New(msg + "; point --addr at another agent. Nothing was crashed")
}

// memberURL is the API URL of a member whose api_addr is apiAddr, with the
// scheme of base (--addr). An unspecified host (0.0.0.0, ::) is replaced by
// base's host, the only name of that machine the operator is known to reach.
func memberURL(base, apiAddr string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("agent address %q: %w", base, err)
	}
	host, port, err := net.SplitHostPort(apiAddr)
	if err != nil {
		return "", fmt.Errorf("api_addr %q: %w", apiAddr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = u.Hostname()
	}
	return u.Scheme + "://" + net.JoinHostPort(host, port), nil
}

// triggerDrill asks the cluster to crash target, or to hand leadership over.
func triggerDrill(ctx context.Context, c *api.Client, kind, target string, w *drillWatch) error {
	if kind == drillTransfer {
		tr, err := c.TransferLeader(ctx)
		if err != nil {
			return err
		}
		w.transferAnswered(tr)
		return nil
	}
	res, err := c.DrillCrash(ctx, target)
	if err != nil {
		return err
	}
	if !res.Crashing {
		return fmt.Errorf("%s answered that it is not crashing", target)
	}
	return nil
}

// pollDrill asks the watched agent for the cluster's status every
// drillPollInterval until every measure that applies was seen, timeout has
// passed since start, or ctx ends; it reports whether ctx ended (Ctrl-C).
// A poll that fails (no answer, no leader) is noted and the drill polls on.
func pollDrill(ctx context.Context, watch watcher, w *drillWatch, start time.Time, timeout time.Duration) (interrupted bool) {
	deadline := start.Add(timeout)
	ticker := time.NewTicker(drillPollInterval)
	defer ticker.Stop()
	for !w.complete() {
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return false
		}
		pctx, cancel := context.WithTimeout(ctx, min(drillPollTimeout, remaining))
		st, err := watch.client.Status(pctx)
		cancel()
		switch {
		case err == nil:
			w.observe(st, time.Since(start))
		case ctx.Err() != nil:
			return true
		default:
			w.pollFailed(err)
		}
		select {
		case <-ctx.Done():
			return true
		case <-ticker.C:
		}
	}
	return false
}
