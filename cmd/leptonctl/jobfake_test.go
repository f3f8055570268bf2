package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/jobspec"
)

// jobFake is a fake agent serving the job routes. A submitted job follows a
// script chosen by its name: each GET /v1/jobs/{id} moves it one step on,
// and it stays at the last step. A nil step answers 503 once, as an agent
// without a leader does.
type jobFake struct {
	*httptest.Server

	mu        sync.Mutex
	scripts   map[string][]*api.Job // by job name
	jobs      map[string][]*api.Job // by id: the steps still to come
	order     []string
	submitted []*jobspec.Spec
	requests  int
	report    api.JobReport
}

// fakeT0 is when every fake job was created.
var fakeT0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// progression returns the steps of a job called name that moves 4 MiB
// across two pairs and ends in final.
func progression(name, final, reason string) []*api.Job {
	const total = 4 << 20
	base := api.Job{
		Name: name, Source: api.JobEndpoint{Volume: "data", Path: "exports"}, Target: api.JobEndpoint{Volume: "data", Path: "in"},
		Sources: []string{"src-1", "src-2"}, Targets: []string{"tgt-1"}, Verify: true,
		FilesTotal: 4, BytesTotal: total, UnitsTotal: 4, Pairs: []api.JobPair{}, Created: fakeT0, Updated: fakeT0,
	}
	var steps []*api.Job
	for i := range 5 {
		j := base
		j.State = api.JobRunning
		if i == 0 {
			j.State, j.BytesTotal, j.FilesTotal, j.UnitsTotal = api.JobScanning, 0, 0, 0
		}
		done := int64(i) * total / 4
		j.BytesDone, j.WireBytes, j.FilesDone, j.UnitsDone = min(done, total), done/2, int64(i), int64(i)
		j.Updated = fakeT0.Add(time.Duration(i) * time.Second)
		if i > 0 {
			j.Pairs = []api.JobPair{
				{Sender: "src-1", Receiver: "tgt-1", Bytes: done / 2, WireBytes: done / 4, Units: int64(i) / 2},
				{Sender: "src-2", Receiver: "tgt-1", Bytes: done - done/2, WireBytes: done/2 - done/4, Units: int64(i) - int64(i)/2},
			}
		}
		steps = append(steps, &j)
	}
	last := *steps[len(steps)-1]
	last.State, last.Reason, last.UnitsVerified = final, reason, 4
	ended := last.Updated.Add(time.Second)
	last.Updated, last.Ended = ended, &ended
	if final == api.JobFailed {
		last.FilesDone, last.FilesFailed, last.Errors = 3, 1, 1
	}
	return append(steps, &last)
}

