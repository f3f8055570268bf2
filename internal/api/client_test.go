package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
)

func newClient(t *testing.T, addr, token string, opts ...api.Option) *api.Client {
	t.Helper()
	c, err := api.NewClient(addr, token, opts...)
	if err != nil {
		t.Fatalf("NewClient(%q): %v", addr, err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func TestNewClientAddresses(t *testing.T) {
	for addr, want := range map[string]string{
		"http://127.0.0.1:7948": "http://127.0.0.1:7948",
		"127.0.0.1:7948":        "http://127.0.0.1:7948",
		" HTTPS://agent:7948/ ": "https://agent:7948",
		"http://proxy/lepton/":  "http://proxy/lepton",
		"localhost:7948":        "http://localhost:7948",
		"http://[::1]:7948":     "http://[::1]:7948",
	} {
		if got := newClient(t, addr, "").Addr(); got != want {
			t.Errorf("NewClient(%q).Addr() = %q, want %q", addr, got, want)
		}
	}
	for _, addr := range []string{"", "ftp://127.0.0.1:7948", "unix:///run/lepton.sock", "http://", "http://h:1/?x=1"} {
		if _, err := api.NewClient(addr, ""); err == nil {
			t.Errorf("NewClient(%q) accepted a bad address", addr)
		}
	}
	_, err := api.NewClient("ftp://127.0.0.1:7948", "")
	if err == nil || !strings.Contains(err.Error(), "use http:// or https://") {
		t.Errorf("bad scheme error = %v, want it to name http:// and https://", err)
	}
	if _, err := api.NewClient("127.0.0.1:7948", "abc\r\nX-Evil: 1"); err == nil {
		t.Error("NewClient accepted a token with a line break")
	}
}

func TestClientDecodesEveryRoute(t *testing.T) {
	status := api.Status{Node: "src-1", Leader: "src-1", Term: 3, ClusterID: "c1", Members: []api.Member{
		{Name: "src-1", Side: "source", Addr: "127.0.0.1:7946", Status: api.StatusAlive, Raft: api.RaftVoter, Leader: true, Server: true, Labels: map[string]string{"zone": "hz-b"}},
	}}
	peers := api.RaftPeers{Leader: "src-1", Term: 3, CommitIndex: 10, AppliedIndex: 9, Servers: []api.RaftServer{{ID: "src-1", Address: "127.0.0.1:7947", Suffrage: api.RaftVoter, Leader: true}}}
	ver := api.Version{Version: "1.2.3", Commit: "abc", Go: "go1.26"}
	health := api.Health{Node: "src-1", Leader: "src-1", Ready: true}
	var forcedPath string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, status) })
	mux.HandleFunc("GET /v1/members", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, status.Members) })
	mux.HandleFunc("GET /v1/raft/peers", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, peers) })
	mux.HandleFunc("GET /v1/version", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, ver) })
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, health) })
	mux.HandleFunc("POST /v1/members/{name}/force-leave", func(w http.ResponseWriter, r *http.Request) {
		forcedPath = r.URL.EscapedPath()
		writeJSON(w, 200, api.ForceLeaveResult{Name: r.PathValue("name"), Removed: true})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := newClient(t, srv.URL, "")
	ctx := context.Background()

	if got, err := c.Status(ctx); err != nil || !reflect.DeepEqual(got, status) {
		t.Errorf("Status = %+v, %v; want %+v", got, err, status)
	}
	if got, err := c.Members(ctx); err != nil || !reflect.DeepEqual(got, status.Members) {
		t.Errorf("Members = %+v, %v", got, err)
	}
	if got, err := c.RaftPeers(ctx); err != nil || !reflect.DeepEqual(got, peers) {
		t.Errorf("RaftPeers = %+v, %v", got, err)
	}
	if got, err := c.Version(ctx); err != nil || got != ver {
		t.Errorf("Version = %+v, %v", got, err)
	}
	if got, err := c.Health(ctx); err != nil || got != health {
		t.Errorf("Health = %+v, %v", got, err)
	}
	got, err := c.ForceLeave(ctx, "tgt/2")
	if err != nil || got.Name != "tgt/2" || !got.Removed {
		t.Errorf("ForceLeave = %+v, %v", got, err)
	}
	if forcedPath != "/v1/members/tgt%2F2/force-leave" {
		t.Errorf("force-leave path = %q, want the name escaped", forcedPath)
	}
	if _, err := c.ForceLeave(ctx, ""); err == nil {
		t.Error("ForceLeave accepted an empty name")
	}
}

func TestClientDoSendsJSONBody(t *testing.T) {
	type job struct {
		Name string `json:"name"`
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in job
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&in) != nil {
			writeJSON(w, 400, api.Error{Error: "bad body"})
			return
		}
		writeJSON(w, 201, job{Name: in.Name + "-created"})
	}))
	defer srv.Close()
	var out job
	if err := newClient(t, srv.URL, "").Do(context.Background(), "POST", "/v1/jobs", job{Name: "j1"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.Name != "j1-created" {
		t.Errorf("out = %+v", out)
	}
}

func TestClientToken(t *testing.T) {
	const token = "s3cret"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			writeJSON(w, 401, api.Error{Error: "missing or wrong token"})
			return
		}
		writeJSON(w, 200, api.Health{Node: "n", Ready: true})
	}))
	defer srv.Close()
	ctx := context.Background()

	if _, err := newClient(t, srv.URL, token).Health(ctx); err != nil {
		t.Errorf("with the token: %v", err)
	}
	_, err := newClient(t, srv.URL, "").Health(ctx)
	var apiErr *api.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || !strings.Contains(err.Error(), "pass --token or set LEPTON_TOKEN") {
		t.Errorf("without a token: %v, want a 401 APIError with the token hint", err)
	}
	_, err = newClient(t, srv.URL, "wrong").Health(ctx)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || !strings.Contains(err.Error(), "rejected") {
		t.Errorf("with a wrong token: %v, want a 401 APIError saying it was rejected", err)
	}
}

