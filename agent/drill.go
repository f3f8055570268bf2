package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"syscall"
	"time"

	"github.com/leptonmesh/lepton/cluster"
	"github.com/leptonmesh/lepton/internal/api"
)

const (
	rpcDrillCrash     = "drill.crash"
	rpcDrillTransfer  = "drill.transfer-leader"
	crashAfterAnswer  = 200 * time.Millisecond // time for the answer to leave before the crash
	transferLeaderMax = 10 * time.Second
)

var errDrillsOff = refuseDrill("drills are off on this agent: set `drills: true` in its config (and an API token) to allow them")

// refuseDrill answers a drill that the acting agent does not allow.
func refuseDrill(msg string) error { return cluster.Errorf(http.StatusForbidden, "%s", msg) }

// drillArgs is what a drill call carries: the operator's API token, which
// the agent that acts checks against its own.
type drillArgs struct {
	Token string `json:"token"`
}

// drillRoutes adds the failover-drill endpoints. A crash drill kills the
// named agent the hard way (SIGKILL: no graceful leave), as a VM dying
// would. The agent that acts (the one crashing, or the leader handing over
// leadership) checks the drill itself: it must allow drills in its own
// config and hold an API token, and the call must carry that token, so no
// one crashes production agents by accident, and no member can on its own.
func (a *Agent) drillRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/drill/crash", func(w http.ResponseWriter, r *http.Request) {
		var req api.DrillCrash
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.Node == "" {
			writeError(w, http.StatusBadRequest, errors.New(`body must be {"node": "NAME"}`))
			return
		}
		var res api.DrillCrashResult
		var err error
		if req.Node == a.cfg.NodeName {
			res, err = a.crashSoon(cluster.Caller{Node: a.cfg.NodeName, Token: bearer(r)})
		} else {
			var addr string
			if addr, err = quicAddr(a.cluster, req.Node); err != nil {
				writeError(w, http.StatusNotFound, err)
				return
			}
			var reply drillReply
			if err = a.endpoint.Call(r.Context(), addr, req.Node, rpcDrillCrash, drillArgs{Token: bearer(r)}, &reply); err == nil {
				res, err = reply.result()
			}
		}
		if err != nil {
			writeError(w, statusOf(err), err)
			return
		}
		writeJSON(w, http.StatusAccepted, res)
	})
	mux.HandleFunc("POST /v1/drill/transfer-leader", func(w http.ResponseWriter, r *http.Request) {
		var res api.LeaderTransfer
		if err := a.asOperator(r, rpcDrillTransfer, struct{}{}, &res); err != nil {
			writeError(w, statusOf(err), err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}

// drillReply is a crash drill's answer over QUIC.
type drillReply struct {
	Status int                  `json:"status,omitempty"`
	Error  string               `json:"error,omitempty"`
	Result api.DrillCrashResult `json:"result"`
}

func (d drillReply) result() (api.DrillCrashResult, error) {
	if d.Error != "" {
		return api.DrillCrashResult{}, cluster.Errorf(d.Status, "%s", d.Error)
	}
	return d.Result, nil
}

func (a *Agent) registerDrills() {
	a.endpoint.HandleRPC(rpcDrillCrash, func(ctx context.Context, peer string, req json.RawMessage) (any, error) {
		var args drillArgs
		if err := json.Unmarshal(req, &args); err != nil {
			return drillReply{Status: http.StatusBadRequest, Error: "decode drill: " + err.Error()}, nil
		}
		res, err := a.crashSoon(cluster.Caller{Node: peer, Token: args.Token})
		if err != nil {
			return drillReply{Status: statusOf(err), Error: err.Error()}, nil
		}
		return drillReply{Result: res}, nil
	})
	a.cluster.HandleLeader(rpcDrillTransfer, func(ctx context.Context, from cluster.Caller, _ json.RawMessage) (any, error) {
		if err := a.checkDrill(from, rpcDrillTransfer); err != nil {
			return nil, err
		}
		from0 := a.cfg.NodeName
		term := a.cluster.Raft().CurrentTerm()
		if err := a.cluster.Raft().LeadershipTransfer().Error(); err != nil {
			return nil, cluster.Errorf(http.StatusConflict, "leadership transfer failed: %v", err)
		}
		deadline := time.Now().Add(transferLeaderMax)
		for time.Now().Before(deadline) {
			if to, _, err := a.cluster.Leader(); err == nil && to != from0 {
				return api.LeaderTransfer{From: from0, To: to, Term: a.cluster.Raft().CurrentTerm()}, nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		return api.LeaderTransfer{From: from0, Term: term}, nil
	})
}

// checkDrill authorises a drill on the agent that acts: drills on in its
// config, an API token configured, and the caller presenting it.
func (a *Agent) checkDrill(from cluster.Caller, method string) error {
	switch {
	case !a.cfg.Drills:
		return errDrillsOff
	case a.cfg.Token == "":
		return refuseDrill("drills need an API token: set api_token or api_token_file on the agents")
	}
	return a.cluster.CheckOperator(from, method)
}

// crashSoon answers, then kills this process with SIGKILL, if the drill is
// allowed here.
func (a *Agent) crashSoon(from cluster.Caller) (api.DrillCrashResult, error) {
	if err := a.checkDrill(from, rpcDrillCrash); err != nil {
		return api.DrillCrashResult{}, err
	}
	a.log.Warn("drill: crashing on purpose (SIGKILL, no graceful leave)", "asked_by", from.Node)
	go func() {
		time.Sleep(crashAfterAnswer)
		_ = syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
	}()
	return api.DrillCrashResult{Node: a.cfg.NodeName, Crashing: true}, nil
}
