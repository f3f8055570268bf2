package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/leptonmesh/lepton/internal/api"
)

// drillAgent answers the drill routes as the agent does: only with a token,
// only for a node whose config allows drills.
func drillAgent(t *testing.T, token string, drills map[string]bool) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/drill/crash", func(w http.ResponseWriter, r *http.Request) {
		var req api.DrillCrash
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Node == "" {
			writeJSON(w, 400, api.Error{Error: `body must be {"node": "NAME"}`})
			return
		}
		allowed, known := drills[req.Node]
		switch {
		case !known:
			writeJSON(w, 404, api.Error{Error: "no member " + req.Node + " with a QUIC address"})
		case !allowed:
			writeJSON(w, 403, api.Error{Error: "drills are off on this agent: set `drills: true` in its config"})
		default:
			writeJSON(w, 202, api.DrillCrashResult{Node: req.Node, Crashing: true})
		}
	})
	mux.HandleFunc("POST /v1/drill/transfer-leader", func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 0 {
			writeJSON(w, 400, api.Error{Error: "no body expected"})
			return
		}
		writeJSON(w, 200, api.LeaderTransfer{From: "src-1", To: "src-2", Term: 4})
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			writeJSON(w, 401, api.Error{Error: "missing or invalid API token"})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestClientDrillCrash(t *testing.T) {
	srv := drillAgent(t, "s3cret", map[string]bool{"src-1": true, "tgt-1": false})
	c := newClient(t, srv.URL, "s3cret")
	ctx := context.Background()

	res, err := c.DrillCrash(ctx, "src-1")
	if err != nil || res.Node != "src-1" || !res.Crashing {
		t.Fatalf("DrillCrash(src-1) = %+v, %v; want src-1 crashing", res, err)
	}
	var apiErr *api.APIError
	_, err = c.DrillCrash(ctx, "tgt-1")
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 || !strings.Contains(apiErr.Message, "drills: true") {
		t.Errorf("DrillCrash on an agent without drills: %v, want 403 naming drills: true", err)
	}
	_, err = c.DrillCrash(ctx, "nope")
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Errorf("DrillCrash of an unknown node: %v, want 404", err)
	}
	if _, err := c.DrillCrash(ctx, ""); err == nil {
		t.Error("DrillCrash accepted an empty node name")
	}
	_, err = newClient(t, srv.URL, "").DrillCrash(ctx, "src-1")
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || !strings.Contains(apiErr.Message, "--token") {
		t.Errorf("DrillCrash without a token: %v, want 401 naming --token", err)
	}
}

func TestClientTransferLeader(t *testing.T) {
	srv := drillAgent(t, "s3cret", nil)
	tr, err := newClient(t, srv.URL, "s3cret").TransferLeader(context.Background())
	if err != nil || tr != (api.LeaderTransfer{From: "src-1", To: "src-2", Term: 4}) {
		t.Fatalf("TransferLeader = %+v, %v", tr, err)
	}
}
