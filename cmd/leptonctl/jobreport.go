package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/leptonmesh/lepton/internal/api"
)

// Report formats.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatCSV   = "csv"
)

// reportCSVHeader is the first line of a CSV report; its columns are a
// contract for the scripts and spreadsheets that read it.
var reportCSVHeader = []string{"path", "size", "outcome", "chunks", "retries", "reason"}

func newJobReportCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "report ID",
		Short: "List what happened to every file of a job",
		Long: `report lists every file, directory and link of a job with its size, outcome
(done, failed, skipped, pending), chunks, retries and the reason it failed, was
skipped (sockets, devices, FIFOs, files that vanished) or was sent again (files
modified while being read). The report is complete once the job has ended.

--format csv writes the columns path,size,outcome,chunks,retries,reason with
RFC 4180 quoting; --format json (or --json) writes the job and every file.`,
		Example: `  leptonctl job report j-3f2a9c1e
  leptonctl job report j-3f2a9c1e --format csv > report.csv
  leptonctl job report j-3f2a9c1e --format json | jq '.files[] | select(.outcome != "done")'`,
		Args:              oneArg("ID"),
		ValidArgsFunction: completeJobIDs(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.json && !cmd.Flags().Changed("format") {
				format = formatJSON
			}
			switch format {
			case formatTable, formatJSON, formatCSV:
			default:
				return usageErrorf("--format must be table, json or csv, got %q", format)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			r, err := c.JobReport(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := bufio.NewWriter(cmd.OutOrStdout())
			switch format {
			case formatJSON:
				if r.Files == nil {
					r.Files = []api.FileReport{}
				}
				err = printJSON(out, r)
			case formatCSV:
				err = writeReportCSV(out, r)
			default:
				err = writeReportTable(out, r)
			}
			if err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			if err := out.Flush(); err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", formatTable, "table, json or csv")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(
		[]string{formatTable, formatJSON, formatCSV}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// writeReportCSV writes one record per file under reportCSVHeader. Paths
// are written as they are (UTF-8); encoding/csv quotes those with commas,
// quotes or line breaks.
func writeReportCSV(w io.Writer, r api.JobReport) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(reportCSVHeader); err != nil {
		return err
	}
	for _, f := range r.Files {
		rec := []string{f.Path, strconv.FormatInt(f.Size, 10), f.Outcome,
			strconv.Itoa(f.Chunks), strconv.Itoa(f.Retries), f.Reason}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeReportTable writes the human report: a summary line, then a table
// of every file.
func writeReportTable(w io.Writer, r api.JobReport) error {
	j := r.Job
	counts := map[string]int{}
	for _, f := range r.Files {
		counts[f.Outcome]++
	}
	fmt.Fprintf(w, "Job %s: %s. %d entries: %d done, %d failed, %d skipped",
		jobTitle(j), j.State, len(r.Files), counts[api.OutcomeDone], counts[api.OutcomeFailed], counts[api.OutcomeSkipped])
	if n := counts[api.OutcomePending]; n > 0 {
		fmt.Fprintf(w, ", %d pending", n)
	}
	fmt.Fprintf(w, ".\n%s\n\n", jobSummary(j))
	t := newTable(w, "PATH", "KIND", "SIZE", "OUTCOME", "CHUNKS", "RETRIES", "REASON")
	for _, f := range r.Files {
		t.row(printable(f.Path), f.Kind, humanBytes(f.Size), f.Outcome, strconv.Itoa(f.Chunks), strconv.Itoa(f.Retries), printable(f.Reason))
	}
	return t.flush()
}
