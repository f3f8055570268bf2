package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/jobspec"
)

// fast makes --wait and watch poll quickly, so tests take milliseconds.
const fast = "--interval=5ms"

func TestJobSubmitPrintsOnlyTheID(t *testing.T) {
	agent := newJobFake(t)
	file := writeJobFile(t, jobYAML("orders"))
	stdout, stderr := wantExit(t, []string{"job", "submit", "-f", file, "--addr", agent.URL}, 0)
	if stdout != "j-00000001\n" {
		t.Errorf("job submit stdout = %q, want the id alone", stdout)
	}
	if stderr != "" {
		t.Errorf("job submit wrote to stderr: %q", stderr)
	}
	want, err := jobspec.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := agent.lastSubmitted(); !reflect.DeepEqual(got, want) {
		t.Errorf("the agent received %+v\nwant the file's job %+v", got, want)
	}

	// From stdin, and --json.
	var out strings.Builder
	code := runWithStdin(t, jobYAML("orders-2"), &out, "job", "submit", "-f", "-", "--json", "--addr", agent.URL)
	if code != 0 || decodeJSON[api.JobSubmitted](t, out.String()).ID != "j-00000002" {
		t.Errorf("job submit -f - --json: exit %d, stdout %q", code, out.String())
	}
}

func TestJobSubmitBadFileExitsTwoNamingTheField(t *testing.T) {
	agent := newJobFake(t)
	for _, tc := range []struct {
		yaml      string
		fragments []string
	}{
		{"name: x\nsource: {volume: data}\ntarget: {volume: data}\nchunk_size: 3000\n", []string{"chunk_size", "line 4"}},
		{"name: x\nsource: {volume: data, path: ../etc}\ntarget: {volume: data}\n", []string{"source.path", ".."}},
		{"name: x\nsorce: {volume: data}\ntarget: {volume: data}\n", []string{"sorce", `"source"`}},
		{"name: x\nsource: {volume: data}\ntarget: {volume: data}\nmode: sync\n", []string{"mode", "sync"}},
	} {
		file := writeJobFile(t, tc.yaml)
		_, stderr := wantExit(t, []string{"job", "submit", "-f", file, "--addr", agent.URL}, 2,
			append([]string{"Error: job " + file + ": "}, tc.fragments...)...)
		if strings.Contains(stderr, "Usage:") {
			t.Errorf("a bad job file printed usage:\n%s", stderr)
		}
	}
	missing := writeJobFile(t, "") + ".nope"
	wantExit(t, []string{"job", "submit", "-f", missing, "--addr", agent.URL}, 2, missing, "cannot read")
	if n := agent.requestCount(); n != 0 {
		t.Errorf("bad job files reached the agent: %d requests", n)
	}
}

func TestJobSubmitRefusedByTheAgent(t *testing.T) {
	agent := newJobFake(t)
	file := writeJobFile(t, strings.Replace(jobYAML("orders"), "volume: data, path: exports", "volume: archive", 1))
	stdout, _ := wantExit(t, []string{"job", "submit", "-f", file, "--addr", agent.URL}, 2,
		`Error: job `+file+`: source.volume: no source agent declares a volume named "archive"`)
	if stdout != "" {
		t.Errorf("a refused job printed %q", stdout)
	}

	ok := writeJobFile(t, jobYAML("paused"))
	wantExit(t, []string{"job", "submit", "-f", ok, "--addr", agent.URL}, 0)
	wantExit(t, []string{"job", "submit", "-f", ok, "--addr", agent.URL}, 2,
		"Error: job "+ok+`: name: job "paused" is already`)
}

