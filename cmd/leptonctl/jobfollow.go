package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
)

// defaultPollInterval is how often job watch and job submit --wait ask the
// agent for the job's progress.
const defaultPollInterval = 500 * time.Millisecond

// maxPollFailures bounds how many polls in a row may fail for a reason that
// passes (the agent restarting, a leader election) before following gives
// up: 60 polls, half a minute at the default interval.
const maxPollFailures = 60

// jobFollower polls one job until it ends.
type jobFollower struct {
	client   *api.Client
	id       string
	interval time.Duration
	stderr   io.Writer // where passing trouble is noted
	// answered says the agent has answered before (job submit): until it
	// has, a failure is taken as a wrong --addr and reported at once.
	answered bool
}

// follow polls the job at once and then every interval, handing each answer
// to seen, until the job ends, ctx is done (Ctrl-C), or the agent fails in
// a way that does not pass (404, 401), fails before it ever answered, or
// fails maxPollFailures times in a row. It returns the last answer it had.
func (f jobFollower) follow(ctx context.Context, seen func(api.Job)) (api.Job, error) {
	var last api.Job
	ticker := time.NewTicker(f.interval)
	defer ticker.Stop()
	failures := 0
	for {
		j, err := f.client.Job(ctx, f.id)
		switch {
		case err == nil:
			if failures > 0 {
				fmt.Fprintf(f.stderr, "leptonctl: job %s: the agent answers again\n", f.id)
			}
			failures = 0
			f.answered = true
			last = j
			seen(j)
			if jobEnded(j.State) {
				return j, nil
			}
		case ctx.Err() != nil:
			return last, stoppedFollowing{id: f.id}
		case f.answered && passing(err) && failures < maxPollFailures:
			if failures == 0 {
				fmt.Fprintf(f.stderr, "leptonctl: job %s: %v; retrying\n", f.id, err)
			}
			failures++
		default:
			return last, err
		}
		select {
		case <-ctx.Done():
			return last, stoppedFollowing{id: f.id}
		case <-ticker.C:
		}
	}
}

// passing reports whether a failed poll may succeed if tried again: the
// agent is unreachable, or answers that it has no leader or is overloaded.
func passing(err error) bool {
	var unreachable *api.UnreachableError
	if errors.As(err, &unreachable) {
		return true
	}
	var apiErr *api.APIError
	return errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusServiceUnavailable ||
		apiErr.StatusCode == http.StatusBadGateway || apiErr.StatusCode == http.StatusGatewayTimeout ||
		apiErr.StatusCode == http.StatusTooManyRequests)
}

// stoppedFollowing is the error of an interrupted watch: the job itself goes on.
type stoppedFollowing struct{ id string }

func (e stoppedFollowing) Error() string {
	return fmt.Sprintf("stopped following job %s; it goes on (leptonctl job watch %[1]s follows it again, leptonctl job cancel %[1]s stops it)", e.id)
}

// jobOutcome turns an ended job into the command's result: nil when it is
// done, an error carrying the reason when it failed or was cancelled, so
// the exit code is 1.
func jobOutcome(j api.Job) error {
	switch j.State {
	case api.JobDone:
		return nil
	case api.JobFailed, api.JobCancelled:
		return jobEndedError{j}
	}
	return fmt.Errorf("job %s is %s, not ended", jobTitle(j), j.State)
}

// jobEndedError says why a job did not finish.
type jobEndedError struct{ job api.Job }

func (e jobEndedError) Error() string {
	verb := "failed"
	if e.job.State == api.JobCancelled {
		verb = "was cancelled"
	}
	msg := fmt.Sprintf("job %s %s", jobTitle(e.job), verb)
	if e.job.Reason != "" {
		msg += ": " + e.job.Reason
	}
	if e.job.FilesFailed > 0 {
		files := "files"
		if e.job.FilesFailed == 1 {
			files = "file"
		}
		msg += fmt.Sprintf(" (%d %s failed; leptonctl job report %s lists them)", e.job.FilesFailed, files, e.job.ID)
	}
	return msg
}

// pauseNotes writes a line to w each time a job becomes paused, with the
// reason (a receiver's disk is full) and how to go on, so a waiting
// operator is not left guessing.
func pauseNotes(w io.Writer) func(api.Job) {
	paused := false
	return func(j api.Job) {
		now := j.State == api.JobPaused
		if now && !paused {
			reason := ""
			if j.Reason != "" {
				reason = ": " + j.Reason
			}
			fmt.Fprintf(w, "leptonctl: job %s is paused%s; waiting (leptonctl job resume %s continues it)\n", jobTitle(j), reason, j.ID)
		}
		paused = now
	}
}
