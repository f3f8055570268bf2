package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/leptonmesh/lepton/internal/testcluster"
)

// profileSeconds is LEPTON_BENCH_PPROF_SECONDS: when set, every agent
// runs with enable_debug and each Lepton run takes a CPU profile of every
// agent for that many seconds from the job's submission, kept in keptLogs
// as <scenario>-<run>-<agent>.pprof.
func profileSeconds() int {
	n, _ := strconv.Atoi(os.Getenv("LEPTON_BENCH_PPROF_SECONDS"))
	return max(0, n)
}

// profileAgents starts a CPU profile of every agent for seconds and
// returns a wait for them to be written.
func profileAgents(sc *scope, agents []*testcluster.Agent, token, label string, run, seconds int) (wait func()) {
	if err := os.MkdirAll(keptLogs, 0o755); err != nil {
		sc.Logf("profile: %v", err)
		return func() {}
	}
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := filepath.Join(keptLogs, fmt.Sprintf("%s-%d-%s.pprof", label, run, a.Spec.Name))
			if err := fetchProfile(a, token, seconds, path); err != nil {
				sc.Logf("profile %s: %v", a.Spec.Name, err)
			}
		}()
	}
	return wg.Wait
}

func fetchProfile(a *testcluster.Agent, token string, seconds int, path string) error {
	hc := http.DefaultClient
	if a.Spec.Netns != nil {
		hc = a.Spec.Netns.HTTPClient()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+30)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", a.APIAddr(), seconds), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /debug/pprof/profile: %s", resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
