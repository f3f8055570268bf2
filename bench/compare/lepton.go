package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/procstat"
	"github.com/leptonmesh/lepton/internal/testcluster"
)

const (
	// volumeName is the source and target volume in every agent's config.
	volumeName = "data"
	// pollEvery is how often a job's status is read while it runs.
	pollEvery = 50 * time.Millisecond
	// meshWait bounds the wait for agents to elect a leader and register.
	meshWait = 90 * time.Second
	// cancelWait bounds the wait for a capped job to be cancelled.
	cancelWait = 30 * time.Second
)

// leptonCopier is a set of real leptond processes (internal/testcluster)
// kept for every run of one scenario: nSrc source agents holding the
// source tree as volume "data" and nTgt target agents holding the target
// dir, shared when there are several. Each run is one job with the
// defaults (jobspec.Defaults: copy, compression auto, verify on, 4 MiB
// chunks).
type leptonCopier struct {
	sc      *scope
	label   string // scenario, for job names
	c       *testcluster.Cluster
	sources []*testcluster.Agent
	targets []*testcluster.Agent
	src     tree
	dst     string
	where   string // "127.0.0.1" or the namespaces
	seq     int
}

// startLepton starts the agents in c (nets, when not nil, places them in
// the source and target namespaces) and waits until every one is alive
// and in Raft as the first source agent sees it.
func startLepton(sc *scope, c *testcluster.Cluster, label string, src tree, dst string, nSrc, nTgt int, nets *testcluster.Net) *leptonCopier {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		sc.Fatalf("lepton target: %v", err)
	}
	l := &leptonCopier{sc: sc, label: label, c: c, src: src, dst: dst, where: "127.0.0.1"}
	shared := nSrc > 1 || nTgt > 1
	volume := func(path string) []map[string]any {
		v := map[string]any{"name": volumeName, "path": path}
		if shared {
			v["shared"] = true
		}
		return []map[string]any{v}
	}
	// As operators run it; debug logs every chunk. LEPTON_BENCH_LOG_LEVEL
	// (e.g. debug, to see lane control) changes it, and keeps every
	// agent's log in keptLogs when the scenario ends.
	quiet := map[string]any{"log_level": "info"}
	if lvl := os.Getenv("LEPTON_BENCH_LOG_LEVEL"); lvl != "" {
		quiet["log_level"] = lvl
		defer sc.Cleanup(func() { l.keepLogs() })
	}
	if profileSeconds() > 0 {
		quiet["enable_debug"] = true
	}
	// One source agent bootstraps a 1+1 mesh; a larger one is bootstrapped
	// by src-1, src-2 and tgt-1, voters on both sides (as internal/e2e does).
	bootstrappers := map[string]bool{"src-1": true}
	if nSrc >= 2 && nTgt >= 1 {
		bootstrappers = map[string]bool{"src-1": true, "src-2": true, "tgt-1": true}
	}
	var srcNs, tgtNs *testcluster.Netns
	if nets != nil {
		srcNs, tgtNs = nets.Source, nets.Target
		l.where = "source and target network namespaces"
	}
	// The first servers bootstrap: sources first, then targets.
	var specs []testcluster.Spec
	for i := range nSrc {
		specs = append(specs, testcluster.Spec{Name: fmt.Sprintf("src-%d", i+1), Side: "source",
			Volumes: volume(src.dir), Override: quiet, Netns: srcNs})
	}
	for i := range nTgt {
		specs = append(specs, testcluster.Spec{Name: fmt.Sprintf("tgt-%d", i+1), Side: "target",
			Volumes: volume(dst), Override: quiet, Netns: tgtNs})
	}
	for i := range specs {
		if bootstrappers[specs[i].Name] {
			specs[i].BootstrapExpect = len(bootstrappers)
		}
		a := c.Add(specs[i])
		if specs[i].Side == "source" {
			l.sources = append(l.sources, a)
		} else {
			l.targets = append(l.targets, a)
		}
	}
	c.WaitForLeader(meshWait)
	c.WaitFor(meshWait, "every agent alive and in Raft", func() string {
		ms, err := c.MemberStatus(l.sources[0])
		if err != nil {
			return err.Error()
		}
		for _, s := range specs {
			if m, ok := ms[s.Name]; !ok || m.Status != api.StatusAlive || m.Raft == api.RaftNone {
				return testcluster.Describe(ms)
			}
		}
		return ""
	})
	return l
}

// keptLogs is where LEPTON_BENCH_LOG_LEVEL keeps the agents' logs.
var keptLogs = filepath.Join(os.TempDir(), "lepton-bench-logs")

// keepLogs copies every agent's log to keptLogs as <scenario>-<agent>.log.
func (l *leptonCopier) keepLogs() {
	if err := os.MkdirAll(keptLogs, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "  keep logs: %v\n", err)
		return
	}
	for _, a := range l.agents() {
		b, err := os.ReadFile(a.LogPath())
		if err == nil {
			err = os.WriteFile(filepath.Join(keptLogs, l.label+"-"+a.Spec.Name+".log"), b, 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "  keep logs: %v\n", err)
		}
	}
	fmt.Fprintf(os.Stderr, "  agent logs kept in %s\n", keptLogs)
}

// Name is the tool's name.
func (l *leptonCopier) Name() string { return toolLepton }