func TestJobSubmitWaitExitCodes(t *testing.T) {
	agent := newJobFake(t)
	for _, tc := range []struct {
		name   string
		code   int
		stderr []string
	}{
		{"orders", 0, nil},
		{"fails", 1, []string{"Error: job j-00000002 (fails) failed: 1 file failed: chunk hash mismatch after 5 tries", "(1 file failed; leptonctl job report j-00000002 lists them)"}},
		{"cancelled", 1, []string{"Error: job j-00000003 (cancelled) was cancelled: cancelled by an operator"}},
		{"flaky", 0, []string{"no Raft leader", "retrying", "answers again"}},
		{"paused", 0, []string{"is paused: tgt-1 volume data: disk full, 2.0 MiB more needed", "leptonctl job resume j-00000005"}},
	} {
		file := writeJobFile(t, jobYAML(tc.name))
		stdout, stderr, code := runCLI(t, "job", "submit", "-f", file, "--wait", fast, "--addr", agent.URL)
		if code != tc.code {
			t.Errorf("job %s --wait: exit %d, want %d\nstderr: %s", tc.name, code, tc.code, stderr)
		}
		if strings.Count(stdout, "\n") != 1 || !strings.HasPrefix(stdout, "j-") {
			t.Errorf("job %s --wait: stdout %q, want the id alone", tc.name, stdout)
		}
		for _, f := range tc.stderr {
			if !strings.Contains(stderr, f) {
				t.Errorf("job %s --wait: stderr lacks %q:\n%s", tc.name, f, stderr)
			}
		}
		if tc.code == 0 && strings.Contains(stderr, "Error:") {
			t.Errorf("job %s --wait succeeded with an error:\n%s", tc.name, stderr)
		}
	}
}

// addListed puts three jobs in the fake: one running with awkward names, one
// done, one still scanning.
func addListed(agent *jobFake) time.Time {
	updated := time.Now().Add(-73 * time.Hour)
	agent.add(api.Job{ID: "j-aaaa0001", Name: "orders-to-tencent", State: api.JobRunning,
		FilesTotal: 300, FilesDone: 120, BytesTotal: 4 << 30, BytesDone: 1288490189, WireBytes: 600 << 20,
		Pairs: []api.JobPair{}, Created: updated, Updated: updated})
	agent.add(api.Job{ID: "j-aaaa0002", Name: "logs", State: api.JobDone,
		FilesTotal: 2, FilesDone: 2, BytesTotal: 1536, BytesDone: 1536, WireBytes: 512,
		Pairs: []api.JobPair{}, Created: updated, Updated: updated})
	agent.add(api.Job{ID: "j-aaaa0003", Name: "new", State: api.JobScanning, Pairs: []api.JobPair{}, Created: updated, Updated: updated})
	return updated
}

func TestJobList(t *testing.T) {
	agent := newJobFake(t)
	addListed(agent)
	stdout, _ := wantExit(t, []string{"job", "list", "--addr", agent.URL}, 0)
	want := `ID          NAME               STATE     FILES    BYTES            PROGRESS  UPDATED
j-aaaa0001  orders-to-tencent  running   120/300  1.2 GiB/4.0 GiB  30.0%     3d ago
j-aaaa0002  logs               done      2/2      1.5 KiB/1.5 KiB  100.0%    3d ago
j-aaaa0003  new                scanning  0/0      0 B/0 B          -         3d ago
`
	if stdout != want {
		t.Errorf("job list:\n%s\nwant:\n%s", stdout, want)
	}
	stdout, _ = wantExit(t, []string{"job", "list", "--json", "--addr", agent.URL}, 0)
	jobs := decodeJSON[[]api.Job](t, stdout)
	if len(jobs) != 3 || jobs[0].ID != "j-aaaa0001" || jobs[2].State != api.JobScanning {
		t.Errorf("job list --json = %+v", jobs)
	}

	empty := newJobFake(t)
	if stdout, _ := wantExit(t, []string{"job", "list", "--json", "--addr", empty.URL}, 0); stdout != "[]\n" {
		t.Errorf("job list --json with no jobs = %q, want []", stdout)
	}
}

func TestJobStatus(t *testing.T) {
	agent := newJobFake(t)
	file := writeJobFile(t, jobYAML("fails"))
	wantExit(t, []string{"job", "submit", "-f", file, "--wait", fast, "--addr", agent.URL}, 1)

	stdout, _ := wantExit(t, []string{"job", "status", "j-00000001", "--addr", agent.URL}, 0)
	want := `ID:       j-00000001
Name:     fails
State:    failed
Reason:   1 file failed: chunk hash mismatch after 5 tries
Source:   data:exports on src-1, src-2
Target:   data:in on tgt-1
Files:    3 done of 4, 1 failed, 0 skipped
Bytes:    4.0 MiB of 4.0 MiB (100.0%)
Wire:     2.0 MiB, compression ratio 2.00x
Chunks:   4 done of 4, 4 verified
Retries:  0
Errors:   1
Created:  2025-03-04 05:06:07 UTC
Updated:  2025-03-04 05:06:12 UTC
Ended:    2025-03-04 05:06:12 UTC, after 5s

SENDER  RECEIVER  BYTES    WIRE     RATIO  CHUNKS
src-1   tgt-1     2.0 MiB  1.0 MiB  2.00x  2
src-2   tgt-1     2.0 MiB  1.0 MiB  2.00x  2
`
	if stdout != want {
		t.Errorf("job status:\n%s\nwant:\n%s", stdout, want)
	}

	stdout, _ = wantExit(t, []string{"job", "status", "j-00000001", "--json", "--addr", agent.URL}, 0)
	var keys map[string]any
	if err := json.Unmarshal([]byte(stdout), &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "name", "state", "files_total", "files_done", "bytes_total", "bytes_done", "wire_bytes", "errors"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("job status --json lacks %q:\n%s", k, stdout)
		}
	}
	if j := decodeJSON[api.Job](t, stdout); j.State != api.JobFailed || j.BytesDone != 4<<20 || j.WireBytes != 2<<20 {
		t.Errorf("job status --json = %+v", j)
	}

	wantExit(t, []string{"job", "status", "j-nope", "--addr", agent.URL}, 2, "Error: no job j-nope")
}

