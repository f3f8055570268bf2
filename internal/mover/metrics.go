package mover

import (
	"github.com/prometheus/client_golang/prometheus"
)

// moverMetrics count the data path on this agent.
type moverMetrics struct {
	read, sent, received, written prometheus.Counter
	ok, retried, failed           prometheus.Counter
	inflight                      prometheus.Gauge
}

func newMoverMetrics() *moverMetrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	return &moverMetrics{
		read:     c("lepton_bytes_read_total", "Bytes read from source volumes."),
		sent:     c("lepton_bytes_sent_total", "Chunk payload bytes sent on the wire (after compression)."),
		received: c("lepton_bytes_received_total", "Chunk payload bytes received from the wire."),
		written:  c("lepton_bytes_written_total", "Bytes written to target volumes."),
		ok:       c("lepton_chunks_ok_total", "Chunks written durably and acknowledged."),
		retried:  c("lepton_chunks_retried_total", "Chunks refused for now and sent again (hash mismatch, plan not yet known)."),
		failed:   c("lepton_chunks_failed_total", "Chunks refused for good (not a job this agent serves, bad frame)."),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lepton_streams_in_flight", Help: "Inbound data streams being served."}),
	}
}

func (m *moverMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.read, m.sent, m.received, m.written, m.ok, m.retried, m.failed, m.inflight}
}