func newJobFake(t *testing.T) *jobFake {
	t.Helper()
	f := &jobFake{
		scripts: map[string][]*api.Job{
			"orders":    progression("orders", api.JobDone, ""),
			"fails":     progression("fails", api.JobFailed, "1 file failed: chunk hash mismatch after 5 tries"),
			"cancelled": progression("cancelled", api.JobCancelled, "cancelled by an operator"),
		},
		jobs: map[string][]*api.Job{},
	}
	// "flaky" answers 503 once mid-way; "paused" pauses for want of space.
	flaky := progression("flaky", api.JobDone, "")
	f.scripts["flaky"] = append(flaky[:2:2], append([]*api.Job{nil}, flaky[2:]...)...)
	paused := progression("paused", api.JobDone, "")
	p := *paused[2]
	p.State, p.Reason = api.JobPaused, "tgt-1 volume data: disk full, 2.0 MiB more needed"
	f.scripts["paused"] = append(paused[:3:3], append([]*api.Job{&p, &p}, paused[3:]...)...)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/jobs", f.submit)
	mux.HandleFunc("GET /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		jobs := []api.Job{}
		for _, id := range f.order {
			jobs = append(jobs, *f.jobs[id][0])
		}
		reply(w, 200, jobs)
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		st := cannedStatus
		for _, id := range f.order {
			st.Jobs = append(st.Jobs, *f.jobs[id][0])
		}
		reply(w, 200, st)
	})
	mux.HandleFunc("GET /v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		steps, ok := f.jobs[r.PathValue("id")]
		if !ok {
			reply(w, 404, api.Error{Error: "no job " + r.PathValue("id")})
			return
		}
		if len(steps) > 1 {
			f.jobs[r.PathValue("id")] = steps[1:]
		}
		if steps[0] == nil {
			reply(w, 503, api.Error{Error: "no Raft leader; try again when one is elected"})
			return
		}
		reply(w, 200, steps[0])
	})
	action := func(state string, allowed func(string) bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			defer f.mu.Unlock()
			steps, ok := f.jobs[r.PathValue("id")]
			if !ok {
				reply(w, 404, api.Error{Error: "no job " + r.PathValue("id")})
				return
			}
			j := *steps[0]
			if !allowed(j.State) {
				reply(w, 409, api.Error{Error: "job " + j.ID + " is " + j.State})
				return
			}
			j.State = state
			f.jobs[j.ID] = []*api.Job{&j}
			reply(w, 200, j)
		}
	}
	mux.HandleFunc("POST /v1/jobs/{id}/pause", action(api.JobPaused, func(s string) bool { return !jobEnded(s) && s != api.JobPaused }))
	mux.HandleFunc("POST /v1/jobs/{id}/resume", action(api.JobRunning, func(s string) bool { return s == api.JobPaused }))
	mux.HandleFunc("POST /v1/jobs/{id}/cancel", action(api.JobCancelled, func(s string) bool { return !jobEnded(s) }))
	mux.HandleFunc("GET /v1/jobs/{id}/report", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.jobs[r.PathValue("id")]; !ok {
			reply(w, 404, api.Error{Error: "no job " + r.PathValue("id")})
			return
		}
		reply(w, 200, f.report)
	})
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests++
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// submit parses the body as strictly as the agent does and starts the
// script named by the job's name.
func (f *jobFake) submit(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	spec, err := jobspec.ParseJSON(body)
	if err != nil {
		reply(w, 400, api.Error{Error: err.Error()})
		return
	}
	if spec.Source.Volume != "data" {
		reply(w, 400, api.Error{Error: `source.volume: no source agent declares a volume named "` + spec.Source.Volume + `"`})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.submitted = append(f.submitted, spec)
	for _, id := range f.order {
		if j := f.jobs[id][0]; j != nil && j.Name == spec.Name && !jobEnded(j.State) {
			reply(w, 409, api.Error{Error: "name: job \"" + spec.Name + "\" is already " + j.State + " as " + id})
			return
		}
	}
	script, ok := f.scripts[spec.Name]
	if !ok {
		script = f.scripts["orders"]
	}
	id := "j-" + strings.Repeat("0", 7) + string(rune('1'+len(f.order)))
	steps := make([]*api.Job, len(script))
	for i, s := range script {
		if s != nil {
			j := *s
			j.ID, j.Name = id, spec.Name
			steps[i] = &j
		}
	}
	f.jobs[id] = steps
	f.order = append(f.order, id)
	reply(w, 201, api.JobSubmitted{ID: id})
}

// add puts a job in the fake as it stands, without a script.
func (f *jobFake) add(j api.Job) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs[j.ID] = []*api.Job{&j}
	f.order = append(f.order, j.ID)
}

func (f *jobFake) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

func (f *jobFake) lastSubmitted() *jobspec.Spec {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.submitted) == 0 {
		return nil
	}
	return f.submitted[len(f.submitted)-1]
}

// writeJobFile writes a job file into a temporary directory.
func writeJobFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func jobYAML(name string) string {
	return "name: " + name + "\nsource: {volume: data, path: exports}\ntarget: {volume: data, path: in}\ninclude: ['**/*.parquet']\nchunk_size: 1MiB\n"
}
