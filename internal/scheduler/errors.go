package scheduler

import (
	"net/http"

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
