package main

import (
	"github.com/spf13/cobra"

	"github.com/leptonmesh/lepton/internal/api"
)

func newMembersCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "members",
		Short: "List the members of the cluster, failed and left ones included",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ms, err := c.Members(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.json {
				if ms == nil {
					ms = []api.Member{}
				}
				return printJSON(out, ms)
			}
			t := newTable(out, "NAME", "SIDE", "ADDRESS", "STATUS", "RAFT", "VERSION", "LABELS")
			for _, m := range sortedMembers(ms) {
				t.row(m.Name, m.Side, m.Addr, m.Status, raftCell(m), m.Version, labelsCell(m.Labels))
			}
			return t.flush()
		},
	}
}
