package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/manifest"
	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/internal/testcluster"
	"github.com/leptonmesh/lepton/internal/testtree"
	"github.com/leptonmesh/lepton/transport"
)

// rogueCall is a leader call as it travels between agents (cluster's
// leaderRequest and leaderReply): what a member that holds a valid
// certificate can put on the wire, whatever its own leptond would send.
type rogueCall struct {
	Token string `json:"token,omitempty"`
	Body  any    `json:"body,omitempty"`
}

type rogueReply struct {
	Status int             `json:"status,omitempty"`
	Error  string          `json:"error,omitempty"`
	Body   json.RawMessage `json:"body,omitempty"`
}

// rogueClient speaks the real transport with the certificate of agent
// name, a member of c: a compromised agent, or one whose operator means harm.
type rogueClient struct {
	t  *testing.T
	c  *testcluster.Cluster
	ep *transport.Endpoint
}

func newRogueClient(t *testing.T, c *testcluster.Cluster, a *testcluster.Agent) *rogueClient {
	t.Helper()
	tls := filepath.Join(a.Dir, "tls")
	ep := endpointAs(t, c, filepath.Join(tls, a.Spec.Name+".pem"), filepath.Join(tls, a.Spec.Name+"-key.pem"))
	return &rogueClient{t: t, c: c, ep: ep}
}

// addrOf is an agent's QUIC address.
func (r *rogueClient) addrOf(a *testcluster.Agent) raft.ServerAddress {
	return raft.ServerAddress(net.JoinHostPort(a.IP, strconv.Itoa(a.QUICPort)))
}

// raft is a hashicorp/raft network transport over the rogue's QUIC
// endpoint, to send real Raft RPCs to agent to.
func (r *rogueClient) raft(to *testcluster.Agent) *raft.NetworkTransport {
	layer := r.ep.RaftLayer(r.ep.Addr(), func(string) (string, error) { return to.Spec.Name, nil }, nil)
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: layer, MaxPool: 1,
		Timeout: 5 * time.Second, Logger: hclog.NewNullLogger()})
	r.t.Cleanup(func() { trans.Close() })
	return trans
}

// call sends method to agent to with the given token and body and returns
// the status it answered with (200 for success).
func (r *rogueClient) call(to *testcluster.Agent, method, token string, body any) (int, string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var reply rogueReply
	addr := net.JoinHostPort(to.IP, strconv.Itoa(to.QUICPort))
	if err := r.ep.Call(ctx, addr, to.Spec.Name, method, rogueCall{Token: token, Body: body}, &reply); err != nil {
		r.t.Fatalf("%s to %s: %v", method, to.Spec.Name, err)
	}
	if reply.Error != "" {
		return reply.Status, reply.Error
	}
	return http.StatusOK, string(reply.Body)
}

// refused asserts a call is answered 403 with a message naming why.
func (r *rogueClient) refused(to *testcluster.Agent, method, token string, body any, why string) {
	r.t.Helper()
	status, msg := r.call(to, method, token, body)
	if status != http.StatusForbidden || !strings.Contains(msg, why) {
		r.t.Errorf("%s from a rogue member: status %d %q; want 403 saying %q", method, status, msg, why)
	}
}

