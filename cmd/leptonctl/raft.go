package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/leptonmesh/lepton/internal/api"
)

func newRaftCmd(g *globals) *cobra.Command {
	raft := &cobra.Command{
		Use:   "raft",
		Short: "Inspect the Raft configuration",
		Args:  cobra.ArbitraryArgs,
		RunE:  runGroup,
	}
	raft.AddCommand(&cobra.Command{
		Use:   "peers",
		Short: "List the Raft servers, their suffrage and the log indexes",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := c.RaftPeers(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.json {
				return printJSON(out, p)
			}
			fmt.Fprintf(out, "Leader: %s   Term: %d   Commit index: %d   Applied index: %d\n",
				orNone(p.Leader), p.Term, p.CommitIndex, p.AppliedIndex)
			servers := slices.Clone(p.Servers)
			slices.SortStableFunc(servers, func(a, b api.RaftServer) int { return strings.Compare(a.ID, b.ID) })
			t := newTable(out, "ID", "ADDRESS", "SUFFRAGE", "LEADER")
			for _, s := range servers {
				t.row(s.ID, s.Address, s.Suffrage, strconv.FormatBool(s.Leader))
			}
			return t.flush()
		},
	})
	return raft
}
