package cluster

import (
	"context"
	"encoding/json"
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

func (c *Cluster) registerRPCs() {
	n := c.cfg.Network
	n.HandleRPC(rpcBootstrapCheck, func(ctx context.Context, peer string, _ json.RawMessage) (any, error) {
		has, set := c.bootstrapView()
		return bootstrapCheck{HasState: has, Set: set}, nil
	})
	n.HandleRPC(rpcNodeInfo, func(ctx context.Context, peer string, _ json.RawMessage) (any, error) {
		return c.self, nil
	})
	c.HandleLeader(rpcForceLeave, func(ctx context.Context, from Caller, req json.RawMessage) (any, error) {
		var a nameArgs
		if err := json.Unmarshal(req, &a); err != nil {
			return nil, Errorf(http.StatusBadRequest, "decode %s: %v", rpcForceLeave, err)
		}
		if err := c.CheckOperator(from, rpcForceLeave); err != nil {
			return nil, err
		}
		return c.forceLeaveLocal(ctx, a.Name)
	})
	c.HandleLeader(rpcLeave, func(ctx context.Context, from Caller, req json.RawMessage) (any, error) {
		var a nameArgs
		if err := json.Unmarshal(req, &a); err != nil {
			return nil, Errorf(http.StatusBadRequest, "decode %s: %v", rpcLeave, err)
		}
		if a.Name != from.Node {
			return nil, c.Refuse(from, rpcLeave, http.StatusForbidden, "an agent may leave only on its own behalf, not for %s", a.Name)
		}
		return struct{}{}, c.removeLeaving(ctx, a.Name)
	})
}

// ForceLeave removes a failed member from the Raft configuration and marks
// it left in the registry, on the leader (forwarded when needed). token is
// the operator's API token.
func (c *Cluster) ForceLeave(ctx context.Context, token, name string) (api.ForceLeaveResult, error) {
	res := api.ForceLeaveResult{Name: name}
	if err := c.OnLeader(ctx, rpcForceLeave, token, nameArgs{Name: name}, &res); err != nil {
		return api.ForceLeaveResult{}, fmt.Errorf("force-leave %s: %w", name, err)
	}
	return res, nil
}
