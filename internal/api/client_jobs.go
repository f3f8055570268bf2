package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/leptonmesh/lepton/internal/jobspec"
)

// MaxReportBytes bounds the answer to GET /v1/jobs/{id}/report, which lists
// every file of a job: a million files take a few hundred bytes each. The
// client reads up to the larger of this and its own WithMaxResponseBytes.
const MaxReportBytes = 1 << 30

// SubmitJob sends a job to the agent, which forwards it to the leader. The
// leader checks what only the cluster knows (the volumes and agents exist)
// and answers 400 naming the field when they do not, 409 when a job of the
// same name is still running.
func (c *Client) SubmitJob(ctx context.Context, spec *jobspec.Spec) (JobSubmitted, error) {
	var s JobSubmitted
	if spec == nil {
		return s, errors.New("submit job: no job spec")
	}
	err := c.Do(ctx, http.MethodPost, "/v1/jobs", spec, &s)
	if err == nil && s.ID == "" {
		err = errors.New("submit job: the agent answered without a job id")
	}
	return s, err
}

// Jobs returns every job the cluster knows, oldest first.
func (c *Client) Jobs(ctx context.Context) ([]Job, error) {
	var js []Job
	err := c.Do(ctx, http.MethodGet, "/v1/jobs", nil, &js)
	return js, err
}

// Job returns one job's status; an unknown id gives a 404 *APIError.
func (c *Client) Job(ctx context.Context, id string) (Job, error) {
	var j Job
	path, err := jobPath(id, "")
	if err != nil {
		return j, err
	}
	err = c.Do(ctx, http.MethodGet, path, nil, &j)
	return j, err
}

// PauseJob stops a job's transfers, keeping what is done; 409 when the job
// has ended or is already paused.
func (c *Client) PauseJob(ctx context.Context, id string) (Job, error) {
	return c.jobAction(ctx, id, "pause")
}

// ResumeJob continues a paused job; 409 when it is not paused.
func (c *Client) ResumeJob(ctx context.Context, id string) (Job, error) {
	return c.jobAction(ctx, id, "resume")
}

// CancelJob ends a job for good; files already in place stay, partial ones
// never appear at their final paths. 409 when the job has ended.
func (c *Client) CancelJob(ctx context.Context, id string) (Job, error) {
	return c.jobAction(ctx, id, "cancel")
}

// JobReport returns a job's status and what happened to every file. Its
// answer may be read up to MaxReportBytes.
func (c *Client) JobReport(ctx context.Context, id string) (JobReport, error) {
	var r JobReport
	path, err := jobPath(id, "/report")
	if err != nil {
		return r, err
	}
	err = c.do(ctx, http.MethodGet, path, nil, &r, max(c.maxBytes, MaxReportBytes))
	return r, err
}

func (c *Client) jobAction(ctx context.Context, id, action string) (Job, error) {
	var j Job
	path, err := jobPath(id, "/"+action)
	if err != nil {
		return j, err
	}
	err = c.Do(ctx, http.MethodPost, path, nil, &j)
	return j, err
}

// jobPath is the route of job id followed by suffix, with id escaped.
func jobPath(id, suffix string) (string, error) {
	if id == "" {
		return "", errors.New("no job id given")
	}
	return "/v1/jobs/" + url.PathEscape(id) + suffix, nil
}
