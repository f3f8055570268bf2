package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the Raft leader, the term, every member and every job",
		Example: `  leptonctl status
  leptonctl status --json | jq -r .leader`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.json {
				return printJSON(out, st)
			}
			fmt.Fprintf(out, "Leader: %s   Term: %d\n", orNone(st.Leader), st.Term)
			t := newTable(out, "NAME", "SIDE", "ADDRESS", "STATUS", "RAFT", "LABELS")
			for _, m := range sortedMembers(st.Members) {
				t.row(m.Name, m.Side, m.Addr, m.Status, raftCell(m), labelsCell(m.Labels))
			}
			if err := t.flush(); err != nil || len(st.Jobs) == 0 {
				return err
			}
			fmt.Fprintln(out)
			jt := newTable(out, "ID", "NAME", "STATE", "PROGRESS")
			for _, j := range st.Jobs {
				jt.row(j.ID, printable(j.Name), j.State, percentCell(j))
			}
			return jt.flush()
		},
	}
}
