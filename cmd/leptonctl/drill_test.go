package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

const drillToken = "s3cret"

// leaderCrash is a leader failover as a LAN cluster shows it: the dying
// leader's last commit lands, gossip suspects then fails it, the followers
// lose and then elect a leader, and transfers resume.
var leaderCrash = drillScript{commitAt: 1, suspectAt: 2, leaderGone: 3, failedAt: 4, newLeaderAt: 5, newLeader: "src-2", resumeAt: 7}

// drillJSON runs a drill with --json and decodes the report, checking
// every documented key is present.
func drillJSON(t *testing.T, code int, args ...string) drillReport {
	t.Helper()
	stdout, _ := wantExit(t, append(args, "--json"), code)
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &keys); err != nil {
		t.Fatalf("drill --json is not a JSON object: %v\n%s", err, stdout)
	}
	for _, k := range []string{"drill", "target", "polled", "polled_addr", "old_leader", "new_leader",
		"term_before", "term_after", "detect_ms", "new_leader_ms", "resumed_ms", "job_id",
		"progress_before", "progress_after", "bytes_resent", "resent_share", "on_track", "completed", "notes"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("drill --json lacks key %q:\n%s", k, stdout)
		}
	}
	if len(keys) != 19 {
		t.Errorf("drill --json has %d keys, want the 19 documented ones:\n%s", len(keys), stdout)
	}
	return decodeJSON[drillReport](t, stdout)
}

// within checks a measured time is present and inside the drill's bound.
func within(t *testing.T, what string, ms *int64, timeoutMS int64) int64 {
	t.Helper()
	if ms == nil {
		t.Fatalf("%s was not measured", what)
	}
	if *ms < 0 || *ms > timeoutMS {
		t.Errorf("%s = %d ms, outside 0..%d", what, *ms, timeoutMS)
	}
	return *ms
}

func hasNote(r drillReport, fragment string) bool {
	return slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, fragment) })
}

func TestDrillKillLeaderWatchesFromAnotherAgent(t *testing.T) {
	f := newDrillFake(t, drillToken, leaderCrash, true)
	// --addr is the leader, which the drill crashes: it must watch from another agent.
	r := drillJSON(t, 0, "drill", "kill-leader", "--addr", f.url("src-1"), "--token", drillToken, "--timeout", "20s")

	if got := f.crashRequests(); !slices.Equal(got, []string{"src-1"}) {
		t.Fatalf("crash requests = %v, want [src-1]", got)
	}
	if r.Drill != "kill-leader" || r.Target != "src-1" || r.OldLeader != "src-1" {
		t.Errorf("drill %q target %q old leader %q", r.Drill, r.Target, r.OldLeader)
	}
	if r.Polled == "src-1" || r.PolledAddr != f.url(r.Polled) || !hasNote(r, "watched from "+r.Polled) {
		t.Errorf("polled %s at %s (notes %q); want another agent than the crashed src-1, at its api_addr", r.Polled, r.PolledAddr, r.Notes)
	}
	if r.NewLeader != "src-2" || r.TermBefore != 3 || r.TermAfter != 4 {
		t.Errorf("leader %s → %s, term %d → %d; want src-1 → src-2, 3 → 4", r.OldLeader, r.NewLeader, r.TermBefore, r.TermAfter)
	}
	detect := within(t, "detect_ms", r.DetectMS, 20000)
	leader := within(t, "new_leader_ms", r.NewLeaderMS, 20000)
	resumed := within(t, "resumed_ms", r.ResumedMS, 20000)
	// Polls are in order: suspect (2nd poll) before the new leader (5th)
	// before the resumed transfers (7th). The dying leader's commit on the
	// 1st poll is not taken for resumed transfers.
	if detect > leader || leader > resumed {
		t.Errorf("detect %d ms, new leader %d ms, resumed %d ms: out of the order they happened", detect, leader, resumed)
	}
	if n := f.statusRequests(r.Polled); n < leaderCrash.resumeAt {
		t.Errorf("the drill ended after %d polls, before transfers resumed on poll %d", n, leaderCrash.resumeAt)
	}

	if r.JobID != "j-0000001" || r.ProgressBefore == nil || r.ProgressAfter == nil {
		t.Fatalf("job %q, progress %+v → %+v", r.JobID, r.ProgressBefore, r.ProgressAfter)
	}
	if r.ProgressBefore.BytesDone != 4<<20 || r.ProgressAfter.BytesDone != 4<<20+512<<10 || r.ProgressAfter.BytesTotal != drillJobTotal {
		t.Errorf("progress %+v → %+v; want 4 MiB → 4.5 MiB of 16 MiB", *r.ProgressBefore, *r.ProgressAfter)
	}
	if r.BytesResent != 64<<10 || r.ResentShare != float64(64<<10)/drillJobTotal {
		t.Errorf("bytes resent %d (share %v); want 64 KiB, %v", r.BytesResent, r.ResentShare, float64(64<<10)/drillJobTotal)
	}
	if !r.OnTrack || !r.Completed {
		t.Errorf("on track %v, completed %v; notes %q", r.OnTrack, r.Completed, r.Notes)
	}
}