// TestRogueMemberIsRefused: an agent holding a valid certificate of the
// cluster CA tries every call its role does not allow, over the real
// transport; each is refused, logged and counted, and neither the plan
// nor the target tree changes. Then a rogue scanner sends a manifest whose
// path climbs out of the job's directory: the job fails with the reason,
// and nothing lands outside it.
func TestRogueMemberIsRefused(t *testing.T) {
	c := testcluster.New(t)
	srcVol, dstVol, dst2, rogueVol := filepath.Join(c.Dir, "srcvol"), filepath.Join(c.Dir, "dstvol"),
		filepath.Join(c.Dir, "dst2"), filepath.Join(c.Dir, "roguevol")
	mkdirs(t, filepath.Join(srcVol, "src"), dstVol, dst2, filepath.Join(rogueVol, "src"))
	if err := testtree.Mixed(filepath.Join(srcVol, "src"), 2<<20, 11); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rogueVol, "escaped"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rogueVol, "src", "a.txt"), []byte("a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vol := func(name, path string) []map[string]any { return []map[string]any{{"name": name, "path": path}} }
	drills := map[string]any{"drills": true} // so a refused drill is refused for the token alone
	src := c.Add(testcluster.Spec{Name: "src-1", Side: "source", BootstrapExpect: 3, Volumes: vol("data", srcVol), Override: drills})
	tgt1 := c.Add(testcluster.Spec{Name: "tgt-1", Side: "target", BootstrapExpect: 3, Volumes: vol("data", dstVol)})
	tgt2 := c.Add(testcluster.Spec{Name: "tgt-2", Side: "target", BootstrapExpect: 3, Volumes: vol("data", dst2),
		Override: drills})
	rogue := c.Add(testcluster.Spec{Name: "rogue", Side: "source", NotServer: true, Volumes: vol("rv", rogueVol),
		Rogue: "manifest-escape"})
	c.WaitForLeader(60*time.Second, "src-1", "tgt-1", "tgt-2")
	c.WaitFor(30*time.Second, "rogue in raft", func() string {
		ms, err := c.MemberStatus(src)
		if err != nil {
			return err.Error()
		}
		if ms["rogue"].Raft == api.RaftNone {
			return testcluster.Describe(ms)
		}
		return ""
	})

	// A job that waits: its only receiver is down, so its units stay
	// pending while the rogue claims them written.
	tgt1.Kill()
	c.WaitFor(30*time.Second, "tgt-1 failed", func() string {
		ms, _ := c.MemberStatus(src)
		if ms["tgt-1"].Status != api.StatusFailed {
			return testcluster.Describe(ms)
		}
		return ""
	})
	leaderName := c.WaitForLeader(30*time.Second, "src-1", "tgt-2")
	leader := c.Agent(leaderName)
	js := spec("victim", "data", "data")
	js.Source.Path, js.Target.Path, js.Target.Agent = "src", "dst", "tgt-1"
	id := submit(t, src, js)
	var before api.Job
	c.WaitFor(30*time.Second, "the scan, then a reason to wait", func() string {
		j, err := src.Client().Job(context.Background(), id)
		if err != nil || j.FilesTotal == 0 || !strings.Contains(j.Reason, "waiting") {
			return "not scanned and waiting yet"
		}
		before = j
		return ""
	})

	r := newRogueClient(t, c, rogue)
	refusedBefore := refusedProgress(t, c, leader)

	// Reports of work the rogue never had: every unit written, read back
	// and verified by tgt-1, every file in place, the metadata done.
	forged := plan.Progress{ID: id, MetaDone: true}
	for u := range uint64(before.UnitsTotal) {
		forged.Done = append(forged.Done, plan.UnitWritten{Unit: u, Write: u + 1, Hash: 1, Sender: "src-1", Receiver: "tgt-1", ReadBack: true})
		forged.Verified = append(forged.Verified, plan.UnitVerify{Unit: u, OK: true})
	}
	for f := range uint64(before.FilesTotal) {
		forged.Finalized = append(forged.Finalized, plan.FileResult{File: f, OK: true})
		forged.Vanished = append(forged.Vanished, plan.FileResult{File: f, Reason: "gone"})
	}
	r.refused(leader, "job.progress", "", forged, "receiver")
	want := int(before.UnitsTotal)*2 + int(before.FilesTotal)*2 + 1
	if got := refusedProgress(t, c, leader) - refusedBefore; got != float64(want) {
		t.Errorf("refused reports counted: %v, want %d", got, want)
	}

	// A manifest batch for a job it does not scan, with a path that escapes.
	r.refused(leader, "job.manifest", "", plan.Manifest{ID: id, Seq: 1, Final: true,
		Entries: []manifest.Entry{{Path: "a/../../x", Kind: manifest.KindFile, Size: 6, Mode: 0o644}}}, "scanned by src-1")
	// Operator calls without the token, or with a wrong one.
	other := spec("intruder", "data", "data")
	other.Target.Agent = "tgt-2"
	r.refused(leader, "job.submit", "", other, "no API token")
	r.refused(leader, "job.submit", "guess", other, "does not match")
	r.refused(leader, "job.state", "", plan.JobStateChange{ID: id, State: plan.JobCancelled, Reason: "bye"}, "no API token")
	r.refused(leader, "job.note", "", plan.Note{ID: id, Reason: "all is well"}, "not an agent of job")
	r.refused(leader, "cluster.force-leave", "", map[string]string{"name": "tgt-1"}, "no API token")
	r.refused(leader, "cluster.leave", "", map[string]string{"name": "tgt-2"}, "only on its own behalf")
	r.refused(leader, "drill.transfer-leader", "", struct{}{}, "no API token")
	// A crash drill goes to the agent that would crash: tgt-2 allows
	// drills, but only with the operator's token.
	status, msg := r.call(tgt2, "drill.crash", "", struct{}{})
	if status != http.StatusForbidden || !strings.Contains(msg, "no API token") {
		t.Errorf("drill.crash without the token: %d %q", status, msg)
	}

	// Raft from a member that is no voter: an AppendEntries with a huge
	// term that would cancel the job on a follower, and a RequestVote that
	// would depose the leader. Both streams are refused before Raft reads them.
	follower := src
	if leaderName == "src-1" {
		follower = tgt2
	}
	cancel, err := plan.Encode(plan.CmdJobState, plan.JobStateChange{ID: id, State: plan.JobCancelled, Reason: "rogue"})
	if err != nil {
		t.Fatal(err)
	}
	const hugeTerm = 1 << 40
	rafted := r.raft(follower)
	if err := rafted.AppendEntries(raft.ServerID(follower.Spec.Name), r.addrOf(follower), &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ID: []byte("rogue"), Addr: []byte(r.ep.Addr().String())}, Term: hugeTerm,
		PrevLogEntry: 0, Entries: []*raft.Log{{Index: 1 << 30, Term: hugeTerm, Type: raft.LogCommand, Data: cancel}},
		LeaderCommitIndex: 1 << 30}, &raft.AppendEntriesResponse{}); err == nil {
		t.Error("a non-voter's AppendEntries was answered")
	}
	if err := r.raft(leader).RequestVote(raft.ServerID(leaderName), r.addrOf(leader), &raft.RequestVoteRequest{
		RPCHeader: raft.RPCHeader{ID: []byte("rogue"), Addr: []byte(r.ep.Addr().String())}, Term: hugeTerm,
		LastLogIndex: 1 << 30, LastLogTerm: hugeTerm}, &raft.RequestVoteResponse{}); err == nil {
		t.Error("a non-voter's RequestVote was answered")
	}
	for _, a := range []*testcluster.Agent{follower, leader} {
		if !regexp.MustCompile(`raft stream refused.*peer=rogue`).MatchString(a.Log()) {
			t.Errorf("%s's log has no refused raft stream from rogue", a.Spec.Name)
		}
		if peers, err := a.Client().RaftPeers(context.Background()); err != nil || peers.Term >= hugeTerm {
			t.Errorf("%s took the rogue's term: %+v %v", a.Spec.Name, peers, err)
		}
	}

	// Nothing changed: the job still waits with nothing done, tgt-2 runs,
	// the leader leads, tgt-1 is still in the Raft configuration.
	time.Sleep(time.Second)
	after, err := src.Client().Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if after.State != before.State || after.UnitsDone != 0 || after.UnitsVerified != 0 || after.FilesDone != 0 ||
		after.FilesSkipped != before.FilesSkipped || !strings.Contains(after.Reason, "waiting") {
		t.Errorf("the forged calls changed the job: before %+v\nafter %+v", before, after)
	}
	if !tgt2.Running() {
		t.Error("tgt-2 crashed on a drill without the token")
	}
	if now := c.WaitForLeader(10*time.Second, "src-1", "tgt-2"); now != leaderName {
		t.Errorf("leadership moved from %s to %s", leaderName, now)
	}
	peers, err := src.Client().RaftPeers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(peersString(peers), "tgt-1") {
		t.Errorf("tgt-1 was forced out: %+v", peers.Servers)
	}
	log := leader.Log()
	for _, m := range []string{"job.progress", "job.submit", "job.state", "job.note", "cluster.force-leave", "drill.transfer-leader"} {
		if !regexp.MustCompile(`peer call refused.*rogue.*` + regexp.QuoteMeta(m)).MatchString(log) {
			t.Errorf("the leader's log has no refusal of %s by rogue", m)
		}
	}

	// The job, left alone, ends done and byte-identical.
	tgt1.Start()
	if j := waitJob(t, c, src, id, 90*time.Second); j.State != api.JobDone {
		t.Fatalf("job ended %s: %s", j.State, j.Reason)
	}
	if diffs := testtree.Compare(filepath.Join(srcVol, "src"), filepath.Join(dstVol, "dst"), testtree.Options{}); len(diffs) > 0 {
		t.Errorf("trees differ:\n%s", strings.Join(diffs, "\n"))
	}

	// The rogue scans a job of its own and slips in a path that climbs out
	// of the job's directory: the leader refuses the batch, the job fails
	// saying why, and nothing is written beside the target directory.
	rs := spec("from-rogue", "rv", "data")
	rs.Source.Path, rs.Target.Path, rs.Target.Agent = "src", "in", "tgt-2"
	rid := submit(t, src, rs)
	j := waitJob(t, c, src, rid, 60*time.Second)
	if j.State != api.JobFailed || !strings.Contains(j.Reason, "escapes") || j.FilesTotal != 0 {
		t.Errorf("rogue scanner's job: %s (%d files): %s", j.State, j.FilesTotal, j.Reason)
	}
	_ = filepath.WalkDir(dst2, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(p, ".lepton") {
			t.Errorf("the rogue's job wrote %s", p)
		}
		return nil
	})
}

