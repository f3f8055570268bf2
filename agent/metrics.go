package agent

import (
	"strings"

	"github.com/leptonmesh/lepton/internal/version"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metricsCollector reads the cluster and the QUIC endpoint at scrape time,
// so the figures are never stale and nothing is kept twice.
type metricsCollector struct{ a *Agent }

var (
	descRaftState   = prometheus.NewDesc("lepton_raft_state", "1 for this agent's current Raft state.", []string{"state"}, nil)
	descRaftTerm    = prometheus.NewDesc("lepton_raft_term", "Current Raft term.", nil, nil)
	descRaftCommit  = prometheus.NewDesc("lepton_raft_commit_index", "Highest Raft log index known committed.", nil, nil)
	descRaftApplied = prometheus.NewDesc("lepton_raft_applied_index", "Highest Raft log index applied to the plan.", nil, nil)
	descRaftLast    = prometheus.NewDesc("lepton_raft_last_index", "Last Raft log index stored locally.", nil, nil)
	descRaftPeers   = prometheus.NewDesc("lepton_raft_peers", "Other servers in the Raft configuration.", nil, nil)
	descRaftRefused = prometheus.NewDesc("lepton_raft_streams_refused_total", "Inbound Raft streams refused: the peer may not send Raft RPCs here (not a voter of this agent's Raft configuration).", nil, nil)
	descMembers     = prometheus.NewDesc("lepton_gossip_members", "Cluster members by status, as this agent sees them.", []string{"status"}, nil)
	descQUICConns   = prometheus.NewDesc("lepton_quic_connections", "Open QUIC connections.", nil, nil)
	descQUICStreams = prometheus.NewDesc("lepton_quic_streams_open", "Open QUIC streams.", nil, nil)
	descQUICRefused = prometheus.NewDesc("lepton_quic_refused_total", "Inbound QUIC connections refused after the handshake (name not a member).", nil, nil)
	descQUICFailed  = prometheus.NewDesc("lepton_quic_handshake_failures_total", "Inbound QUIC handshakes that failed (no or foreign certificate).", nil, nil)
	descBuild       = prometheus.NewDesc("lepton_build_info", "Build of this agent.", []string{"version", "commit", "go"}, nil)
	raftStateLabels = []string{"follower", "candidate", "leader", "shutdown"}
)

func (m metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRaftState, descRaftTerm, descRaftCommit, descRaftApplied, descRaftLast,
		descRaftPeers, descRaftRefused, descMembers, descQUICConns, descQUICStreams, descQUICRefused, descQUICFailed, descBuild} {
		ch <- d
	}
}

func (m metricsCollector) Collect(ch chan<- prometheus.Metric) {
	s := m.a.cluster.Stats()
	state := strings.ToLower(s.RaftState)
	for _, l := range raftStateLabels {
		v := 0.0
		if l == state {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descRaftState, prometheus.GaugeValue, v, l)
	}
	ch <- prometheus.MustNewConstMetric(descRaftTerm, prometheus.GaugeValue, float64(s.Term))
	ch <- prometheus.MustNewConstMetric(descRaftCommit, prometheus.GaugeValue, float64(s.CommitIndex))
	ch <- prometheus.MustNewConstMetric(descRaftApplied, prometheus.GaugeValue, float64(s.AppliedIndex))
	ch <- prometheus.MustNewConstMetric(descRaftLast, prometheus.GaugeValue, float64(s.LastIndex))
	ch <- prometheus.MustNewConstMetric(descRaftPeers, prometheus.GaugeValue, float64(s.NumPeers))
	ch <- prometheus.MustNewConstMetric(descRaftRefused, prometheus.CounterValue, float64(m.a.cluster.RaftRefusals()))
	for status, n := range s.Members {
		ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(n), status)
	}
	q := m.a.endpoint.Stats()
	ch <- prometheus.MustNewConstMetric(descQUICConns, prometheus.GaugeValue, float64(q.Conns))
	ch <- prometheus.MustNewConstMetric(descQUICStreams, prometheus.GaugeValue, float64(q.Streams))
	ch <- prometheus.MustNewConstMetric(descQUICRefused, prometheus.CounterValue, float64(q.Refused))
	ch <- prometheus.MustNewConstMetric(descQUICFailed, prometheus.CounterValue, float64(q.HandshakesFailed))
	v := version.Get()
	ch <- prometheus.MustNewConstMetric(descBuild, prometheus.GaugeValue, 1, v.Version, v.Commit, v.Go)
}

// metricsRegistry is this agent's registry: its own collector plus the Go
// runtime and process collectors.
func (a *Agent) metricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.mover.Collectors()...)
	reg.MustRegister(metricsCollector{a}, jobCollector{a}, refusalCollector{a},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
