package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/leptonmesh/lepton/cluster"
)

// apiError is an error with the HTTP status the API answers with; it
// survives forwarding to the leader and back.
type apiError struct {
	Status int
	Msg    string
}

func (e *apiError) Error() string { return e.Msg }

func badRequest(format string, args ...any) error {
	return &apiError{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &apiError{Status: http.StatusNotFound, Msg: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &apiError{Status: http.StatusConflict, Msg: fmt.Sprintf(format, args...)}
}

// statusOf picks the HTTP status for an error from the agent or cluster.
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return cluster.StatusOf(err)
}

// envelope carries a leader-only call's answer or error back to the agent
// that forwarded it.
type envelope struct {
	Status int             `json:"status,omitempty"`
	Error  string          `json:"error,omitempty"`
	Body   json.RawMessage `json:"body,omitempty"`
	Index  uint64          `json:"index,omitempty"` // the leader's applied index after the call
}

// leaderCall is a write only the leader may perform.
type leaderCall func(ctx context.Context, req json.RawMessage) (any, error)

// handleOnLeader registers a leader-only call under an RPC method, so other
// agents can forward it here; the reply is always an envelope.
func (a *Agent) handleOnLeader(method string, fn leaderCall) {
	a.leaderCalls[method] = fn
	a.endpoint.HandleRPC(method, func(ctx context.Context, peer string, req json.RawMessage) (any, error) {
		if !a.cluster.IsLeader() {
			return envelope{Status: http.StatusServiceUnavailable, Error: "not the leader any more; retry"}, nil
		}
		env := wrap(fn(ctx, req))
		env.Index = a.cluster.Raft().AppliedIndex()
		return env, nil
	})
}

func wrap(v any, err error) envelope {
	if err != nil {
		return envelope{Status: statusOf(err), Error: err.Error()}
	}
	body, merr := json.Marshal(v)
	if merr != nil {
		return envelope{Status: http.StatusInternalServerError, Error: merr.Error()}
	}
	return envelope{Body: body}
}

// onLeader runs a leader-only call here when this agent leads, or forwards
// it to the leader over QUIC, and decodes the answer into reply.
func (a *Agent) onLeader(ctx context.Context, method string, args, reply any) error {
	name, addr, err := a.cluster.Leader()
	if err != nil {
		return err
	}
	req, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("encode %s: %w", method, err)
	}
	var env envelope
	if name == a.cfg.NodeName {
		fn, ok := a.leaderCalls[method]
		if !ok {
			return fmt.Errorf("no leader call %s", method)
		}
		env = wrap(fn(ctx, req))
	} else {
		if err := a.endpoint.Call(ctx, addr, name, method, json.RawMessage(req), &env); err != nil {
			return fmt.Errorf("forward %s to the leader %s: %w", method, name, err)
		}
		a.catchUp(ctx, env.Index)
	}
	if env.Error != "" {
		return &apiError{Status: env.Status, Msg: env.Error}
	}
	if reply != nil && len(env.Body) > 0 {
		if err := json.Unmarshal(env.Body, reply); err != nil {
			return fmt.Errorf("decode %s reply: %w", method, err)
		}
	}
	return nil
}

// catchUp waits (bounded) until this agent's replica has applied index, so
// a client that wrote through this agent reads its own write here next.
func (a *Agent) catchUp(ctx context.Context, index uint64) {
	deadline := time.Now().Add(5 * time.Second)
	for a.cluster.Raft().AppliedIndex() < index && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
}

// quicAddr is the QUIC address gossip advertises for an agent.
func (a *Agent) quicAddr(name string) (string, error) {
	if addr, ok := a.cluster.QUICAddr(name); ok {
		return addr, nil
	}
	return "", fmt.Errorf("no member %s with a QUIC address", name)
}
