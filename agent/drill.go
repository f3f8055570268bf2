package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"syscall"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
)

const (
	rpcDrillCrash     = "drill.crash"
	rpcDrillTransfer  = "drill.transfer-leader"
	crashAfterAnswer  = 200 * time.Millisecond // time for the answer to leave before the crash
	transferLeaderMax = 10 * time.Second
)

var errDrillsOff = &apiError{Status: http.StatusForbidden,
	Msg: "drills are off on this agent: set `drills: true` in its config (and an API token) to allow them"}

// drillRoutes adds the failover-drill endpoints. A crash drill kills the
// named agent the hard way (SIGKILL: no graceful leave), as a VM dying
// would; the agent must allow drills in its own config, and the API must
// have a token, so no one crashes production agents by accident.
func (a *Agent) drillRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/drill/crash", func(w http.ResponseWriter, r *http.Request) {
		var req api.DrillCrash
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.Node == "" {
			writeError(w, http.StatusBadRequest, errors.New(`body must be {"node": "NAME"}`))
			return
		}
		if a.cfg.Token == "" {
			writeError(w, http.StatusForbidden, errors.New("drills need an API token: set api_token or api_token_file on the agents"))
			return
		}
		var res api.DrillCrashResult
		var err error
		if req.Node == a.cfg.NodeName {
			res, err = a.crashSoon()
		} else {
			var addr string
			if addr, err = a.quicAddr(req.Node); err != nil {
				writeError(w, http.StatusNotFound, err)
				return
			}
			var env envelope
			if err = a.endpoint.Call(r.Context(), addr, req.Node, rpcDrillCrash, struct{}{}, &env); err == nil {
				if env.Error != "" {
					err = &apiError{Status: env.Status, Msg: env.Error}
				} else {
					err = json.Unmarshal(env.Body, &res)
				}
			}
		}
		if err != nil {
			writeError(w, statusOf(err), err)
			return
		}
		writeJSON(w, http.StatusAccepted, res)
	})
	mux.HandleFunc("POST /v1/drill/transfer-leader", func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.Token == "" {
			writeError(w, http.StatusForbidden, errors.New("drills need an API token: set api_token or api_token_file on the agents"))
			return
		}
		var res api.LeaderTransfer
		if err := a.onLeader(r.Context(), rpcDrillTransfer, struct{}{}, &res); err != nil {
			writeError(w, statusOf(err), err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}

func (a *Agent) registerDrills() {
	a.endpoint.HandleRPC(rpcDrillCrash, func(ctx context.Context, peer string, _ json.RawMessage) (any, error) {
		return wrap(a.crashSoon()), nil
	})
	a.handleOnLeader(rpcDrillTransfer, func(ctx context.Context, _ json.RawMessage) (any, error) {
		from := a.cfg.NodeName
		term := a.cluster.Raft().CurrentTerm()
		if err := a.cluster.Raft().LeadershipTransfer().Error(); err != nil {
			return nil, conflict("leadership transfer failed: %v", err)
		}
		deadline := time.Now().Add(transferLeaderMax)
		for time.Now().Before(deadline) {
			if to, _, err := a.cluster.Leader(); err == nil && to != from {
				return api.LeaderTransfer{From: from, To: to, Term: a.cluster.Raft().CurrentTerm()}, nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		return api.LeaderTransfer{From: from, Term: term}, nil
	})
}

// crashSoon answers, then kills this process with SIGKILL, if drills are on.
func (a *Agent) crashSoon() (api.DrillCrashResult, error) {
	if !a.cfg.Drills {
		return api.DrillCrashResult{}, errDrillsOff
	}
	a.log.Warn("drill: crashing on purpose (SIGKILL, no graceful leave)")
	go func() {
		time.Sleep(crashAfterAnswer)
		_ = syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
	}()
	return api.DrillCrashResult{Node: a.cfg.NodeName, Crashing: true}, nil
}
