package config

import (
	"fmt"
	"github.com/leptonmesh/lepton/internal/jobspec"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	sockaddr "github.com/hashicorp/go-sockaddr"

	"github.com/leptonmesh/lepton/internal/pki"
)

// Bounds on values that travel in gossip or headers.
const (
	maxLabels      = 16
	maxLabelValue  = 63
	maxVolumeName  = 63
	maxTokenSize   = 4096
	minReconnect   = time.Second
	maxRaftVoters  = 9
	nodeNameSyntax = `letters, digits, "_", "." and "-", starting with a letter or digit, at most 63 characters`
)

var (
	nodeNameRE   = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)
	volumeNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
)

// Seams for tests: the machine's hostname and first private IPv4 address.
var (
	hostname  = os.Hostname
	privateIP = sockaddr.GetPrivateIP
)

// complete fills in the defaults that depend on the machine, resolves
// relative paths against dir, reads the files the config names, and checks
// every key. Problems go to p in the order of the keys in configs/leptond.yaml.
func (c *Config) complete(p *problems, dir string) {
	c.checkNodeName(p)
	if c.Side != SideSource && c.Side != SideTarget {
		if c.Side == "" {
			p.add("side", "required: source or target (the end of a migration this agent serves)")
		} else {
			p.add("side", "is %q; want source or target", string(c.Side))
		}
	}
	c.checkLabels(p)
	if !filepath.IsAbs(c.DataDir) {
		p.add("data_dir", "%q is not an absolute path; leptond keeps its Raft log and state there (default %s)", c.DataDir, DefaultDataDir)
	}
	c.DataDir = filepath.Clean(c.DataDir)
	c.checkAddrs(p)
	c.checkPorts(p)
	c.checkToken(p, dir)
	c.checkJoin(p)
	c.checkRaft(p)
	if c.GossipProfile != GossipLAN && c.GossipProfile != GossipWAN {
		p.add("gossip_profile", "is %q; want lan (one data center) or wan (across clouds or regions)", c.GossipProfile)
	}
	c.checkEncrypt(p)
	c.checkTLS(p, dir)
	c.checkVolumes(p)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p.add("log_level", "is %q; want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case LogAuto, LogText, LogJSON:
	default:
		p.add("log_format", "is %q; want auto, text or json", c.LogFormat)
	}
	if c.ReconnectTimeout.Duration < minReconnect {
		p.add("reconnect_timeout", "is %s; want at least %s (how long a failed member is kept before it is reaped)", c.ReconnectTimeout.Duration, minReconnect)
	}
	if c.MemoryLimit != 0 && c.MemoryLimit < MinMemoryLimit {
		p.add("memory_limit", "is %s; want 0 (no limit) or at least %s", c.MemoryLimit, jobspec.ByteSize(MinMemoryLimit))
	}
}

func (c *Config) checkNodeName(p *problems) {
	if c.NodeName == "" {
		h, err := hostname()
		if err != nil {
			p.add("node_name", "not set and the hostname is unknown (%v); set node_name", err)
			return
		}
		if !nodeNameRE.MatchString(h) {
			p.add("node_name", "not set, and the hostname %q is not a valid node name (%s); set node_name", h, nodeNameSyntax)
			return
		}
		c.NodeName = h
		return
	}
	if !nodeNameRE.MatchString(c.NodeName) {
		p.add("node_name", "%q is not a valid node name: use %s", c.NodeName, nodeNameSyntax)
	}
}

func (c *Config) checkLabels(p *problems) {
	if len(c.Labels) > maxLabels {
		p.add("labels", "has %d labels; at most %d fit in gossip metadata", len(c.Labels), maxLabels)
		return
	}
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		key := "labels." + k
		if !nodeNameRE.MatchString(k) {
			p.add(key, "label name %q: use %s", k, nodeNameSyntax)
		}
		v := c.Labels[k]
		if len(v) > maxLabelValue || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			p.add(key, "value %q: want at most %d bytes and no control characters", v, maxLabelValue)
		}
	}
}

func (c *Config) checkAddrs(p *problems) {
	bind := net.ParseIP(c.BindAddr)
	if bind == nil {
		p.add("bind_addr", "%q is not an IP address; gossip and QUIC listen there (default %s, every interface)", c.BindAddr, DefaultBindAddr)
	}
	switch {
	case c.AdvertiseAddr != "":
		ip := net.ParseIP(c.AdvertiseAddr)
		if ip == nil || ip.IsUnspecified() || ip.IsMulticast() {
			p.add("advertise_addr", "%q is not an address other agents can reach; give this host's IP address", c.AdvertiseAddr)
		}
	case bind == nil:
		// reported above
	case !bind.IsUnspecified():
		c.AdvertiseAddr = c.BindAddr
	default:
		ip, err := privateIP()
		switch {
		case err != nil:
			p.addErr("advertise_addr", err, "not set, bind_addr is %s, and looking for a private IPv4 address failed: %v; set advertise_addr to the address other agents reach this one on", c.BindAddr, err)
		case ip == "":
			p.add("advertise_addr", "not set, bind_addr is %s, and this host has no private IPv4 address; set advertise_addr to the address other agents reach this one on", c.BindAddr)
		default:
			c.AdvertiseAddr = ip
		}
	}
	api := net.ParseIP(c.APIBind)
	if api == nil {
		p.add("api_bind", "%q is not an IP address; the HTTP API listens there (default %s)", c.APIBind, DefaultAPIBind)
	}
}

