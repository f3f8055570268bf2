package agent

import (
	"github.com/prometheus/client_golang/prometheus"
)

var descCallsRefused = prometheus.NewDesc("lepton_peer_calls_refused_total",
	"Calls from other agents (or reports inside them) refused because the caller's role or token does not allow them.", []string{"method"}, nil)

// refusalCollector exports the cluster's refusal counts at scrape time.
type refusalCollector struct{ a *Agent }

func (r refusalCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descCallsRefused }

func (r refusalCollector) Collect(ch chan<- prometheus.Metric) {
	for method, n := range r.a.cluster.Refusals() {
		ch <- prometheus.MustNewConstMetric(descCallsRefused, prometheus.CounterValue, float64(n), method)
	}
}
