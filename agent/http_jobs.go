package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/internal/scheduler"
)

// maxJobBody bounds a submitted job spec.
const maxJobBody = 1 << 20

// jobRoutes adds the job endpoints: submit and state changes go to the
// leader; status and reports come from this agent's replica of the plan.
func (a *Agent) jobRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxJobBody+1))
		if err != nil || len(body) > maxJobBody {
			writeError(w, http.StatusBadRequest, fmt.Errorf("job spec unreadable or larger than %d bytes", maxJobBody))
			return
		}
		var res api.JobSubmitted
		if err := a.asOperator(r, scheduler.MethodSubmit, json.RawMessage(body), &res); err != nil {
			writeError(w, statusOf(err), err)
			return
		}
		writeJSON(w, http.StatusCreated, res)
	})
	mux.HandleFunc("GET /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.jobs())
	})
	mux.HandleFunc("GET /v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		j, ok := a.cluster.FSM().Job(r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Errorf("no job %s; `leptonctl job list` shows the jobs", r.PathValue("id")))
			return
		}
		writeJSON(w, http.StatusOK, jobStatus(j))
	})
	for verb, state := range map[string]plan.JobState{"pause": plan.JobPaused, "resume": plan.JobRunning, "cancel": plan.JobCancelled} {
		mux.HandleFunc("POST /v1/jobs/{id}/"+verb, func(w http.ResponseWriter, r *http.Request) {
			var res plan.Job
			c := plan.JobStateChange{ID: r.PathValue("id"), State: state, Reason: string(state) + " by an operator"}
			if state == plan.JobRunning {
				c.Reason = ""
			}
			if err := a.asOperator(r, scheduler.MethodJobState, c, &res); err != nil {
				writeError(w, statusOf(err), err)
				return
			}
			writeJSON(w, http.StatusOK, jobStatus(res))
		})
	}
	mux.HandleFunc("GET /v1/jobs/{id}/report", func(w http.ResponseWriter, r *http.Request) {
		fsm := a.cluster.FSM()
		j, ok := fsm.Job(r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Errorf("no job %s", r.PathValue("id")))
			return
		}
		rep := api.JobReport{Job: jobStatus(j), Files: []api.FileReport{}}
		for from := 0; ; from += 4096 {
			files, total, err := fsm.JobFiles(j.ID, from, 4096)
			if err != nil {
				writeError(w, http.StatusInternalServerError, err)
				return
			}
			for _, f := range files {
				rep.Files = append(rep.Files, fileReport(f))
			}
			if from+4096 >= total {
				break
			}
		}
		writeJSON(w, http.StatusOK, rep)
	})
}

func (a *Agent) jobs() []api.Job {
	out := []api.Job{}
	for _, j := range a.cluster.FSM().Jobs() {
		out = append(out, jobStatus(j))
	}
	return out
}
