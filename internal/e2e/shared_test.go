package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/testcluster"
	"github.com/leptonmesh/lepton/internal/testtree"
)

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// writeJob writes a job file and returns its path.
func writeJob(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSharedVolumesSpreadAndBadJobsAreRefused(t *testing.T) {
	c := testcluster.New(t)
	src, dst := filepath.Join(c.Dir, "nfs-src"), filepath.Join(c.Dir, "nfs-dst")
	mkdirs(t, src, dst, filepath.Join(c.Dir, "scratch-1"), filepath.Join(c.Dir, "scratch-2"))
	if _, err := testtree.Shapes(src, testChunk, 11); err != nil {
		t.Fatal(err)
	}
	if err := testtree.Mixed(filepath.Join(src, "mixed"), 6<<20, 3); err != nil {
		t.Fatal(err)
	}
	shared := func(path string) map[string]any { return map[string]any{"name": "data", "path": path, "shared": true} }
	local := func(n int) map[string]any {
		return map[string]any{"name": "scratch", "path": filepath.Join(c.Dir, fmt.Sprintf("scratch-%d", n))}
	}
	c.Add(testcluster.Spec{Name: "src-1", Side: "source", BootstrapExpect: 3, Volumes: []map[string]any{shared(src), local(1)}})
	c.Add(testcluster.Spec{Name: "src-2", Side: "source", BootstrapExpect: 3, Volumes: []map[string]any{shared(src), local(2)}})
	c.Add(testcluster.Spec{Name: "tgt-1", Side: "target", BootstrapExpect: 3, Volumes: []map[string]any{shared(dst)}})
	tgt2 := c.Add(testcluster.Spec{Name: "tgt-2", Side: "target", Volumes: []map[string]any{shared(dst)}})
	c.WaitForLeader(30 * time.Second)
	c.WaitFor(30*time.Second, "all four agents registered in raft", func() string {
		ms, err := c.MemberStatus(tgt2)
		if err != nil {
			return err.Error()
		}
		for _, n := range []string{"src-1", "src-2", "tgt-1", "tgt-2"} {
			if ms[n].Raft == api.RaftNone {
				return testcluster.Describe(ms)
			}
		}
		return ""
	})

	// Bad jobs are refused at submit with the field named, exit 2.
	bad := []struct{ name, body, field string }{
		{"unknown-volume", "name: x\nsource: {volume: nope}\ntarget: {volume: data}\n", "source.volume"},
		{"unknown-agent", "name: x\nsource: {volume: data, agent: nobody}\ntarget: {volume: data}\n", "source.agent"},
		{"ambiguous-local", "name: x\nsource: {volume: scratch}\ntarget: {volume: data}\n", "source.agent"},
		{"dotdot", "name: x\nsource: {volume: data, path: ../etc}\ntarget: {volume: data}\n", "source.path"},
		{"absolute", "name: x\nsource: {volume: data}\ntarget: {volume: data, path: /etc}\n", "target.path"},
		{"bad-glob", "name: x\nsource: {volume: data}\ntarget: {volume: data}\ninclude: [\"[\"]\n", "include"},
		{"bad-chunk", "name: x\nsource: {volume: data}\ntarget: {volume: data}\nchunk_size: 3\n", "chunk_size"},
		{"sync", "name: x\nsource: {volume: data}\ntarget: {volume: data}\nmode: sync\n", "mode"},
	}
	for _, b := range bad {
		out, errOut, code := tgt2.Ctl("job", "submit", "-f", writeJob(t, c.Dir, b.name, b.body))
		if code != 2 || !strings.Contains(errOut, b.field) || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 naming %s", b.name, code, out, errOut, b.field)
		}
	}

	// A good job: both senders and both receivers take part.
	job := writeJob(t, c.Dir, "good", fmt.Sprintf("name: shared\nsource: {volume: data}\ntarget: {volume: data}\nchunk_size: %d\n", testChunk))
	out, errOut, code := tgt2.Ctl("job", "submit", "-f", job, "--wait")
	id := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(id, "j-") || strings.Contains(id, "\n") {
		t.Fatalf("job submit --wait: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	if diffs := testtree.Compare(src, dst, testtree.Options{SkipSpecial: true, Exclude: []string{".lepton"}}); len(diffs) > 0 {
		t.Errorf("trees differ:\n%s", strings.Join(diffs, "\n"))
	}
	statusOut, _, _ := c.Agent("src-1").Ctl("job", "status", id, "--json")
	var j api.Job
	if err := json.Unmarshal([]byte(statusOut), &j); err != nil {
		t.Fatalf("job status --json: %v\n%s", err, statusOut)
	}
	senders, receivers := map[string]bool{}, map[string]bool{}
	for _, p := range j.Pairs {
		senders[p.Sender], receivers[p.Receiver] = true, true
	}
	if j.State != api.JobDone || len(senders) != 2 || len(receivers) != 2 {
		t.Errorf("job %s: state %s, pairs %+v; want done with both senders and both receivers", id, j.State, j.Pairs)
	}
	csv, _, code := tgt2.Ctl("job", "report", id, "--format", "csv")
	if code != 0 || !strings.HasPrefix(csv, "path,size,outcome,chunks,retries,reason") || !strings.Contains(csv, "fifo,0,skipped") {
		t.Errorf("job report csv (exit %d):\n%.600s", code, csv)
	}
}
