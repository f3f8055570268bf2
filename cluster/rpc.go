package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/leptonmesh/lepton/internal/api"
)

// RPC method names the cluster serves over QUIC streams of kind rpc.
const (
	rpcBootstrapCheck = "cluster.bootstrap-check"
	rpcNodeInfo       = "cluster.node-info"
	rpcForceLeave     = "cluster.force-leave"
	rpcLeave          = "cluster.leave"
)

type nameArgs struct {
	Name string `json:"name"`
}

type bootstrapCheck struct {
	HasState bool     `json:"has_state"`
	Set      []string `json:"set"`
}

// writeReply is the answer to a forwarded write: the leader's result, or
// the HTTP status and message of its error, so a follower answers its API
// client exactly as the leader would have.
type writeReply struct {
	Status     int                   `json:"status,omitempty"`
	Error      string                `json:"error,omitempty"`
	ForceLeave *api.ForceLeaveResult `json:"force_leave,omitempty"`
}

// StatusError is an error with the HTTP status the API should answer with.
type StatusError struct {
	Status int
	Msg    string
}

func (e *StatusError) Error() string { return e.Msg }

// StatusOf maps an error from this package to an HTTP status, for the API.
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

func (c *Cluster) registerRPCs() {
	n := c.cfg.Network
	n.HandleRPC(rpcBootstrapCheck, func(ctx context.Context, peer string, _ json.RawMessage) (any, error) {
		has, set := c.bootstrapView()
		return bootstrapCheck{HasState: has, Set: set}, nil
	})
	n.HandleRPC(rpcNodeInfo, func(ctx context.Context, peer string, _ json.RawMessage) (any, error) {
		return c.self, nil
	})
	for _, method := range []string{rpcForceLeave, rpcLeave} {
		n.HandleRPC(method, func(ctx context.Context, peer string, req json.RawMessage) (any, error) {
			var a nameArgs
			if err := json.Unmarshal(req, &a); err != nil {
				return nil, fmt.Errorf("decode %s: %w", method, err)
			}
			if method == rpcLeave && a.Name != peer {
				return nil, fmt.Errorf("%s may not leave on behalf of %s", peer, a.Name)
			}
			reply, err := c.write(ctx, method, a)
			if err != nil {
				reply = writeReply{Status: StatusOf(err), Error: err.Error()}
			}
			return reply, nil
		})
	}
}

// forward runs a write on the leader: locally when this agent leads,
// otherwise as an RPC to the leader over QUIC.
func (c *Cluster) forward(ctx context.Context, method string, args nameArgs) (writeReply, error) {
	name, addr, err := c.Leader()
	if err != nil {
		return writeReply{}, err
	}
	if name == c.cfg.NodeName {
		return c.write(ctx, method, args)
	}
	var reply writeReply
	if err := c.cfg.Network.Call(ctx, addr, name, method, args, &reply); err != nil {
		return reply, fmt.Errorf("forward %s to leader %s: %w", method, name, err)
	}
	if reply.Error != "" {
		return reply, &StatusError{Status: reply.Status, Msg: reply.Error}
	}
	return reply, nil
}

// write performs a leader-only write.
func (c *Cluster) write(ctx context.Context, method string, a nameArgs) (writeReply, error) {
	if !c.IsLeader() {
		return writeReply{}, ErrNoLeader
	}
	switch method {
	case rpcForceLeave:
		res, err := c.forceLeaveLocal(ctx, a.Name)
		return writeReply{ForceLeave: &res}, err
	case rpcLeave:
		return writeReply{}, c.removeLeaving(ctx, a.Name)
	}
	return writeReply{}, fmt.Errorf("unknown write %s", method)
}

// ForceLeave removes a failed member from the Raft configuration and marks
// it left in the registry, on the leader (forwarded when needed).
func (c *Cluster) ForceLeave(ctx context.Context, name string) (api.ForceLeaveResult, error) {
	reply, err := c.forward(ctx, rpcForceLeave, nameArgs{Name: name})
	if err != nil {
		return api.ForceLeaveResult{}, err
	}
	if reply.ForceLeave == nil {
		return api.ForceLeaveResult{Name: name}, nil
	}
	return *reply.ForceLeave, nil
}