func TestClientErrors(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/members/{name}/force-leave", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") == "src-1" {
			writeJSON(w, 409, api.Error{Error: "src-1 is alive: only failed members can be forced out"})
			return
		}
		writeJSON(w, 404, api.Error{Error: "no member named " + r.PathValue("name")})
	})
	mux.HandleFunc("GET /v1/raft/peers", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"node": "src-1", "leader": "src-1", "term": 3, "members": [`))
		w.Write([]byte(strings.Repeat(" ", 4096)))
		w.Write([]byte(`]}`))
	})
	mux.HandleFunc("GET /v1/version", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("not json")) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := newClient(t, srv.URL, "", api.WithMaxResponseBytes(1024))
	ctx := context.Background()

	var apiErr *api.APIError
	_, err := c.ForceLeave(ctx, "tgt-9")
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || err.Error() != "no member named tgt-9" {
		t.Errorf("unknown member: %v, want the server's 404 message", err)
	}
	_, err = c.ForceLeave(ctx, "src-1")
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 409 || !strings.Contains(err.Error(), "only failed members") {
		t.Errorf("alive member: %v, want the server's 409 message", err)
	}
	_, err = c.RaftPeers(ctx)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || !strings.Contains(err.Error(), "502 Bad Gateway") {
		t.Errorf("non-JSON error body: %v, want a 502 APIError describing the answer", err)
	}
	if _, err = c.Status(ctx); err == nil || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Errorf("oversized answer: %v, want the size bound named", err)
	}
	if _, err = c.Version(ctx); err == nil || !strings.Contains(err.Error(), "decode GET /v1/version") {
		t.Errorf("garbled answer: %v, want a decode error", err)
	}
}

func TestClientUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	_, err = newClient(t, addr, "").Status(context.Background())
	var unreachable *api.UnreachableError
	if !errors.As(err, &unreachable) {
		t.Fatalf("closed port: %v, want *UnreachableError", err)
	}
	want := "cannot reach leptond at http://" + addr + ": connection refused; is the agent running? set --addr or LEPTON_ADDR"
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error does not wrap ECONNREFUSED")
	}
}

func TestClientTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	_, err := newClient(t, srv.URL, "", api.WithTimeout(50*time.Millisecond)).Status(context.Background())
	var unreachable *api.UnreachableError
	if !errors.As(err, &unreachable) || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Errorf("slow agent: %v, want an UnreachableError naming the timeout", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = newClient(t, srv.URL, "").Status(ctx)
	if !errors.Is(err, context.Canceled) || errors.As(err, &unreachable) {
		t.Errorf("cancelled context: %v, want context.Canceled, not unreachable", err)
	}
}
