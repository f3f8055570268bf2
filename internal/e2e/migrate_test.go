package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/testcluster"
	"github.com/leptonmesh/lepton/internal/testtree"
)

const testChunk = 256 << 10

// submit posts a job and returns its id.
func submit(t *testing.T, a *testcluster.Agent, spec jobspec.Spec) string {
	t.Helper()
	var res api.JobSubmitted
	if err := a.Client().Do(context.Background(), "POST", "/v1/jobs", spec, &res); err != nil {
		t.Fatalf("submit job: %v", err)
	}
	return res.ID
}

// waitJob polls a job until it ends and returns its last status.
func waitJob(t *testing.T, c *testcluster.Cluster, a *testcluster.Agent, id string, timeout time.Duration) api.Job {
	t.Helper()
	var j api.Job
	c.WaitFor(timeout, "job "+id+" to end", func() string {
		var err error
		j, err = a.Client().Job(context.Background(), id)
		if err != nil {
			return err.Error()
		}
		switch j.State {
		case api.JobDone, api.JobFailed, api.JobCancelled:
			return ""
		}
		return fmt.Sprintf("%s: %d/%d files, %d/%d bytes, %s", j.State, j.FilesDone, j.FilesTotal, j.BytesDone, j.BytesTotal, j.Reason)
	})
	return j
}

func spec(name, srcVol, dstVol string) jobspec.Spec {
	s := jobspec.Defaults()
	s.Name = name
	s.Source.Volume, s.Target.Volume = srcVol, dstVol
	s.ChunkSize = testChunk
	return s
}

func TestLocalVolumeMigrationIsFaithful(t *testing.T) {
	c := testcluster.New(t)
	src, dst := filepath.Join(c.Dir, "src-data"), filepath.Join(c.Dir, "dst-data")
	for _, d := range []string{src, dst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := testtree.Shapes(src, testChunk, 7); err != nil {
		t.Fatal(err)
	}
	c.Add(testcluster.Spec{Name: "src-1", Side: "source", BootstrapExpect: 1,
		Volumes: []map[string]any{{"name": "data", "path": src}}})
	tgt := c.Add(testcluster.Spec{Name: "tgt-1", Side: "target",
		Volumes: []map[string]any{{"name": "data", "path": dst}}})
	c.WaitForLeader(30*time.Second, "src-1")
	c.WaitFor(20*time.Second, "tgt-1 registered with its volume", func() string {
		st, err := c.Status(tgt)
		if err != nil {
			return err.Error()
		}
		for _, m := range st.Members {
			if m.Name == "tgt-1" && m.Raft != api.RaftNone {
				return ""
			}
		}
		return "tgt-1 not in raft yet"
	})

	id := submit(t, tgt, spec("shapes", "data", "data"))
	j := waitJob(t, c, tgt, id, 60*time.Second)
	if j.State != api.JobDone {
		t.Fatalf("job ended %s: %s", j.State, j.Reason)
	}
	if diffs := testtree.Compare(src, dst, testtree.Options{SkipSpecial: true, Exclude: []string{".lepton"}}); len(diffs) > 0 {
		t.Errorf("trees differ:\n%s", strings.Join(diffs, "\n"))
	}
	if j.FilesSkipped != 2 || j.FilesFailed != 0 || j.UnitsVerified != j.UnitsDone || j.WireBytes >= j.BytesDone {
		t.Errorf("job figures: %+v", j)
	}
	// The data path is visible in the metrics of both ends, and the
	// leader exports the job's progress.
	src1 := c.Agent("src-1")
	for _, m := range []string{"lepton_bytes_read_total", "lepton_bytes_sent_total"} {
		if v := metric(t, c, src1, m); v <= 0 {
			t.Errorf("src-1 %s = %v", m, v)
		}
	}
	for _, m := range []string{"lepton_bytes_received_total", "lepton_bytes_written_total", "lepton_chunks_ok_total"} {
		if v := metric(t, c, tgt, m); v <= 0 {
			t.Errorf("tgt-1 %s = %v", m, v)
		}
	}
	_, text := get(t, src1.APIAddr()+"/metrics", c.Token)
	if want := fmt.Sprintf(`lepton_job_bytes_done{job="%s",name="shapes"} %s`, id, strconv.FormatFloat(float64(j.BytesDone), 'g', -1, 64)); !strings.Contains(text, want) {
		t.Errorf("leader metrics lack %q:\n%s", want, grepLines(text, "lepton_job_bytes"))
	}
	rep, err := tgt.Client().JobReport(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Files {
		if f.Path == "fifo" && (f.Outcome != api.OutcomeSkipped || !strings.Contains(f.Reason, "FIFO")) {
			t.Errorf("fifo report: %+v", f)
		}
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
