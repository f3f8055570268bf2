package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/testcluster"
	"github.com/leptonmesh/lepton/internal/testtree"
)

// pair starts src-1 (bootstrap) and tgt-1 with local volumes src and dst,
// and waits until tgt-1 follows the log.
func pair(t *testing.T, c *testcluster.Cluster, src, dst string) (*testcluster.Agent, *testcluster.Agent) {
	t.Helper()
	s := c.Add(testcluster.Spec{Name: "src-1", Side: "source", BootstrapExpect: 1, Volumes: []map[string]any{{"name": "data", "path": src}}})
	d := c.Add(testcluster.Spec{Name: "tgt-1", Side: "target", Volumes: []map[string]any{{"name": "data", "path": dst}}})
	c.WaitForLeader(30*time.Second, "src-1")
	c.WaitFor(30*time.Second, "tgt-1 in raft", func() string {
		ms, err := c.MemberStatus(s)
		if err != nil {
			return err.Error()
		}
		if ms["tgt-1"].Raft == api.RaftNone {
			return testcluster.Describe(ms)
		}
		return ""
	})
	return s, d
}

func TestFilesChangingOrVanishingBeforeTransfer(t *testing.T) {
	c := testcluster.New(t)
	src, dst := filepath.Join(c.Dir, "src"), filepath.Join(c.Dir, "dst")
	mkdirs(t, src, dst)
	if err := testtree.Mixed(src, 3<<20, 5); err != nil {
		t.Fatal(err)
	}
	grow, gone := filepath.Join(src, "d01/e00/f00001.log"), filepath.Join(src, "d02/e00/f00002.bin")
	for _, p := range []string{grow, gone} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("fixture lacks %s: %v", p, err)
		}
	}
	s, d := pair(t, c, src, dst)

	// With the only receiver down, the job is scanned but waits.
	d.Kill()
	c.WaitFor(20*time.Second, "tgt-1 failed", func() string {
		ms, _ := c.MemberStatus(s)
		if ms["tgt-1"].Status != api.StatusFailed {
			return testcluster.Describe(ms)
		}
		return ""
	})
	id := submit(t, s, spec("changing", "data", "data"))
	c.WaitFor(20*time.Second, "the scan, then a visible reason to wait", func() string {
		j, err := s.Client().Job(context.Background(), id)
		if err != nil || j.FilesTotal == 0 {
			return "not scanned yet"
		}
		if !strings.Contains(j.Reason, "waiting") || !strings.Contains(j.Reason, "tgt-1") {
			return "reason: " + j.Reason
		}
		return ""
	})
	// The tree changes under the job: one file grows, one is deleted.
	f, err := os.OpenFile(grow, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("one more line, written after the scan\n")
	f.Close()
	dir, err := os.Stat(filepath.Dir(gone))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	// The directory keeps the mtime the scan saw, so the comparison below
	// is about the files.
	if err := os.Chtimes(filepath.Dir(gone), dir.ModTime(), dir.ModTime()); err != nil {
		t.Fatal(err)
	}
	d.Start()
	j := waitJob(t, c, s, id, 60*time.Second)
	if j.State != api.JobDone {
		out, _, _ := s.Ctl("job", "report", id)
		t.Fatalf("job ended %s: %s\n%s", j.State, j.Reason, out)
	}
	if diffs := testtree.Compare(src, dst, testtree.Options{Exclude: []string{".lepton"}}); len(diffs) > 0 {
		t.Errorf("trees differ:\n%s", strings.Join(diffs, "\n"))
	}
	rep, err := s.Client().JobReport(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Files {
		switch f.Path {
		case "d01/e00/f00001.log":
			if f.Outcome != api.OutcomeDone || f.Changed == 0 || !strings.Contains(f.Reason, "modified") {
				t.Errorf("grown file: %+v", f)
			}
		case "d02/e00/f00002.bin":
			if f.Outcome != api.OutcomeSkipped || !strings.Contains(f.Reason, "vanished") {
				t.Errorf("deleted file: %+v", f)
			}
		}
	}
}

func TestFullTargetPausesThenResumes(t *testing.T) {
	c := testcluster.New(t)
	src, dst := filepath.Join(c.Dir, "src"), filepath.Join(c.Dir, "dst")
	mkdirs(t, src, dst)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dst).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs as the target (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dst).Run() })
	if err := os.WriteFile(filepath.Join(src, "random.bin"), testtree.Random(newRand(9), 6<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := pair(t, c, src, dst)
	id := submit(t, s, spec("too-big", "data", "data"))
	var j api.Job
	c.WaitFor(60*time.Second, "the job to pause for space", func() string {
		var err error
		if j, err = s.Client().Job(context.Background(), id); err != nil {
			return err.Error()
		}
		if j.State != api.JobPaused {
			return j.State + " " + j.Reason
		}
		return ""
	})
	for _, want := range []string{"tgt-1", "data", "full", "bytes", "resume"} {
		if !strings.Contains(j.Reason, want) {
			t.Errorf("pause reason %q does not mention %q", j.Reason, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "random.bin")); err == nil {
		t.Error("a partial file is visible at its final path")
	}
	if out, err := exec.Command("mount", "-o", "remount,size=64m", dst).CombinedOutput(); err != nil {
		t.Fatalf("grow the tmpfs: %v %s", err, out)
	}
	if _, errOut, code := s.Ctl("job", "resume", id); code != 0 {
		t.Fatalf("job resume: exit %d: %s", code, errOut)
	}
	j = waitJob(t, c, s, id, 60*time.Second)
	if j.State != api.JobDone {
		t.Fatalf("after resume the job ended %s: %s", j.State, j.Reason)
	}
	if diffs := testtree.Compare(src, dst, testtree.Options{Exclude: []string{".lepton"}}); len(diffs) > 0 {
		t.Errorf("trees differ:\n%s", strings.Join(diffs, "\n"))
	}
}

// TestAFileThatCannotBePlacedFailsAloneAndTheJobEnds plants a directory
// where a small file must go. That file fails with a reason and the
// directory is left as it was; its neighbours in the same unit are copied
// and verified; and the job ends failed, not waiting in verifying for a
// unit that can never be re-read.
func TestAFileThatCannotBePlacedFailsAloneAndTheJobEnds(t *testing.T) {
	c := testcluster.New(t)
	src, dst := filepath.Join(c.Dir, "src"), filepath.Join(c.Dir, "dst")
	mkdirs(t, filepath.Join(src, "sub"), filepath.Join(dst, "b.txt"))
	for _, p := range []string{"a.txt", "b.txt", "sub/c.txt"} {
		if err := os.WriteFile(filepath.Join(src, p), []byte("content of "+p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	keep := filepath.Join(dst, "b.txt", "keep")
	if err := os.WriteFile(keep, []byte("not Lepton's"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := pair(t, c, src, dst)
	sp := spec("blocked", "data", "data")
	sp.Verify = true
	id := submit(t, s, sp)
	j := waitJob(t, c, s, id, 60*time.Second)
	if j.State != api.JobFailed || !strings.Contains(j.Reason, "1 of") {
		t.Fatalf("job ended %s (%s); want failed for one file", j.State, j.Reason)
	}
	rep, err := s.Client().JobReport(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Files {
		want := api.OutcomeDone
		if f.Path == "b.txt" {
			want = api.OutcomeFailed
			if !strings.Contains(f.Reason, "directory") {
				t.Errorf("b.txt failed with %q; want the reason to name the directory in the way", f.Reason)
			}
		}
		if f.Outcome != want {
			t.Errorf("%s: %s (%s), want %s", f.Path, f.Outcome, f.Reason, want)
		}
	}
	for _, p := range []string{"a.txt", "sub/c.txt"} {
		if got, err := os.ReadFile(filepath.Join(dst, p)); err != nil || string(got) != "content of "+p {
			t.Errorf("%s on the target: %q, %v", p, got, err)
		}
	}
	if got, err := os.ReadFile(keep); err != nil || string(got) != "not Lepton's" {
		t.Errorf("the directory in the way lost its content: %q, %v", got, err)
	}
}
