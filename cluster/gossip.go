package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/logging"
)

// member is this agent's view of one gossip peer.
type member struct {
	Name    string
	Addr    string // gossip ip:port
	Meta    nodeMeta
	Status  string // alive, failed or left (suspect is derived at read time)
	Since   time.Time
	lastAck time.Time
}

// gossip wraps memberlist and keeps a view of every member ever seen, with
// dead and left ones kept until they are reaped (memberlist forgets them).
type gossip struct {
	ml     *memberlist.Memberlist
	mlConf *memberlist.Config
	events chan<- struct{} // poked (non-blocking) on every membership change
	onGone func(m member)  // called when a member fails or leaves

	mu      sync.RWMutex
	meta    nodeMeta
	members map[string]*member
}

func newGossip(cfg *Config, meta nodeMeta, events chan<- struct{}, onGone func(member)) (*gossip, error) {
	var mc *memberlist.Config
	switch cfg.GossipProfile {
	case "lan":
		mc = memberlist.DefaultLANConfig()
	case "wan":
		mc = memberlist.DefaultWANConfig()
	default:
		return nil, fmt.Errorf("gossip profile %q: want lan or wan", cfg.GossipProfile)
	}
	if _, err := meta.encode(); err != nil {
		return nil, err
	}
	g := &gossip{mlConf: mc, events: events, onGone: onGone, meta: meta, members: map[string]*member{}}
	mc.Name = cfg.NodeName
	mc.BindAddr = cfg.GossipBind
	mc.BindPort = cfg.GossipPort
	mc.AdvertiseAddr = cfg.AdvertiseAddr
	mc.AdvertisePort = cfg.GossipPort
	mc.SecretKey = cfg.GossipKey
	mc.Delegate = (*gossipDelegate)(g)
	mc.Events = (*gossipEvents)(g)
	mc.Ping = (*gossipPings)(g)
	mc.Logger = logging.StdLog(cfg.Logger, "memberlist")
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("start gossip on %s:%d: %w", cfg.GossipBind, cfg.GossipPort, err)
	}
	g.ml = ml
	return g, nil
}

func (g *gossip) poke() {
	select {
	case g.events <- struct{}{}:
	default:
	}
}

// setMeta changes what this agent gossips and pushes it out.
func (g *gossip) setMeta(update func(*nodeMeta)) error {
	g.mu.Lock()
	update(&g.meta)
	g.mu.Unlock()
	return g.ml.UpdateNode(5 * time.Second)
}

// join contacts the join addresses until one answers, backing off from 1 s
// to 30 s between rounds with jitter. It returns when joined or ctx ends.
func (g *gossip) join(ctx context.Context, addrs []string, log func(msg string, args ...any)) error {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		n, err := g.ml.Join(addrs)
		if n > 0 {
			return nil
		}
		log("join failed; retrying", "attempt", attempt, "addrs", addrs, "err", err,
			"hint", "check the addresses are reachable and every agent has the same `encrypt` key")
		wait := backoff + time.Duration(rand.Int64N(int64(backoff/4)+1))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// suspectAfter is how long without a direct probe ack before an alive member
// is shown as suspect. memberlist probes one member per interval, round
// robin over a list it reshuffles each round, so two probes of one member
// can be up to 2n-1 intervals apart; two more intervals allow for one miss.
func (g *gossip) suspectAfter(n int) time.Duration {
	return time.Duration(2*n+2)*g.mlConf.ProbeInterval + g.mlConf.ProbeTimeout
}

// view returns a copy of every member, with suspect derived from probes.
func (g *gossip) view() map[string]member {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make(map[string]member, len(g.members))
	alive := 0
	for _, m := range g.members {
		if m.Status == api.StatusAlive {
			alive++
		}
	}
	limit := g.suspectAfter(alive)
	for name, m := range g.members {
		c := *m
		if c.Status == api.StatusAlive && name != g.mlConf.Name && time.Since(c.lastAck) > limit {
			c.Status = api.StatusSuspect
		}
		out[name] = c
	}
	return out
}

// quicAddr returns the QUIC address a member advertises, without copying
// the whole view (the data path asks for every chunk).
func (g *gossip) quicAddr(name string) (string, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	m, ok := g.members[name]
	if !ok || m.Meta.QUICAddr == "" {
		return "", false
	}
	return m.Meta.QUICAddr, true
}

// forget drops members that are gone and older than maxAge.
func (g *gossip) forget(maxAge time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for name, m := range g.members {
		if m.Status != api.StatusAlive && time.Since(m.Since) > maxAge {
			delete(g.members, name)
		}
	}
}

// reconnect tries to rejoin one failed member, chosen at random, as Serf
// does: memberlist never contacts a dead member again, so without this two
// halves of a healed partition, or an agent restarted without a join list
// naming a live peer, would stay apart.
func (g *gossip) reconnect() {
	var failed []string
	for _, m := range g.view() {
		if m.Status == api.StatusFailed && m.Addr != "" {
			failed = append(failed, m.Addr)
		}
	}
	if len(failed) == 0 {
		return
	}
	_, _ = g.ml.Join([]string{failed[rand.IntN(len(failed))]})
}

// aliveMembers returns the alive members sorted by name.
func (g *gossip) aliveMembers() []member {
	var out []member
	for _, m := range g.view() {
		if m.Status == api.StatusAlive || m.Status == api.StatusSuspect {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (g *gossip) record(n *memberlist.Node, status string) {
	meta, err := decodeMeta(n.Meta)
	g.mu.Lock()
	m, ok := g.members[n.Name]
	if !ok {
		m = &member{Name: n.Name, lastAck: time.Now()}
		g.members[n.Name] = m
	}
	if err == nil {
		m.Meta = meta
	}
	if status == api.StatusFailed && m.Meta.Leaving {
		status = api.StatusLeft
	}
	if m.Status != status {
		m.Since = time.Now()
		if status == api.StatusAlive {
			m.lastAck = time.Now()
		}
	}
	m.Status = status
	m.Addr = net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
	gone := *m
	g.mu.Unlock()
	if status != api.StatusAlive && g.onGone != nil {
		g.onGone(gone)
	}
	g.poke()
}

type gossipDelegate gossip

func (d *gossipDelegate) NodeMeta(limit int) []byte {
	d.mu.RLock()
	defer d.mu.RUnlock()
	b, err := d.meta.encode()
	if err != nil || len(b) > limit {
		return nil
	}
	return b
}
func (d *gossipDelegate) NotifyMsg([]byte)                           {}
func (d *gossipDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *gossipDelegate) LocalState(join bool) []byte                { return nil }
func (d *gossipDelegate) MergeRemoteState(buf []byte, join bool)     {}

type gossipEvents gossip

func (e *gossipEvents) NotifyJoin(n *memberlist.Node) { (*gossip)(e).record(n, api.StatusAlive) }
func (e *gossipEvents) NotifyUpdate(n *memberlist.Node) {
	(*gossip)(e).record(n, api.StatusAlive)
}
func (e *gossipEvents) NotifyLeave(n *memberlist.Node) { (*gossip)(e).record(n, api.StatusFailed) }

type gossipPings gossip

func (p *gossipPings) AckPayload() []byte { return nil }
func (p *gossipPings) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	p.mu.Lock()
	if m, ok := p.members[other.Name]; ok {
		m.lastAck = time.Now()
	}
	p.mu.Unlock()
}
