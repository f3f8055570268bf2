package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leptonmesh/lepton/internal/api"
)

// plainPeriod is how often a watch that does not write to a terminal
// prints a progress line, as rclone does in a log.
const plainPeriod = time.Second

// rateSmoothing weighs the newest poll in a moving average of the rate, so
// the rate and ETA do not jump with each batch of completions.
const rateSmoothing = 0.3

func newJobWatchCmd(g *globals) *cobra.Command {
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "watch ID",
		Short: "Follow a job's progress until it ends",
		Long: `watch shows a job's progress until it ends: on a terminal, a bar for the whole
job (bytes, rate, ETA, compression ratio) and one per sender→receiver pair; in a
pipe or a log, one line a second. It exits 0 when the job is done and 1 when
it failed or was cancelled. Ctrl-C stops watching; the job goes on.`,
		Example: `  leptonctl job watch j-3f2a9c1e
  leptonctl job watch j-3f2a9c1e | tee migration.log`,
		Args:              oneArg("ID"),
		ValidArgsFunction: completeJobIDs(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval <= 0 {
				return usageErrorf("--interval must be positive, got %s", interval)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var view progressView
			if isTerminal(out) {
				view = newBarView(cmd.Context(), out)
			} else {
				view = newPlainView(out)
			}
			f := jobFollower{client: c, id: args[0], interval: interval, stderr: cmd.ErrOrStderr()}
			j, err := f.follow(cmd.Context(), func(j api.Job) { view.show(j, time.Now()) })
			view.close(j)
			if err != nil {
				return err
			}
			return jobOutcome(j)
		},
	}
	cmd.Flags().DurationVar(&interval, "interval", defaultPollInterval, "how often to ask the agent for progress")
	return cmd
}

// progressView shows a followed job as its answers come in.
type progressView interface {
	// show draws the job as of one poll at now.
	show(j api.Job, now time.Time)
	// close ends the output after the last poll; j is the last answer,
	// the zero Job when there was none.
	close(j api.Job)
}

// rateMeter turns successive byte counts into a smoothed rate.
type rateMeter struct {
	primed bool
	last   int64
	at     time.Time
	rate   float64 // bytes per second
}

// observe records n bytes at t and returns the rate so far; a count that
// went down (a job resumed from committed state) starts over.
func (m *rateMeter) observe(n int64, t time.Time) float64 {
	if m.at.IsZero() || n < m.last {
		m.last, m.at, m.primed, m.rate = n, t, false, 0
		return 0
	}
	dt := t.Sub(m.at).Seconds()
	if dt <= 0 {
		return m.rate
	}
	now := float64(n-m.last) / dt
	if m.primed {
		m.rate = rateSmoothing*now + (1-rateSmoothing)*m.rate
	} else {
		m.rate, m.primed = now, true
	}
	m.last, m.at = n, t
	return m.rate
}

// eta is the time left at rate, or "-" when it cannot be told.
func eta(j api.Job, rate float64) string {
	left := j.BytesTotal - j.BytesDone
	if rate <= 0 || left <= 0 || jobEnded(j.State) || j.State == api.JobPaused {
		return "-"
	}
	secs := math.Ceil(float64(left) / rate) // "0s" would claim the job is done
	if secs > float64(100*24*time.Hour/time.Second) {
		return "-"
	}
	return (time.Duration(secs) * time.Second).String()
}

// plainView prints one line per plainPeriod, and one whenever the state
// changes, for logs and pipes where bars would be noise.
type plainView struct {
	w         io.Writer
	started   bool
	printedAt time.Time
	state     string
	meter     rateMeter
}

func newPlainView(w io.Writer) *plainView { return &plainView{w: w} }

func (v *plainView) show(j api.Job, now time.Time) {
	rate := v.meter.observe(j.BytesDone, now)
	if !v.started {
		v.started = true
		fmt.Fprintf(v.w, "Job %s: %s → %s\n", jobTitle(j), endpointCell(j.Source), endpointCell(j.Target))
	}
	if j.State == v.state && now.Sub(v.printedAt) < plainPeriod {
		return
	}
	v.state, v.printedAt = j.State, now
	fmt.Fprintf(v.w, "%s %s\n", now.Format("15:04:05"), progressLine(j, rate))
}

func (v *plainView) close(j api.Job) {
	if j.State == api.JobDone {
		fmt.Fprintf(v.w, "Done: %s\n", jobSummary(j))
	}
}

// progressLine is the one-line progress of a job, rclone style:
// "running: 1.2 GiB / 4.0 GiB, 30.0%, 45.3 MiB/s, ETA 1m2s, files 120/300, ratio 2.05x".
func progressLine(j api.Job, rate float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s / %s", j.State, humanBytes(j.BytesDone), humanBytes(j.BytesTotal))
	if pct := percentCell(j); pct != "-" {
		b.WriteString(", " + pct)
	}
	if !jobEnded(j.State) && j.State != api.JobPaused && rate > 0 {
		fmt.Fprintf(&b, ", %s, ETA %s", humanRate(rate), eta(j, rate))
	}
	fmt.Fprintf(&b, ", files %d/%d", j.FilesDone, j.FilesTotal)
	if j.FilesFailed > 0 {
		fmt.Fprintf(&b, ", %d failed", j.FilesFailed)
	}
	if j.FilesSkipped > 0 {
		fmt.Fprintf(&b, ", %d skipped", j.FilesSkipped)
	}
	if ratio := ratioCell(j.BytesDone, j.WireBytes); ratio != "-" {
		b.WriteString(", ratio " + ratio)
	}
	if j.Retries > 0 {
		fmt.Fprintf(&b, ", %d retries", j.Retries)
	}
	if j.State == api.JobVerifying && j.UnitsTotal > 0 {
		fmt.Fprintf(&b, ", verified %d/%d chunks", j.UnitsVerified, j.UnitsTotal)
	}
	if j.Reason != "" {
		fmt.Fprintf(&b, " (%s)", j.Reason)
	}
	return b.String()
}
