package agent

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/leptonmesh/lepton/cluster"
)

// Errors a leader call answers with; each is a *cluster.StatusError, the one
// error type that survives forwarding to the leader and back.
func badRequest(format string, args ...any) error {
	return cluster.Errorf(http.StatusBadRequest, format, args...)
}

func notFound(format string, args ...any) error {
	return cluster.Errorf(http.StatusNotFound, format, args...)
}

func conflict(format string, args ...any) error {
	return cluster.Errorf(http.StatusConflict, format, args...)
}

// statusOf picks the HTTP status for an error from the agent or cluster.
func statusOf(err error) int { return cluster.StatusOf(err) }

// onLeader runs a leader call on this agent's own behalf (a report, a
// manifest batch): the leader authorises it by this agent's role in the plan.
func (a *Agent) onLeader(ctx context.Context, method string, args, reply any) error {
	return a.cluster.OnLeader(ctx, method, "", args, reply)
}

// asOperator runs a leader call for an API request, carrying the request's
// bearer token so the leader can check that an operator asked for it.
func (a *Agent) asOperator(r *http.Request, method string, args, reply any) error {
	return a.cluster.OnLeader(r.Context(), method, bearer(r), args, reply)
}

// bearer is the API token of a request ("" without one).
func bearer(r *http.Request) string {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return token
}

// quicAddr is the QUIC address gossip advertises for an agent.
func (a *Agent) quicAddr(name string) (string, error) {
	if addr, ok := a.cluster.QUICAddr(name); ok {
		return addr, nil
	}
	return "", fmt.Errorf("no member %s with a QUIC address", name)
}
