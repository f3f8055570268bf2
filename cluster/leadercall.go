package cluster

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Caller is who asks the leader for a write. Node is the agent the call
// comes from: the name in its verified certificate when the call was
// forwarded, this agent's own name when it runs here. Token is the API
// token of the operator request the call serves, "" when an agent asks on
// its own behalf (a report, a manifest batch). A leader call authorises
// from these two alone, never from names inside the request.
type Caller struct {
	Node  string
	Token string
}

// LeaderCall is a write only the leader performs, such as committing a job
// or a batch of reports.
type LeaderCall func(ctx context.Context, from Caller, req json.RawMessage) (any, error)

// StatusError is the one error a leader call answers with: the HTTP status
// the API gives its client and a message for a person. It survives
// forwarding, so a follower answers exactly as the leader would have.
type StatusError struct {
	Status int
	Msg    string
}

func (e *StatusError) Error() string { return e.Msg }

// Errorf builds a StatusError.
func Errorf(status int, format string, args ...any) error {
	return &StatusError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// StatusOf maps an error from a leader call or this package to an HTTP
// status, for the API.
func StatusOf(err error) int {
	var se *StatusError
	switch {
	case errors.As(err, &se):
		return se.Status
	case errors.Is(err, ErrUnknownMember):
		return http.StatusNotFound
	case errors.Is(err, ErrMemberAlive):
		return http.StatusConflict
	case errors.Is(err, ErrNoLeader):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// leaderRequest is a leader call on the wire. The caller's node name is
// not in it: the leader takes it from the QUIC connection's certificate.
type leaderRequest struct {
	Token string          `json:"token,omitempty"`
	Body  json.RawMessage `json:"body,omitempty"`
}

// leaderReply carries a leader call's answer or error back to the agent
// that forwarded it, with the leader's applied index after the call.
type leaderReply struct {
	Status int             `json:"status,omitempty"`
	Error  string          `json:"error,omitempty"`
	Body   json.RawMessage `json:"body,omitempty"`
	Index  uint64          `json:"index,omitempty"`
}

// leaderCalls holds the registered leader calls.
type leaderCalls struct {
	mu    sync.RWMutex
	calls map[string]LeaderCall
}

func (l *leaderCalls) get(method string) (LeaderCall, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	fn, ok := l.calls[method]
	return fn, ok
}

// HandleLeader registers a leader call under an RPC method: the leader
// runs it for itself and for every agent that forwards it. Register every
// call before Start.
func (c *Cluster) HandleLeader(method string, fn LeaderCall) {
	c.leaderCalls.mu.Lock()
	if c.leaderCalls.calls == nil {
		c.leaderCalls.calls = map[string]LeaderCall{}
	}
	c.leaderCalls.calls[method] = fn
	c.leaderCalls.mu.Unlock()
	c.cfg.Network.HandleRPC(method, func(ctx context.Context, peer string, raw json.RawMessage) (any, error) {
		var req leaderRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return leaderReply{Status: http.StatusBadRequest, Error: fmt.Sprintf("decode %s: %v", method, err)}, nil
		}
		if !c.IsLeader() {
			return leaderReply{Status: http.StatusServiceUnavailable, Error: "not the leader any more; retry"}, nil
		}
		reply := replyOf(fn(ctx, Caller{Node: peer, Token: req.Token}, req.Body))
		reply.Index = c.raft.raft.AppliedIndex()
		return reply, nil
	})
}

func replyOf(v any, err error) leaderReply {
	if err != nil {
		return leaderReply{Status: StatusOf(err), Error: err.Error()}
	}
	body, merr := json.Marshal(v)
	if merr != nil {
		return leaderReply{Status: http.StatusInternalServerError, Error: merr.Error()}
	}
	return leaderReply{Body: body}
}

// OnLeader runs a leader call: here when this agent leads, otherwise
// forwarded to the leader over QUIC. token is the API token of the
// operator request it serves ("" for the agent's own work). The answer is
// decoded into reply (when not nil); an error is a *StatusError, or
// ErrNoLeader, or the transport's. After a forwarded call it waits
// (bounded) for this agent's replica to apply what the leader applied, so
// a client reads its own write from the agent it wrote through.
func (c *Cluster) OnLeader(ctx context.Context, method, token string, args, reply any) error {
	name, addr, err := c.Leader()
	if err != nil {
		return err
	}
	body, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("encode %s: %w", method, err)
	}
	var r leaderReply
	if name == c.cfg.NodeName {
		fn, ok := c.leaderCalls.get(method)
		if !ok {
			return fmt.Errorf("no leader call %s", method)
		}
		r = replyOf(fn(ctx, Caller{Node: name, Token: token}, body))
	} else {
		req := leaderRequest{Token: token, Body: body}
		if err := c.cfg.Network.Call(ctx, addr, name, method, req, &r); err != nil {
			return fmt.Errorf("forward %s to the leader %s: %w", method, name, err)
		}
		c.catchUp(ctx, r.Index)
	}
	if r.Error != "" {
		return &StatusError{Status: r.Status, Msg: r.Error}
	}
	if reply != nil && len(r.Body) > 0 {
		if err := json.Unmarshal(r.Body, reply); err != nil {
			return fmt.Errorf("decode %s reply: %w", method, err)
		}
	}
	return nil
}

// catchUp waits (at most 5 s) until this agent's replica has applied index.
func (c *Cluster) catchUp(ctx context.Context, index uint64) {
	deadline := time.Now().Add(5 * time.Second)
	for c.raft.raft.AppliedIndex() < index && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
}

// CheckOperator authorises a call only an operator may make (submit,
// cancel, force-leave, drills): the caller must present this agent's API
// token. Agents of one cluster share one token; an agent configured with
// none (an API on loopback only) takes the calls its members forward.
func (c *Cluster) CheckOperator(from Caller, method string) error {
	want := c.cfg.APIToken
	if want == "" || subtle.ConstantTimeCompare([]byte(from.Token), []byte(want)) == 1 {
		return nil
	}
	reason := "no API token came with the call"
	if from.Token != "" {
		reason = "the API token does not match the leader's (every agent of a cluster must have the same api_token)"
	}
	return c.Refuse(from, method, http.StatusForbidden, "%s", reason)
}

// Refuse logs and counts a peer call refused by authorisation, and returns
// the error the caller gets.
func (c *Cluster) Refuse(from Caller, method string, status int, format string, args ...any) error {
	reason := fmt.Sprintf(format, args...)
	c.refusals.add(method, 1)
	c.log.Warn("peer call refused", "peer", from.Node, "method", method, "reason", reason)
	return &StatusError{Status: status, Msg: fmt.Sprintf("%s refused for %s: %s", method, from.Node, reason)}
}

// refusalCounts counts refused peer calls (or refused items of a call) by
// method, for /metrics.
type refusalCounts struct {
	mu sync.Mutex
	n  map[string]uint64
}

func (r *refusalCounts) add(method string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]uint64{}
	}
	r.n[method] += uint64(n)
}

// CountRefused adds n refused items of a call (reports a peer had no right
// to make) to the refusal counts, for calls that refuse part of a batch.
func (c *Cluster) CountRefused(method string, n int) { c.refusals.add(method, n) }

// Refusals returns how many peer calls (or items of them) were refused,
// by method.
func (c *Cluster) Refusals() map[string]uint64 {
	c.refusals.mu.Lock()
	defer c.refusals.mu.Unlock()
	out := make(map[string]uint64, len(c.refusals.n))
	for k, v := range c.refusals.n {
		out[k] = v
	}
	return out
}
