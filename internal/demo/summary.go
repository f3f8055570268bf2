package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/testcluster"
)

// summary prints the job on one screen, from `leptonctl job status --json`,
// and the lines of `leptonctl job report` for what was not copied.
func (d *demo) summary(id string) {
	d.heading("Summary")
	a := d.c.Agent(console)
	out := d.ctlQuiet(a, "job", "status", id, "--json")
	var j api.Job
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		d.s.Fatalf("leptonctl job status %s --json: %v", id, err)
	}
	if j.State != api.JobDone {
		d.s.Fatalf("job %s is %s, not done: %s", id, j.State, j.Reason)
	}
	took := jobTime(j)
	d.say("From `leptonctl job status %s --json`:", id)
	d.say("")
	verified := "verification off"
	if j.Verify {
		verified = fmt.Sprintf("%d of %d chunks re-read on the target and their hashes compared", j.UnitsVerified, j.UnitsDone)
	}
	d.say("  Job         %s (%s): %s; %s", j.ID, j.Name, j.State, verified)
	d.say("  Entries     %d: %d done, %d skipped, %d failed (files, directories and links)", j.FilesTotal, j.FilesDone, j.FilesSkipped, j.FilesFailed)
	d.say("  Bytes       %s in %d chunks, %d retries", mib(j.BytesDone), j.UnitsDone, j.Retries)
	d.say("  Wire        %s, compression ratio %s", mib(j.WireBytes), ratio(j.BytesDone, j.WireBytes))
	d.say("  Time        %s from submit to done: scan, transfer and verification", seconds(took))
	d.say("  Throughput  %s", throughput(j.BytesDone, took))
	d.say("")
	d.say("  %-6s   %-8s  %10s  %10s  %6s  %6s", "SENDER", "RECEIVER", "BYTES", "WIRE", "RATIO", "CHUNKS")
	for _, p := range j.Pairs {
		d.say("  %-6s → %-8s  %10s  %10s  %6s  %6d", p.Sender, p.Receiver, mib(p.Bytes), mib(p.WireBytes), ratio(p.Bytes, p.WireBytes), p.Units)
	}
	d.say("")
	d.say("The bytes travelled straight from each sender to each receiver: both sides share their")
	d.say("volume, so the ring spread the chunks over %d sender→receiver pairs. The leader only kept", len(j.Pairs))
	d.say("the plan.")
	d.report(a, id)
}

// report shows `leptonctl job report`'s summary and header, and its rows
// for the entries that were not copied (the FIFO and the socket); the
// report's JSON says which those are.
func (d *demo) report(a *testcluster.Agent, id string) {
	ctx, cancel := context.WithTimeout(d.ctx, 10*time.Second)
	rep, err := a.Client().JobReport(ctx, id)
	cancel()
	d.halt()
	if err != nil {
		d.s.Fatalf("job report %s: %v", id, err)
	}
	var odd []string
	for _, f := range rep.Files {
		if f.Outcome != api.OutcomeDone {
			odd = append(odd, f.Path)
		}
	}
	out := d.ctlQuiet(a, "job", "report", id)
	fmt.Fprintf(d.s.stdout, "\n    $ leptonctl job report %s        # its summary, then the entries not done\n", id)
	inTable, hidden := false, 0
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		show := !inTable || slices.ContainsFunc(odd, func(p string) bool { return strings.HasPrefix(line, p+"  ") })
		if strings.HasPrefix(line, "PATH ") {
			inTable, show = true, true
		}
		if show {
			fmt.Fprintf(d.s.stdout, "    %s\n", line)
		} else {
			hidden++
		}
	}
	d.say("... and %d more lines, one per entry, all done. `--format csv` writes the columns", hidden)
	d.say("path,size,outcome,chunks,retries,reason for a spreadsheet.")
}

// jobTime is how long the job ran, from submit to its end.
func jobTime(j api.Job) time.Duration {
	if j.Ended == nil || j.Ended.Before(j.Created) {
		return j.Updated.Sub(j.Created)
	}
	return j.Ended.Sub(j.Created)
}

// ratio is raw bytes over wire bytes, "2.05x".
func ratio(raw, wire int64) string {
	if raw <= 0 || wire <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(raw)/float64(wire))
}

// throughput is bytes over time in MB/s (10^6 bytes), as link speeds are quoted.
func throughput(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MB/s (%.1f MiB/s)", float64(n)/1e6/d.Seconds(), float64(n)/(1<<20)/d.Seconds())
}
