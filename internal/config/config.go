// Package config loads leptond's agent configuration: one YAML file, read
// strictly (an unknown key is an error), with defaults applied, relative paths
// resolved against the file's directory, and every value checked before the
// agent starts. The TLS files, the gossip key and the API token are read and
// checked here too, so the agent never starts with a half-valid identity.
package config

import (
	"github.com/leptonmesh/lepton/internal/jobspec"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/leptonmesh/lepton/internal/pki"
)

// Defaults for keys the file may leave out.
const (
	DefaultDataDir          = "/var/lib/lepton"
	DefaultBindAddr         = "0.0.0.0"
	DefaultAPIBind          = "127.0.0.1"
	DefaultGossipPort       = 7946
	DefaultQUICPort         = 7947
	DefaultAPIPort          = 7948
	DefaultRaftVoters       = 5
	DefaultReconnectTimeout = 72 * time.Hour
	// DefaultMemoryLimit is the Go runtime's soft memory limit: the
	// garbage collector works harder as the heap nears it, instead of
	// letting it grow to twice what is live. 0 in the file turns it off.
	DefaultMemoryLimit = 200 << 20
	// MinMemoryLimit is the smallest limit accepted: below it the
	// collector would run all the time.
	MinMemoryLimit = 64 << 20
)

// Side says which end of a migration an agent serves.
type Side string

// The two sides of a migration.
const (
	SideSource Side = "source"
	SideTarget Side = "target"
)

// Gossip profiles: memberlist's LAN or WAN timing.
const (
	GossipLAN = "lan"
	GossipWAN = "wan"
)

// Log formats. LogAuto and LogText both mean text; JSON only when asked for.
const (
	LogAuto = "auto"
	LogText = "text"
	LogJSON = "json"
)

// Config is one agent's configuration, as decoded from the file and
// completed by Load: defaults applied, paths absolute, and the derived
// values (Identity, GossipKey, Token) filled in.
type Config struct {
	NodeName        string            `yaml:"node_name"`
	Side            Side              `yaml:"side"`
	Labels          map[string]string `yaml:"labels"`
	DataDir         string            `yaml:"data_dir"`
	BindAddr        string            `yaml:"bind_addr"`
	AdvertiseAddr   string            `yaml:"advertise_addr"`
	Ports           Ports             `yaml:"ports"`
	APIBind         string            `yaml:"api_bind"`
	APIToken        string            `yaml:"api_token"`
	APITokenFile    string            `yaml:"api_token_file"`
	Join            []string          `yaml:"join"` // normalized to host:port
	BootstrapExpect int               `yaml:"bootstrap_expect"`
	Server          bool              `yaml:"server"`
	GossipProfile   string            `yaml:"gossip_profile"`
	Encrypt         string            `yaml:"encrypt"`
	TLS             TLSFiles          `yaml:"tls"`
	Volumes         []Volume          `yaml:"volumes"`
	Drills          bool              `yaml:"drills"`

	RaftVoters       int      `yaml:"raft_voters"`
	LogLevel         string   `yaml:"log_level"`
	LogFormat        string   `yaml:"log_format"`
	ReconnectTimeout Duration `yaml:"reconnect_timeout"`
	// MemoryLimit is the soft limit on the agent's memory (runtime/debug
	// SetMemoryLimit); 0 turns it off. GOMEMLIMIT in the environment wins.
	MemoryLimit jobspec.ByteSize `yaml:"memory_limit"`
	// EnableDebug serves Go's profiles (net/http/pprof) under /debug/pprof/
	// on the API, behind its token, as Consul's enable_debug does.
	EnableDebug bool `yaml:"enable_debug"`

	// File is the path the configuration was loaded from.
	File string `yaml:"-"`
	// Identity is the node's certificate, key and cluster CA, loaded and
	// checked from TLS; its Name equals NodeName.
	Identity *pki.Identity `yaml:"-"`
	// GossipKey is Encrypt decoded: the memberlist keyring's primary key.
	GossipKey []byte `yaml:"-"`
	// Token is the API bearer token from APIToken or APITokenFile; "" means
	// the API asks for none.
	Token string `yaml:"-"`
}

// Ports are the three ports an agent listens on.
type Ports struct {
	Gossip int `yaml:"gossip"` // memberlist, TCP and UDP on bind_addr
	QUIC   int `yaml:"quic"`   // raft, rpc and chunks, UDP on bind_addr
	API    int `yaml:"api"`    // HTTP API, TCP on api_bind
}

// TLSFiles name the cluster CA and this node's certificate and key.
type TLSFiles struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Volume is a directory tree the agent may read (source) or write (target).
// A shared volume is the same file system on several agents of one side
// (NFS, a cloud file share), so any of them may move any of its files.
type Volume struct {
	Name   string `yaml:"name"`
	Path   string `yaml:"path"`
	Shared bool   `yaml:"shared"`
}

// defaults returns a Config holding every default that does not depend on
// the machine; decoding the file over it keeps what the file leaves out.
func defaults() *Config {
	return &Config{
		DataDir:          DefaultDataDir,
		BindAddr:         DefaultBindAddr,
		Ports:            Ports{Gossip: DefaultGossipPort, QUIC: DefaultQUICPort, API: DefaultAPIPort},
		APIBind:          DefaultAPIBind,
		Server:           true,
		GossipProfile:    GossipLAN,
		RaftVoters:       DefaultRaftVoters,
		LogLevel:         "info",
		LogFormat:        LogAuto,
		ReconnectTimeout: Duration{DefaultReconnectTimeout},
		MemoryLimit:      DefaultMemoryLimit,
	}
}

// GossipAddr is the address other agents reach this one's gossip on.
func (c *Config) GossipAddr() string {
	return net.JoinHostPort(c.AdvertiseAddr, strconv.Itoa(c.Ports.Gossip))
}

// QUICAddr is the address other agents reach this one's QUIC endpoint on.
func (c *Config) QUICAddr() string {
	return net.JoinHostPort(c.AdvertiseAddr, strconv.Itoa(c.Ports.QUIC))
}

// APIAddr is the address the HTTP API listens on.
func (c *Config) APIAddr() string {
	return net.JoinHostPort(c.APIBind, strconv.Itoa(c.Ports.API))
}

// Level is LogLevel as a slog level.
func (c *Config) Level() slog.Level {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
