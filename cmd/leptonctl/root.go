package main

import (
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leptonmesh/lepton/internal/api"
)

// Environment variables that stand in for the global flags.
const (
	envAddr  = "LEPTON_ADDR"
	envToken = "LEPTON_TOKEN"
)

// globals holds the persistent flags shared by every command.
type globals struct {
	root    *cobra.Command
	addr    string
	token   string
	json    bool
	timeout time.Duration
}

// newRootCmd builds the whole command tree; nothing is registered globally,
// so every call (and every test) gets a fresh tree.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "leptonctl",
		Short: "Operate a Lepton agent mesh",
		Long: `leptonctl talks to any leptond agent over its HTTP API (writes are forwarded
to the Raft leader) and makes the gossip key and TLS certificates a cluster needs.`,
		Args:          cobra.ArbitraryArgs,
		RunE:          runGroup,
		SilenceErrors: true, // run prints errors once
		SilenceUsage:  true, // and usage only for usage errors
	}
	g.root = root
	root.SetOut(stdout)
	root.SetErr(stderr)
	// Group commands run only to reject unknown subcommands; do not show them
	// as runnable ("leptonctl [flags]") in usage.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(),
		"{{if .Runnable}}", "{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	pf := root.PersistentFlags()
	pf.StringVar(&g.addr, "addr", api.DefaultAddr, "agent API address (env "+envAddr+")")
	pf.StringVar(&g.token, "token", "", "API token, sent as a bearer token (env "+envToken+")")
	pf.BoolVar(&g.json, "json", false, "print JSON instead of text")
	pf.DurationVar(&g.timeout, "timeout", api.DefaultTimeout, "bound on each API request")

	root.AddCommand(
		newStatusCmd(g),
		newMembersCmd(g),
		newRaftCmd(g),
		newForceLeaveCmd(g),
		newJobCmd(g),
		newDrillCmd(g),
		newVersionCmd(g),
		newKeygenCmd(g),
		newTLSCmd(g),
	)
	return root
}

// client returns an API client for the agent named by --addr or LEPTON_ADDR
// (the flag wins), authenticated by --token or LEPTON_TOKEN.
func (g *globals) client() (*api.Client, error) {
	if g.timeout <= 0 {
		return nil, usageErrorf("--timeout must be positive, got %s", g.timeout)
	}
	addr, _ := g.endpoint()
	return g.clientAt(addr, g.timeout)
}

// endpoint returns the agent address and API token in force: the flags, or
// LEPTON_ADDR and LEPTON_TOKEN where the flags were not given.
func (g *globals) endpoint() (addr, token string) {
	addr, token = g.addr, g.token
	flags := g.root.PersistentFlags()
	if v := os.Getenv(envAddr); v != "" && !flags.Changed("addr") {
		addr = v
	}
	if v := os.Getenv(envToken); v != "" && !flags.Changed("token") {
		token = v
	}
	return addr, token
}

// clientAt returns a client for the agent at addr, with the token in force
// and each request bounded by timeout; drill uses it to reach other agents.
func (g *globals) clientAt(addr string, timeout time.Duration) (*api.Client, error) {
	_, token := g.endpoint()
	c, err := api.NewClient(addr, token, api.WithTimeout(timeout))
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}
