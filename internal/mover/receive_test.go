package mover

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/manifest"
	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/internal/volume"
	"github.com/leptonmesh/lepton/transport"
)

// receiverUnderTest is a mover on tgt-1 with a plan holding one running
// job (src-1 → tgt-1) of a 10-byte file (unit 0) and a file of two chunks
// (units 1 and 2), and a real target volume.
func receiverUnderTest(t *testing.T) (*Mover, *bytes.Buffer, string) {
	t.Helper()
	fsm := plan.NewFSM()
	apply := func(ct plan.CommandType, v any) {
		data, err := plan.Encode(ct, v)
		if err != nil {
			t.Fatal(err)
		}
		if res := fsm.Apply(data); res != nil {
			t.Fatalf("apply %d: %v", ct, res)
		}
	}
	spec := jobspec.Defaults()
	spec.Name, spec.Source.Volume, spec.Target.Volume = "j", "data", "data"
	apply(plan.CmdJobSubmit, plan.Job{ID: "j-1", Spec: spec, State: plan.JobScanning, Sources: []string{"src-1"}, Targets: []string{"tgt-1"}, Lead: "tgt-1"})
	apply(plan.CmdManifest, plan.Manifest{ID: "j-1", Entries: []manifest.Entry{
		{Path: "a.txt", Kind: manifest.KindFile, Size: 10, Mode: 0o640, MtimeNs: 1_500_000_000_123_456_789},
		{Path: "big.bin", Kind: manifest.KindFile, Size: 2 * jobspec.DefaultChunkSize, Mode: 0o644}}, Final: true})
	apply(plan.CmdAssign, plan.Assign{ID: "j-1", Senders: []string{"src-1"}, Receivers: []string{"tgt-1"}})

	dir := t.TempDir()
	v, err := volume.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	m := &Mover{log: log, name: "tgt-1", fsm: fsm, codec: transport.NewCodec(), volumes: map[string]*volume.Volume{"data": v},
		metrics: newMoverMetrics(), held: map[unitRef]hold{}, busy: map[string]time.Time{}}
	m.reports = newReporter(nil, log)
	return m, &logs, dir
}

func chunk(job string, file uint64, data []byte) (*transport.ChunkHeader, []byte) {
	h := &transport.ChunkHeader{Job: job, Unit: 0, Files: []transport.FilePart{{File: file, Off: 0, Len: int64(len(data))}},
		RawLen: uint32(len(data)), Hash: transport.Hash(data), Comp: transport.CompressNone, WireLen: uint32(len(data))}
	return h, data
}

func TestReceiverWritesAChunkOfABigFileIntoTheTempFileOnly(t *testing.T) {
	m, _, dir := receiverUnderTest(t)
	data := bytes.Repeat([]byte("x"), jobspec.DefaultChunkSize)
	h := &transport.ChunkHeader{Job: "j-1", Unit: 1, Files: []transport.FilePart{{File: 1, Off: 0, Len: int64(len(data))}},
		RawLen: uint32(len(data)), Hash: transport.Hash(data), Comp: transport.CompressNone, WireLen: uint32(len(data))}
	var raw []byte
	if ack := m.accept("src-1", h, data, &raw); !ack.OK {
		t.Fatalf("good chunk refused: %+v", ack)
	}
	if got, err := os.ReadFile(filepath.Join(dir, volume.TempRel("j-1", 1))); err != nil || !bytes.Equal(got[:len(data)], data) {
		t.Errorf("temp file: %d bytes, %v", len(got), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "big.bin")); !os.IsNotExist(err) {
		t.Errorf("the file is visible at its final path before its last chunk is in: %v", err)
	}
	if p := m.reports.pending["j-1"]; len(p.Done) != 1 || len(p.Done[0].Placed) != 0 {
		t.Errorf("report %+v; want the unit written and no file placed", p)
	}
}

func TestReceiverPutsAFileWholeInOneChunkInPlaceAtOnce(t *testing.T) {
	m, _, dir := receiverUnderTest(t)
	var raw []byte
	h, payload := chunk("j-1", 0, []byte("0123456789"))
	if ack := m.accept("src-1", h, payload, &raw); !ack.OK {
		t.Fatalf("good chunk refused: %+v", ack)
	}
	final := filepath.Join(dir, "a.txt")
	if got, err := os.ReadFile(final); err != nil || string(got) != "0123456789" {
		t.Fatalf("final file: %q, %v", got, err)
	}
	fi, err := os.Stat(final)
	if err != nil || fi.Mode().Perm() != 0o640 || fi.ModTime().UnixNano() != 1_500_000_000_123_456_789 {
		t.Errorf("placed file's metadata: %v, %v; want mode 0640 and the source's mtime", fi.Mode(), fi.ModTime())
	}
	if _, err := os.Stat(filepath.Join(dir, volume.TempRel("j-1", 0))); !os.IsNotExist(err) {
		t.Errorf("temp file left behind: %v", err)
	}
	if p := m.reports.pending["j-1"]; len(p.Done) != 1 || !slices.Equal(p.Done[0].Placed, []uint64{0}) {
		t.Errorf("report %+v; want the unit written with file 0 placed", p)
	}
}

