package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/version"
)

// versionReport is what `leptonctl version --json` prints. Agent is null when
// the agent could not be asked; AgentError then says why.
type versionReport struct {
	Client     version.Info `json:"client"`
	Agent      *api.Version `json:"agent"`
	AgentError string       `json:"agent_error,omitempty"`
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the version of leptonctl and of the agent",
		Long:  "version always succeeds: an agent that cannot be reached is reported, not an error.",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep := versionReport{Client: version.Get()}
			addr := "the agent"
			c, err := g.client()
			if err == nil {
				addr = c.Addr()
				var v api.Version
				if v, err = c.Version(cmd.Context()); err == nil {
					rep.Agent = &v
				}
			}
			if err != nil {
				rep.AgentError = err.Error()
			}
			out := cmd.OutOrStdout()
			if g.json {
				return printJSON(out, rep)
			}
			fmt.Fprintf(out, "Client: %s\n", describe(rep.Client))
			if rep.Agent != nil {
				fmt.Fprintf(out, "Agent:  %s at %s\n", describe(*rep.Agent), addr)
			} else {
				fmt.Fprintf(out, "Agent:  unknown (%s)\n", rep.AgentError)
			}
			return nil
		},
	}
}

func describe(v version.Info) string {
	return fmt.Sprintf("%s (commit %s, %s)", v.Version, v.Commit, v.Go)
}
