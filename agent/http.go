package agent

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/leptonmesh/lepton/cluster"
	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes is the control API. Every route needs the bearer token when one
// is configured. Reads are answered by this agent from its own view;
// writes go to the leader (cluster forwards them over QUIC).
func (a *Agent) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st := a.cluster.Status()
		st.Jobs = a.jobs()
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET /v1/members", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.cluster.Members())
	})
	mux.HandleFunc("GET /v1/raft/peers", func(w http.ResponseWriter, r *http.Request) {
		peers, err := a.cluster.RaftPeers()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, peers)
	})
	mux.HandleFunc("POST /v1/members/{name}/force-leave", func(w http.ResponseWriter, r *http.Request) {
		res, err := a.cluster.ForceLeave(r.Context(), bearer(r), r.PathValue("name"))
		if err != nil {
			writeError(w, cluster.StatusOf(err), err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("GET /v1/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, version.Get())
	})
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		leader, _, _ := a.cluster.Leader()
		ready := false
		select {
		case <-a.cluster.Joined():
			ready = true
		default:
		}
		writeJSON(w, http.StatusOK, api.Health{Node: a.cfg.NodeName, Leader: leader, Ready: ready && leader != ""})
	})
	mux.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(api.OpenAPI)
	})
	a.jobRoutes(mux)
	a.drillRoutes(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metricsRegistry(), promhttp.HandlerOpts{}))
	if a.cfg.EnableDebug {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, errors.New("no such endpoint: "+r.Method+" "+r.URL.Path+"; see /v1/openapi.json"))
	})
	return a.requireToken(mux)
}

// requireToken checks the bearer token in constant time.
func (a *Agent) requireToken(next http.Handler) http.Handler {
	token := a.cfg.Token
	if token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lepton"`)
			msg := "missing API token: send Authorization: Bearer <token> (leptonctl --token or LEPTON_TOKEN)"
			if ok {
				msg = "invalid API token"
			}
			writeError(w, http.StatusUnauthorized, errors.New(msg))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, api.Error{Error: err.Error()})
}