func TestReceiverRefusesHostileOrConfusedPeers(t *testing.T) {
	data := []byte("0123456789")
	cases := []struct {
		name  string
		peer  string
		job   string
		file  uint64
		hash  func(*transport.ChunkHeader)
		retry bool
		why   string
	}{
		{"not a source of the job", "mallory", "j-1", 0, nil, false, "not a source"},
		{"a job it does not serve", "src-1", "j-unknown", 0, nil, true, "not in this agent's plan"},
		{"a file the unit does not hold", "src-1", "j-1", 9999, nil, false, "differs from the plan"},
		{"damaged on the way", "src-1", "j-1", 0, func(h *transport.ChunkHeader) { h.Hash ^= 1 }, false, "hash"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, logs, dir := receiverUnderTest(t)
			h, payload := chunk(tc.job, tc.file, data)
			if tc.hash != nil {
				tc.hash(h)
			}
			var raw []byte
			ack := m.accept(tc.peer, h, payload, &raw)
			if ack.OK || ack.Retry != tc.retry || !strings.Contains(ack.Error, tc.why) {
				t.Errorf("ack %+v; want refused (retry=%v) mentioning %q", ack, tc.retry, tc.why)
			}
			if !strings.Contains(logs.String(), "refused a chunk") || !strings.Contains(logs.String(), tc.peer) {
				t.Errorf("refusal not logged with the peer: %s", logs.String())
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 0 {
				t.Errorf("a refused chunk left files behind: %v", entries)
			}
		})
	}
}

func TestAProbeFindsAUnitWrittenBeforeALostReport(t *testing.T) {
	m, _, _ := receiverUnderTest(t)
	var raw []byte
	h, payload := chunk("j-1", 0, []byte("0123456789"))
	if ack := m.accept("src-1", h, payload, &raw); !ack.OK {
		t.Fatalf("write: %+v", ack)
	}
	// The receiver's report is lost (say it restarted): the sender asks
	// with a probe instead of sending the bytes again.
	m.reports = newReporter(nil, m.log)
	probe := *h
	probe.Comp, probe.WireLen = transport.CompressProbe, 0
	if ack := m.accept("src-1", &probe, nil, &raw); !ack.OK {
		t.Fatalf("probe of a unit held: %+v", ack)
	}
	if got := m.reports.pending["j-1"].Count(); got != 1 {
		t.Errorf("the probe re-reported %d units, want 1", got)
	}
	probe.Hash ^= 1
	if ack := m.accept("src-1", &probe, nil, &raw); ack.OK || !ack.Retry {
		t.Errorf("probe with another hash: %+v; want a request for the data", ack)
	}
}

func TestALongRunOfFailedSendsIsNamedOnceAndClearedOnSuccess(t *testing.T) {
	m, _, _ := receiverUnderTest(t)
	m.failing, m.stallNoted = map[string]failures{}, map[string]bool{}
	var notes []string
	m.note = func(id, reason string) { notes = append(notes, reason) }
	j, _ := m.fsm.Job("j-1")
	m.unreachable(j, "tgt-9", errors.New("timeout"))
	if len(notes) != 0 {
		t.Fatalf("noted after one failure: %v", notes)
	}
	m.failing["j-1>tgt-9"] = failures{since: time.Now().Add(-stallAfter - time.Second), last: time.Now()}
	m.unreachable(j, "tgt-9", errors.New("timeout"))
	m.unreachable(j, "tgt-9", errors.New("timeout"))
	if len(notes) != 1 || !strings.Contains(notes[0], "cannot reach tgt-9") {
		t.Fatalf("notes after a long run: %q", notes)
	}
	m.reachable(j, "tgt-9")
	if len(notes) != 2 || notes[1] != "" {
		t.Errorf("the reason was not cleared once sends work again: %q", notes)
	}
}

// A sender acts on plan entries its own replica applied; the receiver's
// may apply them a moment later, and a chunk arriving meanwhile waits for
// them rather than being refused (and resent seconds later).
func TestAChunkAheadOfThisReplicasPlanWaitsForIt(t *testing.T) {
	m, _, dir := receiverUnderTest(t)
	spec := jobspec.Defaults()
	spec.Name, spec.Source.Volume, spec.Target.Volume = "j2", "data", "data"
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		time.Sleep(100 * time.Millisecond)
		for _, c := range []struct {
			ct plan.CommandType
			v  any
		}{
			{plan.CmdJobSubmit, plan.Job{ID: "j-2", Spec: spec, State: plan.JobScanning, Sources: []string{"src-1"}, Targets: []string{"tgt-1"}, Scanner: "src-1"}},
			{plan.CmdAssign, plan.Assign{ID: "j-2", Senders: []string{"src-1"}, Receivers: []string{"tgt-1"}}},
			{plan.CmdManifest, plan.Manifest{ID: "j-2", Entries: []manifest.Entry{{Path: "late.txt", Kind: manifest.KindFile, Size: 4, Mode: 0o644}}}},
		} {
			data, err := plan.Encode(c.ct, c.v)
			if err != nil {
				t.Error(err)
				return
			}
			if res := m.fsm.(*plan.FSM).Apply(data); res != nil {
				t.Errorf("apply: %v", res)
			}
		}
	}()
	var raw []byte
	h, payload := chunk("j-2", 0, []byte("late"))
	ack := m.accept("src-1", h, payload, &raw)
	<-applied
	if !ack.OK {
		t.Fatalf("a chunk 100 ms ahead of the plan: %+v; want it written", ack)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "late.txt")); err != nil || string(got) != "late" {
		t.Errorf("late.txt: %q, %v", got, err)
	}
}
