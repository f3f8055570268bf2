package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/jobspec"
)

func newJobCmd(g *globals) *cobra.Command {
	job := &cobra.Command{
		Use:   "job",
		Short: "Submit, follow and control migration jobs",
		Long: `A job copies a file tree from a volume of the source agents to a volume of the
target agents, directly between them, verified. Describe it in a YAML file
(see "leptonctl job submit --help") and submit it to any agent.`,
		Args: cobra.ArbitraryArgs,
		RunE: runGroup,
	}
	job.AddCommand(
		newJobSubmitCmd(g),
		newJobListCmd(g),
		newJobStatusCmd(g),
		newJobWatchCmd(g),
		newJobActionCmd(g, "pause", "Pause a job, keeping what is done", "Paused", (*api.Client).PauseJob),
		newJobActionCmd(g, "resume", "Resume a paused job where it stopped", "Resumed", (*api.Client).ResumeJob),
		newJobActionCmd(g, "cancel", "Cancel a job for good; files already in place stay", "Cancelled", (*api.Client).CancelJob),
		newJobReportCmd(g),
	)
	return job
}

func newJobSubmitCmd(g *globals) *cobra.Command {
	var (
		file     string
		wait     bool
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "submit -f FILE",
		Short: "Submit a job file; print the new job's id",
		Long: `submit checks the job file, sends it to the agent (which forwards it to the
leader) and prints the new job's id alone on stdout. A file with an unknown
key or a bad value is refused before anything is sent, with the key and line
named (exit 2); so is a job naming a volume or agent the cluster lacks, one
named like a running job, and one whose target directory overlaps a running
job's (on the same volume of the same agent), which names that job.

With --wait, submit follows the job until it ends: exit 0 when it is done,
1 when it failed or was cancelled, with the reason on stderr.

A job file (only name, source.volume and target.volume are required):

  name: orders-to-tencent
  source: {volume: data, agent: "", path: exports/orders}
  target: {volume: data, agent: "", path: orders}
  include: ["**/*.parquet"]
  exclude: ["tmp/**"]
  mode: copy                  # copy | sync (not available yet)
  compression: auto           # auto | zstd | none
  compression_level: fastest  # fastest | default | better
  verify: true
  chunk_size: 4MiB`,
		Example: `  leptonctl job submit -f job.yaml
  id=$(leptonctl job submit -f job.yaml) && leptonctl job watch "$id"
  leptonctl job submit -f job.yaml --wait`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usageErrorf("--file (-f) is required: the job's YAML file, or - for stdin")
			}
			if wait && interval <= 0 {
				return usageErrorf("--interval must be positive, got %s", interval)
			}
			spec, err := loadJobFile(file, cmd.InOrStdin())
			if err != nil {
				return inputError{err}
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			sub, err := c.SubmitJob(cmd.Context(), spec)
			if err != nil {
				return refusedJob(file, err)
			}
			if g.json {
				err = printJSON(cmd.OutOrStdout(), sub)
			} else {
				_, err = fmt.Fprintln(cmd.OutOrStdout(), sub.ID)
			}
			if err != nil || !wait {
				return err
			}
			f := jobFollower{client: c, id: sub.ID, interval: interval, stderr: cmd.ErrOrStderr(), answered: true}
			j, err := f.follow(cmd.Context(), pauseNotes(cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			return jobOutcome(j)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the job's YAML file, or - for stdin")
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the job until it ends; exit 1 unless it is done")
	cmd.Flags().DurationVar(&interval, "interval", defaultPollInterval, "with --wait, how often to ask the agent")
	return cmd
}

// loadJobFile reads and checks a job file, or stdin for "-".
func loadJobFile(file string, stdin io.Reader) (*jobspec.Spec, error) {
	if file != "-" {
		return jobspec.Load(file)
	}
	data, err := io.ReadAll(io.LimitReader(stdin, jobspec.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read job from stdin: %w", err)
	}
	return jobspec.Parse("<stdin>", data)
}

// refusedJob names the job file in the agent's refusal ("job job.yaml:
// source.volume: no source agent declares a volume named …"), as a local
// check would; other errors pass unchanged.
func refusedJob(file string, err error) error {
	var apiErr *api.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode >= 500 || apiErr.StatusCode == 401 {
		return err
	}
	lines := strings.Split(apiErr.Message, "\n")
	for i, l := range lines {
		lines[i] = "job " + file + ": " + strings.TrimPrefix(l, "job: ")
	}
	refused := &api.APIError{StatusCode: apiErr.StatusCode, Message: strings.Join(lines, "\n")}
	if apiErr.StatusCode == http.StatusConflict {
		// A job named like a running one, or writing into its tree: the
		// job file is what must change, so it is bad input too.
		return inputError{refused}
	}
	return refused
}

func newJobListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the jobs, oldest first",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			jobs, err := c.Jobs(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.json {
				if jobs == nil {
					jobs = []api.Job{}
				}
				return printJSON(out, jobs)
			}
			now := time.Now()
			t := newTable(out, "ID", "NAME", "STATE", "FILES", "BYTES", "PROGRESS", "UPDATED")
			for _, j := range jobs {
				t.row(j.ID, printable(j.Name), j.State, filesCell(j), bytesCell(j), percentCell(j), ageCell(j.Updated, now))
			}
			return t.flush()
		},
	}
}

func newJobStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "status ID",
		Short:             "Show one job's state, progress and sender→receiver pairs",
		Example:           "  leptonctl job status j-3f2a9c1e\n  leptonctl job status j-3f2a9c1e --json | jq .bytes_done",
		Args:              oneArg("ID"),
		ValidArgsFunction: completeJobIDs(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			j, err := c.Job(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), j)
			}
			return printJobStatus(cmd.OutOrStdout(), j)
		},
	}
}

// printJobStatus writes the human summary of job status.
func printJobStatus(w io.Writer, j api.Job) error {
	kv := newFields(w)
	kv.row("ID:", j.ID)
	kv.row("Name:", printable(j.Name))
	kv.row("State:", j.State)
	if j.Reason != "" {
		kv.row("Reason:", j.Reason)
	}
	kv.row("Source:", endpointCell(j.Source)+" on "+strings.Join(j.Sources, ", "))
	kv.row("Target:", endpointCell(j.Target)+" on "+strings.Join(j.Targets, ", "))
	kv.row("Files:", fmt.Sprintf("%d done of %d, %d failed, %d skipped", j.FilesDone, j.FilesTotal, j.FilesFailed, j.FilesSkipped))
	kv.row("Bytes:", fmt.Sprintf("%s of %s (%s)", humanBytes(j.BytesDone), humanBytes(j.BytesTotal), percentCell(j)))
	kv.row("Wire:", fmt.Sprintf("%s, compression ratio %s", humanBytes(j.WireBytes), ratioCell(j.BytesDone, j.WireBytes)))
	chunks := fmt.Sprintf("%d done of %d", j.UnitsDone, j.UnitsTotal)
	if j.Verify {
		chunks += fmt.Sprintf(", %d verified", j.UnitsVerified)
	} else {
		chunks += ", verification off"
	}
	kv.row("Chunks:", chunks)
	kv.row("Retries:", fmt.Sprint(j.Retries))
	kv.row("Errors:", fmt.Sprint(j.Errors))
	kv.row("Created:", timeCell(j.Created))
	kv.row("Updated:", timeCell(j.Updated))
	if j.Ended != nil {
		kv.row("Ended:", fmt.Sprintf("%s, after %s", timeCell(*j.Ended), elapsed(j).Round(time.Second)))
	}
	if err := kv.flush(); err != nil {
		return err
	}
	if len(j.Pairs) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	t := newTable(w, "SENDER", "RECEIVER", "BYTES", "WIRE", "RATIO", "CHUNKS")
	for _, p := range j.Pairs {
		t.row(p.Sender, p.Receiver, humanBytes(p.Bytes), humanBytes(p.WireBytes), ratioCell(p.Bytes, p.WireBytes), fmt.Sprint(p.Units))
	}
	return t.flush()
}

// jobAction is one of the client's pause, resume and cancel calls.
type jobAction func(c *api.Client, ctx context.Context, id string) (api.Job, error)

func newJobActionCmd(g *globals, use, short, done string, action jobAction) *cobra.Command {
	return &cobra.Command{
		Use:               use + " ID",
		Short:             short,
		Args:              oneArg("ID"),
		ValidArgsFunction: completeJobIDs(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			j, err := action(c, cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), j)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s job %s; it is %s.\n", done, jobTitle(j), j.State)
			return err
		},
	}
}

// completeJobIDs offers the ids of the cluster's jobs to shell completion,
// with their names and states as descriptions.
func completeJobIDs(g *globals) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := g.client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, completionTimeout)
		defer cancel()
		jobs, err := c.Jobs(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ids := make([]string, 0, len(jobs))
		for _, j := range jobs {
			ids = append(ids, j.ID+"\t"+printable(j.Name)+" ("+j.State+")")
		}
		return ids, cobra.ShellCompDirectiveNoFileComp
	}
}
