// Package agent is one leptond: it turns a loaded configuration into a
// running agent (QUIC endpoint, cluster membership and Raft, HTTP API and
// metrics), reports readiness to systemd, and leaves gracefully on stop.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/leptonmesh/lepton/cluster"
	"github.com/leptonmesh/lepton/internal/config"
	"github.com/leptonmesh/lepton/internal/mover"
	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/internal/scheduler"
	"github.com/leptonmesh/lepton/internal/volume"
	"github.com/leptonmesh/lepton/transport"
	"golang.org/x/sync/errgroup"
)

// Agent is a running leptond.
type Agent struct {
	cfg       *config.Config
	log       *slog.Logger
	endpoint  *transport.Endpoint
	cluster   *cluster.Cluster
	mover     *mover.Mover         // this agent's share of every migration
	scheduler *scheduler.Scheduler // the leader's side of every migration, while this agent leads
	api       *http.Server
	apiLn     net.Listener
}

// New binds the agent's ports and starts its cluster membership. Nothing
// is served until Run.
func New(cfg *config.Config, log *slog.Logger) (*Agent, error) {
	a := &Agent{cfg: cfg, log: log}
	volumes, err := openVolumes(cfg)
	if err != nil {
		return nil, err
	}
	var cl atomic.Pointer[cluster.Cluster]
	ep, err := transport.Listen(transport.Config{
		BindAddr: net.JoinHostPort(cfg.BindAddr, fmt.Sprint(cfg.Ports.QUIC)),
		Identity: cfg.Identity,
		// Senders spread chunks over up to mover.MaxLanes connections
		// per receiver; Raft and RPC ride the first.
		DataConnsPerPeer: mover.MaxLanes,
		Logger:           log.With("component", "quic"),
		Authorize: func(name string, remote net.Addr) error {
			c := cl.Load()
			if c == nil {
				return errors.New("agent is starting")
			}
			return c.Authorize(name, remote)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("listen for QUIC on %s:%d: %w", cfg.BindAddr, cfg.Ports.QUIC, err)
	}
	a.endpoint = ep
	declared := make([]plan.Volume, len(cfg.Volumes))
	for i, v := range cfg.Volumes {
		declared[i] = plan.Volume{Name: v.Name, Path: v.Path, Shared: v.Shared}
	}
	c, err := cluster.New(cluster.Config{
		NodeName:         cfg.NodeName,
		Side:             string(cfg.Side),
		Labels:           cfg.Labels,
		Server:           cfg.Server,
		BootstrapExpect:  cfg.BootstrapExpect,
		RaftVoters:       cfg.RaftVoters,
		DataDir:          cfg.DataDir,
		GossipBind:       cfg.BindAddr,
		GossipPort:       cfg.Ports.Gossip,
		AdvertiseAddr:    cfg.AdvertiseAddr,
		QUICAddr:         cfg.QUICAddr(),
		APIAddr:          cfg.APIAddr(),
		GossipKey:        cfg.GossipKey,
		APIToken:         cfg.Token,
		GossipProfile:    cfg.GossipProfile,
		Join:             cfg.Join,
		Volumes:          declared,
		ReconnectTimeout: cfg.ReconnectTimeout.Duration,
		LeaderWork:       func(ctx context.Context) { a.scheduler.Run(ctx) },
		Network:          rpcNetwork{ep},
		Logger:           log,
	})
	if err != nil {
		ep.Close()
		return nil, err
	}
	cl.Store(c)
	a.cluster = c
	a.scheduler = scheduler.New(c, log)
	a.scheduler.Register(c.HandleLeader)
	a.mover = mover.New(mover.Config{Node: cfg.NodeName, Volumes: volumes, Plan: c.FSM(),
		Leader: moverLeader{c}, Peers: moverPeers{ep, c}, Logger: log})
	a.registerDrills()
	ln, err := net.Listen("tcp", cfg.APIAddr())
	if err != nil {
		c.Shutdown()
		ep.Close()
		return nil, fmt.Errorf("listen for the API on %s: %w", cfg.APIAddr(), err)
	}
	a.apiLn = ln
	a.api = &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	return a, nil
}

// Run serves until ctx ends, then leaves the cluster gracefully (a leader
// hands over leadership first) and stops.
func (a *Agent) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.endpoint.Serve(gctx) })
	g.Go(func() error {
		if err := a.api.Serve(a.apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve API: %w", err)
		}
		return nil
	})
	a.cluster.Start()
	g.Go(func() error { return a.mover.Serve(gctx) })
	a.log.Info("agent started", "node", a.cfg.NodeName, "side", a.cfg.Side,
		"gossip", a.cfg.GossipAddr(), "quic", a.cfg.QUICAddr(), "api", a.cfg.APIAddr())
	g.Go(func() error {
		select {
		case <-a.cluster.Joined():
			a.notify(daemon.SdNotifyReady, "STATUS=joined the cluster")
		case <-gctx.Done():
		}
		<-gctx.Done()
		return a.stop()
	})
	return g.Wait()
}

// stop leaves gracefully and closes every listener, bounded in time.
func (a *Agent) stop() error {
	a.notify(daemon.SdNotifyStopping, "STATUS=leaving the cluster")
	a.log.Info("leaving the cluster")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := a.cluster.Leave(ctx)
	_ = a.api.Shutdown(ctx)
	if cerr := a.endpoint.Close(); err == nil {
		err = cerr
	}
	a.log.Info("agent stopped")
	return err
}

// openVolumes opens every configured volume; a missing directory is a
// configuration error, reported with the key that names it.
func openVolumes(cfg *config.Config) (map[string]*volume.Volume, error) {
	out := map[string]*volume.Volume{}
	for i, vc := range cfg.Volumes {
		v, err := volume.Open(vc.Path)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, &config.Error{File: cfg.File, Key: fmt.Sprintf("volumes[%d].path", i),
				Problem: fmt.Sprintf("%v; create the directory or fix the path", err)}
		}
		out[vc.Name] = v
	}
	return out, nil
}

func (a *Agent) notify(state ...string) {
	for _, s := range state {
		if _, err := daemon.SdNotify(false, s); err != nil {
			a.log.Debug("sd_notify", "err", err)
		}
	}
}
