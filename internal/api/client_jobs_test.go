package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/jobspec"
)

// jobAgent is a fake agent serving the job routes: one job, "j/1", whose
// id needs escaping, and the requests it saw.
type jobAgent struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string // "METHOD escaped-path"
	spec     *jobspec.Spec
}

var fakeJob = api.Job{
	ID: "j/1", Name: "orders", State: api.JobRunning,
	Source: api.JobEndpoint{Volume: "data", Path: "exports"}, Target: api.JobEndpoint{Volume: "data"},
	Sources: []string{"src-1"}, Targets: []string{"tgt-1"}, Verify: true,
	FilesTotal: 3, FilesDone: 1, BytesTotal: 300, BytesDone: 100, WireBytes: 40,
	Pairs:   []api.JobPair{{Sender: "src-1", Receiver: "tgt-1", Bytes: 100, WireBytes: 40, Units: 1}},
	Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Updated: time.Date(2025, 1, 2, 3, 4, 6, 0, time.UTC),
}

func newJobAgent(t *testing.T, report api.JobReport) *jobAgent {
	t.Helper()
	a := &jobAgent{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		spec, err := jobspec.ParseJSON(body) // as strict as the real agent
		if err != nil {
			writeJSON(w, 400, api.Error{Error: err.Error()})
			return
		}
		if spec.Source.Volume == "nope" {
			writeJSON(w, 400, api.Error{Error: `source.volume: no source agent declares a volume named "nope"`})
			return
		}
		a.mu.Lock()
		a.spec = spec
		a.mu.Unlock()
		writeJSON(w, 201, api.JobSubmitted{ID: "j/1"})
	})
	mux.HandleFunc("GET /v1/jobs", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, []api.Job{fakeJob}) })
	job := func(w http.ResponseWriter, r *http.Request, state string) {
		if r.PathValue("id") != fakeJob.ID {
			writeJSON(w, 404, api.Error{Error: "no job " + r.PathValue("id")})
			return
		}
		j := fakeJob
		j.State = state
		writeJSON(w, 200, j)
	}
	mux.HandleFunc("GET /v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) { job(w, r, fakeJob.State) })
	mux.HandleFunc("POST /v1/jobs/{id}/pause", func(w http.ResponseWriter, r *http.Request) { job(w, r, api.JobPaused) })
	mux.HandleFunc("POST /v1/jobs/{id}/resume", func(w http.ResponseWriter, r *http.Request) { job(w, r, api.JobRunning) })
	mux.HandleFunc("POST /v1/jobs/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 409, api.Error{Error: "job j/1 has ended"})
	})
	mux.HandleFunc("GET /v1/jobs/{id}/report", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, report) })
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.requests = append(a.requests, r.Method+" "+r.URL.EscapedPath())
		a.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(a.Close)
	return a
}

func TestClientSubmitJobSendsWhatTheAgentParses(t *testing.T) {
	a := newJobAgent(t, api.JobReport{})
	c := newClient(t, a.URL, "")
	ctx := context.Background()

	spec, err := jobspec.Parse("job.yaml", []byte("name: orders\nsource: {volume: data, path: exports}\ntarget: {volume: data}\ninclude: ['**/*.parquet']\nchunk_size: 8MiB\nverify: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.SubmitJob(ctx, spec)
	if err != nil || got.ID != "j/1" {
		t.Fatalf("SubmitJob = %+v, %v", got, err)
	}
	a.mu.Lock()
	received := a.spec
	a.mu.Unlock()
	if !reflect.DeepEqual(received, spec) {
		t.Errorf("the agent received %+v\nwant %+v", received, spec)
	}

	spec.Source.Volume = "nope"
	_, err = c.SubmitJob(ctx, spec)
	var apiErr *api.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(err.Error(), "source.volume") {
		t.Errorf("unknown volume: %v, want a 400 naming source.volume", err)
	}
	if _, err := c.SubmitJob(ctx, nil); err == nil {
		t.Error("SubmitJob(nil) sent a request")
	}
}

func TestClientJobRoutes(t *testing.T) {
	a := newJobAgent(t, api.JobReport{})
	c := newClient(t, a.URL, "")
	ctx := context.Background()

	jobs, err := c.Jobs(ctx)
	if err != nil || !reflect.DeepEqual(jobs, []api.Job{fakeJob}) {
		t.Errorf("Jobs = %+v, %v", jobs, err)
	}
	j, err := c.Job(ctx, "j/1")
	if err != nil || !reflect.DeepEqual(j, fakeJob) {
		t.Errorf("Job = %+v, %v", j, err)
	}
	if j, err := c.PauseJob(ctx, "j/1"); err != nil || j.State != api.JobPaused {
		t.Errorf("PauseJob = %s, %v", j.State, err)
	}
	if j, err := c.ResumeJob(ctx, "j/1"); err != nil || j.State != api.JobRunning {
		t.Errorf("ResumeJob = %s, %v", j.State, err)
	}
	var apiErr *api.APIError
	if _, err := c.CancelJob(ctx, "j/1"); !errors.As(err, &apiErr) || apiErr.StatusCode != 409 {
		t.Errorf("CancelJob of an ended job: %v, want a 409 APIError", err)
	}
	if _, err := c.Job(ctx, "j/2"); !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || err.Error() != "no job j/2" {
		t.Errorf("unknown job: %v, want the server's 404", err)
	}
	if _, err := c.Job(ctx, ""); err == nil {
		t.Error("Job(\"\") sent a request")
	}
	a.mu.Lock()
	got := a.requests
	a.mu.Unlock()
	want := []string{
		"GET /v1/jobs", "GET /v1/jobs/j%2F1", "POST /v1/jobs/j%2F1/pause", "POST /v1/jobs/j%2F1/resume",
		"POST /v1/jobs/j%2F1/cancel", "GET /v1/jobs/j%2F2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("requests = %q\nwant       %q", got, want)
	}
}

// A report lists every file, so it may outgrow the bound on other answers.
func TestClientJobReportMayExceedTheDefaultBound(t *testing.T) {
	report := api.JobReport{Job: fakeJob}
	for i := range 200 {
		report.Files = append(report.Files, api.FileReport{
			Path: strings.Repeat("d/", 10) + "file-" + string(rune('a'+i%26)), Kind: "file", Size: int64(i), Outcome: api.OutcomeDone, Chunks: 1,
		})
	}
	a := newJobAgent(t, report)
	c := newClient(t, a.URL, "", api.WithMaxResponseBytes(2048))
	got, err := c.JobReport(context.Background(), "j/1")
	if err != nil {
		t.Fatalf("JobReport: %v", err)
	}
	if !reflect.DeepEqual(got, report) {
		t.Errorf("JobReport decoded %d files, want %d", len(got.Files), len(report.Files))
	}
	if _, err := c.Jobs(context.Background()); err != nil {
		t.Errorf("Jobs under the bound: %v", err)
	}
}