func TestDrillKillLeaderText(t *testing.T) {
	f := newDrillFake(t, drillToken, leaderCrash, true)
	stdout, _ := wantExit(t, []string{"drill", "kill-leader", "--addr", f.url("src-1"), "--token", drillToken}, 0)
	for _, want := range []string{
		"Drill:              kill-leader, src-1 crashed (SIGKILL)\n",
		"Watched from:       src-2 (" + f.url("src-2") + ")\n",
		"Leader:             src-1 → src-2, term 3 → 4\n",
		"(src-1 suspect on src-2)\n",
		"(src-2)\n",
		"Job:                j-0000001 (orders)\n",
		"Progress:           4.0 MiB of 16.0 MiB (25.0%, running) → 4.5 MiB of 16.0 MiB (28.1%, running)\n",
		"Bytes sent again:   64.0 KiB (0.39% of the job)\n",
		"On track:           yes\n",
		"Notes:\n  - watched from src-2",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
}

func TestDrillKillFollower(t *testing.T) {
	script := drillScript{suspectAt: 1, failedAt: 2, rejoinAt: 3, resumeAt: 4}
	f := newDrillFake(t, drillToken, script, true)
	// --addr is the leader, alive throughout: the drill watches from it.
	args := []string{"drill", "kill", "src-2", "--addr", f.url("src-1"), "--token", drillToken}
	r := drillJSON(t, 0, args...)
	if got := f.crashRequests(); !slices.Equal(got, []string{"src-2"}) {
		t.Fatalf("crash requests = %v, want [src-2]", got)
	}
	if r.Drill != "kill" || r.Target != "src-2" || r.Polled != "src-1" || r.PolledAddr != f.url("src-1") {
		t.Errorf("drill %s of %s watched from %s at %s; want kill of src-2 from src-1 at --addr", r.Drill, r.Target, r.Polled, r.PolledAddr)
	}
	within(t, "detect_ms", r.DetectMS, 60000)
	within(t, "resumed_ms", r.ResumedMS, 60000)
	if r.NewLeaderMS != nil || r.NewLeader != "" || !hasNote(r, "leader unchanged: src-1") {
		t.Errorf("new leader %q after %v ms, notes %q; want n/a, leader unchanged: src-1", r.NewLeader, r.NewLeaderMS, r.Notes)
	}
	if !hasNote(r, "src-2 was seen suspect, then alive again") {
		t.Errorf("notes %q do not say src-2 rejoined", r.Notes)
	}
	if !r.OnTrack || !r.Completed {
		t.Errorf("on track %v, completed %v; notes %q", r.OnTrack, r.Completed, r.Notes)
	}

	g := newDrillFake(t, drillToken, script, true)
	stdout, _ := wantExit(t, []string{"drill", "kill", "src-2", "--addr", g.url("src-1"), "--token", drillToken}, 0)
	if !strings.Contains(stdout, "New leader:         n/a (leader unchanged: src-1)\n") {
		t.Errorf("text report does not say the leader is unchanged:\n%s", stdout)
	}
}

func TestDrillTransferLeader(t *testing.T) {
	f := newDrillFake(t, drillToken, drillScript{newLeaderAt: 1, newLeader: "src-2", resumeAt: 2}, true)
	// The leader hands over gracefully and stays up: it may be watched from.
	r := drillJSON(t, 0, "drill", "transfer-leader", "--addr", f.url("src-1"), "--token", drillToken)
	if len(f.crashRequests()) != 0 {
		t.Fatalf("transfer-leader crashed %v", f.crashRequests())
	}
	if r.Target != "src-1" || r.Polled != "src-1" || r.NewLeader != "src-2" || r.DetectMS != nil {
		t.Errorf("target %s polled %s new leader %s detect %v; want src-1, src-1, src-2, n/a", r.Target, r.Polled, r.NewLeader, r.DetectMS)
	}
	within(t, "new_leader_ms", r.NewLeaderMS, 60000)
	within(t, "resumed_ms", r.ResumedMS, 60000)
	if !hasNote(r, "src-1 handed leadership to src-2 (term 4)") || !r.OnTrack || !r.Completed {
		t.Errorf("on track %v, completed %v, notes %q", r.OnTrack, r.Completed, r.Notes)
	}
}

func TestDrillWithoutJob(t *testing.T) {
	f := newDrillFake(t, drillToken, leaderCrash, false)
	r := drillJSON(t, 0, "drill", "kill-leader", "--addr", f.url("tgt-1"), "--token", drillToken)
	if r.Polled != "tgt-1" || r.JobID != "" || r.ProgressBefore != nil || r.ResumedMS != nil || r.BytesResent != 0 {
		t.Errorf("polled %s, job %q, progress %v, resumed %v, resent %d", r.Polled, r.JobID, r.ProgressBefore, r.ResumedMS, r.BytesResent)
	}
	if !r.OnTrack || !r.Completed || !hasNote(r, "no job running") || r.NewLeader != "src-2" {
		t.Errorf("on track %v, completed %v, new leader %q, notes %q", r.OnTrack, r.Completed, r.NewLeader, r.Notes)
	}
}

func TestDrillTimesOut(t *testing.T) {
	// No leader is ever elected, and the only commit is the dying leader's.
	f := newDrillFake(t, drillToken, drillScript{commitAt: 1, suspectAt: 2, failedAt: 3, leaderGone: 3}, true)
	args := []string{"drill", "kill-leader", "--addr", f.url("src-1"), "--token", drillToken, "--timeout", "400ms", "--json"}
	stdout, _ := wantExit(t, args, 1, "did not complete within 400ms", "no leader other than src-1", "transfers did not resume")
	r := decodeJSON[drillReport](t, stdout)
	within(t, "detect_ms", r.DetectMS, 400)
	if r.Completed || r.NewLeaderMS != nil || r.ResumedMS != nil || r.NewLeader != "" {
		t.Errorf("completed %v, new leader %q after %v ms, resumed %v ms; want an incomplete drill", r.Completed, r.NewLeader, r.NewLeaderMS, r.ResumedMS)
	}
	// The dying leader's last commit moved the job on, but nothing after it did.
	if r.ProgressAfter == nil || r.ProgressAfter.BytesDone <= r.ProgressBefore.BytesDone || r.OnTrack {
		t.Errorf("progress %+v → %+v, on track %v; want the last commit seen and the job not on track", r.ProgressBefore, r.ProgressAfter, r.OnTrack)
	}
	if !hasNote(r, "did not happen: no leader other than src-1") {
		t.Errorf("notes %q do not say what did not happen", r.Notes)
	}
}

func TestDrillJobOffTrack(t *testing.T) {
	f := newDrillFake(t, drillToken, drillScript{suspectAt: 1, leaderGone: 1, newLeaderAt: 2, newLeader: "tgt-1", jobFailsAt: 3}, true)
	args := []string{"drill", "kill-leader", "--addr", f.url("src-2"), "--token", drillToken, "--json"}
	stdout, _ := wantExit(t, args, 1, "not on track", "is failed: tgt-1 volume data: disk full")
	r := decodeJSON[drillReport](t, stdout)
	if r.OnTrack || !r.Completed || r.ProgressAfter == nil || r.ProgressAfter.State != "failed" {
		t.Errorf("on track %v, completed %v, progress after %+v", r.OnTrack, r.Completed, r.ProgressAfter)
	}
}

func TestDrillRefused(t *testing.T) {
	f := newDrillFake(t, drillToken, leaderCrash, true)
	// tgt-1's config does not allow drills: 403, exit 1 with its message.
	stdout, _ := wantExit(t, []string{"drill", "kill", "tgt-1", "--addr", f.url("src-1"), "--token", drillToken}, 1,
		"drills are off on this agent", "drills: true")
	wantExit(t, []string{"drill", "kill", "nope", "--addr", f.url("src-1"), "--token", drillToken}, 2, "no member nope")
	wantExit(t, []string{"drill", "kill-leader", "--job", "j-404", "--addr", f.url("src-1"), "--token", drillToken}, 2, "no job j-404")
	if stdout != "" || len(f.crashRequests()) != 0 {
		t.Errorf("a refused drill printed %q and crashed %v", stdout, f.crashRequests())
	}

	// Agents without an API token refuse every drill.
	open := newDrillFake(t, "", leaderCrash, true)
	wantExit(t, []string{"drill", "kill-leader", "--addr", open.url("tgt-1")}, 1, "drills need an API token")
	wantExit(t, []string{"drill", "transfer-leader", "--addr", open.url("tgt-1")}, 1, "drills need an API token")
}

func TestDrillRefusesWithoutAnAgentToWatchFrom(t *testing.T) {
	f := newDrillFake(t, drillToken, leaderCrash, true)
	f.mu.Lock()
	f.down["src-2"], f.down["tgt-1"] = true, true
	f.mu.Unlock()
	wantExit(t, []string{"drill", "kill-leader", "--addr", f.url("src-1"), "--token", drillToken}, 1,
		"no other agent's API answers", "point --addr at another agent", "Nothing was crashed")
	if got := f.crashRequests(); len(got) != 0 {
		t.Errorf("the drill crashed %v although it had no agent to watch from", got)
	}
}

func TestDrillRefusesAJobNotInProgress(t *testing.T) {
	f := newDrillFake(t, drillToken, leaderCrash, true)
	f.mu.Lock()
	f.job.State = "paused"
	f.mu.Unlock()
	wantExit(t, []string{"drill", "kill-leader", "--job", "j-0000001", "--addr", f.url("src-1"), "--token", drillToken}, 2,
		"is paused", "leptonctl job resume j-0000001")
	f.mu.Lock()
	f.job.State = "done"
	f.mu.Unlock()
	wantExit(t, []string{"drill", "kill-leader", "--job", "j-0000001", "--addr", f.url("src-1"), "--token", drillToken}, 2, "is done")
	if got := f.crashRequests(); len(got) != 0 {
		t.Errorf("crashed %v for a job not in progress", got)
	}
}

func TestDrillUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"drill", "bogus"}, `unknown command "bogus" for "leptonctl drill"`},
		{[]string{"drill", "kill"}, "takes one argument, NODE; got 0"},
		{[]string{"drill", "kill", "a", "b"}, "takes one argument, NODE; got 2"},
		{[]string{"drill", "kill-leader", "extra"}, `unexpected argument "extra"`},
		{[]string{"drill", "transfer-leader", "--timeout", "0s"}, "--timeout must be positive"},
	} {
		wantExit(t, tc.args, 2, tc.want)
	}
	stdout, _ := wantExit(t, []string{"drill", "--help"}, 0)
	for _, key := range []string{"detect_ms", "new_leader_ms", "resumed_ms", "resent_share", "on_track", "notes"} {
		if !strings.Contains(stdout, key) {
			t.Errorf("drill --help does not document the JSON key %s", key)
		}
	}
}

func TestMemberURL(t *testing.T) {
	for _, tc := range []struct{ base, apiAddr, want string }{
		{"http://10.0.0.5:7948", "0.0.0.0:7949", "http://10.0.0.5:7949"},
		{"https://agent.example:7948", "[::]:7948", "https://agent.example:7948"},
		{"http://10.0.0.5:7948", "127.0.0.1:7950", "http://127.0.0.1:7950"},
		{"http://10.0.0.5:7948", "[fd00::2]:7948", "http://[fd00::2]:7948"},
	} {
		got, err := memberURL(tc.base, tc.apiAddr)
		if err != nil || got != tc.want {
			t.Errorf("memberURL(%q, %q) = %q, %v; want %q", tc.base, tc.apiAddr, got, err, tc.want)
		}
	}
	if _, err := memberURL("http://h:1", "no-port"); err == nil {
		t.Error("memberURL accepted an api_addr without a port")
	}
}
