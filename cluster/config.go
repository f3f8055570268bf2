package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/raft"
	"github.com/leptonmesh/lepton/internal/plan"
)

// Network is what the cluster needs from the QUIC transport: a Raft stream
// layer, agent RPCs, and a way to forget a failed peer's connections.
// *transport.Endpoint implements it. RaftLayer's allow sees the verified
// peer name of every inbound Raft stream before Raft does; an error
// refuses the stream (raftauth.go decides).
type Network interface {
	RaftLayer(advertise net.Addr, resolve func(addr string) (peerName string, err error), allow func(peer string) error) raft.StreamLayer
	HandleRPC(method string, fn func(ctx context.Context, peer string, req json.RawMessage) (any, error))
	Call(ctx context.Context, addr, peerName, method string, req, resp any) error
	DropPeer(addr string)
}

// Config describes one agent's place in the cluster.
type Config struct {
	NodeName        string
	Side            string
	Labels          map[string]string
	Server          bool // may be a Raft voter
	BootstrapExpect int
	RaftVoters      int // at most this many voters (odd)
	DataDir         string

	GossipBind    string // ip the gossip port binds
	GossipPort    int
	AdvertiseAddr string // ip advertised for gossip and QUIC
	QUICAddr      string // advertised ip:port of the QUIC endpoint
	APIAddr       string // ip:port of the HTTP API
	GossipKey     []byte
	GossipProfile string // "lan" or "wan"
	Join          []string

	// APIToken is the agents' shared API token: operator calls forwarded
	// to the leader (submit, cancel, force-leave, drills) must carry it.
	APIToken string

	Volumes          []plan.Volume
	ReconnectTimeout time.Duration // failed members are reaped after this
	PromoteAfter     time.Duration // a non-voter is promoted after being healthy this long

	// LeaderWork is work only the leader does (the scheduler of jobs). The
	// leadership loop starts it once its barrier has made the plan current,
	// and cancels its context, waiting for it to return, when leadership
	// is lost: Consul's establishLeadership / revokeLeadership.
	LeaderWork func(ctx context.Context)

	Network Network
	Logger  *slog.Logger
}

func (c *Config) setDefaults() {
	if c.RaftVoters <= 0 {
		c.RaftVoters = 5
	}
	if c.ReconnectTimeout <= 0 {
		c.ReconnectTimeout = 72 * time.Hour
	}
	if c.PromoteAfter <= 0 {
		c.PromoteAfter = 3 * time.Second
	}
	if c.GossipProfile == "" {
		c.GossipProfile = "lan"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Sentinel errors callers branch on (the API maps them to status codes).
var (
	// ErrNoLeader means no Raft leader is known right now; retry shortly.
	ErrNoLeader = errors.New("no cluster leader is known yet; retry in a few seconds")
	// ErrUnknownMember means no agent of that name is known.
	ErrUnknownMember = errors.New("no member of that name is known")
	// ErrMemberAlive means force-leave was asked for a live member.
	ErrMemberAlive = errors.New("member is alive; force-leave only removes failed members (stop the agent, or let it leave gracefully)")
)
