package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/leptonmesh/lepton/internal/api"
)

// completionTimeout bounds the API call that shell completion makes.
const completionTimeout = 2 * time.Second

func newForceLeaveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "force-leave NAME",
		Short: "Force a failed member out of the cluster and the Raft configuration",
		Long: `force-leave removes a member that failed and will not come back, so it stops
counting towards the Raft quorum. The agent refuses for a member that is alive.`,
		Args: oneArg("NAME"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return failedMembers(cmd.Context(), g), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.ForceLeave(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.json {
				return printJSON(out, res)
			}
			if res.Removed {
				fmt.Fprintf(out, "Forced %s to leave the cluster and removed it from the Raft configuration.\n", res.Name)
			} else {
				fmt.Fprintf(out, "Forced %s to leave the cluster; it was not in the Raft configuration.\n", res.Name)
			}
			return nil
		},
	}
}

// failedMembers names the members force-leave accepts, for shell completion;
// it returns nothing when the agent cannot be asked.
func failedMembers(ctx context.Context, g *globals) []string {
	c, err := g.client()
	if err != nil {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	ms, err := c.Members(ctx)
	if err != nil {
		return nil
	}
	var names []string
	for _, m := range ms {
		if m.Status == api.StatusFailed {
			names = append(names, m.Name)
		}
	}
	return names
}
