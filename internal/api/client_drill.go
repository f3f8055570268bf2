package api

import (
	"context"
	"errors"
	"net/http"
)

// DrillCrash asks the cluster to crash node on purpose, for a failover
// drill: node kills itself with SIGKILL a moment after the answer (202), with
// no graceful leave. Any agent takes the request and forwards it. The agent
// answers 403 when the API has no token or node's config lacks `drills:
// true`, and 404 for an unknown node.
func (c *Client) DrillCrash(ctx context.Context, node string) (DrillCrashResult, error) {
	var r DrillCrashResult
	if node == "" {
		return r, errors.New("crash drill needs a node name")
	}
	err := c.Do(ctx, http.MethodPost, "/v1/drill/crash", DrillCrash{Node: node}, &r)
	return r, err
}

// TransferLeader asks the Raft leader to hand leadership to another voter
// gracefully, and returns the old and new leader once the new one is known
// (To is empty when none was known in time). 403 when the API has no token.
func (c *Client) TransferLeader(ctx context.Context) (LeaderTransfer, error) {
	var r LeaderTransfer
	err := c.Do(ctx, http.MethodPost, "/v1/drill/transfer-leader", nil, &r)
	return r, err
}