// refusedProgress is how many reports an agent refused (0 before the first).
func refusedProgress(t *testing.T, c *testcluster.Cluster, a *testcluster.Agent) float64 {
	v, _ := scrape(t, c, a, `lepton_peer_calls_refused_total{method="job.progress"}`)
	return v
}

func peersString(p api.RaftPeers) string {
	var names []string
	for _, s := range p.Servers {
		names = append(names, s.ID)
	}
	return strings.Join(names, ",")
}

// TestOverlappingTargetsAreRefused: a job whose target directory lies
// inside (or holds) a running job's is refused at submit, exit 2, naming
// the running job.
func TestOverlappingTargetsAreRefused(t *testing.T) {
	c := testcluster.New(t)
	src, dst := filepath.Join(c.Dir, "src"), filepath.Join(c.Dir, "dst")
	mkdirs(t, src, dst)
	if err := testtree.Mixed(src, 1<<20, 3); err != nil {
		t.Fatal(err)
	}
	s, d := pair(t, c, src, dst)
	d.Kill() // the first job waits for its receiver, so it is still running
	first := spec("first", "data", "data")
	first.Target.Path = "tree"
	id := submit(t, s, first)
	dir := t.TempDir()
	for _, p := range []string{"tree/sub", ".", "tree"} {
		file := writeJob(t, dir, "second.yaml", "name: second\nsource: {volume: data}\ntarget: {volume: data, path: \""+p+"\"}\n")
		_, stderr, code := s.Ctl("job", "submit", "-f", file)
		if code != 2 || !strings.Contains(stderr, id) || !strings.Contains(stderr, "overlaps") {
			t.Errorf("second job into %q: exit %d, %s", p, code, stderr)
		}
	}
	file := writeJob(t, dir, "beside.yaml", "name: beside\nsource: {volume: data}\ntarget: {volume: data, path: \"elsewhere\"}\n")
	if out, stderr, code := s.Ctl("job", "submit", "-f", file); code != 0 {
		t.Errorf("a job beside the first was refused: exit %d, %s%s", code, out, stderr)
	}
}