func TestStatusListsJobs(t *testing.T) {
	agent := newJobFake(t)
	addListed(agent)
	stdout, _ := wantExit(t, []string{"status", "--addr", agent.URL}, 0)
	want := `Leader: src-1   Term: 3
NAME   SIDE    ADDRESS         STATUS  RAFT      LABELS
src-1  source  127.0.0.1:7946  alive   voter*    cloud=aliyun,zone=hz-b
src-2  source  127.0.0.1:8946  failed  nonvoter  -
tgt-1  target  10.0.0.9:7946   alive   voter     zone=x

ID          NAME               STATE     PROGRESS
j-aaaa0001  orders-to-tencent  running   30.0%
j-aaaa0002  logs               done      100.0%
j-aaaa0003  new                scanning  -
`
	if stdout != want {
		t.Errorf("status with jobs:\n%s\nwant:\n%s", stdout, want)
	}
}

func TestJobActions(t *testing.T) {
	agent := newJobFake(t)
	addListed(agent)
	stdout, _ := wantExit(t, []string{"job", "pause", "j-aaaa0001", "--addr", agent.URL}, 0)
	if stdout != "Paused job j-aaaa0001 (orders-to-tencent); it is paused.\n" {
		t.Errorf("job pause printed %q", stdout)
	}
	// Pausing twice, resuming a running job, cancelling a done one: the
	// agent refuses with 409, a failure.
	wantExit(t, []string{"job", "pause", "j-aaaa0001", "--addr", agent.URL}, 1, "Error: job j-aaaa0001 is paused")
	stdout, _ = wantExit(t, []string{"job", "resume", "j-aaaa0001", "--json", "--addr", agent.URL}, 0)
	if j := decodeJSON[api.Job](t, stdout); j.State != api.JobRunning {
		t.Errorf("job resume --json state = %s", j.State)
	}
	wantExit(t, []string{"job", "resume", "j-aaaa0001", "--addr", agent.URL}, 1, "is running")
	wantExit(t, []string{"job", "cancel", "j-aaaa0002", "--addr", agent.URL}, 1, "is done")
	stdout, _ = wantExit(t, []string{"job", "cancel", "j-aaaa0003", "--addr", agent.URL}, 0)
	if !strings.HasPrefix(stdout, "Cancelled job j-aaaa0003 (new)") {
		t.Errorf("job cancel printed %q", stdout)
	}
	// An unknown job is bad input.
	for _, action := range []string{"pause", "resume", "cancel"} {
		wantExit(t, []string{"job", action, "j-nope", "--addr", agent.URL}, 2, "Error: no job j-nope")
	}
}

