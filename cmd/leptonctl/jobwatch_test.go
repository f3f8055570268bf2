package main

import (
	"bytes"
	"context"
	"golang.org/x/sys/unix"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
)

// submit submits a job called name to agent and returns its id.
func submit(t *testing.T, agent *jobFake, name string) string {
	t.Helper()
	stdout, _ := wantExit(t, []string{"job", "submit", "-f", writeJobFile(t, jobYAML(name)), "--addr", agent.URL}, 0)
	return strings.TrimSpace(stdout)
}

var progressLineRE = regexp.MustCompile(`^\d\d:\d\d:\d\d (scanning|running|paused|done|failed|cancelled): `)

func TestJobWatchPlainLinesUntilDone(t *testing.T) {
	agent := newJobFake(t)
	id := submit(t, agent, "orders")
	stdout, stderr := wantExit(t, []string{"job", "watch", id, fast, "--addr", agent.URL}, 0)
	if stderr != "" {
		t.Errorf("job watch wrote to stderr: %q", stderr)
	}
	if strings.Contains(stdout, "\x1b[") || strings.Contains(stdout, "\r") {
		t.Errorf("job watch into a pipe drew bars:\n%q", stdout)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) < 4 {
		t.Fatalf("job watch printed too little:\n%s", stdout)
	}
	if want := "Job " + id + " (orders): data:exports → data:in"; lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
	// A line whenever the state changes (scanning, running, done), and at
	// most one a second otherwise: polls every 5ms print far fewer lines.
	progress := lines[1 : len(lines)-1]
	for _, l := range progress {
		if !progressLineRE.MatchString(l) {
			t.Errorf("not a progress line: %q", l)
		}
	}
	if progress[0][9:] != "scanning: 0 B / 0 B, files 0/0" {
		t.Errorf("first progress line %q, want the scan", progress[0])
	}
	last := progress[len(progress)-1]
	if !strings.Contains(last, "done: 4.0 MiB / 4.0 MiB, 100.0%, files 4/4, ratio 2.00x") {
		t.Errorf("last progress line %q, want the job done", last)
	}
	if want := "Done: 4 files, 4.0 MiB in 5s, 819.2 KiB/s, wire 2.0 MiB (ratio 2.00x)"; lines[len(lines)-1] != want {
		t.Errorf("summary %q, want %q", lines[len(lines)-1], want)
	}
}

func TestJobWatchExitCodes(t *testing.T) {
	agent := newJobFake(t)
	failed := submit(t, agent, "fails")
	stdout, _ := wantExit(t, []string{"job", "watch", failed, fast, "--addr", agent.URL}, 1,
		"Error: job "+failed+" (fails) failed: 1 file failed: chunk hash mismatch after 5 tries")
	if !strings.Contains(stdout, "failed: 4.0 MiB / 4.0 MiB") || strings.Contains(stdout, "Done:") {
		t.Errorf("watch of a failed job printed:\n%s", stdout)
	}
	cancelled := submit(t, agent, "cancelled")
	wantExit(t, []string{"job", "watch", cancelled, fast, "--addr", agent.URL}, 1, "was cancelled: cancelled by an operator")

	// A poll answered 503 (a leader election) is retried, noted once.
	flaky := submit(t, agent, "flaky")
	_, stderr, code := runCLI(t, "job", "watch", flaky, fast, "--addr", agent.URL)
	if code != 0 || strings.Count(stderr, "retrying") != 1 {
		t.Errorf("watch through a 503: exit %d, stderr:\n%s", code, stderr)
	}
	// Paused for want of space: the reason shows, and the watch goes on.
	paused := submit(t, agent, "paused")
	stdout, _ = wantExit(t, []string{"job", "watch", paused, fast, "--addr", agent.URL}, 0)
	if !strings.Contains(stdout, "paused: 2.0 MiB / 4.0 MiB, 50.0%, files 2/4, ratio 2.00x (tgt-1 volume data: disk full, 2.0 MiB more needed)") {
		t.Errorf("watch of a paused job printed:\n%s", stdout)
	}

	wantExit(t, []string{"job", "watch", "j-nope", fast, "--addr", agent.URL}, 2, "Error: no job j-nope")
	wantExit(t, []string{"job", "watch", "j-1", fast, "--addr", closedAddr(t)}, 1, "cannot reach leptond")
}

func TestJobFollowStopsWhenCancelled(t *testing.T) {
	agent := newJobFake(t)
	agent.add(api.Job{ID: "j-forever", Name: "forever", State: api.JobRunning, Pairs: []api.JobPair{}})
	c := newTestClient(t, agent.URL)
	ctx, cancel := context.WithCancel(context.Background())
	polls := 0
	var stderr bytes.Buffer
	f := jobFollower{client: c, id: "j-forever", interval: time.Millisecond, stderr: &stderr}
	j, err := f.follow(ctx, func(api.Job) {
		if polls++; polls == 3 {
			cancel() // as Ctrl-C does
		}
	})
	if _, ok := err.(stoppedFollowing); !ok || j.ID != "j-forever" || polls != 3 {
		t.Fatalf("follow after cancel: %v, %d polls, job %q", err, polls, j.ID)
	}
	if !strings.Contains(err.Error(), "it goes on") {
		t.Errorf("the message does not say the job goes on: %v", err)
	}
}

