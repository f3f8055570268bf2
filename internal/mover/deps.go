package mover

import (
	"context"
	"errors"
	"log/slog"

	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/internal/volume"
	"github.com/leptonmesh/lepton/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go"
)

// Plan is the mover's view of its agent's replica of the plan
// (*plan.FSM): it finds all its work there, so a restarted agent finds it
// again.
type Plan interface {
	Changed() <-chan struct{}
	Jobs() []plan.Job
	Job(id string) (plan.Job, bool)
	ScanWork(name string) []plan.Job
	ManifestSeq(id string) int
	SendWork(name string, limit int, held plan.UnitClaim) []plan.Work
	FinalizeWork(name string, limit int, held plan.Claim) []plan.FileWork
	LeadWork(name string) []plan.FileWork
	VerifyWork(name string, limit int, held plan.UnitClaim) []plan.Work
	UnitFiles(job string, unit uint64) (plan.Unit, []plan.File, bool)
	FileByPath(job, path string) (plan.File, bool)
}

// Leader takes what the mover sends to the cluster's leader, which
// commits it if this agent's role allows it. An error wraps ErrRefused
// when the leader refused the call for what it carried or who sent it
// (sending it again cannot help), or ErrNoJob when the job is gone.
type Leader interface {
	SendManifest(ctx context.Context, b plan.Manifest) error
	Report(ctx context.Context, p *plan.Progress) error
	SetJobState(ctx context.Context, c plan.JobStateChange) error
	NoteJob(ctx context.Context, n plan.Note) error
}

// Errors a Leader's calls wrap.
var (
	// ErrRefused means the leader refused a call for good.
	ErrRefused = errors.New("refused by the leader")
	// ErrNoJob means the leader's plan has no such job.
	ErrNoJob = errors.New("no such job")
)

// Peers reaches the other agents' data endpoints over QUIC
// (*transport.Endpoint, with the gossip directory for addresses).
type Peers interface {
	// Addr is the QUIC address of the agent of a name.
	Addr(name string) (string, error)
	OpenDataStream(ctx context.Context, addr, name string, lane int) (*transport.Stream, error)
	PeerStats(addr, name string) (quic.ConnectionStats, bool)
	CloseDataLanes()
	Handle(kind transport.Kind, h func(s *transport.Stream))
}

// Config is what a mover needs.
type Config struct {
	Node    string                    // this agent's name
	Volumes map[string]*volume.Volume // this agent's volumes by name
	Plan    Plan
	Leader  Leader
	Peers   Peers
	Logger  *slog.Logger
}

// Collectors are the mover's Prometheus metrics.
func (m *Mover) Collectors() []prometheus.Collector { return m.metrics.collectors() }
