package agent

import (
	"net/http"
	"strings"

	"github.com/leptonmesh/lepton/cluster"
)

// statusOf picks the HTTP status for an error from the agent or cluster.
func statusOf(err error) int { return cluster.StatusOf(err) }

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