func (c *Config) checkPorts(p *problems) {
	ports := []struct {
		key  string
		port int
	}{{"ports.gossip", c.Ports.Gossip}, {"ports.quic", c.Ports.QUIC}, {"ports.api", c.Ports.API}}
	for i, a := range ports {
		if a.port < 1 || a.port > 65535 {
			p.add(a.key, "is %d; want a port from 1 to 65535", a.port)
			continue
		}
		for _, b := range ports[:i] {
			if a.port == b.port {
				p.add(a.key, "is %d, the same as %s; each port must be different", a.port, b.key)
			}
		}
	}
}

// checkToken resolves the API token, and refuses an API reachable from other
// hosts without one: anyone who reaches it could start jobs and drills.
func (c *Config) checkToken(p *problems, dir string) {
	switch {
	case c.APIToken != "" && c.APITokenFile != "":
		p.add("api_token", "set together with api_token_file; keep one (api_token_file keeps the secret out of this file)")
		return
	case c.APITokenFile != "":
		c.APITokenFile = resolve(dir, c.APITokenFile)
		data, err := readBounded(c.APITokenFile, maxTokenSize)
		if err != nil {
			p.addErr("api_token_file", err, "%s: %v", c.APITokenFile, cause(err))
			return
		}
		c.Token = strings.TrimSpace(string(data))
		if c.Token == "" {
			p.add("api_token_file", "%s is empty; write a token into it (e.g. `openssl rand -hex 32`), or remove api_token_file to require none", c.APITokenFile)
			return
		}
		if strings.IndexFunc(c.Token, invalidTokenRune) >= 0 {
			p.add("api_token_file", "%s: the token holds spaces or control characters; it must fit in one HTTP header", c.APITokenFile)
			return
		}
	case c.APIToken != "":
		c.Token = c.APIToken
		if strings.IndexFunc(c.Token, invalidTokenRune) >= 0 {
			p.add("api_token", "holds spaces or control characters; it must fit in one HTTP header")
			return
		}
	}
	if ip := net.ParseIP(c.APIBind); ip != nil && !ip.IsLoopback() && c.Token == "" {
		p.add("api_bind", "%s is reachable from other hosts but no API token is set; set api_token_file, or bind the API to 127.0.0.1", c.APIBind)
	}
}

func invalidTokenRune(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

func (c *Config) checkJoin(p *problems) {
	for i, s := range c.Join {
		addr, err := parseJoin(s)
		if err != nil {
			p.add(fmt.Sprintf("join[%d]", i), "%q: %v", s, err)
			continue
		}
		c.Join[i] = addr
	}
}

func (c *Config) checkRaft(p *problems) {
	switch {
	case c.BootstrapExpect < 0:
		p.add("bootstrap_expect", "is %d; want 0 (join an existing cluster) or the number of servers to wait for before the first election", c.BootstrapExpect)
	case c.BootstrapExpect > 0 && !c.Server:
		p.add("bootstrap_expect", "is %d but server is false; only servers bootstrap a cluster: set bootstrap_expect: 0 or server: true", c.BootstrapExpect)
	}
	if c.RaftVoters < 1 || c.RaftVoters > maxRaftVoters || c.RaftVoters%2 == 0 {
		p.add("raft_voters", "is %d; want an odd number from 1 to %d (3 or 5 is usual), so a quorum outlives an even split", c.RaftVoters, maxRaftVoters)
	}
}

func (c *Config) checkEncrypt(p *problems) {
	if c.Encrypt == "" {
		p.add("encrypt", "required: the cluster's gossip encryption key, the same on every agent; make one with `leptonctl keygen`")
		return
	}
	key, err := pki.DecodeGossipKey(c.Encrypt)
	if err != nil {
		p.addErr("encrypt", err, "%v", err)
		return
	}
	c.GossipKey = key
}

func (c *Config) checkVolumes(p *problems) {
	seen := map[string]int{}
	for i, v := range c.Volumes {
		key := fmt.Sprintf("volumes[%d]", i)
		switch {
		case v.Name == "":
			p.add(key+".name", "required: the name jobs use for this volume")
		case len(v.Name) > maxVolumeName || !volumeNameRE.MatchString(v.Name):
			p.add(key+".name", "%q is not a valid volume name: use letters, digits, \"_\", \".\" and \"-\", starting with a letter or digit, at most %d characters", v.Name, maxVolumeName)
		default:
			if j, dup := seen[v.Name]; dup {
				p.add(key+".name", "%q is also the name of volumes[%d]; volume names must be unique", v.Name, j)
			} else {
				seen[v.Name] = i
			}
		}
		switch {
		case v.Path == "":
			p.add(key+".path", "required: the absolute path of the volume's root directory")
		case !filepath.IsAbs(v.Path):
			p.add(key+".path", "%q is not an absolute path; write the full path from /", v.Path)
		case filepath.Clean(v.Path) != v.Path:
			p.add(key+".path", "%q is not in clean form; write %q", v.Path, filepath.Clean(v.Path))
		}
	}
}

// resolve makes a relative path absolute against the config file's directory.
func resolve(dir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// readBounded reads a small file, refusing one larger than limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}
