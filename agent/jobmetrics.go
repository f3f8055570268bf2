package agent

import (
	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descJobBytesTotal = prometheus.NewDesc("lepton_job_bytes_total", "Bytes a job moves (leader only).", []string{"job", "name"}, nil)
	descJobBytesDone  = prometheus.NewDesc("lepton_job_bytes_done", "Bytes a job has written on the target (leader only).", []string{"job", "name"}, nil)
	descJobWireBytes  = prometheus.NewDesc("lepton_job_wire_bytes", "Bytes a job has sent on the wire (leader only).", []string{"job", "name"}, nil)
	descJobFilesTotal = prometheus.NewDesc("lepton_job_files_total", "Entries in a job's manifest (leader only).", []string{"job", "name"}, nil)
	descJobFilesDone  = prometheus.NewDesc("lepton_job_files_done", "Entries finished (leader only).", []string{"job", "name"}, nil)
	descJobErrors     = prometheus.NewDesc("lepton_job_errors", "Files a job failed (leader only).", []string{"job", "name"}, nil)
	descJobState      = prometheus.NewDesc("lepton_job_state", "1 for a job's current state (leader only).", []string{"job", "name", "state"}, nil)
)

// jobCollector exports per-job progress from the plan on the leader.
type jobCollector struct{ a *Agent }

func (c jobCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descJobBytesTotal, descJobBytesDone, descJobWireBytes, descJobFilesTotal, descJobFilesDone, descJobErrors, descJobState} {
		ch <- d
	}
}

func (c jobCollector) Collect(ch chan<- prometheus.Metric) {
	if !c.a.cluster.IsLeader() {
		return
	}
	g := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	for _, j := range c.a.cluster.FSM().Jobs() {
		s := j.Stats
		g(descJobBytesTotal, s.BytesTotal, j.ID, j.Spec.Name)
		g(descJobBytesDone, s.BytesDone, j.ID, j.Spec.Name)
		g(descJobWireBytes, s.WireBytes, j.ID, j.Spec.Name)
		g(descJobFilesTotal, s.FilesTotal, j.ID, j.Spec.Name)
		g(descJobFilesDone, s.FilesDone, j.ID, j.Spec.Name)
		g(descJobErrors, s.FilesFailed, j.ID, j.Spec.Name)
		for _, st := range []plan.JobState{plan.JobPending, plan.JobScanning, plan.JobRunning, plan.JobVerifying, plan.JobDone, plan.JobFailed, plan.JobPaused, plan.JobCancelled} {
			v := int64(0)
			if j.State == st {
				v = 1
			}
			g(descJobState, v, j.ID, j.Spec.Name, string(st))
		}
	}
}