func TestJobReportFormats(t *testing.T) {
	agent := newJobFake(t)
	addListed(agent)
	agent.report = api.JobReport{
		Job: api.Job{ID: "j-aaaa0002", Name: "logs", State: api.JobDone, FilesTotal: 5, FilesDone: 3, FilesSkipped: 1, FilesFailed: 1,
			BytesTotal: 3 << 20, BytesDone: 3 << 20, WireBytes: 1 << 20, Pairs: []api.JobPair{}},
		Files: []api.FileReport{
			{Path: "a, b.txt", Kind: "file", Size: 2 << 20, Outcome: api.OutcomeDone, Chunks: 1},
			{Path: "Grüße/日本 語.log", Kind: "file", Size: 1 << 20, Outcome: api.OutcomeDone, Chunks: 1, Retries: 2, Changed: 1, Reason: "modified while being read; sent again"},
			{Path: `say "hi"`, Kind: "dir", Outcome: api.OutcomeDone},
			{Path: "run/app.sock", Kind: "special", Outcome: api.OutcomeSkipped, Reason: "socket: not copied"},
			{Path: "bad\nname", Kind: "file", Size: 10, Outcome: api.OutcomeFailed, Chunks: 1, Retries: 5, Reason: "chunk hash mismatch, 5 tries"},
		},
	}

	stdout, _ := wantExit(t, []string{"job", "report", "j-aaaa0002", "--format", "csv", "--addr", agent.URL}, 0)
	want := `path,size,outcome,chunks,retries,reason
"a, b.txt",2097152,done,1,0,
Grüße/日本 語.log,1048576,done,1,2,modified while being read; sent again
"say ""hi""",0,done,0,0,
run/app.sock,0,skipped,0,0,socket: not copied
"bad
name",10,failed,1,5,"chunk hash mismatch, 5 tries"
`
	if stdout != want {
		t.Errorf("job report --format csv:\n%s\nwant:\n%s", stdout, want)
	}

	// The table aligns by display width: each CJK letter takes two columns.
	stdout, _ = wantExit(t, []string{"job", "report", "j-aaaa0002", "--addr", agent.URL}, 0)
	want = `Job j-aaaa0002 (logs): done. 5 entries: 3 done, 1 failed, 1 skipped.
3 files (1 failed, 1 skipped), 3.0 MiB, wire 1.0 MiB (ratio 3.00x)

PATH               KIND     SIZE     OUTCOME  CHUNKS  RETRIES  REASON
a, b.txt           file     2.0 MiB  done     1       0        -
Grüße/日本 語.log  file     1.0 MiB  done     1       2        modified while being read; sent again
say "hi"           dir      0 B      done     0       0        -
run/app.sock       special  0 B      skipped  0       0        socket: not copied
"bad\nname"        file     10 B     failed   1       5        chunk hash mismatch, 5 tries
`
	if stdout != want {
		t.Errorf("job report:\n%s\nwant:\n%s", stdout, want)
	}

	for _, args := range [][]string{{"--format", "json"}, {"--json"}} {
		stdout, _ = wantExit(t, append([]string{"job", "report", "j-aaaa0002", "--addr", agent.URL}, args...), 0)
		if got := decodeJSON[api.JobReport](t, stdout); !reflect.DeepEqual(got, agent.report) {
			t.Errorf("job report %s = %+v\nwant %+v", args, got, agent.report)
		}
	}
	wantExit(t, []string{"job", "report", "j-aaaa0002", "--format", "xml", "--addr", agent.URL}, 2, "--format must be table, json or csv")
	wantExit(t, []string{"job", "report", "j-nope", "--addr", agent.URL}, 2, "no job j-nope")
}

func TestJobUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"job", "submit"}, "--file (-f) is required"},
		{[]string{"job", "submit", "-f", "x.yaml", "--wait", "--interval", "0s"}, "--interval must be positive"},
		{[]string{"job", "watch"}, "takes one argument, ID; got 0"},
		{[]string{"job", "status", "a", "b"}, "takes one argument, ID; got 2"},
		{[]string{"job", "stats"}, `did you mean "status"?`},
		{[]string{"job", "list", "extra"}, `unexpected argument "extra"`},
	} {
		_, stderr := wantExit(t, tc.args, 2, tc.want)
		if !strings.Contains(stderr, "Usage:") {
			t.Errorf("leptonctl %s: usage error without usage:\n%s", strings.Join(tc.args, " "), stderr)
		}
	}
}

func TestJobIDCompletion(t *testing.T) {
	agent := newJobFake(t)
	addListed(agent)
	stdout, _, code := runCLI(t, "__complete", "job", "watch", "--addr", agent.URL, "")
	if code != 0 || !strings.HasPrefix(stdout, "j-aaaa0001\torders-to-tencent (running)\n") {
		t.Errorf("completion of job watch: exit %d, %q", code, stdout)
	}
}

// runWithStdin runs leptonctl with stdin reading input; stderr is dropped.
func runWithStdin(t *testing.T, input string, stdout *strings.Builder, args ...string) int {
	t.Helper()
	var stderr strings.Builder
	code := runWithInput(args, strings.NewReader(input), stdout, &stderr)
	if code != 0 {
		t.Logf("stderr: %s", stderr.String())
	}
	return code
}