// Command says how Lepton was run, for the header and the JSON.
func (l *leptonCopier) Command() string {
	spec := jobspec.Defaults()
	return fmt.Sprintf("%d source → %d target leptond (log_level info, %s, volume %q%s); one job per run: mode %s, compression %s (%s), verify %v, chunk %s; submitted over the API, polled every %v",
		len(l.sources), len(l.targets), l.where, volumeName, map[bool]string{true: " shared", false: ""}[len(l.sources) > 1],
		spec.Mode, spec.Compression, spec.CompressionLevel, spec.Verify, human(int64(spec.ChunkSize)), pollEvery)
}

func (l *leptonCopier) agents() []*testcluster.Agent {
	return append(append([]*testcluster.Agent(nil), l.sources...), l.targets...)
}

// pids are the agents' processes.
func (l *leptonCopier) pids() []int {
	var out []int
	for _, a := range l.agents() {
		out = append(out, a.PID())
	}
	return out
}

// Copy submits one job and polls it to the end or to the cap; at the cap
// the bytes landed are the job's bytes_done, and the job is cancelled.
func (l *leptonCopier) Copy(limit time.Duration) copyResult {
	var res copyResult
	agents := l.agents()
	cpu0 := make([]float64, len(agents))
	for i, a := range agents {
		if err := procstat.ResetPeakRSS(a.PID()); err != nil {
			l.sc.Logf("cannot reset the peak RSS of %s (the figure covers its whole life): %v", a.Spec.Name, err)
		}
		cpu0[i] = agentsCPU([]int{a.PID()})
	}
	l.seq++
	spec := jobspec.Defaults()
	spec.Name = fmt.Sprintf("compare-%s-%d", strings.ToLower(strings.ReplaceAll(l.label, " ", "-")), l.seq)
	spec.Source.Volume, spec.Target.Volume = volumeName, volumeName
	cl := l.sources[0].Client()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	sub, err := cl.SubmitJob(ctx, &spec)
	cancel()
	if err != nil {
		res.err = fmt.Errorf("submit: %w", err)
		return res
	}
	if n := profileSeconds(); n > 0 {
		defer profileAgents(l.sc, agents, l.c.Token, l.label, l.seq, n)()
	}
	var j api.Job
	var verifying time.Time
	deadline := start.Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		got, err := cl.Job(ctx, sub.ID)
		cancel()
		now := time.Now()
		if err == nil {
			j = got
			if j.State == api.JobVerifying && verifying.IsZero() {
				verifying = now
			}
			if j.State == api.JobDone || j.State == api.JobFailed || j.State == api.JobCancelled {
				break
			}
		}
		if now.After(deadline) {
			res.capped, res.landed = true, j.BytesDone
			l.cancel(cl, sub.ID)
			break
		}
		time.Sleep(pollEvery)
	}
	elapsed := time.Since(start)
	if !res.capped && j.State != api.JobDone {
		res.err = fmt.Errorf("job %s ended %s: %s", sub.ID, j.State, j.Reason)
	}
	res.extra = map[string]float64{
		"wire_bytes":   float64(j.WireBytes),
		"bytes_resent": float64(j.BytesResent),
		"retries":      float64(j.Retries),
	}
	if j.WireBytes > 0 {
		res.extra["compression_ratio"] = float64(j.BytesDone) / float64(j.WireBytes)
	}
	if !verifying.IsZero() {
		res.extra["verify_seconds"] = elapsed.Seconds() - verifying.Sub(start).Seconds()
	}
	for i, a := range agents {
		res.extra["cpu_seconds_"+a.Spec.Name] = agentsCPU([]int{a.PID()}) - cpu0[i]
		hwm, err := procstat.PeakRSS(a.PID())
		if err != nil {
			continue
		}
		res.extra["peak_rss_mib_"+a.Spec.Name] = float64(hwm) / (1 << 20)
		if hwm > res.peakRSS {
			res.peakRSS, res.peakOf = hwm, "leptond "+a.Spec.Name
		}
	}
	return res
}

// cancel cancels a capped job and waits (bounded) until it says so, then
// removes what its receivers left in .lepton/tmp.
func (l *leptonCopier) cancel(cl *api.Client, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err := cl.CancelJob(ctx, id)
	cancel()
	if err != nil {
		l.sc.Logf("cancel job %s: %v", id, err)
	}
	deadline := time.Now().Add(cancelWait)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		j, err := cl.Job(ctx, id)
		cancel()
		if err == nil && (j.State == api.JobCancelled || j.State == api.JobDone || j.State == api.JobFailed) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = os.RemoveAll(filepath.Join(l.dst, leptonDir, "tmp", id))
}

// Verify checks the copy byte for byte, with metadata (testtree.Compare).
func (l *leptonCopier) Verify() error { return verifyStrict(l.src.dir, l.dst) }

// Clear empties the target volume, keeping the receivers' .lepton.
func (l *leptonCopier) Clear() error { return emptyDir(l.dst, leptonDir) }

// agentsCPU is the user+system CPU seconds the processes pids have used
// (0 for a process that is gone).
func agentsCPU(pids []int) float64 {
	var total float64
	for _, pid := range pids {
		if cpu, err := procstat.CPUSeconds(pid); err == nil {
			total += cpu
		}
	}
	return total
}

// human writes a size in binary units.
func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.2fGiB", float64(n)/(1<<30))
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
