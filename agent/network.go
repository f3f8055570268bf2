package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/leptonmesh/lepton/cluster"
	"github.com/leptonmesh/lepton/internal/mover"
	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/internal/scheduler"
	"github.com/leptonmesh/lepton/transport"
)

// rpcNetwork adapts the QUIC endpoint to cluster.Network, whose RPC handler
// is a plain func type so the cluster package needs no transport types.
type rpcNetwork struct{ *transport.Endpoint }

func (n rpcNetwork) HandleRPC(method string, fn func(ctx context.Context, peer string, req json.RawMessage) (any, error)) {
	n.Endpoint.HandleRPC(method, fn)
}

// moverPeers is the mover's way to other agents: the QUIC endpoint, and
// gossip for their addresses.
type moverPeers struct {
	*transport.Endpoint
	cluster *cluster.Cluster
}

// Addr is the QUIC address gossip advertises for an agent.
func (p moverPeers) Addr(name string) (string, error) { return quicAddr(p.cluster, name) }

// quicAddr is the QUIC address gossip advertises for an agent.
func quicAddr(c *cluster.Cluster, name string) (string, error) {
	if addr, ok := c.QUICAddr(name); ok {
		return addr, nil
	}
	return "", fmt.Errorf("no member %s with a QUIC address", name)
}

// moverLeader sends the mover's calls to the leader's scheduler on this
// agent's own behalf: the leader authorises them by this agent's role in
// the plan, not by a token.
type moverLeader struct{ cluster *cluster.Cluster }

func (l moverLeader) call(ctx context.Context, method string, args any) error {
	err := l.cluster.OnLeader(ctx, method, "", args, nil)
	switch cluster.StatusOf(err) {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusConflict:
		return fmt.Errorf("%w: %w", mover.ErrRefused, err)
	case http.StatusNotFound:
		var se *cluster.StatusError
		if errors.As(err, &se) {
			return fmt.Errorf("%w: %w", mover.ErrNoJob, err)
		}
	}
	return err
}

func (l moverLeader) SendManifest(ctx context.Context, b plan.Manifest) error {
	return l.call(ctx, scheduler.MethodManifest, b)
}

func (l moverLeader) Report(ctx context.Context, p *plan.Progress) error {
	return l.call(ctx, scheduler.MethodProgress, p)
}

func (l moverLeader) SetJobState(ctx context.Context, c plan.JobStateChange) error {
	return l.call(ctx, scheduler.MethodJobState, c)
}

func (l moverLeader) NoteJob(ctx context.Context, n plan.Note) error {
	return l.call(ctx, scheduler.MethodNote, n)
}