func TestIsTerminal(t *testing.T) {
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) {
		t.Error("a pipe is a terminal")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a file is a terminal")
	}
	// The master side of a pseudo-terminal is one.
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	t.Setenv("TERM", "xterm-256color")
	if err := unix.IoctlSetWinsize(int(ptmx.Fd()), unix.TIOCSWINSZ, &unix.Winsize{}); err != nil {
		t.Skipf("cannot size the pseudo-terminal: %v", err)
	}
	if isTerminal(ptmx) {
		t.Error("a terminal of no size gets bars it cannot draw")
	}
	if err := unix.IoctlSetWinsize(int(ptmx.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80}); err != nil {
		t.Fatal(err)
	}
	if !isTerminal(ptmx) {
		t.Error("a pseudo-terminal is not a terminal")
	}
	t.Setenv("TERM", "dumb")
	if isTerminal(ptmx) {
		t.Error("TERM=dumb still gets bars")
	}
}

func TestBarViewDrawsOverallAndPairBars(t *testing.T) {
	var out bytes.Buffer
	view := newBarView(context.Background(), &out)
	steps := progression("orders", api.JobDone, "")
	now := time.Now()
	for i, j := range steps {
		j.ID = "j-1"
		view.show(*j, now.Add(time.Duration(i)*time.Second))
	}
	view.close(*steps[len(steps)-1])
	got := out.String()
	for _, want := range []string{
		"orders done", "100.0%", "4.0 MiB / 4.0 MiB",
		"src-1 → tgt-1", "src-2 → tgt-1", "2.0 MiB", "819.2 KiB/s", "ratio 2.00x", "files 4/4",
		"Done: 4 files, 4.0 MiB in 5s",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("bars lack %q:\n%s", want, got)
		}
	}
}

func TestRateMeterAndETA(t *testing.T) {
	var m rateMeter
	t0 := time.Unix(0, 0)
	if r := m.observe(0, t0); r != 0 {
		t.Errorf("first observation rate %v, want 0", r)
	}
	if r := m.observe(1<<20, t0.Add(time.Second)); r != 1<<20 {
		t.Errorf("rate %v, want 1 MiB/s", r)
	}
	if r := m.observe(1<<20, t0.Add(2*time.Second)); r <= 0 || r >= 1<<20 {
		t.Errorf("a stalled second: rate %v, want it falling but above 0", r)
	}
	if r := m.observe(0, t0.Add(3*time.Second)); r != 0 {
		t.Errorf("after the count went down: rate %v, want a fresh start", r)
	}
	j := api.Job{State: api.JobRunning, BytesTotal: 10 << 20, BytesDone: 4 << 20}
	if got := eta(j, 1<<20); got != "6s" {
		t.Errorf("eta = %q, want 6s", got)
	}
	for _, j := range []api.Job{{State: api.JobPaused, BytesTotal: 2}, {State: api.JobDone}, {State: api.JobRunning, BytesTotal: 2}} {
		if got := eta(j, 0); got != "-" {
			t.Errorf("eta of %+v = %q, want -", j, got)
		}
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB", 3 << 50: "3.0 PiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := percentCell(api.Job{State: api.JobRunning, BytesTotal: 1000, BytesDone: 999}); got != "99.9%" {
		t.Errorf("percent just short of the end = %q, want 99.9%% (never 100%% before it is)", got)
	}
	if got := percentCell(api.Job{State: api.JobRunning, FilesTotal: 4, FilesDone: 1, FilesSkipped: 1}); got != "50.0%" {
		t.Errorf("percent of a job of empty files = %q, want 50.0%%", got)
	}
	if got := ratioCell(10, 0); got != "-" {
		t.Errorf("ratio with nothing sent = %q", got)
	}
	if got := printable("a\x1b[31mb"); got != `"a\x1b[31mb"` {
		t.Errorf("printable kept an escape sequence: %q", got)
	}
	now := time.Now()
	for d, want := range map[time.Duration]string{5 * time.Second: "5s ago", 3 * time.Minute: "3m ago", 30 * time.Hour: "30h ago", 50 * time.Hour: "2d ago"} {
		if got := ageCell(now.Add(-d), now); got != want {
			t.Errorf("ageCell(%s) = %q, want %q", d, got, want)
		}
	}
}

func newTestClient(t *testing.T, addr string) *api.Client {
	t.Helper()
	c, err := api.NewClient(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Ctrl-C while bars are drawn: close still returns, the bars stay where they were.
func TestBarViewClosesAfterInterrupt(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	view := newBarView(ctx, &out)
	steps := progression("orders", api.JobDone, "")
	view.show(*steps[2], time.Now())
	cancel()
	view.show(*steps[3], time.Now()) // a poll racing the interrupt
	view.close(*steps[3])
	if strings.Contains(out.String(), "Done:") {
		t.Errorf("an interrupted watch claimed the job done:\n%s", out.String())
	}
}
