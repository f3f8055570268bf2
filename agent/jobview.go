package agent

import (
	"sort"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/manifest"
	"github.com/leptonmesh/lepton/internal/plan"
)

// jobStatus turns the plan's job into the API's.
func jobStatus(j plan.Job) api.Job {
	s := j.Stats
	out := api.Job{
		ID: j.ID, Name: j.Spec.Name, State: string(j.State), Reason: j.Reason,
		Source:  api.JobEndpoint{Volume: j.Spec.Source.Volume, Agent: j.Spec.Source.Agent, Path: j.Spec.Source.Path},
		Target:  api.JobEndpoint{Volume: j.Spec.Target.Volume, Agent: j.Spec.Target.Agent, Path: j.Spec.Target.Path},
		Sources: j.Sources, Targets: j.Targets, Verify: j.Spec.Verify,
		FilesTotal: s.FilesTotal, FilesDone: s.FilesDone, FilesFailed: s.FilesFailed, FilesSkipped: s.FilesSkipped,
		BytesTotal: s.BytesTotal, BytesDone: s.BytesDone, WireBytes: s.WireBytes,
		UnitsTotal: s.UnitsTotal, UnitsDone: s.UnitsDone, UnitsVerified: s.UnitsVerified,
		Retries: s.Retries, Errors: s.Errors, BytesResent: s.BytesResent, Pairs: []api.JobPair{},
		Created: time.Unix(0, j.Created).UTC(), Updated: time.Unix(0, j.Updated).UTC(),
	}
	if j.Ended != 0 {
		t := time.Unix(0, j.Ended).UTC()
		out.Ended = &t
	}
	for _, p := range j.Pairs {
		out.Pairs = append(out.Pairs, api.JobPair{Sender: p.Sender, Receiver: p.Receiver, Bytes: p.Bytes, WireBytes: p.WireBytes, Units: p.Units})
	}
	sort.Slice(out.Pairs, func(a, b int) bool {
		if out.Pairs[a].Sender != out.Pairs[b].Sender {
			return out.Pairs[a].Sender < out.Pairs[b].Sender
		}
		return out.Pairs[a].Receiver < out.Pairs[b].Receiver
	})
	return out
}

var kindNames = map[manifest.Kind]string{manifest.KindFile: "file", manifest.KindDir: "dir", manifest.KindSymlink: "symlink", manifest.KindSpecial: "special"}

// fileReport is one report line.
func fileReport(f plan.File) api.FileReport {
	r := api.FileReport{Path: f.Path, Kind: kindNames[f.Kind], Size: f.Size, Chunks: int(f.Units),
		Retries: int(f.Retries), Changed: int(f.Changed), Reason: f.Reason}
	if f.LinkOf != "" {
		r.Kind = "hardlink"
	}
	switch f.State {
	case plan.FileDone:
		r.Outcome = api.OutcomeDone
		if f.Changed > 0 {
			r.Reason = "modified while being read; sent again"
		}
	case plan.FileFailed:
		r.Outcome = api.OutcomeFailed
	case plan.FileSkipped:
		r.Outcome = api.OutcomeSkipped
	default:
		r.Outcome = api.OutcomePending
	}
	return r
}
