package mover

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/leptonmesh/lepton/internal/manifest"
	"github.com/leptonmesh/lepton/internal/plan"
	"github.com/leptonmesh/lepton/internal/volume"
)

// finalize renames one fully written file into place with its metadata.
func (m *Mover) finalize(fw plan.FileWork) {
	defer m.markFinalizing(fw.Job.ID, fw.Index, ackedHold) // until the report is committed
	res := plan.FileResult{File: fw.Index, OK: true}
	v, err := m.volume(fw.Job.Spec.Target.Volume)
	if err == nil {
		err = v.FinalizeFile(fw.Job.ID, fw.Index, targetPath(fw.Job, fw.File.Path), fw.File.Entry, m.asRoot)
	}
	if err != nil {
		if errors.Is(err, volume.ErrNoSpace) {
			m.reports.noSpace(fw.Job, m.name, v)
			return
		}
		res.OK, res.Reason = false, "finalize on "+m.name+": "+err.Error()
		m.log.Warn("finalize file", "job", fw.Job.ID, "path", fw.File.Path, "err", err)
	}
	m.reports.finalized(fw.Job.ID, res)
}

// lead creates, once every data file of a job is settled, what carries no
// data: directories, empty files, symlinks and hardlinks; then it sets the
// directories' modes and mtimes, deepest first, since writing into a
// directory changes its mtime.
func (m *Mover) lead(work []plan.FileWork) {
	job := work[0].Job
	log := m.log.With("job", job.ID)
	v, err := m.volume(job.Spec.Target.Volume)
	if err != nil {
		m.reports.metaDone(job.ID)
		return
	}
	failed := map[string]string{}
	var dirs []plan.FileWork
	report := func(fw plan.FileWork, err error) {
		res := plan.FileResult{File: fw.Index, OK: err == nil}
		if err != nil {
			res.Reason = err.Error()
			failed[fw.File.Path] = res.Reason
			log.Warn("create entry", "path", fw.File.Path, "err", err)
		}
		m.reports.finalized(job.ID, res)
	}
	for _, fw := range work {
		if fw.Index == ^uint64(0) {
			continue
		}
		e, dst := fw.File.Entry, targetPath(job, fw.File.Path)
		switch {
		case e.Kind == manifest.KindDir:
			if err := v.MakeDir(dst, e, m.asRoot); err != nil {
				report(fw, err)
				continue
			}
			dirs = append(dirs, fw)
		case e.LinkOf != "":
			continue // after every plain entry exists
		case e.Kind == manifest.KindSymlink:
			report(fw, v.MakeSymlink(dst, e, m.asRoot))
		case e.Kind == manifest.KindFile:
			report(fw, m.emptyFile(v, job, fw))
		}
	}
	for _, fw := range work {
		if fw.Index == ^uint64(0) || fw.File.LinkOf == "" {
			continue
		}
		if first, ok := m.linkTargetFailed(job, fw.File.LinkOf, failed); ok {
			report(fw, fmt.Errorf("hardlink to %s not made: %s", fw.File.LinkOf, first))
			continue
		}
		report(fw, v.MakeHardlink(targetPath(job, fw.File.Path), targetPath(job, fw.File.LinkOf)))
	}
	sort.SliceStable(dirs, func(i, j int) bool { return depth(dirs[i].File.Path) > depth(dirs[j].File.Path) })
	for _, fw := range dirs {
		report(fw, v.FinalizeDir(targetPath(job, fw.File.Path), fw.File.Entry, m.asRoot))
	}
	m.reports.metaDone(job.ID)
	m.reports.flushSoon()
	log.Info("directories and links in place", "entries", len(work))
}

// linkTargetFailed says whether the file a hardlink points to failed,
// here or when its data was sent.
func (m *Mover) linkTargetFailed(job plan.Job, linkOf string, failed map[string]string) (string, bool) {
	if why, ok := failed[linkOf]; ok {
		return why, true
	}
	if f, ok := m.fsm.FileByPath(job.ID, linkOf); ok && (f.State == plan.FileFailed || f.State == plan.FileSkipped) {
		return "it is " + f.State.String() + ": " + f.Reason, true
	}
	return "", false
}

func (m *Mover) emptyFile(v *volume.Volume, job plan.Job, fw plan.FileWork) error {
	f, err := v.OpenTemp(job.ID, fw.Index, 0)
	if err != nil {
		return err
	}
	f.Close()
	return v.FinalizeFile(job.ID, fw.Index, targetPath(job, fw.File.Path), fw.File.Entry, m.asRoot)
}

func depth(p string) int { return strings.Count(path.Clean(p), "/") }

// verify re-reads a written unit from the target's final paths and compares
// its hash with the one recorded when it was written.
func (m *Mover) verify(w plan.Work) {
	defer m.hold(w.Job.ID, w.Unit.ID, ackedHold)
	res := plan.UnitVerify{Unit: w.Unit.ID, OK: true}
	sum, err := m.hashTarget(w)
	switch {
	case err != nil:
		res.OK, res.Reason = false, "re-read on "+m.name+": "+err.Error()
	case sum != w.Unit.Hash:
		res.OK, res.Reason = false, fmt.Sprintf("target bytes differ from the source (xxhash %016x, want %016x)", sum, w.Unit.Hash)
	}
	if !res.OK {
		m.log.Warn("verification failed", "job", w.Job.ID, "unit", w.Unit.ID, "why", res.Reason)
	}
	m.reports.verified(w.Job.ID, res)
}

func (m *Mover) hashTarget(w plan.Work) (uint64, error) {
	v, err := m.volume(w.Job.Spec.Target.Volume)
	if err != nil {
		return 0, err
	}
	bp, buf := borrowRead()
	defer giveBack(bp)
	d := xxhash.New()
	run := v.Run()
	defer run.Close()
	for i, p := range w.Unit.Parts {
		f, _, err := run.OpenRead(targetPath(w.Job, w.Files[i].Path))
		if err != nil {
			return 0, err
		}
		err = hashRange(d, f, p.Off, p.Len, buf)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("verify %s: %w", w.Files[i].Path, err)
		}
	}
	return d.Sum64(), nil
}

// verifyRead is the smallest read buffer hashTarget borrows.
const verifyRead = 1 << 20

// hashRange feeds n bytes of f from off into d, reading exactly those (a
// small file takes one pread, not a second one to find EOF); a file
// shorter than the range is an error.
func hashRange(d *xxhash.Digest, f *os.File, off, n int64, buf []byte) error {
	for n > 0 {
		k, err := f.ReadAt(buf[:min(n, int64(len(buf)))], off)
		d.Write(buf[:k])
		off, n = off+int64(k), n-int64(k)
		if err != nil && n > 0 {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%d bytes short: %w", n, io.ErrUnexpectedEOF)
			}
			return err
		}
	}
	return nil
}
