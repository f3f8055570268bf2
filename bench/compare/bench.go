package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	"github.com/leptonmesh/lepton/internal/testtree"
)

// copier is one tool set up for one scenario: each Copy copies the
// scenario's tree into the tool's own target dir.
type copier interface {
	Name() string
	// Command is the exact command line (or setup) used, for the record.
	Command() string
	// Copy copies once, stopping at limit (then capped, with the bytes landed).
	Copy(limit time.Duration) copyResult
	// Verify checks the target against the source after a full copy.
	Verify() error
	// Clear empties the target for the next run.
	Clear() error
}

// copyResult is what one Copy saw; the caller adds time and CPU.
type copyResult struct {
	capped  bool
	landed  int64 // bytes on the target at the cap
	peakRSS int64 // the largest single process of the tool
	peakOf  string
	extra   map[string]float64
	err     error
}

// bench is one run of the command.
type bench struct {
	s     *session
	cfg   config
	ctx   context.Context // ends on Ctrl-C
	procs *procGroups
	rep   *Report
	root  string          // on tmpfs: sample trees and targets
	trees map[string]tree // generated sample trees by kind and size
}

// run measures every scenario asked for, prints the results and writes
// the JSON; its result is the exit code (1 when a run failed).
func (b *bench) run() int {
	b.rep = &Report{Started: time.Now(), Mode: b.cfg.mode, Repeats: b.cfg.repeats}
	b.rep.Machine, b.rep.Versions = machineInfo(), toolVersions()
	b.rep.Method = method(b.cfg)
	if err := b.checkTools(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	printHeader(os.Stdout, b.rep, b.cfg)
	fmt.Fprintf(os.Stderr, "Estimated time: %s (more if S3 runs hit their cap).\n\n", estimate(b.cfg).Round(time.Second))
	root, err := os.MkdirTemp(b.cfg.shm, "lepton-compare-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "make the work dir on %s: %v\n", b.cfg.shm, err)
		return 2
	}
	b.root = root
	b.s.Cleanup(func() { os.RemoveAll(root) })
	if err := b.checkRoom(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := raiseBuffers(b.s, b.cfg.sysctlFile); err != nil {
		fmt.Fprintf(os.Stderr, "socket buffers: %v (going on with the kernel's limits)\n", err)
	}
	b.scenario("ssh", "cipher probe", b.probeCiphers)
	for _, sc := range []struct {
		id, title string
		run       func(*scope)
	}{{"S1", "bulk", b.runS1}, {"S2", "small files", b.runS2}, {"S3", "WAN", b.runS3}, {"S4", "fan-out", b.runS4}} {
		if b.cfg.runs(sc.id) {
			b.scenario(sc.id, sc.title, sc.run)
		}
	}
	b.rep.Finished = time.Now()
	for _, p := range b.rep.Points {
		p.summarize()
	}
	b.rep.Goals = evaluateGoals(b.rep.Points)
	printResults(os.Stdout, b.rep)
	path, err := b.rep.writeJSON(b.cfg.out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintf(os.Stdout, "\nJSON: %s (and %s)\n", path, filepath.Join(b.cfg.out, "latest.json"))
	for _, p := range b.rep.Points {
		for _, r := range p.Rows {
			if r.Failed > 0 {
				return 1
			}
		}
		if p.Error != "" {
			return 1
		}
	}
	return 0
}

// scenario runs one scenario in its own scope: whatever it started is
// stopped before the next one, and a fatal error stops only it.
func (b *bench) scenario(id, title string, run func(*scope)) {
	sc := b.s.open(id)
	before := len(b.rep.Points)
	fmt.Fprintf(os.Stderr, "== %s %s ==\n", id, title)
	start := time.Now()
	func() {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			f, ok := r.(fatal)
			if !ok { // a bug: say where, and still clean up (sysctls, agents, namespaces)
				f = fatal{fmt.Sprintf("panic: %v", r)}
				fmt.Fprintf(os.Stderr, "%s\n", debug.Stack())
			}
			fmt.Fprintf(os.Stderr, "  %s stopped: %s\n", id, f.msg)
			if len(b.rep.Points) == before {
				b.rep.Points = append(b.rep.Points, &Point{Scenario: id, Title: title})
			}
			b.rep.Points[len(b.rep.Points)-1].Error = f.msg
		}()
		run(sc)
	}()
	sc.close()
	fmt.Fprintf(os.Stderr, "== %s done in %s ==\n\n", id, time.Since(start).Round(time.Second))
}

// addPoint starts a scenario point over tree src.
func (b *bench) addPoint(p *Point, src tree, limit time.Duration) *Point {
	p.Bytes, p.Files, p.CapSeconds = src.bytes, src.files, limit.Seconds()
	b.rep.Points = append(b.rep.Points, p)
	return p
}

// measure runs every copier b.cfg.repeats times, interleaved, recording
// each run in p. Each repeat starts with the next tool (Lepton, rsync,
// rclone; then rsync, rclone, Lepton; …): the first run of a scenario
// writes to memory the VM has never touched, which costs this machine
// far more system time per byte (Lepton's first S1 run once took 1.5×
// the CPU and 1.4× the time of its next two), and it must not always be
// the same tool's. around, when set, is called before each run and returns
// what to add to its Extra after.
func (b *bench) measure(p *Point, src tree, copiers []copier, limit time.Duration, around func() func() map[string]float64) {
	repeats := b.cfg.repeats
	if p.Scenario == "S3" {
		repeats = b.cfg.s3Repeats
	}
	for rep := 1; rep <= repeats; rep++ {
		k := (rep - 1) % len(copiers)
		for _, c := range append(copiers[k:len(copiers):len(copiers)], copiers[:k]...) {
			if len(b.cfg.tools) > 0 && !slices.Contains(b.cfg.tools, c.Name()) {
				continue
			}
			b.halt()
			var after func() map[string]float64
			if around != nil {
				after = around()
			}
			r := b.once(c, src, limit)
			r.Repeat = rep
			if after != nil {
				if r.Extra == nil {
					r.Extra = map[string]float64{}
				}
				for k, v := range after() {
					r.Extra[k] = v
				}
			}
			b.halt() // an interrupted run is no figure
			p.add(r, c.Command())
			fmt.Fprintf(os.Stderr, "  %-18s %d/%d  %s\n", p.Label(), rep, repeats, progressLine(r, p.Unit))
		}
	}
}

// halt parks the calling goroutine once Ctrl-C was pressed, while the
// interrupt stops everything and exits.
func (b *bench) halt() {
	if b.ctx.Err() != nil {
		select {}
	}
}

// once runs one copy and times it, charges it the machine's CPU, checks
// the result and empties the target.
func (b *bench) once(c copier, src tree, limit time.Duration) Run {
	r := Run{Tool: c.Name(), Bytes: src.bytes, Files: src.files}
	load := loadAverage1()
	cpu0, err0 := machineCPU()
	start := time.Now()
	res := c.Copy(limit)
	r.Seconds = time.Since(start).Seconds()
	b.halt()
	cpu1, err1 := machineCPU()
	if err := errors.Join(err0, err1); err == nil {
		r.CPUSeconds = cpu1 - cpu0
	}
	r.PeakRSS, r.PeakRSSOf, r.Extra = res.peakRSS, res.peakOf, res.extra
	if r.Extra == nil {
		r.Extra = map[string]float64{}
	}
	// Other work on the machine shows here before it skews a figure.
	r.Extra["load1_before"] = load
	switch {
	case res.err != nil:
		r.Status, r.Error = statusFailed, res.err.Error()
	case res.capped:
		// Files landed, estimated from bytes at the tree's mean file size
		// (exact for S2's files of one size).
		var files int64
		if src.bytes > 0 {
			files = res.landed * src.files / src.bytes
		}
		r.Status, r.Seconds, r.Bytes, r.Files = statusCapped, limit.Seconds(), res.landed, files
	default:
		r.Status = statusOK
		if err := c.Verify(); err != nil {
			r.Status, r.Error = statusFailed, err.Error()
		}
	}
	if err := c.Clear(); err != nil {
		b.s.Logf("  clear %s's target: %v", c.Name(), err)
	}
	// Milliseconds and hundredths are all the figures carry; the JSON
	// stays short.
	r.Seconds, r.CPUSeconds = round(r.Seconds, 3), round(r.CPUSeconds, 2)
	for k, v := range r.Extra {
		r.Extra[k] = round(v, 3)
	}
	return r
}

// round rounds v to digits decimals.
func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func progressLine(r Run, unit string) string {
	s := fmt.Sprintf("%-6s %8s  %14s  CPU %6.1f s  RSS %7s  %s", r.Tool, fmtSeconds(r.Seconds, false),
		fmtRate(map[bool]float64{true: r.FilesPerSec(), false: r.MBps()}[unit == unitFiles], unit), r.CPUSeconds, fmtMiB(r.PeakRSS), r.Status)
	if load, ok := r.Extra["load1_before"]; ok {
		s += fmt.Sprintf("  load %.1f", load)
	}
	if r.Status == statusCapped {
		s += fmt.Sprintf(" (%s landed)", human(r.Bytes))
	}
	if r.Error != "" {
		s += ": " + r.Error
	}
	return s
}

// Sample tree kinds.
const (
	kindMixed = "mixed"
	kindSmall = "small"
)

// tree returns the sample tree of kind and size (bytes for mixed, files
// for small), generating it on first use; the same tree serves every
// scenario that asks for it.
func (b *bench) tree(kind string, size int64) tree {
	key := fmt.Sprintf("%s-%d", kind, size)
	if t, ok := b.trees[key]; ok {
		return t
	}
	dir := filepath.Join(b.root, "src-"+key)
	start := time.Now()
	var err error
	if err = os.MkdirAll(dir, 0o755); err == nil {
		switch kind {
		case kindMixed:
			err = testtree.Mixed(dir, size, 1)
		default:
			err = testtree.SmallFiles(dir, int(size), b.cfg.s2Size, b.cfg.s2Dirs, 1)
		}
	}
	if err != nil {
		panic(fatal{fmt.Sprintf("generate the %s tree: %v", key, err)})
	}
	t, err := measureTree(dir)
	if err != nil {
		panic(fatal{err.Error()})
	}
	fmt.Fprintf(os.Stderr, "  generated %s: %d files, %s in %s\n", dir, t.files, human(t.bytes), time.Since(start).Round(time.Millisecond))
	b.trees[key] = t
	return t
}

// targetDir makes an empty target dir for one tool of one scenario,
// removed when the scenario ends.
func (b *bench) targetDir(sc *scope, scenario, tool string) string {
	dir := filepath.Join(b.root, scenario+"-"+tool)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		sc.Fatalf("target dir: %v", err)
	}
	sc.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// checkRoom fails early when tmpfs cannot hold the largest sample trees
// and one copy of the largest.
func (b *bench) checkRoom() error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(b.root, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", b.root, err)
	}
	var need, largest int64
	add := func(id string, n int64) {
		if b.cfg.runs(id) {
			need += n
			largest = max(largest, n)
		}
	}
	add("S1", b.cfg.s1Size)
	add("S2", int64(b.cfg.s2Files)*int64(max(b.cfg.s2Size, 4096)))
	if b.cfg.s3Size != b.cfg.s1Size || !b.cfg.runs("S1") {
		add("S3", b.cfg.s3Size)
	}
	if b.cfg.s4Size != b.cfg.s1Size || !b.cfg.runs("S1") {
		add("S4", b.cfg.s4Size)
	}
	need += largest + largest/10 + 256<<20
	if free := int64(st.Bavail) * st.Bsize; free < need {
		return fmt.Errorf("%s has %s free; this run needs about %s (sample trees and one copy): pick smaller sizes or -shm", b.cfg.shm, human(free), human(need))
	}
	return nil
}

// loadAverage1 is the machine's 1-minute load average (0 when unknown).
func loadAverage1() float64 {
	var v float64
	_, _ = fmt.Sscan(readFile("/proc/loadavg"), &v)
	return v
}
