package main

import (
	"time"

	"github.com/spf13/cobra"
)

// Drill kinds, as the subcommands name them and as the report's "drill" key
// reads.
const (
	drillKillLeader = "kill-leader"
	drillKill       = "kill"
	drillTransfer   = "transfer-leader"
)

// defaultDrillTimeout bounds a whole drill, from the trigger to the last
// measure.
const defaultDrillTimeout = 60 * time.Second

// drillOptions is one drill as the command line asks for it.
type drillOptions struct {
	kind    string        // drillKillLeader, drillKill or drillTransfer
	node    string        // the agent to crash, for drillKill
	jobID   string        // the job to watch; "" for the first running one
	timeout time.Duration // bound on the drill, from the trigger
}

const drillLong = `A drill rehearses a failure on a live cluster, while a job runs, and reports
what an operator needs to trust failover:

  time to detect       until the watched agent shows the crashed one failed
                       or suspect (crash drills only)
  time to a new leader until the watched agent names a leader other than the
                       old one
  transfers resumed    until the job's committed bytes rise again after the
                       cluster noticed the failure or the leadership change
  progress             the job's bytes done at the trigger and at the end
  bytes sent again     how much the job's bytes_resent grew during the drill,
                       and its share of the job's bytes
  on track             the job is still running, verifying or done (not
                       failed or paused) and moved on during the drill

kill-leader and kill NODE crash an agent with SIGKILL: no graceful leave, as a
VM dying would; systemd (or the test harness) restarts it. The agents need an
API token (--token or LEPTON_TOKEN), and the agent that crashes needs
"drills: true" in its own config: otherwise it refuses (403), nothing happens,
and the drill exits 1 with the agent's message. transfer-leader asks the
leader to hand leadership to another voter gracefully.

The drill watches the job named by --job, else the first running job. Before
the trigger it picks the agent to watch from: the one at --addr, unless that
is the agent about to crash; then another live member at its api_addr (an
unspecified bind such as 0.0.0.0 is reached at --addr's host), once it has
answered under its own name. The report names the agent watched from.

Times are measured from the moment the drill request is sent (a crashing agent
dies about 200 ms after it accepts), polling every 50 ms. The drill ends once
every measure that applies has been seen, or at --timeout, when it exits 1
naming what did not happen.

Exit status: 0 the drill completed and the job is on track, or no job runs;
1 the drill did not complete, the job is not on track, or the agent refused;
2 bad usage, or an unknown node or job.

--json prints one object with these keys, always present:
  drill            kill-leader | kill | transfer-leader
  target           the agent crashed, or the leader that handed over
  polled           the agent the drill watched from
  polled_addr      its API address
  old_leader       the leader before the trigger
  new_leader       the first other leader seen; "" when none was
  term_before      the Raft term before the trigger
  term_after       the Raft term as last seen
  detect_ms        time to detect; null when it does not apply or was not seen
  new_leader_ms    time to a new leader; null likewise
  resumed_ms       time until transfers resumed; null likewise
  job_id           the job watched; "" when none
  progress_before  {"state", "bytes_done", "bytes_total"} at the trigger;
                   null without a job
  progress_after   the same at the end of the drill
  bytes_resent     bytes sent again during the drill
  resent_share     bytes_resent / the job's bytes_total (0.01 is 1%)
  on_track         true when the job is on track, or when no job runs
  completed        true when every measure that applies was seen
  notes            what else an operator should know, one line each`

func newDrillCmd(g *globals) *cobra.Command {
	drill := &cobra.Command{
		Use:   "drill",
		Short: "Rehearse a failover on a live cluster and report how it went",
		Long:  drillLong,
		Example: `  leptonctl drill kill-leader --token "$TOKEN"
  leptonctl drill kill src-2 --job j-3f2a9c1e --timeout 2m
  leptonctl drill transfer-leader --json | jq .new_leader_ms`,
		Args: cobra.ArbitraryArgs,
		RunE: runGroup,
	}
	drill.AddCommand(
		newDrillRunCmd(g, drillKillLeader, "kill-leader", "Crash the Raft leader (SIGKILL) and measure the failover", noArgs),
		newDrillRunCmd(g, drillKill, "kill NODE", "Crash one agent (SIGKILL) and measure the failover", oneArg("NODE")),
		newDrillRunCmd(g, drillTransfer, "transfer-leader", "Hand leadership to another voter gracefully and measure it", noArgs),
	)
	return drill
}

// newDrillRunCmd is one drill subcommand. Its --timeout bounds the whole
// drill and stands in for the global one, which bounds a single request.
func newDrillRunCmd(g *globals, kind, use, short string, args cobra.PositionalArgs) *cobra.Command {
	opts := drillOptions{kind: kind}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  short + `. "leptonctl drill --help" describes the measures, the report and its --json keys.`,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.node = args[0]
			}
			if opts.timeout <= 0 {
				return usageErrorf("--timeout must be positive, got %s", opts.timeout)
			}
			rep, err := runDrill(cmd.Context(), g, opts)
			if rep == nil {
				return err
			}
			if perr := printDrillReport(cmd.OutOrStdout(), rep, g.json); perr != nil {
				return perr
			}
			return err
		},
	}
	cmd.Flags().StringVar(&opts.jobID, "job", "", "the job to watch (default: the first running job)")
	cmd.Flags().DurationVar(&opts.timeout, "timeout", defaultDrillTimeout, "bound on the whole drill, from the trigger")
	return cmd
}
