package agent

import (
	"context"
	"encoding/json"

	"github.com/leptonmesh/lepton/transport"
)

// rpcNetwork adapts the QUIC endpoint to cluster.Network, whose RPC handler
// is a plain func type so the cluster package needs no transport types.
type rpcNetwork struct{ *transport.Endpoint }

func (n rpcNetwork) HandleRPC(method string, fn func(ctx context.Context, peer string, req json.RawMessage) (any, error)) {
	n.Endpoint.HandleRPC(method, fn)
}
